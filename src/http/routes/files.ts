import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppDependencies } from '../../app.ts';
import { createFileId, createId } from '../../engine/ids.ts';
import {
  ApiError,
  checkRange,
  invalidRequest,
  invalidType,
  invalidValue,
  missingParameter,
  notFound,
} from '../../errors/api-error.ts';
import type { BlobStore } from '../../storage/blobs/blob-store.ts';
import { CursorNotFoundError } from '../../storage/cursor-not-found-error.ts';
import type { StoredFile, StoredUpload } from '../../storage/stores.ts';
import { readBody } from '../read-body.ts';
import { listPage, readPageQuery } from '../pagination.ts';

/** CreateFileRequest's purposes (the SDK's FilePurpose); uploads take the same. */
export const FILE_PURPOSES = ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'] as const;
/** OpenAI: an upload accepts at most 8 GB in total, in parts of at most 64 MB, and expires after an hour. */
export const MAX_UPLOAD_BYTES = 8 * 1024 ** 3;
export const MAX_PART_BYTES = 64 * 1024 ** 2;
export const UPLOAD_LIFETIME_SECONDS = 3600;
/** FileExpirationAfter.seconds: between an hour and 30 days. */
const MIN_EXPIRY_SECONDS = 3600;
const MAX_EXPIRY_SECONDS = 30 * 24 * 3600;
/** The spec: "files with purpose=batch expire after 30 days" unless told otherwise. */
const BATCH_DEFAULT_EXPIRY_SECONDS = 30 * 24 * 3600;
/** GET /v1/files: limit 1–10,000, 10,000 by default. */
const MAX_LIST_LIMIT = 10_000;

type FileParams = { Params: { file_id: string } };
type UploadParams = { Params: { upload_id: string } };
type JsonObject = Record<string, unknown>;

/**
 * The Files and Uploads APIs. Bytes stream from the multipart body straight into the blob store
 * (never whole in memory) and back out of it; the storage keeps the metadata. Every lookup is
 * scoped by the request's owner, so another key's file or upload is a 404.
 */
