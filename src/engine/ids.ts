import { randomBytes } from 'node:crypto';

/** Prefixes OpenAI uses, so ids look familiar in logs and clients. */
export type IdPrefix =
  'resp' | 'msg' | 'fc' | 'ctc' | 'rs' | 'cmp' | 'conv' | 'item' | 'pmpt' | 'upload' | 'part' | 'fs' | 'vs' | 'vsfb';

/** A random, unguessable id like OpenAI's: `resp_` followed by 48 hex digits (192 bits). */
export function createId(prefix: IdPrefix): string {
  return `${prefix}_${randomBytes(24).toString('hex')}`;
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
    for (const byte of randomBytes(length * 2)) {
      // 248 = 4 × 62: rejecting the bytes above it keeps every character equally likely.
      if (byte < 248 && text.length < length) text += BASE62[byte % 62];
    }
  }
  return text;
}
