import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { BlobPutResult, BlobStore } from './blob-store.ts';
import { assertBlobKey } from './blob-store.ts';

/**
 * Blobs as files under one folder (`${dataDir}/blobs`), one file per key, the key's segments as
 * sub-folders. A put writes a temporary file in `.partial/`, flushes it to disk and renames it
 * over the key: a rename within one file system is atomic, so a crash mid-write leaves at worst
 * a stray file in `.partial/` (never a half file under a real key), and a reader sees the old
 * blob or the new one.
 */
export class LocalBlobStore implements BlobStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  async put(key: string, data: Buffer | AsyncIterable<Buffer | Uint8Array>): Promise<BlobPutResult> {
    const target = this.pathOf(key);
    const partialFolder = join(this.root, '.partial');
    await mkdir(partialFolder, { recursive: true });
    const temporary = join(partialFolder, `${randomBytes(12).toString('hex')}.tmp`);
    const hash = createHash('sha256');
    let bytes = 0;
    const handle = await open(temporary, 'wx');
    try {
      try {
        const chunks: AsyncIterable<Buffer | Uint8Array> | Buffer[] = Buffer.isBuffer(data) ? [data] : data;
        for await (const chunk of chunks) {
          hash.update(chunk);
          bytes += chunk.byteLength;
          // Awaiting each write is the back-pressure: the source is read no faster than the disk takes it.
          await handle.write(chunk);
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      await mkdir(dirname(target), { recursive: true });
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return { bytes, sha256: hash.digest('hex') };
  }

  async get(key: string): Promise<Readable | null> {
    try {
      const handle = await open(this.pathOf(key), 'r');
      // A key that is the folder of other keys (`uploads/upload_1`) is no blob, as in a bucket.
      if (!(await handle.stat()).isFile()) {
        await handle.close();
        return null;
      }
      // The stream owns the handle and closes it when it ends or is destroyed.
      return handle.createReadStream();
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async delete(key: string): Promise<boolean> {
    if (!(await this.exists(key))) return false;
    await rm(this.pathOf(key), { force: true });
    return true;
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  private pathOf(key: string): string {
    assertBlobKey(key);
    return join(this.root, ...key.split('/'));
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