export function registerFileRoutes(app: FastifyInstance, dependencies: AppDependencies): void {
  const { storage, blobs, maxFileBytes } = dependencies;
  const { files, uploads } = storage;

  // In a scope of its own, so multipart bodies are parsed for these routes only; the rest of
  // the API keeps refusing anything but JSON.
  void app.register(async (scope) => {
    await scope.register(multipart, { limits: { fieldSize: 64 * 1024, fields: 20, parts: 40 } });

    scope.post('/v1/files', async (request, reply) => {
      const id = createFileId();
      const blobKey = `files/${id}`;
      const received = await receiveMultipart(request, blobs, { fileField: 'file', blobKey, maxBytes: maxFileBytes });
      try {
        if (received.file === null) throw missingParameter('file');
        const purpose = readPurpose(received.fields.get('purpose'));
        const expiresAfter = readExpiresAfter(
          received.fields.get('expires_after[anchor]'),
          received.fields.get('expires_after[seconds]'),
          'text',
        );
        const createdAt = unixNow();
        const file: StoredFile = {
          id,
          owner: request.owner,
          createdAt,
          bytes: received.file.bytes,
          filename: received.file.filename,
          purpose,
          mimeType: received.file.mimeType,
          expiresAt: fileExpiry(createdAt, purpose, expiresAfter),
          blobKey,
        };
        await files.create(file);
        return await reply.send(fileObject(file));
      } catch (error) {
        await blobs.delete(blobKey);
        throw error;
      }
    });

    scope.get('/v1/files', async (request, reply) => {
      const query = request.query as JsonObject;
      const { limit, ...rest } = query;
      const page = readPageQuery(rest, { order: 'desc', limit: MAX_LIST_LIMIT });
      const purpose = query.purpose;
      if (purpose !== undefined && typeof purpose !== 'string') throw invalidType('purpose', 'a string', purpose);
      try {
        const result = await files.list(request.owner, {
          purpose: purpose === undefined || purpose === '' ? null : purpose,
          after: page.after,
          limit: readListLimit(limit),
          order: page.order,
        });
        return await reply.send(listPage(result.files.map(fileObject), result.hasMore));
      } catch (error) {
        if (error instanceof CursorNotFoundError)
          throw invalidValue('after', `No file with id '${error.cursor}' to list after.`);
        throw error;
      }
    });

    scope.get<FileParams>('/v1/files/:file_id', async (request, reply) => {
      return reply.send(fileObject(await findFile(request.owner, request.params.file_id)));
    });

    scope.delete<FileParams>('/v1/files/:file_id', async (request, reply) => {
      const id = request.params.file_id;
      const deleted = await files.delete(request.owner, id);
      if (!deleted) throw notFound('File', id);
      // The row is gone, so the file is deleted for every client; a blob left behind is only space.
      await blobs.delete(deleted.blobKey).catch((error: unknown) => {
        request.log.error({ err: error, blobKey: deleted.blobKey }, 'deleting a file blob failed');
      });
      return reply.send({ id, object: 'file', deleted: true });
    });

    scope.get<FileParams>('/v1/files/:file_id/content', async (request, reply) => {
      const file = await findFile(request.owner, request.params.file_id);
      const stream = await blobs.get(file.blobKey);
      if (stream === null) {
        request.log.error({ fileId: file.id, blobKey: file.blobKey }, 'a file has no blob');
        throw notFound('File', file.id);
      }
      return sendBytes(reply, file, stream);
    });

    scope.post('/v1/uploads', async (request, reply) => {
      const body = readBody(request.body, { optional: false });
      const filename = readNonEmptyString(body.filename, 'filename');
      const purpose = readPurpose(body.purpose);
      const bytes = readInteger(body.bytes, 'bytes', 0, MAX_UPLOAD_BYTES);
      const mimeType = readMimeType(body.mime_type);
      let expiresAfter: number | null = null;
      if (body.expires_after !== undefined && body.expires_after !== null) {
        if (typeof body.expires_after !== 'object' || Array.isArray(body.expires_after))
          throw invalidType('expires_after', 'an object', body.expires_after);
        const policy = body.expires_after as JsonObject;
        expiresAfter = readExpiresAfter(policy.anchor, policy.seconds, 'json');
      }
      const createdAt = unixNow();
      const upload: StoredUpload = {
        id: createId('upload'),
        owner: request.owner,
        createdAt,
        expiresAt: createdAt + UPLOAD_LIFETIME_SECONDS,
        filename,
        purpose,
        bytes,
        mimeType,
        fileExpiresAfterSeconds: expiresAfter,
        status: 'pending',
        fileId: null,
      };
      await uploads.create(upload);
      return reply.send(uploadObject(upload, null));
    });

    scope.post<UploadParams>('/v1/uploads/:upload_id/parts', async (request, reply) => {
      const upload = await findPendingUpload(request.owner, request.params.upload_id);
      const partId = createId('part');
      const blobKey = `uploads/${upload.id}/${partId}`;
      const received = await receiveMultipart(request, blobs, { fileField: 'data', blobKey, maxBytes: MAX_PART_BYTES });
      if (received.file === null) throw missingParameter('data');
      const part = { id: partId, uploadId: upload.id, createdAt: unixNow(), bytes: received.file.bytes, blobKey };
      if (!(await uploads.addPart(request.owner, upload.id, part))) {
        // Completed, cancelled or expired while the bytes came in.
        await blobs.delete(blobKey);
        await findPendingUpload(request.owner, upload.id);
        throw uploadNotPending({ ...upload, status: 'expired' });
      }
      return reply.send({ id: part.id, object: 'upload.part', created_at: part.createdAt, upload_id: upload.id });
    });

    scope.post<UploadParams>('/v1/uploads/:upload_id/complete', async (request, reply) => {
      const body = readBody(request.body, { optional: false });
      if (body.part_ids === undefined) throw missingParameter('part_ids');
      if (!Array.isArray(body.part_ids)) throw invalidType('part_ids', 'an array', body.part_ids);
      const partIds = body.part_ids as unknown[];
      const md5 = body.md5 === undefined || body.md5 === null ? null : body.md5;
      if (md5 !== null && typeof md5 !== 'string') throw invalidType('md5', 'a string', md5);
      const upload = await findPendingUpload(request.owner, request.params.upload_id);

      const partsById = new Map((await uploads.listParts(request.owner, upload.id)).map((part) => [part.id, part]));
      const seen = new Set<string>();
      const ordered = partIds.map((partId, index) => {
        const param = `part_ids[${index}]`;
        if (typeof partId !== 'string') throw invalidType(param, 'a string', partId);
        const part = partsById.get(partId);
        if (part === undefined) throw invalidValue(param, `No part with id '${partId}' in upload '${upload.id}'.`);
        if (seen.has(partId)) throw invalidValue(param, `Part '${partId}' is listed more than once.`);
        seen.add(partId);
        return part;
      });
      const total = ordered.reduce((sum, part) => sum + part.bytes, 0);
      if (total !== upload.bytes) throw sizeMismatch(total, upload.bytes);

      const fileId = createFileId();
      const blobKey = `files/${fileId}`;
      const digest = createHash('md5');
      async function* assembled(): AsyncIterable<Buffer> {
        for (const part of ordered) {
          const stream = await blobs.get(part.blobKey);
          if (stream === null) throw new Error(`The blob of part ${part.id} is missing.`);
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            digest.update(chunk);
            yield chunk;
          }
        }
      }
      const written = await blobs.put(blobKey, assembled());
      let ended;
      try {
        if (written.bytes !== upload.bytes) throw sizeMismatch(written.bytes, upload.bytes);
        const actualMd5 = digest.digest('hex');
        if (md5 !== null && md5.trim().toLowerCase() !== actualMd5) {
          throw invalidRequest(
            'md5',
            `The md5 checksum '${md5}' does not match the uploaded bytes (md5 ${actualMd5}).`,
            'checksum_mismatch',
          );
        }
        const createdAt = unixNow();
        const file: StoredFile = {
          id: fileId,
          owner: request.owner,
          createdAt,
          bytes: written.bytes,
          filename: upload.filename,
          purpose: upload.purpose,
          mimeType: upload.mimeType,
          expiresAt: fileExpiry(createdAt, upload.purpose, upload.fileExpiresAfterSeconds),
          blobKey,
        };
        ended = await uploads.complete(request.owner, upload.id, file);
        if (ended === null) {
          // Cancelled or expired while the parts were being assembled.
          await findPendingUpload(request.owner, upload.id);
          throw uploadNotPending({ ...upload, status: 'expired' });
        }
        await deleteBlobs(blobs, ended.partBlobKeys, request);
        return await reply.send(uploadObject(ended.upload, file));
      } catch (error) {
        if (ended === undefined || ended === null) await blobs.delete(blobKey);
        throw error;
      }
    });

    scope.post<UploadParams>('/v1/uploads/:upload_id/cancel', async (request, reply) => {
      const upload = await findPendingUpload(request.owner, request.params.upload_id);
      const ended = await uploads.cancel(request.owner, upload.id);
      if (ended === null) {
        await findPendingUpload(request.owner, upload.id);
        throw uploadNotPending({ ...upload, status: 'expired' });
      }
      await deleteBlobs(blobs, ended.partBlobKeys, request);
      return reply.send(uploadObject(ended.upload, null));
    });
  });

  async function findFile(owner: string, id: string): Promise<StoredFile> {
    const file = await files.get(owner, id);
    if (!file) throw notFound('File', id);
    return file;
  }

  /** The upload, which must be pending: 404 when absent, 400 upload_not_pending when it ended. */
  async function findPendingUpload(owner: string, id: string): Promise<StoredUpload> {
    const upload = await uploads.get(owner, id);
    if (!upload) throw notFound('Upload', id);
    if (upload.status !== 'pending') throw uploadNotPending(upload);
    return upload;
  }

  /** The spec's Upload, with the File it became (null until completed, or once the file is deleted). */
  function uploadObject(upload: StoredUpload, file: StoredFile | null): JsonObject {
    return {
      id: upload.id,
      object: 'upload',
      bytes: upload.bytes,
      created_at: upload.createdAt,
      filename: upload.filename,
      purpose: upload.purpose,
      status: upload.status,
      expires_at: upload.expiresAt,
      file: file === null ? null : fileObject(file),
    };
  }
}

