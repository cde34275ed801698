import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import type { Storage } from '../stores.ts';
import type { AttributeFilter, ChunkToStore, SearchRequest, VectorStoreStore } from '../vector-stores.ts';
import { migrateSqlite, sqliteMigrations } from './migrations.ts';
import { openSqliteStorage } from './sqlite-storage.ts';
import { SqliteVectorStoreStore } from './sqlite-vector-store-store.ts';

// What the SQLite store's search adds to the shared contract (vector-store-contract.ts): the
// full-text index per owner, the candidates ranked before the scope is checked (and the full
// ranking when too few pass), and migration 21 carrying an existing index across.

const directory = await mkdtemp(path.join(tmpdir(), 'riposte-sqlite-search-'));
after(() => rm(directory, { recursive: true, force: true }));
let opened = 0;

async function withStorage(work: (storage: Storage, file: string) => Promise<void>): Promise<void> {
  opened += 1;
  const file = path.join(directory, `search-${opened}.sqlite`);
  const storage = await openSqliteStorage({ path: file });
  try {
    await work(storage, file);
  } finally {
    await storage.close();
  }
}

async function addStore(
  stores: VectorStoreStore,
  owner: string,
  id: string,
  files: Array<{ fileId: string; chunks: ChunkToStore[]; attributes?: Record<string, string> }>,
): Promise<void> {
  if ((await stores.get(owner, id)) === null) {
    await stores.create({
      id,
      owner,
      name: id,
      createdAt: 1_700_000_000,
      lastActiveAt: null,
      metadata: {},
      expiresAfter: null,
      expiresAt: null,
    });
  }
  for (const file of files) {
    await stores.addFile({
      fileId: file.fileId,
      vectorStoreId: id,
      owner,
      createdAt: 1_700_000_100,
      status: 'in_progress',
      usageBytes: 0,
      lastError: null,
      chunkingStrategy: { type: 'auto' },
      attributes: file.attributes ?? {},
      batchId: null,
      filename: `${file.fileId}.txt`,
    });
    assert.ok(await stores.completeFile(owner, id, file.fileId, file.chunks, 1));
  }
}

function chunks(texts: string[], embedding: (index: number) => Float32Array | null = () => null): ChunkToStore[] {
  return texts.map((text, index) => ({ index, text, tokenCount: 1, embedding: embedding(index) }));
}

function searchFor(query: string, overrides: Partial<SearchRequest> = {}): SearchRequest {
  return { queries: [query], queryEmbeddings: null, filters: null, maxResults: 10, scoreThreshold: 0, ...overrides };
}

const hitKeys = (hits: Array<{ fileId: string; chunkIndex: number }>): string[] =>
  hits.map((hit) => `${hit.fileId}#${hit.chunkIndex}`);

void test("another owner's chunks do not change an owner's keyword ranking", async () => {
  await withStorage(async ({ vectorStores }) => {
    // "alpha" three times against "beta" once: which wins depends on how rare each word is.
    await addStore(vectorStores, 'owner-a', 'vs_a', [
      { fileId: 'file-alpha', chunks: chunks(['alpha alpha alpha filler']) },
      { fileId: 'file-beta', chunks: chunks(['beta filler filler filler']) },
      { fileId: 'file-gamma', chunks: chunks(['gamma filler']) },
    ]);
    const before = await vectorStores.search('owner-a', ['vs_a'], searchFor('alpha beta'));
    assert.deepEqual(hitKeys(before), ['file-alpha#0', 'file-beta#0']);
    // With one index over every owner, "alpha" in 50 more chunks would make it nearly worthless
    // (and "beta" rare), turning owner-a's order round.
    await addStore(vectorStores, 'owner-b', 'vs_b', [
      { fileId: 'file-many', chunks: chunks(Array.from({ length: 50 }, (_, index) => `alpha note ${index}`)) },
    ]);
    assert.deepEqual(await vectorStores.search('owner-a', ['vs_a'], searchFor('alpha beta')), before);
    assert.equal((await vectorStores.search('owner-b', ['vs_b'], searchFor('alpha'))).length, 10);
    assert.deepEqual(await vectorStores.search('owner-b', ['vs_a'], searchFor('alpha')), []);
  });
});

void test('a store restricts the full-text match; deleted files and stores leave the index', async () => {
  await withStorage(async ({ vectorStores }, file) => {
    await addStore(vectorStores, 'owner', 'vs_one', [
      { fileId: 'file-1', chunks: chunks(['shared word one', 'shared word two']) },
    ]);
    await addStore(vectorStores, 'owner', 'vs_two', [{ fileId: 'file-2', chunks: chunks(['shared word three']) }]);
    assert.deepEqual(hitKeys(await vectorStores.search('owner', ['vs_two'], searchFor('shared'))), ['file-2#0']);
    assert.equal((await vectorStores.search('owner', ['vs_one', 'vs_two'], searchFor('shared'))).length, 3);
    // A store's number is not a word of its chunks.
    assert.deepEqual(await vectorStores.search('owner', ['vs_one', 'vs_two'], searchFor('1 2')), []);

    const indexed = (): number => {
      const database = new DatabaseSync(file, { readOnly: true });
      try {
        const count = database.prepare('SELECT count(*) AS count FROM vector_store_chunks_fts_1').get()?.count;
        return Number(count);
      } finally {
        database.close();
      }
    };
    assert.equal(indexed(), 3);
    assert.equal(await vectorStores.removeFile('owner', 'vs_one', 'file-1'), true);
    assert.equal(indexed(), 1);
    // Attaching again takes the earlier chunks out until the file completes again.
    await vectorStores.addFile({
      fileId: 'file-2',
      vectorStoreId: 'vs_two',
      owner: 'owner',
      createdAt: 1,
      status: 'in_progress',
      usageBytes: 0,
      lastError: null,
      chunkingStrategy: {},
      attributes: {},
      batchId: null,
      filename: 'file-2.txt',
    });
    assert.equal(indexed(), 0);
    assert.ok(await vectorStores.completeFile('owner', 'vs_two', 'file-2', chunks(['shared again']), 1));
    assert.equal(indexed(), 1);
    // The newest store's sequence is given again after it is deleted: its chunks must be gone.
    assert.equal(await vectorStores.delete('owner', 'vs_two'), true);
    assert.equal(indexed(), 0);
    await addStore(vectorStores, 'owner', 'vs_three', []);
    assert.deepEqual(await vectorStores.search('owner', ['vs_three'], searchFor('shared')), []);
  });
});

