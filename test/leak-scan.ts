import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { App } from '../src/app.js';
import { type Db, rowsOf } from '../src/platform/db.js';
import { allTextValues } from './db-snapshot.js';

/**
 * Helpers for the buyer-PII leak test (test/leak.test.ts): canary PII unique to one run, the
 * needles a leak of it would contain, and the places to look for them.
 */

// ---------------------------------------------------------------------------------------------
// Canaries
// ---------------------------------------------------------------------------------------------

/** One CJK unified ideograph at random (U+4E00–U+9FA5). */
const cjk = () => String.fromCodePoint(0x4e00 + randomInt(0, 0x9fa6 - 0x4e00));
const digits = (n: number) => Array.from({ length: n }, () => String(randomInt(0, 10))).join('');

/** `金丝雀` and two random ideographs: the `丝雀` part never shows in a mask (which keeps the first character only). */
export const canaryName = () => `金丝雀${cjk()}${cjk()}`;

/**
 * A valid mainland mobile (`/^1[3-9]\d{9}$/`, outside the 170/171 virtual-number ranges):
 * `13900`, a non-zero digit, five random digits. The non-zero sixth digit keeps every 8-digit
 * window of it from matching a window of a pool number such as 17000000012.
 */
export const canaryPhone = () => `13900${randomInt(1, 10)}${digits(5)}`;

/** A street address detail: the mask replaces the whole detail by `****`. */
export const canaryDetail = () => `金丝雀路${randomInt(1000, 10000)}号${cjk()}${cjk()}幢`;

export interface Needle {
  /** What it is, for the failure message ("canary A phone, digits 3–10"). */
  label: string;
  value: string;
}

/** A name: in full, and without its first character (a mask shows the first one only). */
export function nameNeedles(label: string, name: string): Needle[] {
  return [
    { label: `${label} name`, value: name },
    { label: `${label} name without first char`, value: Array.from(name).slice(1).join('') },
  ];
}

/**
 * A phone: its 11 digits and every 8-digit window of them. A mask keeps the first 3 and last 4
 * digits (`139****3456`), so no window of 8 digits is ever part of one; a window catches a
 * partial leak such as the middle digits alone.
 */
export function phoneNeedles(label: string, phone: string, raw?: string): Needle[] {
  if (!/^1[3-9]\d{9}$/.test(phone)) throw new Error(`canary phone ${phone} is not 11 digits`);
  const out: Needle[] = [{ label: `${label} phone`, value: phone }];
  for (let i = 0; i + 8 <= 11; i++)
    out.push({ label: `${label} phone digits ${i}–${i + 7}`, value: phone.slice(i, i + 8) });
  if (raw && raw !== phone) {
    // The form the buyer typed ('+86 139 0012 3456'), and without its country code.
    out.push({ label: `${label} phone as typed`, value: raw });
    const local = raw.replace(/^\+?86[\s-]?/, '');
    if (local !== raw) out.push({ label: `${label} phone as typed, local part`, value: local });
    const tail = local.slice(-9);
    if (/\d{4}[\s-]\d{4}$/.test(tail)) out.push({ label: `${label} phone as typed, last 8`, value: tail });
  }
  return out;
}

/** An address detail: in full, and without its first character. */
export function detailNeedles(label: string, detail: string): Needle[] {
  return [
    { label: `${label} address detail`, value: detail },
    { label: `${label} address detail without first char`, value: Array.from(detail).slice(1).join('') },
  ];
}

/** Free text (an invalid input sent on purpose), in full. */
export const rawNeedle = (label: string, value: string): Needle => ({ label, value });

// ---------------------------------------------------------------------------------------------
// Scanning
// ---------------------------------------------------------------------------------------------

export interface Source {
  /** Where the text came from ("table recipients", "response POST /api/orders 400"). */
  where: string;
  text: string;
}

export interface Hit {
  where: string;
  /** The needles found there. */
  needles: string[];
  /** The text around the first one (as found: plain, URL-encoded, \u-escaped, or a decoded base64 token). */
  excerpt: string;
}

