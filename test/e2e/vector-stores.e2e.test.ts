import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type OpenAI from 'openai';
import { BadRequestError, NotFoundError, toFile } from 'openai';
import pg from 'pg';
import { assertMatchesSchema } from '../contract/spec-validator.ts';
import { writeConfigFile } from './riposte-process.ts';
import { startTestServer, type TestServer } from './start-test-server.ts';

/*
 * The official client on the Vector Stores API, on SQLite (in-process ingestion queue) and, when
 * RIPOSTE_TEST_DATABASE_URL is set, on PostgreSQL (pg-boss ingestion queue) in schemas of its own.
 */

const databaseServerUrl = process.env.RIPOSTE_TEST_DATABASE_URL;

let client: OpenAI;

const HANDBOOK = `# Employee handbook

## Holidays
Every employee has 27 days of paid holiday a year, plus public holidays. Unused days carry over until March.

## Expenses
Claim travel expenses within 30 days through the finance portal, with receipts attached.`;

const RECIPES = `Sourdough bread needs a lively starter, flour, water and salt.
Proof the dough overnight in the fridge, then bake it in a hot Dutch oven for 45 minutes.`;

const ROCKETS = `<html><body><h1>Rocket engines</h1><p>A staged combustion cycle burns the preburner exhaust in the main chamber,
which gives liquid rocket engines their high specific impulse.</p></body></html>`;

