import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { assertErrorBody, assertListPage, assertMatchesSchema } from '../../../test/contract/spec-validator.ts';
import { createFileId } from '../../engine/ids.ts';
import { ContentSealer } from '../../engine/sealed-content.ts';
import type { BlobPutResult, BlobStore } from '../../storage/blobs/blob-store.ts';
import { LocalBlobStore } from '../../storage/blobs/local-blob-store.ts';
import { openSqliteStorage } from '../../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../../storage/stores.ts';
import { createTestApp } from '../../testing/test-app.ts';
import { ScriptedModel } from '../../testing/scripted-model.ts';
import { StaticModelRouter } from '../../testing/static-model-router.ts';
import { SEARCH_MODE_HEADER } from './vector-stores.ts';

// Reply bodies are read as loose JSON, field by field; the spec validator checks their shapes.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type JsonObject = Record<string, any>;

const KEYS = { 'sk-alpha': 'project-alpha', 'sk-beta': 'project-beta' };
type Key = keyof typeof KEYS;

/**
 * A blob store whose reads of chosen keys wait until released, so a test can hold files in
 * progress (to cancel a batch, or to see a store `in_progress`).
 */
class GatedBlobStore implements BlobStore {
  readonly #inner: BlobStore;
  readonly #gates = new Map<string, { opened: Promise<void>; open: () => void }>();

  constructor(inner: BlobStore) {
    this.#inner = inner;
  }

  hold(key: string): () => void {
    let open = (): void => undefined;
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    this.#gates.set(key, { opened, open });
    return open;
  }

  put(key: string, data: Buffer | AsyncIterable<Buffer | Uint8Array>): Promise<BlobPutResult> {
    return this.#inner.put(key, data);
  }
  async get(key: string): Promise<Readable | null> {
    await this.#gates.get(key)?.opened;
    return this.#inner.get(key);
  }
  delete(key: string): Promise<boolean> {
    return this.#inner.delete(key);
  }
  exists(key: string): Promise<boolean> {
    return this.#inner.exists(key);
  }
}

let directory: string;
let storage: Storage;
let blobs: GatedBlobStore;
let app: FastifyInstance;

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'riposte-vector-stores-'));
  storage = await openSqliteStorage({ path: join(directory, 'riposte.sqlite') });
  blobs = new GatedBlobStore(new LocalBlobStore(join(directory, 'blobs')));
  app = createTestApp({
    storage,
    blobs,
    router: new StaticModelRouter({ 'test-model': new ScriptedModel([]) }),
    sealer: new ContentSealer(randomBytes(32)),
    apiKeyHashes: new Map(
      Object.entries(KEYS).map(([key, project]) => [createHash('sha256').update(key).digest('hex'), project]),
    ),
    bodyLimitBytes: 1024 * 1024,
    structuredOutputRetries: 2,
  });
  await app.ready();
});
after(async () => {
  await app.close();
  await storage.close();
  rmSync(directory, { recursive: true, force: true });
});

