import type { Readable } from 'node:stream';

/** What `BlobStore.put` wrote. */
export interface BlobPutResult {
  bytes: number;
  /** Hex SHA-256 of the bytes, when the store computes it as it writes (the local one does). */
  sha256?: string;
}

/**
 * Where the bytes of files (and of upload parts until they are assembled) live; the database keeps
 * only their metadata and key. Keys are chosen by the server (`files/file-…`,
 * `uploads/upload_…/part_…`): ASCII letters, digits, `.`, `_`, `-`, with `/` between segments —
 * the same keys suit a folder on disk and an S3-compatible bucket.
 *
 * A key is written whole or not at all: a reader never sees half a blob, and a failed or
 * interrupted `put` leaves nothing under the key.
 */
export interface BlobStore {
  /**
   * Writes `data` under `key`, replacing what was there. When `data` is a stream that throws
   * (a size limit, a client that went away), nothing is written and the error is rethrown.
   */
  put(key: string, data: Buffer | AsyncIterable<Buffer | Uint8Array>): Promise<BlobPutResult>;
  /** The bytes under `key` as a stream, or null when there is no such blob. */
  get(key: string): Promise<Readable | null>;
  /** Removes the blob; false when there was none. */
  delete(key: string): Promise<boolean>;
  exists(key: string): Promise<boolean>;
}

const KEY_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

/**
 * Refuses a key outside the safe alphabet. Keys come from the server, never a client, so a bad
 * one is a bug — but checking here is what keeps `..`, absolute paths and odd bytes out of a path
 * or an object name whatever a caller does.
 */
export function assertBlobKey(key: string): void {
  if (key.length > 512 || !KEY_PATTERN.test(key)) throw new TypeError(`Invalid blob key ${JSON.stringify(key)}.`);
}