void test('when a filter leaves too few of the best candidates, every match is ranked', async () => {
  await withStorage(async ({ vectorStores }) => {
    const axis = (index: number): Float32Array => {
      const vector = new Float32Array(4);
      vector[index % 4] = 1;
      return vector;
    };
    // 300 short chunks of file-near outrank file-far's 3 long ones for "alpha" and for the
    // vector, so the best 200 candidates of either list hold none of file-far.
    await addStore(vectorStores, 'owner', 'vs_filter', [
      {
        fileId: 'file-near',
        chunks: chunks(
          Array.from({ length: 300 }, () => 'alpha alpha'),
          () => axis(0),
        ),
        attributes: { kind: 'near' },
      },
      {
        fileId: 'file-far',
        chunks: chunks(
          ['alpha one two three four five six seven', 'alpha eight nine ten eleven twelve', 'alpha thirteen'],
          () => axis(1),
        ),
        attributes: { kind: 'far' },
      },
    ]);
    const far: AttributeFilter = { type: 'eq', key: 'kind', value: 'far' };
    const keyword = await vectorStores.search('owner', ['vs_filter'], searchFor('alpha', { filters: far }));
    // Ranked as BM25 ranks them: the shortest chunk first.
    assert.deepEqual(hitKeys(keyword), ['file-far#2', 'file-far#1', 'file-far#0']);
    const unfiltered = await vectorStores.search('owner', ['vs_filter'], searchFor('alpha', { maxResults: 5 }));
    assert.deepEqual(hitKeys(unfiltered), ['file-near#0', 'file-near#1', 'file-near#2', 'file-near#3', 'file-near#4']);
    if (vectorStores.supportsVectors) {
      const vector = await vectorStores.search(
        'owner',
        ['vs_filter'],
        searchFor('nothing', { filters: far, queryEmbeddings: [axis(0)] }),
      );
      // All at the same distance: ties in chunk order.
      assert.deepEqual(hitKeys(vector), ['file-far#0', 'file-far#1', 'file-far#2']);
    }
  });
});

void test('migration 21 moves the chunks of every owner from the shared index to their own', async () => {
  const file = path.join(directory, 'migrated.sqlite');
  const database = new DatabaseSync(file, { enableForeignKeyConstraints: true });
  try {
    migrateSqlite(
      database,
      sqliteMigrations.filter((migration) => migration.version <= 20),
    );
    // Rows as version 20 stored them; its triggers fill its one index.
    for (const [owner, store, sequence] of [
      ['owner-a', 'vs_a', 1],
      ['owner-b', 'vs_b', 2],
      ['owner-c', 'vs_c', 3],
    ] as const) {
      database
        .prepare(
          `INSERT INTO vector_stores (sequence, id, owner, name, created_at, metadata) VALUES (?, ?, ?, NULL, 1, '{}')`,
        )
        .run(sequence, store, owner);
      if (owner === 'owner-c') continue;
      database
        .prepare(
          `INSERT INTO vector_store_files (vector_store_id, file_id, owner, created_at, status, usage_bytes,
             chunking_strategy, attributes, filename)
           VALUES (?, 'file-1', ?, 1, 'completed', 1, '{}', '{}', '"file-1.txt"')`,
        )
        .run(store, owner);
      database
        .prepare(
          `INSERT INTO vector_store_chunks (vector_store_id, file_id, chunk_index, text, token_count)
           VALUES (?, 'file-1', 0, ?, 3), (?, 'file-1', 1, ?, 3)`,
        )
        .run(store, `running ${owner} notes`, store, 'unrelated text');
    }
    migrateSqlite(database);
    const tables = database
      .prepare(
        `SELECT name FROM sqlite_schema WHERE sql LIKE 'CREATE VIRTUAL TABLE%' AND name LIKE 'vector_store_chunks_fts%'
         ORDER BY name`,
      )
      .all()
      .map((row) => row.name);
    assert.deepEqual(tables, ['vector_store_chunks_fts_1', 'vector_store_chunks_fts_2']);
    assert.deepEqual(
      database
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE 'vector_store_chunks_fts%'")
        .all(),
      [],
    );
    const stores = new SqliteVectorStoreStore(database, false);
    const hits = await stores.search('owner-a', ['vs_a'], searchFor('run'));
    assert.deepEqual(
      hits.map((hit) => hit.text),
      ['running owner-a notes'],
    );
    assert.deepEqual(hitKeys(await stores.search('owner-b', ['vs_b'], searchFor('unrelated'))), ['file-1#1']);
    assert.deepEqual(await stores.search('owner-b', ['vs_a'], searchFor('running')), []);
    assert.deepEqual(await stores.search('owner-c', ['vs_c'], searchFor('running')), []);
    // The moved index is kept in step as before.
    assert.equal(await stores.removeFile('owner-a', 'vs_a', 'file-1'), true);
    assert.deepEqual(await stores.search('owner-a', ['vs_a'], searchFor('running')), []);
  } finally {
    database.close();
  }
});