/** The spec's OpenAIFile. `expires_at` is left out rather than null: the spec types it as an integer. */
export function fileObject(file: StoredFile): JsonObject & { id: string } {
  return {
    id: file.id,
    object: 'file',
    bytes: file.bytes,
    created_at: file.createdAt,
    ...(file.expiresAt === null ? {} : { expires_at: file.expiresAt }),
    filename: file.filename,
    purpose: file.purpose,
    // Deprecated in the spec but required; a stored file is ready as soon as its bytes are.
    status: 'processed',
  };
}

interface ReceivedFile {
  bytes: number;
  filename: string;
  mimeType: string | null;
}

/**
 * Reads a multipart body: the one file part named `fileField` streams into the blob store under
 * `blobKey` (nothing is written when it is too large or the body breaks off), other parts are
 * text fields. A file part of another name is refused, naming it.
 */
async function receiveMultipart(
  request: FastifyRequest,
  blobs: BlobStore,
  options: { fileField: string; blobKey: string; maxBytes: number },
): Promise<{ file: ReceivedFile | null; fields: Map<string, string> }> {
  if (!request.isMultipart()) {
    throw invalidRequest(
      null,
      "Unsupported request body: send multipart/form-data with 'Content-Type: multipart/form-data; boundary=…'.",
      'invalid_content_type',
    );
  }
  const fields = new Map<string, string>();
  let file: ReceivedFile | null = null;
  const tooLarge = (): ApiError =>
    invalidRequest(
      options.fileField,
      `File is too large: '${options.fileField}' may be at most ${options.maxBytes} bytes.`,
      'file_too_large',
    );
  try {
    for await (const part of request.parts({ limits: { fileSize: options.maxBytes } })) {
      if (part.type !== 'file') {
        fields.set(part.fieldname, typeof part.value === 'string' ? part.value : String(part.value));
        continue;
      }
      if (part.fieldname !== options.fileField || file !== null) {
        part.file.resume();
        throw invalidRequest(
          part.fieldname,
          part.fieldname === options.fileField
            ? `Only one '${options.fileField}' may be sent.`
            : `Unexpected file field '${part.fieldname}': the file goes in '${options.fileField}'.`,
          'unknown_parameter',
        );
      }
      const stream = part.file;
      async function* whole(): AsyncIterable<Buffer> {
        for await (const chunk of stream as AsyncIterable<Buffer>) yield chunk;
        // Busboy stops at the limit and marks the stream truncated; failing here makes put keep nothing.
        if (stream.truncated) throw tooLarge();
      }
      const written = await blobs.put(options.blobKey, whole());
      file = {
        bytes: written.bytes,
        filename: part.filename === '' ? 'file' : part.filename,
        mimeType: usableMimeType(part.mimetype),
      };
    }
  } catch (error) {
    if (file !== null) await blobs.delete(options.blobKey);
    if (error instanceof ApiError) throw error;
    const code = (error as { code?: unknown }).code;
    if (code === 'FST_REQ_FILE_TOO_LARGE') throw tooLarge();
    if (typeof code === 'string' && code.startsWith('FST_'))
      throw invalidRequest(null, `The multipart body could not be read: ${(error as Error).message}.`);
    if (error instanceof Error && /multipart|form|boundary|terminated early/i.test(error.message))
      throw invalidRequest(null, `The multipart body could not be read: ${error.message}.`);
    throw error;
  }
  return { file, fields };
}

