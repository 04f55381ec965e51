import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskAddress, maskName, maskPhone, normalizePhone } from './masks.js';

describe('maskName', () => {
  it.each([
    ['张三', '张*'],
    ['欧阳娜娜', '欧***'],
    ['A', 'A*'],
    ['李', '李*'],
    ['Lily', 'L***'],
    ['  王小明 ', '王**'],
    ['𠮷野家', '𠮷**'],
    ['张𠮷', '张*'],
    ['', ''],
    ['   ', ''],
  ])('masks %j as %j', (name, mask) => {
    expect(maskName(name)).toBe(mask);
  });
});

describe('normalizePhone', () => {
  it.each([
    ['13812345678', '13812345678'],
    ['+86 138 1234 5678', '13812345678'],
    ['+86-138-1234-5678', '13812345678'],
    ['0086 13812345678', '13812345678'],
    ['86 13812345678', '13812345678'],
    ['１３８ １２３４ ５６７８', '13812345678'],
    ['＋８６１３８１２３４５６７８', '13812345678'],
    ['(010) 6552-9988', '01065529988'],
    ['17000001234-5678', '170000012345678'],
    ['', ''],
  ])('normalises %j to %j', (raw, digits) => {
    expect(normalizePhone(raw)).toBe(digits);
  });
});

describe('maskPhone', () => {
  it.each([
    ['13812345678', '138****5678'],
    ['+86 138 1234 5678', '138****5678'],
    ['0086-139-8765-4321', '139****4321'],
    ['021-6888 8888', '021****8888'],
    ['17000001234-5678', '170**********78'],
    ['0755-888888', '075*****88'],
    ['123456', '123*56'],
    ['12345', '*****'],
    ['110', '***'],
    ['', ''],
  ])('masks %j as %j', (raw, mask) => {
    expect(maskPhone(raw)).toBe(mask);
  });
});

describe('maskAddress', () => {
  it.each([
    [
      { province: '北京市', city: '北京市', district: '朝阳区', detail: '建国路88号院3号楼2单元501室' },
      '北京市朝阳区****',
    ],
    [
      { province: '上海市', city: '市辖区', district: '浦东新区', detail: '世纪大道100号' },
      '上海市浦东新区****',
    ],
    [{ province: '重庆市', city: '重庆市', district: '渝中区', detail: '解放碑1号' }, '重庆市渝中区****'],
    [{ province: '天津市', city: '天津市', district: '和平区', detail: '南京路1号' }, '天津市和平区****'],
    [
      { province: '浙江省', city: '杭州市', district: '西湖区', detail: '文三路90号' },
      '浙江省杭州市西湖区****',
    ],
    [{ province: '广东省', city: '东莞市', district: '东莞市', detail: '南城街道1号' }, '广东省东莞市****'],
    [
      { province: ' 广东省 ', city: '深圳市 ', district: ' 南山区', detail: '科技园' },
      '广东省深圳市南山区****',
    ],
  ])('masks %j as %j', (address, mask) => {
    expect(maskAddress(address)).toBe(mask);
  });

  it('never carries the detail, even when it looks like a region', () => {
    const mask = maskAddress({ province: '江苏省', city: '南京市', district: '玄武区', detail: '朝阳区' });
    expect(mask).toBe('江苏省南京市玄武区****');
  });
});

// Property tests -------------------------------------------------------------

const digit = fc.constantFrom(...'0123456789');
const digits = (min: number, max: number) =>
  fc.array(digit, { minLength: min, maxLength: max }).map((ds) => ds.join(''));
const mobile = fc
  .tuple(fc.constantFrom(...'3456789'), digits(9, 9))
  .map(([second, rest]) => `1${second}${rest}`);
// Formats a buyer might type the same number in.
const decorated = (d: string) =>
  fc.constantFrom(
    d,
    `+86 ${d.slice(0, 3)} ${d.slice(3, 7)} ${d.slice(7)}`,
    `0086-${d}`,
    `${d.slice(0, 3)}-${d.slice(3, 7)}-${d.slice(7)}`,
  );

