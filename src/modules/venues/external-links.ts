// Detects links or references to goods outside the platform in venue text
// (live-room titles and descriptions, cart inputs, short-video titles, product
// anchors). Since 9 Oct 2020 venues may only carry platform products, so any hit
// here is rejected by the caller with EXTERNAL_LINK_FORBIDDEN.
//
// Pure and synchronous: no I/O, no configuration. The detector errs towards
// catching evasions (full-width characters, 。 for '.', spaced dots, zero-width
// characters) while leaving ordinary product copy ("5.5英寸", "¥99.9 包邮",
// "京东方屏幕") alone.

export interface ExternalLinkFinding {
  field: string;
  found: string;
  kind: 'url' | 'domain' | 'tao-password' | 'external-store' | 'contact-redirect';
}

type Finding = Omit<ExternalLinkFinding, 'field'>;
type Kind = Finding['kind'];

const MAX_FOUND_LENGTH = 80;

// ---------------------------------------------------------------------------
// Normalisation with an offset map back to the original text, so `found` is
// always an exact substring of what the user typed.

interface Normalized {
  text: string;
  /** For each UTF-16 unit of `text`: start offset of its source code point. */
  start: number[];
  /** For each UTF-16 unit of `text`: end offset of its source code point. */
  end: number[];
}

// Invisible characters used to split a link so that naive filters miss it.
const INVISIBLE = new Set(['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad']);

function normalize(original: string): Normalized {
  let text = '';
  const start: number[] = [];
  const end: number[] = [];
  let offset = 0;
  for (const cp of original) {
    const from = offset;
    offset += cp.length;
    if (INVISIBLE.has(cp)) continue;
    // NFKC folds full-width letters, digits and punctuation (ｔａｏｂａｏ．ｃｏｍ, ＄, （）)
    // onto ASCII; the ideographic full stop is not folded by NFKC but is a common
    // stand-in for the dot in a domain.
    let mapped = cp.normalize('NFKC');
    if (mapped === '。' || mapped === '｡') mapped = '.';
    for (let i = 0; i < mapped.length; i++) {
      start.push(from);
      end.push(offset);
    }
    text += mapped;
  }
  return { text, start, end };
}

// ---------------------------------------------------------------------------
// Patterns. All run on the normalised text, case-insensitively.

// Only TLDs that are unlikely to follow a dot in product copy: no `pro`, `max`,
// `plus`, `one`, `red`, `li`, `ml`, `kg`, … ("iPhone15.Pro" is not a link).
const TLDS = [
  'com',
  'cn',
  'net',
  'org',
  'cc',
  'top',
  'xyz',
  'vip',
  'shop',
  'store',
  'site',
  'online',
  'ltd',
  'wang',
  'ink',
  'club',
  'info',
  'biz',
  'io',
  'me',
  'tv',
  'hk',
  'tw',
  'mo',
  'jp',
  'asia',
  'mobi',
  'ren',
  'icu',
  'ly',
  'gl',
  'gd',
];
// With spaces or 点 around the dot only the common Chinese-web TLDs count, so an
// English sentence break ("…it. Me too") is not mistaken for a domain.
const LOOSE_TLDS = ['com', 'cn', 'net', 'top', 'vip', 'cc', 'xyz', 'shop'];

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const URL_CHARS = "[a-z0-9\\-._~:/?#\\[\\]@!$&'()*+,;=%]";
const PATH = `(?:[/:?#]${URL_CHARS}*)?`;
const LOOSE_DOT = '(?:\\s*\\.\\s*|\\s*点\\s*|\\s+dot\\s+|\\s*[(\\[]dot[)\\]]\\s*)';
const tldGroup = (tlds: readonly string[]) => `(?:${tlds.join('|')})`;
// A host starts only where no label (and no "label." before it) does: trying every
// label of "a.a.a.…" as a start would make matching quadratic. The loose form still
// starts after "1. " because a numbered list item is not a label it could include.
const HOST_START = '(?<![a-z0-9-]|[a-z0-9-]\\.)';
const LOOSE_HOST_START = `(?<![a-z0-9-]|[a-z][a-z0-9-]{0,62}${LOOSE_DOT})`;

