import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { assertErrorBody, assertListPage, assertMatchesSchema } from '../../../test/contract/spec-validator.ts';
import { ContentSealer } from '../../engine/sealed-content.ts';
import { LocalBlobStore } from '../../storage/blobs/local-blob-store.ts';
import { openSqliteStorage } from '../../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../../storage/stores.ts';
import { createTestApp } from '../../testing/test-app.ts';
import { StaticModelRouter } from '../../testing/static-model-router.ts';

// Reply bodies are read as loose JSON, field by field; the spec validator checks their shapes.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type JsonObject = Record<string, any>;
type Key = keyof typeof KEYS;

const KEYS = { 'sk-alpha': 'project-alpha', 'sk-beta': 'project-beta' };
const MAX_FILE_BYTES = 64 * 1024;

let directory: string;
let storage: Storage;
let blobs: LocalBlobStore;
let app: FastifyInstance;

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'riposte-files-'));
  storage = await openSqliteStorage({ path: join(directory, 'riposte.sqlite') });
  blobs = new LocalBlobStore(join(directory, 'blobs'));
  app = createTestApp({
    storage,
    blobs,
    maxFileBytes: MAX_FILE_BYTES,
    router: new StaticModelRouter({}),
    sealer: new ContentSealer(randomBytes(32)),
    apiKeyHashes: new Map(
      Object.entries(KEYS).map(([key, project]) => [createHash('sha256').update(key).digest('hex'), project]),
    ),
    bodyLimitBytes: 1024 * 1024,
    structuredOutputRetries: 2,
  });
});
after(async () => {
  await app.close();
  await storage.close();
  rmSync(directory, { recursive: true, force: true });
});

/** The blob files on disk (temporary ones included), to prove nothing is left behind. */
function blobFiles(): string[] {
  try {
    return readdirSync(blobs.root, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name));
  } catch {
    return [];
  }
}

/** A multipart body as a browser or the SDK would send it, built by undici's FormData. */
async function multipartBody(
  fields: Record<string, string>,
  files: Array<{ field: string; bytes: Buffer | string; filename: string; type?: string }>,
): Promise<{ payload: Buffer; contentType: string }> {
  const form = new FormData();
  for (const file of files) {
    form.append(file.field, new Blob([file.bytes], { type: file.type ?? 'application/octet-stream' }), file.filename);
  }
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  const response = new Response(form);
  return {
    payload: Buffer.from(await response.arrayBuffer()),
    contentType: response.headers.get('content-type') ?? '',
  };
}

async function call(
  method: InjectOptions['method'],
  url: string,
  payload?: unknown,
  key: Key = 'sk-alpha',
): Promise<{ status: number; body: JsonObject }> {
  const reply = await app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${key}` },
    ...(payload === undefined ? {} : { payload: payload as InjectOptions['payload'] }),
  });
  return { status: reply.statusCode, body: reply.json() };
}

async function postMultipart(
  url: string,
  fields: Record<string, string>,
  files: Array<{ field: string; bytes: Buffer | string; filename: string; type?: string }>,
  key: Key = 'sk-alpha',
): Promise<{ status: number; body: JsonObject }> {
  const { payload, contentType } = await multipartBody(fields, files);
  const reply = await app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${key}`, 'content-type': contentType },
    payload,
  });
  return { status: reply.statusCode, body: reply.json() };
}

async function createFile(
  bytes: Buffer | string,
  options: { filename?: string; purpose?: string; fields?: Record<string, string>; type?: string; key?: Key } = {},
): Promise<JsonObject> {
  const reply = await postMultipart(
    '/v1/files',
    { purpose: options.purpose ?? 'assistants', ...options.fields },
    [{ field: 'file', bytes, filename: options.filename ?? 'notes.txt', type: options.type }],
    options.key,
  );
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assertMatchesSchema('OpenAIFile', reply.body);
  return reply.body;
}

async function content(id: string, key: Key = 'sk-alpha') {
  return app.inject({ method: 'GET', url: `/v1/files/${id}/content`, headers: { authorization: `Bearer ${key}` } });
}