/** Runs one statement on a connection of its own; fails (never skips) when unreachable. */
async function administer(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

describe('the official openai client on the Vector Stores API (SQLite)', () => {
  let harness: TestServer;
  before(async () => {
    harness = await startTestServer();
    client = harness.client;
  });
  after(async () => harness.stop());
  vectorStoreTests();
});

describe('the official openai client on the Vector Stores API (PostgreSQL)', () => {
  if (databaseServerUrl === undefined || databaseServerUrl === '') {
    test(
      'vector stores',
      { skip: 'RIPOSTE_TEST_DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)' },
      () => undefined,
    );
    return;
  }
  const serverUrl = databaseServerUrl;
  const suffix = randomBytes(6).toString('hex');
  const storeSchema = `riposte_vs_e2e_${suffix}`;
  const jobsSchema = `riposte_vs_e2e_jobs_${suffix}`;
  let harness: TestServer | undefined;
  before(async () => {
    await administer(serverUrl, `CREATE SCHEMA ${storeSchema}`);
    const databaseUrl = new URL(serverUrl);
    databaseUrl.searchParams.set('options', `-c search_path=${storeSchema}`);
    harness = await startTestServer([], {
      databaseUrl: databaseUrl.toString(),
      config: writeConfigFile({ jobs_schema: jobsSchema }),
    });
    client = harness.client;
  });
  after(async () => {
    await harness?.stop();
    await administer(serverUrl, `DROP SCHEMA IF EXISTS ${storeSchema} CASCADE`);
    await administer(serverUrl, `DROP SCHEMA IF EXISTS ${jobsSchema} CASCADE`);
  });
  vectorStoreTests();
});

function vectorStoreTests(): void {
  test('uploadAndPoll ingests a batch; a broken file fails alone; search finds the right file, with filters', async () => {
    const vectorStore = await client.vectorStores.create({ name: 'Company knowledge', metadata: { team: 'e2e' } });
    assertMatchesSchema('VectorStoreObject', vectorStore);
    assert.match(vectorStore.id, /^vs_/);

    const batch = await client.vectorStores.fileBatches.uploadAndPoll(
      vectorStore.id,
      {
        files: [
          await toFile(Buffer.from(HANDBOOK), 'handbook.md', { type: 'text/markdown' }),
          await toFile(Buffer.from(RECIPES), 'recipes.txt', { type: 'text/plain' }),
          await toFile(Buffer.from(ROCKETS), 'rockets.html', { type: 'text/html' }),
          await toFile(Buffer.from('%PDF-1.7\nnot a real PDF at all'), 'broken.pdf', { type: 'application/pdf' }),
        ],
      },
      { pollIntervalMs: 50 },
    );
    assertMatchesSchema('VectorStoreFileBatchObject', batch);
    assert.equal(batch.status, 'completed');
    assert.deepEqual(batch.file_counts, { in_progress: 0, completed: 3, failed: 1, cancelled: 0, total: 4 });

    const failed = await client.vectorStores.files.list(vectorStore.id, { filter: 'failed' });
    for (const file of failed.data) assertMatchesSchema('VectorStoreFileObject', file);
    assert.equal(failed.data.length, 1);
    assert.equal(failed.data[0]!.status, 'failed');
    assert.equal(failed.data[0]!.last_error?.code, 'invalid_file');
    const completed = [];
    for await (const file of client.vectorStores.files.list(vectorStore.id, { filter: 'completed', limit: 2 })) {
      completed.push(file);
    }
    assert.equal(completed.length, 3);

    const files = new Map<string, string>();
    for (const file of completed) files.set((await client.files.retrieve(file.id)).filename, file.id);
    // Attributes to filter on, set after ingestion.
    await client.vectorStores.files.update(files.get('handbook.md')!, {
      vector_store_id: vectorStore.id,
      attributes: { department: 'people', year: 2025 },
    });
    await client.vectorStores.files.update(files.get('recipes.txt')!, {
      vector_store_id: vectorStore.id,
      attributes: { department: 'kitchen', year: 2024 },
    });

    const holidays = await client.vectorStores.search(vectorStore.id, { query: 'how many days of paid holiday' });
    assert.equal(holidays.data[0]?.file_id, files.get('handbook.md'));
    assert.equal(holidays.data[0]?.filename, 'handbook.md');
    assert.match(holidays.data[0]?.content[0]?.text ?? '', /27 days/);

    const rockets = await client.vectorStores.search(vectorStore.id, {
      query: ['staged combustion', 'specific impulse'],
      max_num_results: 3,
      rewrite_query: true,
    });
    assert.equal(rockets.data[0]?.file_id, files.get('rockets.html'));

    const filtered = await client.vectorStores.search(vectorStore.id, {
      query: 'days overnight oven holiday',
      filters: { type: 'eq', key: 'department', value: 'kitchen' },
    });
    assert.deepEqual(
      filtered.data.map((hit) => hit.file_id),
      [files.get('recipes.txt')],
    );
    assert.deepEqual(filtered.data[0]?.attributes, { department: 'kitchen', year: 2024 });
    const recent = await client.vectorStores.search(vectorStore.id, {
      query: 'days overnight oven holiday',
      filters: { type: 'and', filters: [{ type: 'gte', key: 'year', value: 2025 }] },
    });
    assert.deepEqual(
      recent.data.map((hit) => hit.file_id),
      [files.get('handbook.md')],
    );

    const content = [];
    for await (const part of client.vectorStores.files.content(files.get('recipes.txt')!, {
      vector_store_id: vectorStore.id,
    })) {
      content.push(part.text);
    }
    assert.match(content.join(' '), /Dutch oven/);

    const retrieved = await client.vectorStores.retrieve(vectorStore.id);
    assert.equal(retrieved.status, 'completed');
    assert.deepEqual(retrieved.file_counts, { in_progress: 0, completed: 3, failed: 1, cancelled: 0, total: 4 });
    assert.ok(retrieved.usage_bytes > 0);
  });

  test('createAndPoll attaches one file; files can be listed per batch, removed, and the store deleted', async () => {
    const vectorStore = await client.vectorStores.create({ expires_after: { anchor: 'last_active_at', days: 30 } });
    assert.ok(typeof vectorStore.expires_at === 'number' && vectorStore.expires_at > vectorStore.created_at);
    const uploaded = await client.files.create({
      file: await toFile(Buffer.from(RECIPES), 'bread.txt'),
      purpose: 'assistants',
    });
    const attached = await client.vectorStores.files.createAndPoll(
      vectorStore.id,
      {
        file_id: uploaded.id,
        attributes: { kind: 'recipe' },
        chunking_strategy: { type: 'static', static: { max_chunk_size_tokens: 200, chunk_overlap_tokens: 50 } },
      },
      { pollIntervalMs: 50 },
    );
    assert.equal(attached.status, 'completed');
    assert.deepEqual(attached.chunking_strategy, {
      type: 'static',
      static: { max_chunk_size_tokens: 200, chunk_overlap_tokens: 50 },
    });

    const batch = await client.vectorStores.fileBatches.createAndPoll(
      vectorStore.id,
      { files: [{ file_id: uploaded.id, attributes: { kind: 'again' } }] },
      { pollIntervalMs: 50 },
    );
    const batchFiles = await client.vectorStores.fileBatches.listFiles(batch.id, { vector_store_id: vectorStore.id });
    assert.deepEqual(
      batchFiles.data.map((file) => [file.id, file.attributes]),
      [[uploaded.id, { kind: 'again' }]],
    );

    const removed = await client.vectorStores.files.delete(uploaded.id, { vector_store_id: vectorStore.id });
    assert.deepEqual(removed, { id: uploaded.id, object: 'vector_store.file.deleted', deleted: true });
    assert.equal((await client.files.retrieve(uploaded.id)).id, uploaded.id);

    await assert.rejects(
      client.vectorStores.files.create(vectorStore.id, { file_id: 'file-doesnotexist' }),
      (error: unknown) => error instanceof BadRequestError && error.param === 'file_id',
    );
    await assert.rejects(
      client.vectorStores.search(vectorStore.id, { query: 'bread', max_num_results: 51 }),
      (error: unknown) => error instanceof BadRequestError && error.param === 'max_num_results',
    );
    const deleted = await client.vectorStores.delete(vectorStore.id);
    assert.equal(deleted.deleted, true);
    await assert.rejects(client.vectorStores.retrieve(vectorStore.id), NotFoundError);
  });
}