// Trailing punctuation is almost always the sentence, not the link.
const TRAILING_PUNCTUATION = /[.,;:!?'")\]]+$/;

const CURRENCY_MARKS = '[¥$€£₤¢₴₳₰₵₲₪฿₭₮₱₹₽₩]';

// Platforms and channels outside Livecart. Exclusions keep brand names that merely
// contain a platform's name: 京东方 (BOE panels), 天猫精灵 (a smart speaker), 淘宝贝.
const OTHER_PLATFORMS = [
  '淘宝(?!贝)',
  '天猫(?!精灵)',
  '京东(?!方)',
  '拼多多',
  '拼夕夕',
  '微店',
  '闲鱼',
  '某宝',
  '某猫',
  '某东',
  '某多多',
  '狗东',
  '(?<![a-z])(?:taobao|tmall|pinduoduo|pdd|xianyu|weidian)(?![a-z])',
  // 1688 is also a common price: only count it next to a place or buying word.
  '(?:阿里巴巴|阿里|去|到|在|上)1688(?!\\d)',
  '(?<![\\d¥$.])1688(?=上|搜|拿货|下单|批发|链接|店|同款|找)',
].join('|');

// Words that turn a platform mention into sending the buyer there.
// Longer words first so "淘宝店铺" is reported whole rather than as "淘宝店".
const BUYING_WORDS =
  '搜索|搜|链接|下单|店铺|旗舰店|专卖店|官方店|店|购买|买(?!家)|拍(?!照|摄|视频|戏)|拿货|批发|自营|旗舰|口令|便宜|砍一刀|领券|同款|找';

const CLAUSE_BREAK = /[,，。.!！?？;；\n|｜]/;
const STORE_WINDOW = 8;

const CHAT_APPS = '(?:微信号?|薇信|威信|v信|vx|wx|wechat|绿泡泡|qq号?|qq群|扣扣|企鹅号?)';
// A WeChat id is 6–20 characters starting with a letter; QQ ids and phones are digits.
const CHAT_ID = '(?:[a-z][-_a-z0-9]{5,19}|\\d{5,12})';

interface Rule {
  kind: Kind;
  regex: RegExp;
  /** Extra check on the match (original-case text); reject when false. */
  accept?: (match: string) => boolean;
  /** Expand a match into a finding span; defaults to the match itself. */
  span?: (text: string, index: number, match: string) => [number, number] | null;
}

const RULES: readonly Rule[] = [
  {
    kind: 'url',
    regex: new RegExp(`(?:https?|ftp)\\s*:\\s*//${URL_CHARS}+`, 'giu'),
  },
  {
    kind: 'url',
    regex: new RegExp(
      `${LOOSE_HOST_START}www${LOOSE_DOT}(?:${LABEL}${LOOSE_DOT})*${LABEL}(?![a-z0-9-])${PATH}`,
      'giu',
    ),
  },
  {
    kind: 'contact-redirect',
    // An e-mail address is a private channel for placing an order.
    regex: new RegExp(`(?<![a-z0-9._%+-])[a-z0-9._%+-]{1,64}@${LABEL}(?:\\.${LABEL})+`, 'giu'),
  },
  {
    kind: 'domain',
    regex: new RegExp(`${HOST_START}(?:${LABEL}\\.)+${tldGroup(TLDS)}(?![a-z0-9-])${PATH}`, 'giu'),
  },
  {
    kind: 'domain',
    regex: new RegExp(
      // Bounded label length keeps a long run of letters from backtracking badly.
      `${LOOSE_HOST_START}(?:(?=[a-z0-9-]{0,62}[a-z])[a-z0-9-]{1,63}${LOOSE_DOT})+${tldGroup(LOOSE_TLDS)}(?![a-z0-9-])${PATH}`,
      'giu',
    ),
  },
  {
    kind: 'tao-password',
    // ￥AbC1dEf2Gh3￥, $…$, €…€: the closing mark never follows a real price.
    regex: new RegExp(`${CURRENCY_MARKS}[a-z0-9]{8,15}${CURRENCY_MARKS}`, 'giu'),
    accept: (m) => /[a-z]/i.test(m),
  },
  {
    kind: 'tao-password',
    regex: /(?<![a-z0-9])\([a-z0-9]{8,15}\)/giu,
    accept: (m) => isRandomToken(m.slice(1, -1)),
  },
  {
    kind: 'contact-redirect',
    // 加V：abc123 / vx abc12345 / 微信号abc_123 / QQ 12345678
    regex: new RegExp(
      `(?:(?:添加|加我?|\\+)\\s*(?:${CHAT_APPS}|v)|(?<![a-z0-9])${CHAT_APPS})\\s*[:：]?\\s*${CHAT_ID}(?![a-z0-9_-])`,
      'giu',
    ),
    // "加V" alone is too close to "加Vitamin": demand a separator before the id.
    accept: (m) => !/^(?:添加|加我?|\+)\s*v(?!x|信)[a-z0-9]/iu.test(m),
  },
  {
    kind: 'contact-redirect',
    // Ordering by direct message skips checkout; asking the shop a question does not.
    regex: /(?:私聊|私信|私下|私我)\s*我?\s*(?:下单|购买|订购|买|拍|交易|拿货|成交|付款|转账)/giu,
  },
  {
    kind: 'contact-redirect',
    regex: new RegExp(
      `(?:添加|加我?)\\s*${CHAT_APPS}\\s*(?:下单|购买|订购|买|拍|交易|拿货|成交|私聊|咨询|领取|付款|转账)`,
      'giu',
    ),
  },
  {
    kind: 'contact-redirect',
    // A bare mainland mobile number in a venue invites buying off-platform.
    regex: /(?<![\d.])(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?![\d.])/gu,
  },
  {
    kind: 'external-store',
    regex: new RegExp(OTHER_PLATFORMS, 'giu'),
    span: storeSpan,
  },
];

/**
 * A Taobao password in brackets is random base62; a product model in brackets
 * ("(iPhone15Pro)", "(RTX4090)") reads as words and numbers.
 */
function isRandomToken(token: string): boolean {
  if (!/\d/.test(token) || !/[A-Z]/.test(token) || !/[a-z]/.test(token)) return false;
  const wordLike = /^[a-z]?(?:[A-Z]?[a-z]{2,}|[A-Z]+|\d+)+$/;
  return !wordLike.test(token);
}

/** A platform mention counts only with a buying word in the same clause nearby. */
function storeSpan(text: string, index: number, match: string): [number, number] | null {
  const mentionEnd = index + match.length;
  let clauseStart = index;
  while (
    clauseStart > 0 &&
    index - clauseStart < STORE_WINDOW &&
    !CLAUSE_BREAK.test(text[clauseStart - 1]!)
  ) {
    clauseStart--;
  }
  let clauseEnd = mentionEnd;
  while (
    clauseEnd < text.length &&
    clauseEnd - mentionEnd < STORE_WINDOW &&
    !CLAUSE_BREAK.test(text[clauseEnd]!)
  ) {
    clauseEnd++;
  }
  const words = new RegExp(BUYING_WORDS, 'giu');
  let best: [number, number] | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  const after = text.slice(mentionEnd, clauseEnd);
  for (const w of after.matchAll(words)) {
    const distance = w.index;
    if (distance < bestDistance) {
      bestDistance = distance;
      best = [index, mentionEnd + w.index + w[0].length];
    }
  }
  const before = text.slice(clauseStart, index);
  for (const w of before.matchAll(words)) {
    const distance = before.length - (w.index + w[0].length);
    // Prefer a word after the mention ("淘宝搜同款") over one before it on ties.
    if (distance < bestDistance) {
      bestDistance = distance;
      best = [clauseStart + w.index, mentionEnd];
    }
  }
  return best;
}

interface Candidate {
  start: number;
  end: number;
  kind: Kind;
}

/** Every external link or off-platform reference in `text`, in text order. */
export function findExternalLinks(text: string): Finding[] {
  if (typeof text !== 'string' || text.length === 0) return [];
  const norm = normalize(text);
  const candidates: Candidate[] = [];
  for (const rule of RULES) {
    for (const m of norm.text.matchAll(rule.regex)) {
      let raw = m[0];
      if (rule.kind === 'url' || rule.kind === 'domain') raw = raw.replace(TRAILING_PUNCTUATION, '');
      if (raw.trim().length === 0) continue;
      if (rule.accept && !rule.accept(raw)) continue;
      const span: [number, number] | null = rule.span
        ? rule.span(norm.text, m.index, raw)
        : [m.index, m.index + raw.length];
      if (!span) continue;
      candidates.push({ start: span[0], end: span[1], kind: rule.kind });
    }
  }
  return selectNonOverlapping(candidates).map((c) => {
    const from = norm.start[c.start]!;
    const to = norm.end[c.end - 1]!;
    return { found: clip(text.slice(from, to).trim()), kind: c.kind };
  });
}

/**
 * Overlapping hits collapse into one: earliest first, then longest. A store
 * mention yields to any link it overlaps ("weidian" inside "weidian.com"), since
 * the link is the more precise finding.
 */
function selectNonOverlapping(candidates: Candidate[]): Candidate[] {
  const byPosition = (a: Candidate, b: Candidate) => a.start - b.start || b.end - a.end;
  const chosen: Candidate[] = [];
  let covered = 0;
  for (const c of candidates.filter((c) => c.kind !== 'external-store').sort(byPosition)) {
    if (c.start < covered) continue;
    covered = c.end;
    chosen.push(c);
  }
  // `chosen` is sorted and disjoint, so one forward pointer finds any overlap.
  const stores: Candidate[] = [];
  covered = 0;
  let j = 0;
  for (const c of candidates.filter((c) => c.kind === 'external-store').sort(byPosition)) {
    while (j < chosen.length && chosen[j]!.end <= c.start) j++;
    const next = chosen[j];
    if (c.start < covered || (next && next.start < c.end)) continue;
    covered = c.end;
    stores.push(c);
  }
  return [...chosen, ...stores].sort(byPosition);
}

function clip(s: string): string {
  const cps = Array.from(s);
  return cps.length <= MAX_FOUND_LENGTH ? s : cps.slice(0, MAX_FOUND_LENGTH).join('');
}

/**
 * The first finding of each field, in the order the fields are given; empty and
 * missing fields are skipped. An empty result means the venue text is clean.
 */
export function scanFields(fields: Record<string, string | null | undefined>): ExternalLinkFinding[] {
  const out: ExternalLinkFinding[] = [];
  for (const [field, value] of Object.entries(fields)) {
    if (value == null || value === '') continue;
    const first = findExternalLinks(value)[0];
    if (first) out.push({ field, ...first });
  }
  return out;
}
