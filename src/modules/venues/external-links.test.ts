import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ExternalLinkFinding, findExternalLinks, scanFields } from './external-links.js';

type Kind = ExternalLinkFinding['kind'];

// [venue text, exact substring expected, kind]
const POSITIVE: readonly [string, string, Kind][] = [
  // URLs with a scheme
  ['看这里 https://item.taobao.com/item.htm?id=123，快来', 'https://item.taobao.com/item.htm?id=123', 'url'],
  ['http://shop.example.cn/p/1 全场包邮', 'http://shop.example.cn/p/1', 'url'],
  ['资料下载ftp://files.example.com/a.zip', 'ftp://files.example.com/a.zip', 'url'],
  ['链接(https://m.tb.cn/h.5xYz)', 'https://m.tb.cn/h.5xYz', 'url'],
  ['ＨＴＴＰＳ：／／ｊｄ．ｃｏｍ／ｘ 抢购', 'ＨＴＴＰＳ：／／ｊｄ．ｃｏｍ／ｘ', 'url'],
  ['看www.jd.com/abc', 'www.jd.com/abc', 'url'],
  ['WWW.Example.Net 官网', 'WWW.Example.Net', 'url'],
  // Bare domains and short links
  ['同款在taobao.com/item/1哦', 'taobao.com/item/1', 'domain'],
  ['复制m.tb.cn/h.abc打开', 'm.tb.cn/h.abc', 'domain'],
  ['jd.com', 'jd.com', 'domain'],
  ['pinduoduo.com 更便宜', 'pinduoduo.com', 'domain'],
  ['店铺 weidian.com/s/123', 'weidian.com/s/123', 'domain'],
  ['官网taobao。com', 'taobao。com', 'domain'],
  ['上 taobao . com 搜', 'taobao . com', 'domain'],
  ['ｔａｏｂａｏ．ｃｏｍ', 'ｔａｏｂａｏ．ｃｏｍ', 'domain'],
  ['taobao点com', 'taobao点com', 'domain'],
  ['tao\u200bbao.com', 'tao\u200bbao.com', 'domain'],
  ['短链 t.cn/A6xYz 点开', 't.cn/A6xYz', 'domain'],
  ['tb.cn/xyz', 'tb.cn/xyz', 'domain'],
  ['dwz.cn/abc', 'dwz.cn/abc', 'domain'],
  ['url.cn/5abc', 'url.cn/5abc', 'domain'],
  ['u.jd.com/aBc1', 'u.jd.com/aBc1', 'domain'],
  ['网易163.com邮箱', '163.com', 'domain'],
  ['去example.com.cn看看', 'example.com.cn', 'domain'],
  ['1. taobao.com', 'taobao.com', 'domain'],
  ['2. taobao . com', 'taobao . com', 'domain'],
  // Taobao passwords (淘口令)
  ['复制￥AbC1dEf2Gh3￥打开手淘', '￥AbC1dEf2Gh3￥', 'tao-password'],
  ['$AbC1dEf2Gh3$', '$AbC1dEf2Gh3$', 'tao-password'],
  ['€XyZ9kLm2Np€', '€XyZ9kLm2Np€', 'tao-password'],
  ['₤Bx5Kc1iNXAD₤', '₤Bx5Kc1iNXAD₤', 'tao-password'],
  ['长按复制(AbC1dEf2Gh3)', '(AbC1dEf2Gh3)', 'tao-password'],
  ['（Bx5Kc1iNXAD）', '（Bx5Kc1iNXAD）', 'tao-password'],
  // Sending buyers to other stores
  ['去淘宝搜同款', '淘宝搜', 'external-store'],
  ['拼多多下单更便宜', '拼多多下单', 'external-store'],
  ['天猫旗舰店购买', '天猫旗舰店', 'external-store'],
  ['京东链接在评论区', '京东链接', 'external-store'],
  ['淘宝店铺同名', '淘宝店铺', 'external-store'],
  ['微店拍更划算', '微店拍', 'external-store'],
  ['闲鱼上拍', '闲鱼上拍', 'external-store'],
  ['去1688拿货', '去1688拿货', 'external-store'],
  ['搜索某宝', '搜索某宝', 'external-store'],
  ['需要的去PDD买', 'PDD买', 'external-store'],
  ['京东自营更便宜', '京东自营', 'external-store'],
  // Redirecting to private channels
  ['加微信abc12345领优惠', '加微信abc12345', 'contact-redirect'],
  ['加V：abc123', '加V：abc123', 'contact-redirect'],
  ['vx: wxid_abc123', 'vx: wxid_abc123', 'contact-redirect'],
  ['WX abc_def_9', 'WX abc_def_9', 'contact-redirect'],
  ['微信号 lily_2020', '微信号 lily_2020', 'contact-redirect'],
  ['QQ 12345678', 'QQ 12345678', 'contact-redirect'],
  ['私聊下单', '私聊下单', 'contact-redirect'],
  ['私信我下单立减', '私信我下单', 'contact-redirect'],
  ['加微信下单', '加微信下单', 'contact-redirect'],
  ['打电话13812345678', '13812345678', 'contact-redirect'],
  ['热线 +86 138-1234-5678', '+86 138-1234-5678', 'contact-redirect'],
  ['邮箱abc@qq.com', 'abc@qq.com', 'contact-redirect'],
];