const countDigits = (s: string) => (s.match(/\d/g) ?? []).length;

describe('mask properties', () => {
  it('a phone mask never shows more than 7 digits, whatever the input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), digits(0, 20), mobile), (raw) => {
        expect(countDigits(maskPhone(raw))).toBeLessThanOrEqual(7);
      }),
    );
  });

  it('a mobile mask never shows the middle 4 digits', () => {
    fc.assert(
      fc.property(
        mobile.chain((m) => fc.tuple(fc.constant(m), decorated(m))),
        ([m, raw]) => {
          const mask = maskPhone(raw);
          expect(mask).toBe(`${m.slice(0, 3)}****${m.slice(7)}`);
          // Positions 4–7 are hidden, and the masked number as a whole never appears.
          expect(mask.slice(3, 7)).toBe('****');
          expect(mask).not.toContain(m);
          if (!m.slice(0, 3).includes(m.slice(3, 7)) && !m.slice(7).includes(m.slice(3, 7))) {
            expect(mask).not.toContain(m.slice(3, 7));
          }
        },
      ),
    );
  });

  it('a phone mask hides the same number of digits it replaces (after the country code)', () => {
    fc.assert(
      fc.property(digits(0, 20), (d) => {
        // A leading 0086 (or 86 before a mobile) is the country code, not part of the number.
        expect(maskPhone(d)).toHaveLength(normalizePhone(d).length);
        expect(normalizePhone(d).length).toBeGreaterThanOrEqual(d.length - 4);
      }),
    );
  });

  it('a name mask contains no character of the name but the first', () => {
    const nameChar = fc
      .string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 })
      .filter((c) => c.trim() !== '' && c !== '*');
    const cjk = fc.integer({ min: 0x4e00, max: 0x9fa5 }).map((cp) => String.fromCodePoint(cp));
    const astral = fc.integer({ min: 0x20000, max: 0x2a6df }).map((cp) => String.fromCodePoint(cp));
    fc.assert(
      fc.property(fc.array(fc.oneof(nameChar, cjk, astral), { minLength: 1, maxLength: 8 }), (chars) => {
        const name = chars.join('');
        const mask = maskName(name);
        const [first, ...rest] = Array.from(mask);
        expect(first).toBe(chars[0]);
        expect(rest.length).toBe(Math.max(1, chars.length - 1));
        expect(rest.every((c) => c === '*')).toBe(true);
        for (const c of chars.slice(1)) {
          if (c !== chars[0]) expect(mask).not.toContain(c);
        }
      }),
    );
  });

  it('an address mask never contains the detail', () => {
    // Regions and details from disjoint alphabets, so "contains" can only mean a leak.
    const regionChar = fc.constantFrom(...'北京上海天津重庆广东浙江苏州杭南山朝阳西湖区市省县');
    const region = fc.array(regionChar, { minLength: 1, maxLength: 6 }).map((cs) => cs.join(''));
    const detailChar = fc.constantFrom(...'0123456789路号院楼单元室栋弄巷街道大厦层AB-#');
    const detail = fc.array(detailChar, { minLength: 2, maxLength: 30 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(region, region, region, detail, (province, city, district, d) => {
        const mask = maskAddress({ province, city, district, detail: d });
        expect(mask).not.toContain(d);
        expect(mask.endsWith('****')).toBe(true);
      }),
    );
  });

  it('masks are deterministic', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (a, b, c, d) => {
        expect(maskName(a)).toBe(maskName(a));
        expect(maskPhone(a)).toBe(maskPhone(a));
        expect(normalizePhone(a)).toBe(normalizePhone(a));
        const address = { province: a, city: b, district: c, detail: d };
        expect(maskAddress(address)).toBe(maskAddress({ ...address }));
      }),
    );
  });
});