/** Streams a file's bytes as a download: never rendered inline, never sniffed into another type. */
function sendBytes(reply: FastifyReply, file: StoredFile, stream: Readable): FastifyReply {
  const asciiName = file.filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const utf8Name = encodeURIComponent(file.filename.toWellFormed());
  return reply
    .header('content-type', file.mimeType ?? guessMimeType(file.filename))
    .header('content-length', String(file.bytes))
    .header('content-disposition', `attachment; filename="${asciiName}"; filename*=UTF-8''${utf8Name}`)
    .header('x-content-type-options', 'nosniff')
    .send(stream);
}

const MIME_TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$/;

/** A client's content type worth keeping: well formed, and more than the generic default. */
function usableMimeType(value: string): string | null {
  const type = value.trim().toLowerCase();
  return MIME_TYPE_PATTERN.test(type) && type !== 'application/octet-stream' ? type : null;
}

const MIME_TYPES_BY_EXTENSION: Record<string, string> = {
  txt: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  html: 'text/html',
  htm: 'text/html',
  json: 'application/json',
  jsonl: 'application/jsonl',
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
};

function guessMimeType(filename: string): string {
  const extension = /\.([A-Za-z0-9]+)$/.exec(filename)?.[1]?.toLowerCase();
  return (extension && MIME_TYPES_BY_EXTENSION[extension]) ?? 'application/octet-stream';
}

