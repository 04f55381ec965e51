import { AppError } from '../../platform/errors.js';
import { scanFields } from './external-links.js';

/**
 * Venues sell platform products only (外链 ban). Rejects the whole request, naming the
 * field and what was found, before anything is written.
 */
export function assertNoExternalLinks(fields: Record<string, string | null | undefined>): void {
  const findings = scanFields(fields);
  const first = findings[0];
  if (!first) return;
  throw new AppError(
    'EXTERNAL_LINK_FORBIDDEN',
    `${first.field} contains an external link or off-platform reference ("${first.found}"); ` +
      'only Livecart products can be sold here, so remove it.',
    { findings },
  );
}
