import { z } from 'zod';
import { requirePrincipal } from '../../platform/auth.js';
import type { HttpServer } from '../../platform/http.js';
import { idOf } from '../../platform/schemas.js';
import type { VenueService } from './service.js';

const roomParams = z.object({ roomId: idOf('lr') });
const creatorOnly = { access: { roles: ['creator'] } } as const;
/** Product references are free text here so an external link is reported as such, not as a bad id. */
const productRef = z.string().trim().min(1).max(500);

export function venueRoutes(app: HttpServer, venues: VenueService): void {
  app.post(
    '/api/creator/live-rooms',
    {
      config: creatorOnly,
      schema: {
        tags: ['venues'],
        summary: 'Schedule a live room',
        body: z.object({
          title: z.string().trim().min(2).max(60),
          description: z.string().trim().max(1000).default(''),
          scheduledAt: z.coerce.date().optional(),
        }),
      },
    },
    async (req, reply) =>
      reply.code(201).send(await venues.createLiveRoom(requirePrincipal(req).accountId, req.body)),
  );

  app.get(
    '/api/creator/live-rooms',
    { config: creatorOnly, schema: { tags: ['venues'], summary: "The creator's live rooms" } },
    async (req) => ({ items: await venues.listOwnRooms(requirePrincipal(req).accountId) }),
  );

  app.patch(
    '/api/creator/live-rooms/:roomId',
    {
      config: creatorOnly,
      schema: {
        tags: ['venues'],
        summary: "Edit a live room's title or description",
        params: roomParams,
        body: z
          .object({
            title: z.string().trim().min(2).max(60).optional(),
            description: z.string().trim().max(1000).optional(),
          })
          .refine(
            (b) => b.title !== undefined || b.description !== undefined,
            'give a title or a description',
          ),
      },
    },
    async (req) => venues.updateLiveRoom(requirePrincipal(req).accountId, req.params.roomId, req.body),
  );

  for (const to of ['live', 'ended'] as const) {
    app.post(
      `/api/creator/live-rooms/:roomId/${to === 'live' ? 'start' : 'end'}`,
      {
        config: creatorOnly,
        schema: {
          tags: ['venues'],
          summary: to === 'live' ? 'Go live' : 'End the broadcast',
          params: roomParams,
        },
      },
      async (req) => venues.transitionLiveRoom(requirePrincipal(req).accountId, req.params.roomId, to),
    );
  }

  app.post(
    '/api/creator/live-rooms/:roomId/cart',
    {
      config: creatorOnly,
      schema: {
        tags: ['venues'],
        summary: "Add a platform product to the live room's cart (needs product-sharing permission)",
        params: roomParams,
        body: z.object({ productId: productRef }),
      },
    },
    async (req, reply) =>
      reply
        .code(201)
        .send(
          await venues.addCartItem(requirePrincipal(req).accountId, req.params.roomId, req.body.productId),
        ),
  );

  app.delete(
    '/api/creator/live-rooms/:roomId/cart/:itemId',
    {
      config: creatorOnly,
      schema: {
        tags: ['venues'],
        summary: 'Remove a product from the cart',
        params: roomParams.extend({ itemId: idOf('lri') }),
      },
    },
    async (req, reply) => {
      await venues.removeCartItem(requirePrincipal(req).accountId, req.params.roomId, req.params.itemId);
      return reply.code(204).send();
    },
  );

  app.put(
    '/api/creator/live-rooms/:roomId/pinned',
    {
      config: creatorOnly,
      schema: {
        tags: ['venues'],
        summary: 'Pin a cart item (讲解中), or unpin with null',
        params: roomParams,
        body: z.object({ itemId: idOf('lri').nullable() }),
      },
    },
    async (req) => venues.pinCartItem(requirePrincipal(req).accountId, req.params.roomId, req.body.itemId),
  );

  app.get(
    '/api/live-rooms',
    { config: { access: 'public' }, schema: { tags: ['venues'], summary: 'Live rooms broadcasting now' } },
    async () => ({ items: await venues.listLiveNow() }),
  );

  app.get(
    '/api/live-rooms/:roomId',
    {
      config: { access: 'public' },
      schema: {
        tags: ['venues'],
        summary: 'A live room with its cart and pinned product',
        params: roomParams,
      },
    },
    async (req) => venues.getRoomForViewer(req.params.roomId),
  );

  app.post(
    '/api/creator/videos',
    {
      config: creatorOnly,
      schema: {
        tags: ['venues'],
        summary: 'Publish a short video, optionally with a product anchor (视频购物车)',
        body: z.object({
          title: z.string().trim().min(2).max(60),
          description: z.string().trim().max(1000).default(''),
          anchor: z.object({ productId: productRef, title: z.string().trim().min(2).max(30) }).optional(),
        }),
      },
    },
    async (req, reply) =>
      reply.code(201).send(await venues.createVideo(requirePrincipal(req).accountId, req.body)),
  );

  app.get(
    '/api/videos/:videoId',
    {
      config: { access: 'public' },
      schema: {
        tags: ['venues'],
        summary: 'A short video and its anchor',
        params: z.object({ videoId: idOf('vid') }),
      },
    },
    async (req) => venues.getVideo(req.params.videoId),
  );
}