function readPurpose(value: unknown): (typeof FILE_PURPOSES)[number] {
  if (value === undefined || value === null || value === '') throw missingParameter('purpose');
  if (typeof value !== 'string') throw invalidType('purpose', 'a string', value);
  const purpose = FILE_PURPOSES.find((candidate) => candidate === value);
  if (purpose === undefined) {
    throw invalidValue(
      'purpose',
      `Invalid value for 'purpose': expected one of ${FILE_PURPOSES.map((known) => `'${known}'`).join(', ')}, got ${JSON.stringify(value)}.`,
    );
  }
  return purpose;
}

/**
 * FileExpirationAfter: `{anchor: 'created_at', seconds}` — from JSON, or from the multipart
 * fields `expires_after[anchor]` and `expires_after[seconds]` (text). Null when neither is given.
 */
function readExpiresAfter(anchor: unknown, seconds: unknown, source: 'json' | 'text'): number | null {
  if (anchor === undefined && seconds === undefined) return null;
  if (anchor === undefined) throw missingParameter('expires_after.anchor');
  if (seconds === undefined) throw missingParameter('expires_after.seconds');
  if (anchor !== 'created_at') {
    throw invalidValue(
      'expires_after.anchor',
      `Invalid value for 'expires_after.anchor': expected 'created_at', got ${JSON.stringify(anchor)}.`,
    );
  }
  const number =
    source === 'text' && typeof seconds === 'string' && /^\s*-?\d+\s*$/.test(seconds) ? Number(seconds) : seconds;
  return readInteger(number, 'expires_after.seconds', MIN_EXPIRY_SECONDS, MAX_EXPIRY_SECONDS);
}

function fileExpiry(createdAt: number, purpose: string, expiresAfterSeconds: number | null): number | null {
  if (expiresAfterSeconds !== null) return createdAt + expiresAfterSeconds;
  return purpose === 'batch' ? createdAt + BATCH_DEFAULT_EXPIRY_SECONDS : null;
}

function readInteger(value: unknown, param: string, min: number, max: number): number {
  if (value === undefined || value === null) throw missingParameter(param);
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidType(param, 'an integer', value);
  return checkRange(value, param, { min, max }, 'integer');
}

function readListLimit(value: unknown): number {
  if (value === undefined) return MAX_LIST_LIMIT;
  const number = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(number) || number < 1 || number > MAX_LIST_LIMIT) {
    throw invalidValue(
      'limit',
      `Invalid 'limit': integer between 1 and ${MAX_LIST_LIMIT} expected, got ${JSON.stringify(value)}.`,
    );
  }
  return number;
}

function readNonEmptyString(value: unknown, param: string): string {
  if (value === undefined || value === null) throw missingParameter(param);
  if (typeof value !== 'string') throw invalidType(param, 'a string', value);
  if (value === '') {
    throw invalidRequest(param, `Invalid '${param}': empty string. Expected a non-empty string.`, 'empty_string');
  }
  return value;
}

function readMimeType(value: unknown): string {
  const text = readNonEmptyString(value, 'mime_type');
  if (!MIME_TYPE_PATTERN.test(text.trim())) {
    throw invalidValue(
      'mime_type',
      `Invalid 'mime_type': expected a MIME type such as 'text/plain', got ${JSON.stringify(text)}.`,
    );
  }
  return text.trim().toLowerCase();
}

function uploadNotPending(upload: StoredUpload): ApiError {
  return invalidRequest(
    null,
    `Upload '${upload.id}' is ${upload.status}: it takes no more parts, and cannot be completed or cancelled.`,
    'upload_not_pending',
  );
}

function sizeMismatch(actual: number, expected: number): ApiError {
  return invalidRequest(
    'part_ids',
    `The parts add up to ${actual} bytes, but the upload was created with bytes = ${expected}.`,
    'upload_size_mismatch',
  );
}

/** Deletes blobs no row points at any more; a failure is only wasted space, so it is logged. */
async function deleteBlobs(blobs: BlobStore, keys: string[], request: FastifyRequest): Promise<void> {
  const results = await Promise.allSettled(keys.map((key) => blobs.delete(key)));
  for (const result of results) {
    if (result.status === 'rejected') request.log.error({ err: result.reason }, 'deleting an upload part blob failed');
  }
}

function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}
