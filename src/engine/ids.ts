import { randomFillSync } from 'node:crypto';

/** Prefixes OpenAI uses, so ids look familiar in logs and clients. */
export type IdPrefix =
  'resp' | 'msg' | 'fc' | 'ctc' | 'rs' | 'cmp' | 'conv' | 'item' | 'pmpt' | 'upload' | 'part' | 'fs' | 'vs' | 'vsfb';

/**
 * Random bytes drawn 4 KiB at a time and handed out once each: a request makes several ids, and
 * one call into the CSPRNG per id cost more than everything else about making them. Each byte
 * is used once and then overwritten by the next refill, so ids stay independent and unguessable
 * (Node pools randomUUID's bytes the same way).
 */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

/** Where `size` unused random bytes start in `pool`. */
function take(size: number): number {
  if (poolOffset + size > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const start = poolOffset;
  poolOffset += size;
  return start;
}

/** A random, unguessable id like OpenAI's: `resp_` followed by 48 hex digits (192 bits). */
export function createId(prefix: IdPrefix): string {
  const start = take(24);
  return `${prefix}_${pool.toString('hex', start, start + 24)}`;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * A file id as OpenAI writes them: `file-` with a dash, then base62 (`file-AbC…`), which clients
 * and tools sometimes match on. 24 characters carry about 143 random bits.
 */
export function createFileId(): string {
  return `file-${randomBase62(24)}`;
}

function randomBase62(length: number): string {
  let text = '';
  while (text.length < length) {
    const start = take(length * 2);
    for (let index = start; index < start + length * 2 && text.length < length; index++) {
      const byte = pool[index]!;
      // 248 = 4 × 62: rejecting the bytes above it keeps every character equally likely.
      if (byte < 248) text += BASE62[byte % 62];
    }
  }
  return text;
}