function assertRefused(
  reply: { status: number; body: JsonObject },
  param: string | null,
  code?: string,
  status = 400,
): void {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  assertErrorBody(reply.body);
  assert.equal(reply.body.error.param, param, reply.body.error.message);
  if (code !== undefined) assert.equal(reply.body.error.code, code, reply.body.error.message);
}

describe('the Files API', () => {
  test('create, retrieve, content, list and delete one file', async () => {
    const before = Math.floor(Date.now() / 1000);
    const created = await createFile('hello world', { filename: 'hello.txt' });
    assert.match(created.id, /^file-[0-9A-Za-z]{22,}$/);
    assert.equal(created.object, 'file');
    assert.equal(created.bytes, 11);
    assert.equal(created.filename, 'hello.txt');
    assert.equal(created.purpose, 'assistants');
    assert.equal(created.status, 'processed');
    assert.equal(created.expires_at, undefined);
    assert.ok(created.created_at >= before && created.created_at <= Math.floor(Date.now() / 1000));

    const retrieved = await call('GET', `/v1/files/${created.id}`);
    assert.equal(retrieved.status, 200);
    assertMatchesSchema('OpenAIFile', retrieved.body);
    assert.deepEqual(retrieved.body, created);

    const bytes = await content(created.id);
    assert.equal(bytes.statusCode, 200);
    assert.equal(bytes.body, 'hello world');
    assert.equal(bytes.headers['content-type'], 'text/plain');
    assert.equal(bytes.headers['content-length'], '11');
    assert.equal(bytes.headers['x-content-type-options'], 'nosniff');
    assert.match(String(bytes.headers['content-disposition']), /^attachment; filename="hello.txt"/);

    const listed = await call('GET', '/v1/files');
    assertListPage('ListFilesResponse', listed.body);
    assert.ok(listed.body.data.some((file: JsonObject) => file.id === created.id));

    const deleted = await call('DELETE', `/v1/files/${created.id}`);
    assert.equal(deleted.status, 200);
    assertMatchesSchema('DeleteFileResponse', deleted.body);
    assert.deepEqual(deleted.body, { id: created.id, object: 'file', deleted: true });
    assertRefused(await call('GET', `/v1/files/${created.id}`), null, undefined, 404);
    assert.equal((await content(created.id)).statusCode, 404);
    assertRefused(await call('DELETE', `/v1/files/${created.id}`), null, undefined, 404);
    assert.equal(
      blobFiles().some((path) => path.includes(created.id)),
      false,
    );
  });

  test('binary bytes come back exactly, with the type the client sent or one guessed from the name', async () => {
    const binary = Buffer.from(Array.from({ length: 256 * 4 }, (_, index) => index % 256));
    const image = await createFile(binary, { filename: 'pixel.bin', type: 'image/png', purpose: 'vision' });
    const reply = await content(image.id);
    assert.deepEqual(reply.rawPayload, binary);
    assert.equal(reply.headers['content-type'], 'image/png');

    const pdf = await createFile(binary, { filename: 'Report.PDF' });
    assert.equal((await content(pdf.id)).headers['content-type'], 'application/pdf');
    const unknown = await createFile(binary, { filename: 'data.weird' });
    assert.equal((await content(unknown.id)).headers['content-type'], 'application/octet-stream');
    const named = await createFile('x', { filename: 'résumé final.txt' });
    assert.equal(named.filename, 'résumé final.txt');
    assert.match(
      String((await content(named.id)).headers['content-disposition']),
      /filename="r_sum_ final.txt"; filename\*=UTF-8''r%C3%A9sum%C3%A9%20final.txt$/,
    );
  });

  test('expires_after sets expires_at; batch files expire after 30 days by default', async () => {
    const expiring = await createFile('x', {
      fields: { 'expires_after[anchor]': 'created_at', 'expires_after[seconds]': '3600' },
    });
    assert.equal(expiring.expires_at, expiring.created_at + 3600);
    const batch = await createFile('{}\n', { filename: 'batch.jsonl', purpose: 'batch' });
    assert.equal(batch.expires_at, batch.created_at + 30 * 24 * 3600);
  });

  test('another key never sees, reads, lists or deletes a file', async () => {
    const created = await createFile('private');
    assertRefused(await call('GET', `/v1/files/${created.id}`, undefined, 'sk-beta'), null, undefined, 404);
    assert.equal((await content(created.id, 'sk-beta')).statusCode, 404);
    assertRefused(await call('DELETE', `/v1/files/${created.id}`, undefined, 'sk-beta'), null, undefined, 404);
    const listed = await call('GET', '/v1/files', undefined, 'sk-beta');
    assert.equal(
      listed.body.data.some((file: JsonObject) => file.id === created.id),
      false,
    );
    assertRefused(await call('GET', `/v1/files?after=${created.id}`, undefined, 'sk-beta'), 'after', 'invalid_value');
    assert.equal((await call('GET', `/v1/files/${created.id}`)).status, 200);
  });

  test('list filters by purpose and pages with order, after, limit and has_more', async () => {
    const ids: string[] = [];
    for (let index = 0; index < 3; index += 1) {
      ids.push(
        (await createFile(`fine-tune ${index}`, { filename: 'train.jsonl', purpose: 'fine-tune', key: 'sk-beta' })).id,
      );
    }
    await createFile('other', { purpose: 'user_data', key: 'sk-beta' });

    const ascending = await call('GET', '/v1/files?purpose=fine-tune&order=asc&limit=2', undefined, 'sk-beta');
    assertListPage('ListFilesResponse', ascending.body);
    assert.deepEqual(
      ascending.body.data.map((file: JsonObject) => String(file.id)),
      ids.slice(0, 2),
    );
    assert.equal(ascending.body.has_more, true);
    const next = await call(
      'GET',
      `/v1/files?purpose=fine-tune&order=asc&limit=2&after=${ids[1]}`,
      undefined,
      'sk-beta',
    );
    assertListPage('ListFilesResponse', next.body);
    assert.deepEqual(
      next.body.data.map((file: JsonObject) => String(file.id)),
      ids.slice(2),
    );
    assert.equal(next.body.has_more, false);

    const descending = await call('GET', '/v1/files?purpose=fine-tune', undefined, 'sk-beta');
    assert.deepEqual(
      descending.body.data.map((file: JsonObject) => String(file.id)),
      [...ids].reverse(),
    );
    const none = await call('GET', '/v1/files?purpose=evals', undefined, 'sk-beta');
    assert.deepEqual(none.body, { object: 'list', data: [], first_id: null, last_id: null, has_more: false });

    assertRefused(await call('GET', '/v1/files?limit=0'), 'limit', 'invalid_value');
    assertRefused(await call('GET', '/v1/files?limit=10001'), 'limit', 'invalid_value');
    assertRefused(await call('GET', '/v1/files?order=up'), 'order', 'invalid_value');
    assertRefused(await call('GET', '/v1/files?after=file-missing'), 'after', 'invalid_value');
  });

  test('a file over max_file_bytes is refused naming file, and nothing is kept', async () => {
    const before = blobFiles().length;
    const reply = await postMultipart('/v1/files', { purpose: 'assistants' }, [
      { field: 'file', bytes: Buffer.alloc(MAX_FILE_BYTES + 1, 7), filename: 'big.txt' },
    ]);
    assertRefused(reply, 'file', 'file_too_large');
    assert.equal(blobFiles().length, before);
    // Exactly the limit is fine.
    await createFile(Buffer.alloc(MAX_FILE_BYTES, 7), { filename: 'limit.txt' });
  });

  test('bad requests name the parameter at fault and keep nothing', async () => {
    const before = blobFiles().length;
    const file = { field: 'file', bytes: 'x', filename: 'a.txt' };
    assertRefused(await postMultipart('/v1/files', {}, [file]), 'purpose', 'missing_required_parameter');
    assertRefused(await postMultipart('/v1/files', { purpose: 'nonsense' }, [file]), 'purpose', 'invalid_value');
    assertRefused(
      await postMultipart('/v1/files', { purpose: 'assistants' }, []),
      'file',
      'missing_required_parameter',
    );
    assertRefused(
      await postMultipart('/v1/files', { purpose: 'assistants' }, [{ ...file, field: 'document' }]),
      'document',
      'unknown_parameter',
    );
    assertRefused(
      await postMultipart('/v1/files', { purpose: 'assistants', 'expires_after[anchor]': 'created_at' }, [file]),
      'expires_after.seconds',
      'missing_required_parameter',
    );
    assertRefused(
      await postMultipart(
        '/v1/files',
        { purpose: 'assistants', 'expires_after[anchor]': 'created_at', 'expires_after[seconds]': '60' },
        [file],
      ),
      'expires_after.seconds',
      'integer_below_min_value',
    );
    assertRefused(
      await postMultipart(
        '/v1/files',
        { purpose: 'assistants', 'expires_after[anchor]': 'last_active_at', 'expires_after[seconds]': '3600' },
        [file],
      ),
      'expires_after.anchor',
      'invalid_value',
    );
    assertRefused(await call('POST', '/v1/files', { purpose: 'assistants' }), null, 'invalid_content_type');
    assert.equal(blobFiles().length, before);
  });
});

