import { extname } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { invalidRequest } from '../errors/api-error.ts';
import type { BlobStore } from '../storage/blobs/blob-store.ts';
import type { FileStore } from '../storage/stores.ts';

/**
 * `input_file` and `input_image` parts that name an uploaded File by `file_id`: the Files are read
 * once per request, before any item is converted, and handed to the model as data URLs.
 */

/** A File a request's input names, read and ready for the model. */
export interface InputFile {
  filename: string;
  mediaType: string;
  /** `data:<media type>;base64,…` */
  dataUrl: string;
}

/** Files by id. A file_id missing here (from an earlier turn; deleted since) is noted, not sent. */
export type InputFiles = ReadonlyMap<string, InputFile>;

/** Where Files live: their records and their bytes. */
export interface FileSource {
  store: FileStore;
  blobs: BlobStore;
}

/** The most file content one request may send a model, as OpenAI allows (32 MB over all files). */
export const MAX_INPUT_FILE_BYTES = 32 * 1024 * 1024;

/** Items to look through, and how a file_id that cannot be read is treated. */
export interface FileReferences {
  items: ReadonlyArray<Record<string, unknown>>;
  /** Names the items in errors: `input`, `instructions`. */
  param: string;
  /**
   * True for this request's own input: an unknown file_id is a 400 naming it. False for earlier
   * turns (a previous_response_id chain, a conversation): a File deleted since is left out, and
   * the model is told so, rather than failing every later turn.
   */
  required: boolean;
}

const MEDIA_TYPES_BY_EXTENSION: Record<string, string> = {
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.txt': 'text/plain',
  '.md': 'text/markdown',
  '.csv': 'text/csv',
  '.json': 'application/json',
  '.html': 'text/html',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
};

/** Reads every File named by a file_id in `references`; throws a 400 for a bad one in required items. */
export async function resolveInputFiles(
  references: FileReferences[],
  source: FileSource | undefined,
  owner: string,
): Promise<Map<string, InputFile>> {
  const files = new Map<string, InputFile>();
  let totalBytes = 0;
  for (const { items, param, required } of references) {
    for (const { fileId, partParam, image } of fileParts(items, param)) {
      const known = files.get(fileId);
      if (known !== undefined) {
        if (image && required) checkImage(known, fileId, partParam);
        continue;
      }
      if (source === undefined) {
        if (!required) continue;
        throw invalidRequest(
          `${partParam}.file_id`,
          'Files are not available on this server.',
          'unsupported_parameter',
        );
      }
      const stored = await source.store.get(owner, fileId);
      const stream = stored === null ? null : await source.blobs.get(stored.blobKey);
      if (stored === null || stream === null) {
        if (!required) continue;
        throw invalidRequest(`${partParam}.file_id`, `No such File object: ${fileId}`, 'invalid_value');
      }
      totalBytes += stored.bytes;
      if (totalBytes > MAX_INPUT_FILE_BYTES) {
        stream.destroy();
        throw invalidRequest(
          `${partParam}.file_id`,
          `The files in this request add up to more than ${MAX_INPUT_FILE_BYTES / 1024 / 1024} MB, the most a request may send a model.`,
          'invalid_value',
        );
      }
      const bytes = await buffer(stream);
      const mediaType = mediaTypeOf(stored.mimeType, stored.filename);
      const file = {
        filename: stored.filename,
        mediaType,
        dataUrl: `data:${mediaType};base64,${bytes.toString('base64')}`,
      };
      if (image && required) checkImage(file, fileId, partParam);
      files.set(fileId, file);
    }
  }
  return files;
}

/** The file_id parts of message contents and tool outputs, with where each is. */
function* fileParts(
  items: ReadonlyArray<Record<string, unknown>>,
  param: string,
): Generator<{ fileId: string; partParam: string; image: boolean }> {
  for (const [itemIndex, item] of items.entries()) {
    for (const field of ['content', 'output'] as const) {
      const parts = item[field];
      if (!Array.isArray(parts)) continue;
      for (const [partIndex, part] of (parts as Array<Record<string, unknown>>).entries()) {
        if (typeof part?.file_id !== 'string' || part.file_id === '') continue;
        const partParam = `${param}[${itemIndex}].${field}[${partIndex}]`;
        // Inline data or a URL wins over a file_id, as the converters read them.
        if (part.type === 'input_file' && typeof part.file_data !== 'string' && typeof part.file_url !== 'string') {
          yield { fileId: part.file_id, partParam, image: false };
        } else if (part.type === 'input_image' && typeof part.image_url !== 'string') {
          yield { fileId: part.file_id, partParam, image: true };
        }
      }
    }
  }
}

function checkImage(file: InputFile, fileId: string, partParam: string): void {
  if (file.mediaType.startsWith('image/')) return;
  throw invalidRequest(
    `${partParam}.file_id`,
    `File ${fileId} (${file.filename}) is not an image: its type is ${file.mediaType}.`,
    'invalid_value',
  );
}

/** The type the upload declared, unless it said nothing useful; then the filename's extension. */
function mediaTypeOf(declared: string | null, filename: string): string {
  if (declared !== null && declared !== '' && declared !== 'application/octet-stream') return declared;
  return MEDIA_TYPES_BY_EXTENSION[extname(filename).toLowerCase()] ?? 'application/octet-stream';
}
