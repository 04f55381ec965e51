import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { setBounded } from './bounded-map.js';

describe('setBounded', () => {
  it('behaves as a queue of at most `max` keys, oldest out first, values updated in place', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 0, max: 20 })), (max, keys) => {
        const map = new Map<number, number>();
        const model: [number, number][] = [];
        keys.forEach((k, i) => {
          setBounded(map, k, i, max);
          const at = model.findIndex(([mk]) => mk === k);
          if (at >= 0) model[at] = [k, i];
          else {
            if (model.length >= max) model.shift();
            model.push([k, i]);
          }
          expect([...map]).toEqual(model);
        });
      }),
    );
  });
});
