import { nameText } from './item-key.ts';
import type { StoredFile } from './stores.ts';

/** The columns of the files table, in the order `fileValues` gives them, on both dialects. */
export const fileColumns = 'id, owner, created_at, bytes, filename, purpose, mime_type, expires_at, blob_key';

/** A file as the values of one files row (the filename stored as JSON text, like other names). */
export function fileValues(file: StoredFile): Array<string | number | null> {
  return [
    file.id,
    file.owner,
    file.createdAt,
    file.bytes,
    nameText(file.filename),
    file.purpose,
    file.mimeType,
    file.expiresAt,
    file.blobKey,
  ];
}

/** Unix seconds now, from this process's clock on both dialects; a file whose expires_at is at or before it reads as absent. */
export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}