describe('the Uploads API', () => {
  async function createUpload(body: JsonObject, key: Key = 'sk-alpha'): Promise<JsonObject> {
    const reply = await call('POST', '/v1/uploads', body, key);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assertMatchesSchema('Upload', reply.body);
    return reply.body;
  }

  async function addPart(uploadId: string, bytes: Buffer | string, key: Key = 'sk-alpha') {
    return postMultipart(`/v1/uploads/${uploadId}/parts`, {}, [{ field: 'data', bytes, filename: 'blob' }], key);
  }

  const chunks = ['first chunk|', 'second chunk|', 'third chunk'];
  const total = Buffer.byteLength(chunks.join(''));

  test('parts are assembled in the order complete names them, into a file with the right bytes', async () => {
    const upload = await createUpload({
      filename: 'assembled.txt',
      purpose: 'assistants',
      bytes: total,
      mime_type: 'text/plain',
      expires_after: { anchor: 'created_at', seconds: 7200 },
    });
    assert.match(upload.id, /^upload_/);
    assert.equal(upload.status, 'pending');
    assert.equal(upload.expires_at, upload.created_at + 3600);
    assert.equal(upload.file, null);

    // Added out of order; complete puts them right.
    const partIds: Record<number, string> = {};
    for (const index of [2, 0, 1]) {
      const reply = await addPart(upload.id, chunks[index]!);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assertMatchesSchema('UploadPart', reply.body);
      assert.match(reply.body.id, /^part_/);
      assert.equal(reply.body.upload_id, upload.id);
      partIds[index] = reply.body.id;
    }
    const ordered = [partIds[0], partIds[1], partIds[2]];
    const md5 = createHash('md5').update(chunks.join('')).digest('hex');

    assertRefused(
      await call('POST', `/v1/uploads/${upload.id}/complete`, { part_ids: ordered, md5: '0'.repeat(32) }),
      'md5',
      'checksum_mismatch',
    );
    assertRefused(
      await call('POST', `/v1/uploads/${upload.id}/complete`, { part_ids: ordered.slice(0, 2) }),
      'part_ids',
      'upload_size_mismatch',
    );
    assertRefused(
      await call('POST', `/v1/uploads/${upload.id}/complete`, { part_ids: [ordered[0], 'part_nope', ordered[2]] }),
      'part_ids[1]',
      'invalid_value',
    );
    assertRefused(
      await call('POST', `/v1/uploads/${upload.id}/complete`, { part_ids: [ordered[0], ordered[0], ordered[2]] }),
      'part_ids[1]',
      'invalid_value',
    );
    assertRefused(
      await call('POST', `/v1/uploads/${upload.id}/complete`, {}),
      'part_ids',
      'missing_required_parameter',
    );
    assertRefused(
      await call('POST', `/v1/uploads/${upload.id}/complete`, { part_ids: ordered }, 'sk-beta'),
      null,
      undefined,
      404,
    );

    const completed = await call('POST', `/v1/uploads/${upload.id}/complete`, { part_ids: ordered, md5 });
    assert.equal(completed.status, 200, JSON.stringify(completed.body));
    assertMatchesSchema('Upload', completed.body);
    assert.equal(completed.body.status, 'completed');
    const file = completed.body.file as JsonObject;
    assertMatchesSchema('OpenAIFile', file);
    assert.match(file.id, /^file-/);
    assert.equal(file.bytes, total);
    assert.equal(file.filename, 'assembled.txt');
    assert.equal(file.expires_at, file.created_at + 7200);
    assert.equal((await content(file.id)).body, chunks.join(''));
    assert.equal((await content(file.id)).headers['content-type'], 'text/plain');
    // The parts' blobs are gone; the assembled file is what remains.
    assert.equal(
      blobFiles().some((path) => path.includes(upload.id)),
      false,
    );

    assertRefused(await addPart(upload.id, 'late'), null, 'upload_not_pending');
    assertRefused(
      await call('POST', `/v1/uploads/${upload.id}/complete`, { part_ids: ordered }),
      null,
      'upload_not_pending',
    );
    assertRefused(await call('POST', `/v1/uploads/${upload.id}/cancel`), null, 'upload_not_pending');
  });

  test('cancel ends a pending upload and drops its parts; another key cannot touch it', async () => {
    const upload = await createUpload({
      filename: 'c.jsonl',
      purpose: 'batch',
      bytes: 4,
      mime_type: 'application/jsonl',
    });
    assertRefused(await addPart(upload.id, 'abcd', 'sk-beta'), null, undefined, 404);
    assertRefused(await call('POST', `/v1/uploads/${upload.id}/cancel`, undefined, 'sk-beta'), null, undefined, 404);
    assert.equal((await addPart(upload.id, 'abcd')).status, 200);
    const cancelled = await call('POST', `/v1/uploads/${upload.id}/cancel`);
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assertMatchesSchema('Upload', cancelled.body);
    assert.equal(cancelled.body.status, 'cancelled');
    assert.equal(cancelled.body.file, null);
    assert.equal(
      blobFiles().some((path) => path.includes(upload.id)),
      false,
    );
    assertRefused(await addPart(upload.id, 'more'), null, 'upload_not_pending');
    assertRefused(await call('POST', '/v1/uploads/upload_missing/cancel'), null, undefined, 404);
  });

  test('create validates every field, naming it', async () => {
    const valid = { filename: 'a.txt', purpose: 'assistants', bytes: 1, mime_type: 'text/plain' };
    assertRefused(
      await call('POST', '/v1/uploads', { ...valid, filename: undefined }),
      'filename',
      'missing_required_parameter',
    );
    assertRefused(await call('POST', '/v1/uploads', { ...valid, filename: '' }), 'filename', 'empty_string');
    assertRefused(await call('POST', '/v1/uploads', { ...valid, purpose: 'x' }), 'purpose', 'invalid_value');
    assertRefused(await call('POST', '/v1/uploads', { ...valid, bytes: '1' }), 'bytes', 'invalid_type');
    assertRefused(await call('POST', '/v1/uploads', { ...valid, bytes: -1 }), 'bytes', 'integer_below_min_value');
    assertRefused(
      await call('POST', '/v1/uploads', { ...valid, bytes: 8 * 1024 ** 3 + 1 }),
      'bytes',
      'integer_above_max_value',
    );
    assertRefused(await call('POST', '/v1/uploads', { ...valid, mime_type: 'plain' }), 'mime_type', 'invalid_value');
    assertRefused(
      await call('POST', '/v1/uploads', { ...valid, expires_after: { anchor: 'created_at', seconds: 3 * 2592000 } }),
      'expires_after.seconds',
      'integer_above_max_value',
    );
  });

  test('a part over 64 MB is refused naming data', async () => {
    const upload = await createUpload({ filename: 'big', purpose: 'assistants', bytes: 1, mime_type: 'text/plain' });
    const before = blobFiles().length;
    const reply = await addPart(upload.id, Buffer.alloc(64 * 1024 * 1024 + 1));
    assertRefused(reply, 'data', 'file_too_large');
    assert.equal(blobFiles().length, before);
    assertRefused(
      await postMultipart(`/v1/uploads/${upload.id}/parts`, { note: 'x' }, []),
      'data',
      'missing_required_parameter',
    );
  });
});