async function call(
  method: InjectOptions['method'],
  url: string,
  payload?: unknown,
  key: Key = 'sk-alpha',
): Promise<{ status: number; body: JsonObject; headers: Record<string, unknown> }> {
  const reply = await app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${key}` },
    ...(payload === undefined ? {} : { payload: payload as InjectOptions['payload'] }),
  });
  return { status: reply.statusCode, body: reply.json(), headers: reply.headers };
}

async function ok(
  method: InjectOptions['method'],
  url: string,
  payload?: unknown,
  key: Key = 'sk-alpha',
): Promise<JsonObject> {
  const reply = await call(method, url, payload, key);
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return reply.body;
}

/** Asserts an OpenAI error body with `status` naming `param`. */
function assertRefused(reply: { status: number; body: JsonObject }, param: string | null, status = 400): void {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  assertErrorBody(reply.body);
  assert.equal(reply.body.error.param, param, reply.body.error.message);
}

/** A File of the Files API, written straight to the store and blobs (files.test.ts covers uploads). */
async function addFile(
  filename: string,
  content: string | Buffer,
  key: Key = 'sk-alpha',
): Promise<{ id: string; blobKey: string }> {
  const id = createFileId();
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
  const blobKey = `files/${id}`;
  await blobs.put(blobKey, bytes);
  await storage.files.create({
    id,
    owner: KEYS[key],
    createdAt: Math.floor(Date.now() / 1000),
    bytes: bytes.length,
    filename,
    purpose: 'assistants',
    mimeType: null,
    expiresAt: null,
    blobKey,
  });
  return { id, blobKey };
}

async function createStore(body: unknown = {}, key: Key = 'sk-alpha'): Promise<JsonObject> {
  const store = await ok('POST', '/v1/vector_stores', body, key);
  assertMatchesSchema('VectorStoreObject', store);
  return store;
}

/** Polls a vector-store file until it leaves in_progress. */
async function settled(storeId: string, fileId: string, key: Key = 'sk-alpha'): Promise<JsonObject> {
  for (let attempt = 0; attempt < 400; attempt++) {
    const file = await ok('GET', `/v1/vector_stores/${storeId}/files/${fileId}`, undefined, key);
    if (file.status !== 'in_progress') {
      assertMatchesSchema('VectorStoreFileObject', file);
      return file;
    }
    await delay(10);
  }
  throw new Error(`${fileId} stayed in progress`);
}

async function settledBatch(storeId: string, batchId: string): Promise<JsonObject> {
  for (let attempt = 0; attempt < 400; attempt++) {
    const batch = await ok('GET', `/v1/vector_stores/${storeId}/file_batches/${batchId}`);
    if (batch.status !== 'in_progress') {
      assertMatchesSchema('VectorStoreFileBatchObject', batch);
      return batch;
    }
    await delay(10);
  }
  throw new Error(`${batchId} stayed in progress`);
}

const ZEBRAS =
  'Zebras are African equines with distinctive black-and-white striped coats. Each animal has a unique stripe pattern.';
const VOLCANOES =
  'Volcanoes form where magma reaches the surface. Basaltic lava flows are fluid; rhyolitic eruptions are explosive.';
const ORCHIDS = 'Orchids are a diverse family of flowering plants, with blooms that are often colourful and fragrant.';

describe('vector stores', () => {
  test('create, retrieve, list, modify and delete, every object as the spec has it', async () => {
    const before = Math.floor(Date.now() / 1000);
    const store = await createStore({
      name: 'Research',
      metadata: { team: 'blue' },
      expires_after: { anchor: 'last_active_at', days: 7 },
    });
    assert.match(store.id, /^vs_[0-9a-f]{48}$/);
    assert.equal(store.object, 'vector_store');
    assert.equal(store.name, 'Research');
    assert.equal(store.status, 'completed');
    assert.equal(store.usage_bytes, 0);
    assert.deepEqual(store.file_counts, { in_progress: 0, completed: 0, failed: 0, cancelled: 0, total: 0 });
    assert.deepEqual(store.metadata, { team: 'blue' });
    assert.deepEqual(store.expires_after, { anchor: 'last_active_at', days: 7 });
    assert.ok(store.created_at >= before);
    assert.equal(store.last_active_at, store.created_at);
    assert.equal(store.expires_at, store.last_active_at + 7 * 86_400);

    const reply = await call('GET', `/v1/vector_stores/${store.id}`);
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, store);
    assert.equal(reply.headers[SEARCH_MODE_HEADER], 'keyword');

    const modified = await ok('POST', `/v1/vector_stores/${store.id}`, {
      name: 'Renamed',
      metadata: { team: 'red' },
      expires_after: null,
    });
    assertMatchesSchema('VectorStoreObject', modified);
    assert.equal(modified.name, 'Renamed');
    assert.deepEqual(modified.metadata, { team: 'red' });
    assert.equal(modified.expires_at, null);
    assert.equal('expires_after' in modified, false);

    const second = await createStore();
    assert.equal(second.name, '');
    const newestFirst = await ok('GET', '/v1/vector_stores?limit=100');
    assertListPage('ListVectorStoresResponse', newestFirst);
    const ids = newestFirst.data.map((entry: JsonObject) => String(entry.id));
    assert.ok(ids.indexOf(second.id) < ids.indexOf(store.id));
    const firstPage = await ok('GET', '/v1/vector_stores?limit=1&order=asc');
    assert.equal(firstPage.data.length, 1);
    assert.equal(firstPage.has_more, true);
    const nextPage = await ok('GET', `/v1/vector_stores?limit=1&order=asc&after=${firstPage.last_id}`);
    assert.notEqual(nextPage.data[0].id, firstPage.data[0].id);

    const deleted = await ok('DELETE', `/v1/vector_stores/${second.id}`);
    assertMatchesSchema('DeleteVectorStoreResponse', deleted);
    assert.deepEqual(deleted, { id: second.id, object: 'vector_store.deleted', deleted: true });
    assertRefused(await call('GET', `/v1/vector_stores/${second.id}`), null, 404);
    assertRefused(await call('DELETE', `/v1/vector_stores/${second.id}`), null, 404);
  });

  test('refuses bad parameters, naming them', async () => {
    assertRefused(await call('POST', '/v1/vector_stores', { name: 7 }), 'name');
    assertRefused(await call('POST', '/v1/vector_stores', { metadata: { key: 1 } }), 'metadata.key');
    assertRefused(
      await call('POST', '/v1/vector_stores', { expires_after: { anchor: 'created_at', days: 1 } }),
      'expires_after.anchor',
    );
    assertRefused(
      await call('POST', '/v1/vector_stores', { expires_after: { anchor: 'last_active_at', days: 366 } }),
      'expires_after.days',
    );
    assertRefused(await call('POST', '/v1/vector_stores', { file_ids: 'file-x' }), 'file_ids');
    assertRefused(await call('POST', '/v1/vector_stores', { file_ids: ['file-missing'] }), 'file_ids[0]');
    assertRefused(
      await call('POST', '/v1/vector_stores', {
        chunking_strategy: { type: 'static', static: { max_chunk_size_tokens: 50, chunk_overlap_tokens: 0 } },
      }),
      'chunking_strategy.static.max_chunk_size_tokens',
    );
    assertRefused(await call('GET', '/v1/vector_stores?limit=0'), 'limit');
    assertRefused(await call('GET', '/v1/vector_stores?order=sideways'), 'order');
    assertRefused(await call('GET', '/v1/vector_stores/vs_nope'), null, 404);
  });

  test('a store past its expiry reads expired and refuses files and searches', async () => {
    const store = await createStore({ expires_after: { anchor: 'last_active_at', days: 1 } });
    await storage.vectorStores.update(KEYS['sk-alpha'], store.id, { expiresAt: Math.floor(Date.now() / 1000) - 1 });
    const expired = await ok('GET', `/v1/vector_stores/${store.id}`);
    assertMatchesSchema('VectorStoreObject', expired);
    assert.equal(expired.status, 'expired');
    assertRefused(await call('POST', `/v1/vector_stores/${store.id}/search`, { query: 'zebra' }), 'vector_store_id');
    const file = await addFile('late.txt', ZEBRAS);
    assertRefused(await call('POST', `/v1/vector_stores/${store.id}/files`, { file_id: file.id }), 'vector_store_id');
  });
});

describe('vector store files', () => {
  test('attach with attributes and a static strategy, ingest, list, retrieve, update, read content, delete', async () => {
    const store = await createStore({ name: 'Animals' });
    const file = await addFile('zebras.txt', ZEBRAS);
    const attachedReply = await call('POST', `/v1/vector_stores/${store.id}/files`, {
      file_id: file.id,
      attributes: { topic: 'animals', year: 2024, reviewed: true },
      chunking_strategy: { type: 'static', static: { max_chunk_size_tokens: 100, chunk_overlap_tokens: 20 } },
    });
    assert.equal(attachedReply.status, 200, JSON.stringify(attachedReply.body));
    const attached = attachedReply.body;
    assertMatchesSchema('VectorStoreFileObject', attached);
    assert.equal(attached.id, file.id);
    assert.equal(attached.object, 'vector_store.file');
    assert.equal(attached.vector_store_id, store.id);
    assert.deepEqual(attached.chunking_strategy, {
      type: 'static',
      static: { max_chunk_size_tokens: 100, chunk_overlap_tokens: 20 },
    });
    assert.deepEqual(attached.attributes, { topic: 'animals', year: 2024, reviewed: true });

    const done = await settled(store.id, file.id);
    assert.equal(done.status, 'completed');
    assert.equal(done.last_error, null);
    assert.ok(done.usage_bytes > 0);

    const storeNow = await ok('GET', `/v1/vector_stores/${store.id}`);
    assert.equal(storeNow.status, 'completed');
    assert.deepEqual(storeNow.file_counts, { in_progress: 0, completed: 1, failed: 0, cancelled: 0, total: 1 });
    assert.equal(storeNow.usage_bytes, done.usage_bytes);

    const content = await ok('GET', `/v1/vector_stores/${store.id}/files/${file.id}/content`);
    assertMatchesSchema('VectorStoreFileContentResponse', content);
    assert.equal(content.object, 'vector_store.file_content.page');
    assert.match(content.data.map((part: JsonObject) => String(part.text)).join(' '), /unique stripe pattern/);

    const updated = await ok('POST', `/v1/vector_stores/${store.id}/files/${file.id}`, {
      attributes: { topic: 'zoology' },
    });
    assertMatchesSchema('VectorStoreFileObject', updated);
    assert.deepEqual(updated.attributes, { topic: 'zoology' });
    assert.equal(updated.status, 'completed');

    const deleted = await ok('DELETE', `/v1/vector_stores/${store.id}/files/${file.id}`);
    assertMatchesSchema('DeleteVectorStoreFileResponse', deleted);
    assert.deepEqual(deleted, { id: file.id, object: 'vector_store.file.deleted', deleted: true });
    assertRefused(await call('GET', `/v1/vector_stores/${store.id}/files/${file.id}`), null, 404);
    // The File itself stays.
    assert.ok(await storage.files.get(KEYS['sk-alpha'], file.id));
  });

  test('lists files by status, paging with after and before', async () => {
    const store = await createStore();
    const good = [await addFile('a.txt', ZEBRAS), await addFile('b.txt', VOLCANOES), await addFile('c.txt', ORCHIDS)];
    const broken = await addFile('broken.pdf', Buffer.from('%PDF-1.7\nthis is not really a pdf'));
    for (const file of [...good, broken]) await ok('POST', `/v1/vector_stores/${store.id}/files`, { file_id: file.id });
    for (const file of [...good, broken]) await settled(store.id, file.id);

    const all = await ok('GET', `/v1/vector_stores/${store.id}/files?limit=100`);
    assertListPage('ListVectorStoreFilesResponse', all);
    assert.equal(all.data.length, 4);
    const failed = await ok('GET', `/v1/vector_stores/${store.id}/files?filter=failed`);
    assertListPage('ListVectorStoreFilesResponse', failed);
    assert.deepEqual(
      failed.data.map((file: JsonObject) => String(file.id)),
      [broken.id],
    );
    assert.equal(failed.data[0].last_error.code, 'invalid_file');
    const completed = await ok('GET', `/v1/vector_stores/${store.id}/files?filter=completed&order=asc&limit=2`);
    assert.equal(completed.data.length, 2);
    assert.equal(completed.has_more, true);
    const rest = await ok(
      'GET',
      `/v1/vector_stores/${store.id}/files?filter=completed&order=asc&limit=2&after=${completed.last_id}`,
    );
    assert.equal(rest.data.length, 1);
    assert.equal(rest.has_more, false);
    assert.deepEqual(
      new Set([...completed.data, ...rest.data].map((file: JsonObject) => String(file.id))),
      new Set(good.map((file) => file.id)),
    );
    const backwards = await ok(
      'GET',
      `/v1/vector_stores/${store.id}/files?filter=completed&order=asc&before=${rest.data[0].id}`,
    );
    assert.deepEqual(
      backwards.data.map((file: JsonObject) => String(file.id)),
      completed.data.map((file: JsonObject) => String(file.id)),
    );
    assert.deepEqual(await ok('GET', `/v1/vector_stores/${store.id}/files?filter=cancelled`), {
      object: 'list',
      data: [],
      first_id: null,
      last_id: null,
      has_more: false,
    });
    assertRefused(await call('GET', `/v1/vector_stores/${store.id}/files?filter=done`), 'filter');
    assertRefused(await call('GET', `/v1/vector_stores/${store.id}/files?after=file-unknown`), 'after');
  });

  test('validates attributes like OpenAI and names the file that does not exist', async () => {
    const store = await createStore();
    const file = await addFile('a.txt', ZEBRAS);
    const url = `/v1/vector_stores/${store.id}/files`;
    assertRefused(await call('POST', url, {}), 'file_id');
    assertRefused(await call('POST', url, { file_id: 'file-nope' }), 'file_id');
    const tooMany = Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`k${index}`, index]));
    assertRefused(await call('POST', url, { file_id: file.id, attributes: tooMany }), 'attributes');
    assertRefused(
      await call('POST', url, { file_id: file.id, attributes: { ['k'.repeat(65)]: 1 } }),
      `attributes.${'k'.repeat(65)}`,
    );
    assertRefused(
      await call('POST', url, { file_id: file.id, attributes: { long: 'v'.repeat(513) } }),
      'attributes.long',
    );
    assertRefused(await call('POST', url, { file_id: file.id, attributes: { nested: { a: 1 } } }), 'attributes.nested');
    assertRefused(await call('POST', url, { file_id: file.id, attributes: { list: ['a'] } }), 'attributes.list');
    assertRefused(
      await call('POST', url, {
        file_id: file.id,
        chunking_strategy: { type: 'static', static: { max_chunk_size_tokens: 200, chunk_overlap_tokens: 150 } },
      }),
      'chunking_strategy.static.chunk_overlap_tokens',
    );
    assertRefused(
      await call('POST', url, { file_id: file.id, chunking_strategy: { type: 'semantic' } }),
      'chunking_strategy.type',
    );
    const sixteen = Object.fromEntries(
      Array.from({ length: 16 }, (_, index) => [`k${index}`, index % 2 === 0 ? `v${index}` : index]),
    );
    const attached = await ok('POST', url, { file_id: file.id, attributes: sixteen });
    assert.deepEqual(attached.attributes, sixteen);
    assertRefused(await call('POST', `${url}/${file.id}`, {}), 'attributes');
    assertRefused(await call('POST', `${url}/file-nope`, { attributes: {} }), null, 404);
  });

  test('another key sees neither the store nor its files, and cannot attach a file it does not own', async () => {
    const store = await createStore();
    const file = await addFile('a.txt', ZEBRAS);
    await ok('POST', `/v1/vector_stores/${store.id}/files`, { file_id: file.id });
    await settled(store.id, file.id);
    assertRefused(await call('GET', `/v1/vector_stores/${store.id}`, undefined, 'sk-beta'), null, 404);
    assertRefused(await call('POST', `/v1/vector_stores/${store.id}`, { name: 'mine' }, 'sk-beta'), null, 404);
    assertRefused(await call('DELETE', `/v1/vector_stores/${store.id}`, undefined, 'sk-beta'), null, 404);
    assertRefused(await call('GET', `/v1/vector_stores/${store.id}/files`, undefined, 'sk-beta'), null, 404);
    assertRefused(await call('GET', `/v1/vector_stores/${store.id}/files/${file.id}`, undefined, 'sk-beta'), null, 404);
    assertRefused(
      await call('GET', `/v1/vector_stores/${store.id}/files/${file.id}/content`, undefined, 'sk-beta'),
      null,
      404,
    );
    assertRefused(await call('POST', `/v1/vector_stores/${store.id}/search`, { query: 'zebra' }, 'sk-beta'), null, 404);
    const listed = await ok('GET', '/v1/vector_stores?limit=100', undefined, 'sk-beta');
    assert.equal(
      listed.data.some((entry: JsonObject) => entry.id === store.id),
      false,
    );
    const betaStore = await createStore({}, 'sk-beta');
    assertRefused(
      await call('POST', `/v1/vector_stores/${betaStore.id}/files`, { file_id: file.id }, 'sk-beta'),
      'file_id',
    );
    assertRefused(await call('POST', '/v1/vector_stores', { file_ids: [file.id] }, 'sk-beta'), 'file_ids[0]');
  });
});

describe('file batches', () => {
  test('from file_ids: a broken file fails alone, the batch completes, its files list by status', async () => {
    const store = await createStore();
    const files = [await addFile('zebras.md', ZEBRAS), await addFile('volcanoes.txt', VOLCANOES)];
    const broken = await addFile('broken.pdf', Buffer.from('%PDF-1.4\n\u0000\u0001 garbage'));
    const created = await ok('POST', `/v1/vector_stores/${store.id}/file_batches`, {
      file_ids: [...files.map((file) => file.id), broken.id],
      attributes: { source: 'batch' },
    });
    assertMatchesSchema('VectorStoreFileBatchObject', created);
    assert.match(created.id, /^vsfb_/);
    assert.equal(created.object, 'vector_store.files_batch');
    assert.equal(created.vector_store_id, store.id);
    assert.equal(created.file_counts.total, 3);
    const batch = await settledBatch(store.id, created.id);
    assert.equal(batch.status, 'completed');
    assert.deepEqual(batch.file_counts, { in_progress: 0, completed: 2, failed: 1, cancelled: 0, total: 3 });

    const listed = await ok('GET', `/v1/vector_stores/${store.id}/file_batches/${created.id}/files?limit=100`);
    assertListPage('ListVectorStoreFilesResponse', listed);
    assert.equal(listed.data.length, 3);
    for (const file of listed.data) assert.deepEqual(file.attributes, { source: 'batch' });
    const failed = await ok('GET', `/v1/vector_stores/${store.id}/file_batches/${created.id}/files?filter=failed`);
    assert.deepEqual(
      failed.data.map((file: JsonObject) => String(file.id)),
      [broken.id],
    );
    assert.ok(['invalid_file', 'unsupported_file'].includes(failed.data[0].last_error.code));
    // Files attached outside the batch are not its files.
    const single = await addFile('orchids.txt', ORCHIDS);
    await ok('POST', `/v1/vector_stores/${store.id}/files`, { file_id: single.id });
    const again = await ok('GET', `/v1/vector_stores/${store.id}/file_batches/${created.id}/files?limit=100`);
    assert.equal(again.data.length, 3);
  });

  test('from files with their own attributes and chunking; a batch of failures fails', async () => {
    const store = await createStore();
    const zebra = await addFile('zebras.txt', ZEBRAS);
    const orchid = await addFile('orchids.txt', ORCHIDS);
    const created = await ok('POST', `/v1/vector_stores/${store.id}/file_batches`, {
      files: [
        { file_id: zebra.id, attributes: { kind: 'animal' } },
        {
          file_id: orchid.id,
          attributes: { kind: 'plant' },
          chunking_strategy: { type: 'static', static: { max_chunk_size_tokens: 200, chunk_overlap_tokens: 0 } },
        },
      ],
    });
    const batch = await settledBatch(store.id, created.id);
    assert.equal(batch.status, 'completed');
    const orchidFile = await ok('GET', `/v1/vector_stores/${store.id}/files/${orchid.id}`);
    assert.deepEqual(orchidFile.attributes, { kind: 'plant' });
    assert.deepEqual(orchidFile.chunking_strategy, {
      type: 'static',
      static: { max_chunk_size_tokens: 200, chunk_overlap_tokens: 0 },
    });
    const zebraFile = await ok('GET', `/v1/vector_stores/${store.id}/files/${zebra.id}`);
    assert.deepEqual(zebraFile.chunking_strategy, {
      type: 'static',
      static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 },
    });

    const unreadable = await addFile('slides.pptx', Buffer.from('not a presentation'));
    const failing = await ok('POST', `/v1/vector_stores/${store.id}/file_batches`, { file_ids: [unreadable.id] });
    const failedBatch = await settledBatch(store.id, failing.id);
    assert.equal(failedBatch.status, 'failed');
    const failedFile = await ok('GET', `/v1/vector_stores/${store.id}/files/${unreadable.id}`);
    assert.equal(failedFile.last_error.code, 'unsupported_file');
  });

  test('cancel marks the files still waiting cancelled and keeps those already done', async () => {
    const store = await createStore();
    const quick = await addFile('quick.txt', ZEBRAS);
    const slow = await addFile('slow.txt', VOLCANOES);
    const release = blobs.hold(slow.blobKey);
    try {
      const created = await ok('POST', `/v1/vector_stores/${store.id}/file_batches`, { file_ids: [quick.id, slow.id] });
      await settled(store.id, quick.id);
      const inProgress = await call('GET', `/v1/vector_stores/${store.id}`);
      assert.equal(inProgress.body.status, 'in_progress');
      const pending = await call('GET', `/v1/vector_stores/${store.id}/file_batches/${created.id}`);
      assert.equal(pending.body.status, 'in_progress');
      assert.equal(pending.headers['openai-poll-after-ms'], '250');
      const cancelled = await ok('POST', `/v1/vector_stores/${store.id}/file_batches/${created.id}/cancel`);
      assertMatchesSchema('VectorStoreFileBatchObject', cancelled);
      assert.equal(cancelled.status, 'cancelled');
      assert.deepEqual(cancelled.file_counts, { in_progress: 0, completed: 1, failed: 0, cancelled: 1, total: 2 });
    } finally {
      release();
    }
    // The worker finishing the held file finds it cancelled and stores nothing.
    await delay(50);
    const slowFile = await ok('GET', `/v1/vector_stores/${store.id}/files/${slow.id}`);
    assert.equal(slowFile.status, 'cancelled');
    const storeNow = await ok('GET', `/v1/vector_stores/${store.id}`);
    assert.equal(storeNow.status, 'completed');
  });

  test('refuses bad batches, naming the param', async () => {
    const store = await createStore();
    const file = await addFile('a.txt', ZEBRAS);
    const url = `/v1/vector_stores/${store.id}/file_batches`;
    assertRefused(await call('POST', url, {}), 'file_ids');
    assertRefused(await call('POST', url, { file_ids: [] }), 'file_ids');
    assertRefused(await call('POST', url, { file_ids: [file.id], files: [{ file_id: file.id }] }), 'files');
    assertRefused(await call('POST', url, { files: [{ attributes: {} }] }), 'files[0].file_id');
    assertRefused(
      await call('POST', url, { files: [{ file_id: file.id }, { file_id: 'file-nope' }] }),
      'files[1].file_id',
    );
    assertRefused(await call('POST', url, { file_ids: [file.id, 'file-nope'] }), 'file_ids[1]');
    assertRefused(
      await call('POST', url, { files: [{ file_id: file.id, attributes: { a: null } }] }),
      'files[0].attributes.a',
    );
    assertRefused(await call('GET', `${url}/vsfb_nope`), null, 404);
    assertRefused(await call('POST', `${url}/vsfb_nope/cancel`), null, 404);
    // Nothing was attached by the refused requests.
    const listed = await ok('GET', `/v1/vector_stores/${store.id}/files`);
    assert.equal(listed.data.length, 0);
  });
});

describe('search', () => {
  let store: JsonObject;
  const ids: Record<string, string> = {};

  before(async () => {
    store = await createStore({ name: 'Search' });
    // Texts of their own: the other tests' files share the database, and keyword statistics.
    const entries = [
      {
        name: 'zebras.txt',
        text: `${ZEBRAS} Grevy's zebra grazes the semi-arid grasslands of Kenya.`,
        attributes: { topic: 'animals', year: 2023 },
      },
      {
        name: 'volcanoes.txt',
        text: `${VOLCANOES} Stratovolcanoes build steep cones of layered tephra.`,
        attributes: { topic: 'geology', year: 2024 },
      },
      {
        name: 'orchids.txt',
        text: `${ORCHIDS} Vanilla is the one orchid grown as a food crop.`,
        attributes: { topic: 'plants', year: 2025 },
      },
    ];
    const files = [];
    for (const entry of entries) {
      const file = await addFile(entry.name, entry.text);
      ids[entry.name] = file.id;
      files.push({ file_id: file.id, attributes: entry.attributes });
    }
    const batch = await ok('POST', `/v1/vector_stores/${store.id}/file_batches`, { files });
    await settledBatch(store.id, batch.id);
  });

  test('finds the file a query is about, as the spec’s search results page', async () => {
    const reply = await call('POST', `/v1/vector_stores/${store.id}/search`, { query: "Grevy's zebra grasslands" });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assertMatchesSchema('VectorStoreSearchResultsPage', reply.body);
    assert.equal(reply.headers[SEARCH_MODE_HEADER], 'keyword');
    const page = reply.body;
    assert.equal(page.object, 'vector_store.search_results.page');
    assert.deepEqual(page.search_query, ["Grevy's zebra grasslands"]);
    assert.equal(page.has_more, false);
    assert.equal(page.next_page, null);
    assert.equal(page.data[0].file_id, ids['zebras.txt']);
    assert.equal(page.data[0].filename, 'zebras.txt');
    assert.deepEqual(page.data[0].attributes, { topic: 'animals', year: 2023 });
    assert.match(page.data[0].content[0].text, /Grevy/);
    assert.ok(page.data[0].score > 0 && page.data[0].score <= 1);
  });

  test('takes a list of queries, filters, max_num_results, ranking_options and rewrite_query', async () => {
    const url = `/v1/vector_stores/${store.id}/search`;
    const several = await ok('POST', url, {
      query: ['Grevy grasslands', 'stratovolcanoes tephra'],
      rewrite_query: true,
      ranking_options: { ranker: 'auto', score_threshold: 0 },
    });
    assertMatchesSchema('VectorStoreSearchResultsPage', several);
    assert.deepEqual(several.search_query, ['Grevy grasslands', 'stratovolcanoes tephra']);
    const found = new Set(several.data.map((hit: JsonObject) => String(hit.file_id)));
    assert.ok(found.has(ids['zebras.txt']) && found.has(ids['volcanoes.txt']));

    const filtered = await ok('POST', url, {
      query: 'Grevy tephra',
      filters: { type: 'eq', key: 'topic', value: 'geology' },
    });
    assert.deepEqual(
      filtered.data.map((hit: JsonObject) => String(hit.file_id)),
      [ids['volcanoes.txt']],
    );
    const compound = await ok('POST', url, {
      query: 'Grevy tephra vanilla',
      filters: {
        type: 'and',
        filters: [
          { type: 'gte', key: 'year', value: 2024 },
          { type: 'ne', key: 'topic', value: 'plants' },
        ],
      },
    });
    assert.deepEqual(
      compound.data.map((hit: JsonObject) => String(hit.file_id)),
      [ids['volcanoes.txt']],
    );
    const oneOnly = await ok('POST', url, { query: 'Grevy tephra vanilla', max_num_results: 1 });
    assert.equal(oneOnly.data.length, 1);
    const none = await ok('POST', url, { query: 'quantum chromodynamics' });
    assert.deepEqual(none.data, []);
  });

  test('refuses bad searches, naming the param', async () => {
    const url = `/v1/vector_stores/${store.id}/search`;
    assertRefused(await call('POST', url, {}), 'query');
    assertRefused(await call('POST', url, { query: 5 }), 'query');
    assertRefused(await call('POST', url, { query: [] }), 'query');
    assertRefused(await call('POST', url, { query: '  ' }), 'query');
    assertRefused(await call('POST', url, { query: 'a', max_num_results: 0 }), 'max_num_results');
    assertRefused(await call('POST', url, { query: 'a', max_num_results: 51 }), 'max_num_results');
    assertRefused(
      await call('POST', url, { query: 'a', ranking_options: { ranker: 'best' } }),
      'ranking_options.ranker',
    );
    assertRefused(
      await call('POST', url, { query: 'a', ranking_options: { score_threshold: 2 } }),
      'ranking_options.score_threshold',
    );
    assertRefused(
      await call('POST', url, { query: 'a', filters: { type: 'like', key: 'a', value: 'b' } }),
      'filters.type',
    );
    assertRefused(
      await call('POST', url, { query: 'a', filters: { type: 'or', filters: [{ type: 'in', key: 'a', value: 'b' }] } }),
      'filters.filters[0].value',
    );
    assertRefused(await call('POST', url, { query: 'a', rewrite_query: 'yes' }), 'rewrite_query');
    assertRefused(await call('POST', '/v1/vector_stores/vs_nope/search', { query: 'a' }), null, 404);
  });
});
