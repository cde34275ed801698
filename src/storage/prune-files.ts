import type { BlobStore } from './blobs/blob-store.ts';
import type { FileStore, UploadStore } from './stores.ts';

/** How long an upload's record outlives its expiry, so a client polling it still reads `expired`. */
export const UPLOAD_RETENTION_SECONDS = 24 * 3600;

const BATCH = 500;

/**
 * Deletes expired files and old uploads, then their blobs. Rows go first: a crash in between
 * leaves at worst a blob nobody points at, never a file whose bytes are gone. Every blob is
 * attempted; the first failure is rethrown at the end for the caller to log.
 */
export async function pruneFiles(
  stores: { files: FileStore; uploads: UploadStore },
  blobs: BlobStore,
  uploadRetentionSeconds = UPLOAD_RETENTION_SECONDS,
): Promise<{ files: number; parts: number }> {
  const blobKeys: string[] = [];
  let files = 0;
  for (;;) {
    const expired = await stores.files.deleteExpired(BATCH);
    files += expired.length;
    blobKeys.push(...expired.map((file) => file.blobKey));
    if (expired.length < BATCH) break;
  }
  const partKeys = await stores.uploads.prune(uploadRetentionSeconds);
  blobKeys.push(...partKeys);
  const results = await Promise.allSettled(blobKeys.map((key) => blobs.delete(key)));
  const failure = results.find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;
  return { files, parts: partKeys.length };
}