const NEGATIVE: readonly string[] = [
  '纯棉T恤 2024新款 100%棉',
  '5.5英寸',
  '3.0版本',
  '￥199',
  '¥99.9 包邮',
  '1.5kg',
  'iPhone 15 Pro',
  'v2.0',
  '今天直播间给大家带来秋冬新品，欢迎点关注',
  '京东方屏幕',
  '天猫精灵同款音箱',
  '京东方屏幕 拍下立减',
  '天猫精灵 买二送一',
  '(iPhone15Pro) 256G',
  '(MacBookAir13) 保护壳',
  '(RTX4090) 显卡',
  '客服私信咨询',
  '有问题私聊客服',
  'A.O.Smith热水器',
  'USB3.0 Type-C 快充',
  '原价1688 拍下999',
  '¥1688 限时',
  '增加微信支付方式',
  '加Vitamin C 精华',
  'WX1000 无线鼠标',
  'No.1 热卖 Vol.2',
  '2024.11.11 双十一',
  '满199减30 ￥199 ￥299',
  '容量 5000mAh 20W',
  'EAN 6901234567892',
  '拍照手机 淘宝贝',
  'Dr.Jart+ 面膜 SK-II',
];

describe('findExternalLinks', () => {
  it.each(POSITIVE)('flags %j as %j', (text, found, kind) => {
    const findings = findExternalLinks(text);
    expect(findings[0]).toEqual({ found, kind });
  });

  it.each(NEGATIVE)('leaves normal product text %j alone', (text) => {
    expect(findExternalLinks(text)).toEqual([]);
  });

  it('has enough cases to mean something', () => {
    expect(POSITIVE.length).toBeGreaterThanOrEqual(25);
    expect(NEGATIVE.length).toBeGreaterThanOrEqual(15);
  });

  it('reports every reference in text order without overlapping hits', () => {
    const text = '去淘宝搜同款，或者 https://jd.com/x 也行，加V：abc123';
    expect(findExternalLinks(text)).toEqual([
      { found: '淘宝搜', kind: 'external-store' },
      { found: 'https://jd.com/x', kind: 'url' },
      { found: '加V：abc123', kind: 'contact-redirect' },
    ]);
  });

  it('drops sentence punctuation after a link', () => {
    expect(findExternalLinks('see taobao.com/x.')[0]?.found).toBe('taobao.com/x');
  });

  it('clips a long finding to 80 characters', () => {
    const url = `https://example.com/${'a'.repeat(200)}`;
    const [finding] = findExternalLinks(`直播间 ${url}`);
    expect(finding?.kind).toBe('url');
    expect(Array.from(finding?.found ?? '')).toHaveLength(80);
    expect(url.startsWith(finding?.found ?? 'x')).toBe(true);
  });

  it('needs a buying word near the platform name in the same clause', () => {
    expect(findExternalLinks('我们在淘宝也开过店')).toHaveLength(1);
    expect(findExternalLinks('和天猫一样的价格，买贵退差')).toEqual([]);
  });

  it('returns nothing for empty text', () => {
    expect(findExternalLinks('')).toEqual([]);
  });

  it('stays fast on long adversarial input', () => {
    const started = performance.now();
    for (const chunk of ['a', 'a.', 'a . ', 'www.', 'aa点', '淘宝店 ', 'x@']) {
      findExternalLinks(chunk.repeat(20_000));
    }
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('scanFields', () => {
  it('rejects an external link in a live-room title and keeps field order', () => {
    expect(
      scanFields({
        title: '秋冬新品 去淘宝搜同款',
        description: '纯棉T恤 2024新款 https://t.cn/abc 以及 jd.com',
        coverText: null,
        note: undefined,
        anchor: '',
      }),
    ).toEqual([
      { field: 'title', found: '淘宝搜', kind: 'external-store' },
      { field: 'description', found: 'https://t.cn/abc', kind: 'url' },
    ]);
  });

  it('returns nothing for clean venue text', () => {
    expect(scanFields({ title: '5.5英寸 iPhone 15 Pro 保护壳', description: '¥99.9 包邮' })).toEqual([]);
  });
});

const cjkChar = fc.integer({ min: 0x4e00, max: 0x9fa5 }).map((cp) => String.fromCodePoint(cp));
const cjkText = fc.array(cjkChar, { maxLength: 20 }).map((cs) => cs.join(''));
const lowerAlnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789');
const label = fc
  .array(lowerAlnum, { minLength: 1, maxLength: 12 })
  .map((cs) => cs.join(''))
  .filter((s) => s !== 'www');
const tld = fc.oneof(
  fc.constantFrom('com', 'cn', 'net', 'org', 'shop', 'xyz', 'io'),
  fc
    .array(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'), { minLength: 2, maxLength: 8 })
    .map((cs) => cs.join('')),
);
const path = fc
  .array(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-'), {
    maxLength: 20,
  })
  .map((cs) => cs.join(''));

describe('findExternalLinks properties', () => {
  it('never throws, on any string', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme' })),
        (s) => {
          const findings = findExternalLinks(s);
          for (const f of findings) {
            expect(s).toContain(f.found);
            expect(Array.from(f.found).length).toBeLessThanOrEqual(80);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('finds any https URL embedded in Chinese text', () => {
    fc.assert(
      fc.property(
        cjkText,
        fc.array(label, { minLength: 1, maxLength: 3 }),
        tld,
        path,
        cjkText,
        (pre, hosts, t, p, post) => {
          const url = `https://${hosts.join('.')}.${t}/${p}`;
          const findings = findExternalLinks(`${pre}${url}${post}`);
          expect(findings).toContainEqual({ found: url, kind: 'url' });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('does not flag product copy built from ordinary words, prices and sizes', () => {
    const word = fc.constantFrom(
      '纯棉',
      'T恤',
      '2024新款',
      '100%棉',
      '包邮',
      '加厚',
      '5.5英寸',
      '3.0版本',
      '￥199',
      '¥99.9',
      '1.5kg',
      'iPhone 15 Pro',
      'v2.0',
      '京东方屏幕',
      '天猫精灵同款音箱',
      '买一送一',
      '拍下立减',
      '限时秒杀',
      '500ml',
      'XL',
      '大码',
    );
    fc.assert(
      // Phrases are separated as in real copy: glued together, '￥199' + '500ml' + '￥…' really
      // is shaped like a Taobao password (￥ + 8–15 letters/digits + ￥), and is rightly flagged.
      fc.property(fc.array(word, { maxLength: 8 }), fc.constantFrom(' ', '，', '、'), (words, sep) => {
        expect(findExternalLinks(words.join(sep))).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });
});
