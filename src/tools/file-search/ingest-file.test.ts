import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createFileId, createId } from '../../engine/ids.ts';
import { InProcessJobQueue } from '../../jobs/in-process-job-queue.ts';
import type { IngestionJob } from '../../jobs/job-queue.ts';
import type { BlobStore } from '../../storage/blobs/blob-store.ts';
import { LocalBlobStore } from '../../storage/blobs/local-blob-store.ts';
import { openSqliteStorage } from '../../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../../storage/stores.ts';
import type { StoredVectorStoreFile } from '../../storage/vector-stores.ts';
import {
  abandonIngestion,
  ABANDONED_INGESTION_ERROR,
  ingestFile,
  recoverIngestion,
  startIngestionWorker,
  type IngestionServices,
} from './ingest-file.ts';

const OWNER = 'project-ingest';
let directory: string;
let storage: Storage;
let blobs: BlobStore;

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'riposte-ingest-'));
  storage = await openSqliteStorage({ path: join(directory, 'riposte.sqlite') });
  blobs = new LocalBlobStore(join(directory, 'blobs'));
});
after(async () => {
  await storage.close();
  rmSync(directory, { recursive: true, force: true });
});

function services(overrides: Partial<IngestionServices> = {}): IngestionServices {
  return {
    vectorStores: storage.vectorStores,
    files: storage.files,
    blobs,
    queue: new InProcessJobQueue<IngestionJob>(),
    embedder: null,
    ...overrides,
  };
}

/** A store with one File attached and left in progress, as a process that died would leave it. */
async function attachedFile(text: string, batchId: string | null = null): Promise<IngestionJob> {
  const now = Math.floor(Date.now() / 1000);
  const vectorStoreId = createId('vs');
  await storage.vectorStores.create({
    id: vectorStoreId,
    owner: OWNER,
    name: null,
    createdAt: now,
    lastActiveAt: now,
    metadata: {},
    expiresAfter: null,
    expiresAt: null,
  });
  const fileId = createFileId();
  await blobs.put(`files/${fileId}`, Buffer.from(text));
  await storage.files.create({
    id: fileId,
    owner: OWNER,
    createdAt: now,
    bytes: text.length,
    filename: 'notes.txt',
    purpose: 'assistants',
    mimeType: 'text/plain',
    expiresAt: null,
    blobKey: `files/${fileId}`,
  });
  const attachment: StoredVectorStoreFile = {
    fileId,
    vectorStoreId,
    owner: OWNER,
    createdAt: now,
    status: 'in_progress',
    usageBytes: 0,
    lastError: null,
    chunkingStrategy: { type: 'static', static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 } },
    attributes: {},
    batchId,
    filename: 'notes.txt',
  };
  if (batchId !== null) {
    await storage.vectorStores.createBatch({
      id: batchId,
      vectorStoreId,
      owner: OWNER,
      createdAt: now,
      status: 'in_progress',
    });
  }
  await storage.vectorStores.addFile(attachment);
  return { owner: OWNER, vectorStoreId, fileId };
}

/** The blob store with another `get` (a class instance's methods do not survive a spread). */
function blobsWithGet(get: BlobStore['get']): BlobStore {
  return {
    get,
    put: (key, data) => blobs.put(key, data),
    delete: (key) => blobs.delete(key),
    exists: (key) => blobs.exists(key),
  };
}

async function statusOf(job: IngestionJob): Promise<StoredVectorStoreFile | null> {
  return storage.vectorStores.getFile(job.owner, job.vectorStoreId, job.fileId);
}

test('after a restart, files left in progress are enqueued again and ingested', async () => {
  const job = await attachedFile('The lighthouse keeper logs every passing ship.');
  const queue = new InProcessJobQueue<IngestionJob>();
  const recovered = await recoverIngestion({ vectorStores: storage.vectorStores, queue });
  assert.ok(recovered >= 1);
  await startIngestionWorker(services({ queue }), 2);
  for (let attempt = 0; attempt < 200 && (await statusOf(job))?.status === 'in_progress'; attempt++) await delay(10);
  await queue.stop(1000);
  assert.equal((await statusOf(job))?.status, 'completed');
  assert.deepEqual(await storage.vectorStores.fileChunks(OWNER, job.vectorStoreId, job.fileId), [
    'The lighthouse keeper logs every passing ship.',
  ]);
});

test('a failure that is not the file’s fault ends it failed with server_error', async () => {
  const job = await attachedFile('Some text.');
  const failingBlobs = blobsWithGet(() => Promise.reject(new Error('disk on fire')));
  const logged: string[] = [];
  await ingestFile(
    job,
    services({ blobs: failingBlobs, logError: (_error, message) => logged.push(message) }),
    new AbortController().signal,
  );
  const file = await statusOf(job);
  assert.equal(file?.status, 'failed');
  assert.equal(file?.lastError?.code, 'server_error');
  assert.equal(logged.length, 1);
});

test('a job stopped by shutdown leaves its file in progress, to run again', async () => {
  const job = await attachedFile('Some text.');
  const controller = new AbortController();
  const slowBlobs = blobsWithGet(async (key) => {
    controller.abort(new Error('the job queue is stopping'));
    return blobs.get(key);
  });
  const embedder = { embed: (_texts: string[], signal: AbortSignal) => Promise.reject(signal.reason as Error) };
  await ingestFile(job, services({ blobs: slowBlobs, embedder }), controller.signal);
  assert.equal((await statusOf(job))?.status, 'in_progress');
});

test('an empty file fails as invalid_file; a file deleted meanwhile is skipped', async () => {
  const empty = await attachedFile('   \n ');
  await ingestFile(empty, services(), new AbortController().signal);
  assert.deepEqual((await statusOf(empty))?.lastError?.code, 'invalid_file');
  const removed = await attachedFile('gone soon');
  await storage.vectorStores.removeFile(OWNER, removed.vectorStoreId, removed.fileId);
  await ingestFile(removed, services(), new AbortController().signal);
  assert.equal(await statusOf(removed), null);
});

test('an abandoned job (every attempt failed) ends its file failed and settles its batch; an ended file stays', async () => {
  const batchId = createId('vsfb');
  const job = await attachedFile('Never ingested: the store kept failing.', batchId);
  await abandonIngestion(job, { vectorStores: storage.vectorStores });
  const file = await statusOf(job);
  assert.equal(file?.status, 'failed');
  assert.deepEqual(file?.lastError, ABANDONED_INGESTION_ERROR);
  assert.equal((await storage.vectorStores.getBatch(OWNER, job.vectorStoreId, batchId))?.status, 'failed');

  const done = await attachedFile('Ingested on its last attempt.');
  await ingestFile(done, services(), new AbortController().signal);
  await abandonIngestion(done, { vectorStores: storage.vectorStores });
  assert.equal((await statusOf(done))?.status, 'completed');
  assert.equal(await storage.vectorStores.getBatch(OWNER, done.vectorStoreId, batchId), null);
});
