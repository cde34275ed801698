import { randomBytes } from 'node:crypto';

/** Prefixes OpenAI uses, so ids look familiar in logs and clients. */
export type IdPrefix = 'resp' | 'msg' | 'fc' | 'ctc' | 'rs' | 'cmp' | 'conv' | 'item' | 'pmpt';

/** A random, unguessable id like OpenAI's: `resp_` followed by 48 hex digits (192 bits). */
export function createId(prefix: IdPrefix): string {
  return `${prefix}_${randomBytes(24).toString('hex')}`;
}