/** `\u91d1\u4e1d…`: how JSON.stringify with ASCII-only output, or a JSON-in-JSON column, would spell it. */
function unicodeEscaped(s: string): string {
  return Array.from(s)
    .map((c) => {
      if (c.codePointAt(0)! < 0x80) return c;
      return Array.from(
        { length: c.length },
        (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`,
      ).join('');
    })
    .join('');
}

/** The spellings of a needle a leak could take: as is, percent-encoded (a logged URL), \u-escaped. */
function spellings(value: string): string[] {
  return [...new Set([value, encodeURIComponent(value), unicodeEscaped(value)].map((v) => v.toLowerCase()))];
}

const BASE64_TOKEN = /[A-Za-z0-9+/_-]{16,}={0,2}/g;

/**
 * The text of every base64 / base64url token of a source, decoded as UTF-8: a cursor, a token
 * or an "opaque" field that merely encodes a canary is a leak too. Ciphertexts decode to noise.
 */
function decodedTokens(text: string): string {
  const out: string[] = [];
  for (const m of text.matchAll(BASE64_TOKEN)) {
    const tok = m[0].replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
    // Each alignment: the token may be glued to other base64-alphabet text ('/api/x/eyJ…').
    for (let k = 0; k < 4; k++) out.push(Buffer.from(tok.slice(k), 'base64url').toString('utf8'));
  }
  return out.join('\n');
}

/** Every source where a needle occurs, in any spelling, in its text or its decoded base64 tokens. */
export function findLeaks(sources: Source[], needles: Needle[]): Hit[] {
  const prepared = needles.map((n) => ({ label: n.label, forms: spellings(n.value) }));
  const hits: Hit[] = [];
  const look = (where: string, text: string) => {
    const lower = text.toLowerCase();
    let hit: Hit | undefined;
    for (const n of prepared) {
      for (const form of n.forms) {
        const at = lower.indexOf(form);
        if (at < 0) continue;
        hit ??= { where, needles: [], excerpt: text.slice(Math.max(0, at - 100), at + form.length + 100) };
        hit.needles.push(n.label);
        break;
      }
    }
    if (hit) hits.push(hit);
  };
  for (const s of sources) {
    look(s.where, s.text);
    const decoded = decodedTokens(s.text);
    if (decoded) look(`${s.where} (a base64 token, decoded)`, decoded);
  }
  return hits;
}

/** True when any spelling of the value occurs in the text (for positive checks). */
export const contains = (text: string, value: string) =>
  spellings(value).some((f) => text.toLowerCase().includes(f));

// ---------------------------------------------------------------------------------------------
// Where to look
// ---------------------------------------------------------------------------------------------

/**
 * The database as text: every text / jsonb / varchar / array column of every public table
 * (allTextValues), and every row of every table of every non-system schema cast to text
 * (`t::text`), which also covers numeric, bytea and timestamp columns and the drizzle schema.
 */
export async function databaseSources(db: Db): Promise<Source[]> {
  const sources: Source[] = [{ where: 'public text columns', text: (await allTextValues(db)).join('\n') }];
  const tables = rowsOf<{ s: string; t: string }>(
    await db.execute(sql`
      select table_schema as s, table_name as t from information_schema.tables
      where table_type = 'BASE TABLE'
        and table_schema not in ('pg_catalog', 'information_schema')
        and left(table_schema, 3) <> 'pg_'
      order by 1, 2`),
  );
  for (const { s, t } of tables) {
    const q = (id: string) => `"${id.replace(/"/g, '""')}"`;
    const rows = rowsOf<{ v: string | null }>(
      await db.execute(sql.raw(`select r::text as v from ${q(s)}.${q(t)} r`)),
    );
    sources.push({ where: `table ${s}.${t}`, text: rows.map((r) => r.v ?? '').join('\n') });
  }
  return sources;
}

/** A plain-format pg_dump of the whole database (data, schema, the drizzle migrations table). */
export async function pgDump(databaseUrl: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'livecart-leak-'));
  const file = path.join(dir, 'dump.sql');
  try {
    await promisify(execFile)(
      process.env.PG_DUMP ?? '/usr/bin/pg_dump',
      ['--format=plain', '--no-owner', '--no-privileges', `--file=${file}`, `--dbname=${databaseUrl}`],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    return await readFile(file, 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface RecordedResponse {
  method: string;
  url: string;
  status: number;
  /** Response headers and body, as sent. */
  text: string;
}

/**
 * Records every response the app's HTTP stack produces, from `t.request` and from inside the
 * app (the simulated payment provider calls its webhook through `http.inject`).
 */
export function recordResponses(app: App): RecordedResponse[] {
  const recorded: RecordedResponse[] = [];
  const http = app.http as unknown as {
    inject: (opts: InjectOptions | string) => Promise<LightMyRequestResponse>;
  };
  const original = http.inject.bind(http);
  http.inject = async (opts) => {
    const res = await original(opts);
    const o = typeof opts === 'string' ? { url: opts, method: 'GET' } : opts;
    const url = typeof o.url === 'string' ? o.url : JSON.stringify(o.url ?? o.path);
    recorded.push({
      method: String(o.method ?? 'GET'),
      url,
      status: res.statusCode,
      text: `${JSON.stringify(res.headers)}\n${res.body}`,
    });
    return res;
  };
  return recorded;
}
