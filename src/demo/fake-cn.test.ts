import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findExternalLinks } from '../modules/venues/external-links.js';
import { createFaker, DEMO_CATEGORIES, DEMO_REGIONS, type Faker } from './fake-cn.js';

const sample = (f: Faker) => ({
  int: f.int(1, 1000),
  pick: f.pick(['a', 'b', 'c', 'd']),
  name: f.personName(),
  mobile: f.mobile(),
  address: f.address(),
  shop: f.shopName(),
  title: f.productTitle('food'),
  nickname: f.nickname(),
});

const many = <T>(n: number, make: () => T): T[] => Array.from({ length: n }, make);

describe('createFaker', () => {
  it('gives the same demo data for the same seed', () => {
    const a = createFaker(2020_11_11);
    const b = createFaker(2020_11_11);
    expect(many(50, () => sample(a))).toEqual(many(50, () => sample(b)));
  });

  it('gives different demo data for different seeds', () => {
    expect(many(5, () => sample(createFaker(1)))).not.toEqual(many(5, () => sample(createFaker(2))));
  });

  it('is deterministic for any seed (property)', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        expect(sample(createFaker(seed))).toEqual(sample(createFaker(seed)));
      }),
      { numRuns: 200 },
    );
  });

  it('keeps int() within inclusive bounds and reaches both ends', () => {
    const f = createFaker(7);
    const xs = many(2_000, () => f.int(-3, 3));
    expect(Math.min(...xs)).toBe(-3);
    expect(Math.max(...xs)).toBe(3);
    expect(xs.every(Number.isInteger)).toBe(true);
    expect(f.int(5, 5)).toBe(5);
  });

  it('rejects impossible ranges and empty lists', () => {
    const f = createFaker(1);
    expect(() => f.int(3, 1)).toThrow(RangeError);
    expect(() => f.int(0.5, 2)).toThrow(RangeError);
    expect(() => f.pick([])).toThrow(RangeError);
  });

  it('generates valid mainland mobiles and never a virtual-number prefix', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const f = createFaker(seed);
        for (const m of many(50, () => f.mobile())) {
          expect(m).toMatch(/^1[3-9]\d{9}$/);
          expect(m).not.toMatch(/^17[01]/);
          expect(m).not.toMatch(/^16[257]/);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('generates Chinese names: 1–2 character surname plus 1–2 character given name', () => {
    const f = createFaker(42);
    const names = many(2_000, () => f.personName());
    for (const n of names) {
      expect(n).toMatch(/^\p{Script=Han}{2,4}$/u);
    }
    expect(names.some((n) => /^(欧阳|司马|上官|诸葛|东方|皇甫|慕容|令狐)/.test(n))).toBe(true);
    expect(new Set(names).size).toBeGreaterThan(500);
  });

  it('takes every address from the region table, with a street-level detail', () => {
    const f = createFaker(99);
    for (const a of many(1_000, () => f.address())) {
      const region = DEMO_REGIONS.find((r) => r.province === a.province && r.city === a.city);
      expect(region, `${a.province}${a.city}`).toBeDefined();
      expect(region?.districts).toContain(a.district);
      expect(a.detail).toMatch(/^\p{Script=Han}+\d+号.*\d+室$/u);
    }
  });

  it('has at least 25 region triples, municipalities included', () => {
    const triples = DEMO_REGIONS.flatMap((r) => r.districts.map((d) => `${r.province}/${r.city}/${d}`));
    expect(new Set(triples).size).toBeGreaterThanOrEqual(25);
    for (const m of ['北京市', '上海市', '天津市', '重庆市']) {
      expect(DEMO_REGIONS.find((r) => r.province === m)?.city).toBe(m);
    }
  });

  it('lists the demo categories', () => {
    expect(DEMO_CATEGORIES.map((c) => c.slug)).toEqual([
      'beauty',
      'apparel',
      'food',
      'home',
      'electronics',
      'baby',
      'jewelry',
      'fresh',
    ]);
    expect(DEMO_CATEGORIES.find((c) => c.slug === 'food')?.nameZh).toBe('食品饮料');
  });

  it('writes category-appropriate product titles', () => {
    const f = createFaker(3);
    const titles = (category: string) => many(200, () => f.productTitle(category)).join('\n');
    expect(titles('food')).toMatch(/普洱茶|大红袍|坚果|牛肉干|螺蛳粉|大米/);
    expect(titles('food')).not.toMatch(/口红|耳机|纸尿裤/);
    expect(titles('beauty')).toMatch(/面膜|精华|口红/);
    expect(titles('electronics')).toMatch(/耳机|充电宝/);
    expect(titles('fresh')).toMatch(/大闸蟹|脐橙|车厘子/);
    // Chinese and English category names work as well as slugs.
    expect(titles('母婴')).toMatch(/纸尿裤|湿巾|奶粉/);
    expect(titles('Jewelry & accessories')).toMatch(/手链|项链|耳钉|手镯|戒指/);
    // An unknown category still gets a plausible title.
    expect(f.productTitle('unknown')).not.toBe('');
  });

  it('writes shop names and creator nicknames', () => {
    const f = createFaker(5);
    for (const s of many(200, () => f.shopName())) expect(s).toMatch(/(店|馆|严选)$/);
    const nicks = many(200, () => f.nickname());
    for (const n of nicks) expect(n).toMatch(/^\p{Script=Han}{3,10}$/u);
    expect(new Set(nicks).size).toBeGreaterThan(50);
  });

  it('never produces demo text that the external-link check would reject', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const f = createFaker(seed);
        const texts = [
          f.shopName(),
          f.nickname(),
          ...DEMO_CATEGORIES.map((c) => f.productTitle(c.slug)),
          f.address().detail,
        ];
        for (const t of texts) expect(findExternalLinks(t), t).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
