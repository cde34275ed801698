import { PGlite } from '@electric-sql/pglite';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import type { ChunkToStore, SearchRequest, StoredVectorStoreFile } from '../vector-stores.ts';
import { migratePostgres, postgresMigrations, type PostgresMigration } from './migrations.ts';
import { postgresKeywordIndexMigration } from './postgres-keyword-index-migration.ts';
import { PostgresVectorStoreStore, type PostgresQueryable } from './postgres-vector-store-store.ts';

/*
 * BM25 keyword ranking on PostgreSQL and the postings and statistics it reads, which the
 * vector-store contract does not look at: the ranking itself, each store scored by its own
 * statistics, the postings kept in step with the chunks, and migration 21's backfill. On PGlite
 * always; on the real server too when RIPOSTE_TEST_DATABASE_URL is set, where two connections can
 * race (PGlite has one).
 */

interface Database {
  queryable: PostgresQueryable;
  /** Applies these migrations (in version order) that are not applied yet. */
  migrate(migrations: readonly PostgresMigration[]): Promise<void>;
  close(): Promise<void>;
}

type Open = () => Promise<Database>;

const earlierMigrations = postgresMigrations.filter(
  (migration) => migration.version < postgresKeywordIndexMigration.version,
);

async function openPglite(): Promise<Database> {
  const database = new PGlite();
  const applied = new Set<number>();
  return {
    queryable: database,
    async migrate(migrations) {
      for (const migration of [...migrations].sort((left, right) => left.version - right.version)) {
        if (applied.has(migration.version)) continue;
        await database.exec(migration.sql);
        applied.add(migration.version);
      }
    },
    close: () => database.close(),
  };
}

function openerForServer(serverUrl: string): Open {
  return async () => {
    const schema = `riposte_test_bm25_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    const url = new URL(serverUrl);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const pool = new pg.Pool({ connectionString: url.toString(), max: 8 });
    return {
      queryable: pool,
      async migrate(migrations) {
        const client = await pool.connect();
        try {
          await migratePostgres(client, migrations);
        } finally {
          client.release();
        }
      },
      async close() {
        await pool.end();
        const dropper = new pg.Client({ connectionString: serverUrl });
        await dropper.connect();
        await dropper.query(`DROP SCHEMA ${schema} CASCADE`);
        await dropper.end();
      },
    };
  };
}

const owner = 'proj_bm25';

async function createStore(store: PostgresVectorStoreStore, id: string): Promise<void> {
  await store.create({
    id,
    owner,
    name: id,
    createdAt: 1,
    lastActiveAt: 1,
    metadata: {},
    expiresAfter: null,
    expiresAt: null,
  });
}

function fileOf(vectorStoreId: string, fileId: string): StoredVectorStoreFile {
  return {
    fileId,
    vectorStoreId,
    owner,
    createdAt: 1,
    status: 'in_progress',
    usageBytes: 0,
    lastError: null,
    chunkingStrategy: { type: 'auto' },
    attributes: {},
    batchId: null,
    filename: `${fileId}.txt`,
  };
}

/** Attaches a file and completes it with one chunk per text. */
async function ingest(store: PostgresVectorStoreStore, vectorStoreId: string, fileId: string, texts: string[]) {
  await store.addFile(fileOf(vectorStoreId, fileId));
  const chunks: ChunkToStore[] = texts.map((text, index) => ({ index, text, tokenCount: 1, embedding: null }));
  assert.equal(await store.completeFile(owner, vectorStoreId, fileId, chunks, 1), true);
}

function searchFor(query: string): SearchRequest {
  return { queries: [query], queryEmbeddings: null, filters: null, maxResults: 20, scoreThreshold: 0 };
}

async function rankedFiles(store: PostgresVectorStoreStore, storeIds: string[], query: string): Promise<string[]> {
  return (await store.search(owner, storeIds, searchFor(query))).map((hit) => hit.fileId);
}

/**
 * Asserts that the postings and statistics are exactly what the chunks now stored imply, worked
 * out here from each chunk's own search_vector.
 */
async function assertIndexMatchesChunks(database: PostgresQueryable): Promise<void> {
  const sorted = async (text: string): Promise<string[]> =>
    (await database.query(text, [])).rows.map((row) => JSON.stringify(row)).sort();
  const postings = await sorted(
    `SELECT posting.vector_store_id, posting.file_id, posting.lexeme, entry.chunk_id::text,
       entry.term_frequency, entry.chunk_length
     FROM vector_store_postings AS posting,
       unnest(posting.chunk_ids, posting.term_frequencies, posting.chunk_lengths) AS entry (chunk_id, term_frequency, chunk_length)`,
  );
  const expected = await sorted(
    `SELECT chunk.vector_store_id, chunk.file_id, entry.lexeme, chunk.id::text AS chunk_id,
       cardinality(entry.positions) AS term_frequency,
       (SELECT sum(cardinality(every.positions)) FROM unnest(chunk.search_vector) AS every)::integer AS chunk_length
     FROM vector_store_chunks AS chunk, unnest(chunk.search_vector) AS entry`,
  );
  assert.deepEqual(postings, expected);
  const stats = await sorted(
    `SELECT vector_store_id, chunk_count::integer, total_length::integer FROM vector_store_keyword_stats
     WHERE chunk_count <> 0 OR total_length <> 0`,
  );
  const expectedStats = await sorted(
    `SELECT chunk.vector_store_id, count(*)::integer AS chunk_count,
       sum((SELECT coalesce(sum(cardinality(entry.positions)), 0) FROM unnest(chunk.search_vector) AS entry))::integer AS total_length
     FROM vector_store_chunks AS chunk GROUP BY chunk.vector_store_id`,
  );
  assert.deepEqual(stats, expectedStats);
  // No statistics outlive their store.
  const orphans = await database.query(
    'SELECT vector_store_id FROM vector_store_keyword_stats WHERE vector_store_id NOT IN (SELECT id FROM vector_stores)',
    [],
  );
  assert.deepEqual(orphans.rows, []);
}

function describeKeywordIndex(name: string, open: Open, options: { concurrent: boolean }): void {
  void describe(name, () => {
    const opened: Database[] = [];
    const fresh = async (migrations: readonly PostgresMigration[] = postgresMigrations) => {
      const database = await open();
      opened.push(database);
      await database.migrate(migrations);
      return { database, store: new PostgresVectorStoreStore(database.queryable, false) };
    };
    after(async () => {
      await Promise.all(opened.map((database) => database.close()));
    });

    void test('a rare term outweighs a common one; a shorter chunk outweighs a longer one', async () => {
      const { store } = await fresh();
      await createStore(store, 'vs_rank');
      for (let index = 0; index < 8; index += 1) {
        await ingest(store, 'vs_rank', `file-common-${index}`, [`turbine blade number ${index}`]);
      }
      // Last in, so the chunk id (the tie-break) would put it last were IDF ignored.
      await ingest(store, 'vs_rank', 'file-rare', ['compressor housing']);
      const ranked = await rankedFiles(store, ['vs_rank'], 'turbine compressor');
      assert.equal(ranked[0], 'file-rare');
      assert.equal(ranked.length, 9);

      // Same term, once each: the chunk with fewer other words ranks first (b = 0.75).
      await ingest(store, 'vs_rank', 'file-long', ['nozzle flow with many other words around it in a long chunk']);
      await ingest(store, 'vs_rank', 'file-short', ['nozzle flow']);
      assert.deepEqual(await rankedFiles(store, ['vs_rank'], 'nozzle'), ['file-short', 'file-long']);
      // More occurrences rank higher, with the lengths alike.
      await ingest(store, 'vs_rank', 'file-twice', ['diffuser diffuser angle']);
      await ingest(store, 'vs_rank', 'file-once', ['diffuser inlet angle']);
      assert.deepEqual(await rankedFiles(store, ['vs_rank'], 'diffuser'), ['file-twice', 'file-once']);
    });

    void test("each store's chunks are scored with that store's statistics", async () => {
      const { store } = await fresh();
      // In vs_small "alpha" is rare and "beta" common, so the alpha chunk leads.
      await createStore(store, 'vs_small');
      await ingest(store, 'vs_small', 'file-alpha', ['alpha one']);
      for (const index of [1, 2, 3]) await ingest(store, 'vs_small', `file-beta-${index}`, [`beta ${index}`]);
      const alone = await rankedFiles(store, ['vs_small'], 'alpha beta');
      assert.equal(alone[0], 'file-alpha');

      // vs_big makes "alpha" common overall; were the statistics pooled, beta would now lead.
      await createStore(store, 'vs_big');
      for (let index = 0; index < 20; index += 1) {
        await ingest(store, 'vs_big', `file-big-${index}`, [`alpha ${index}`]);
      }
      assert.deepEqual(await rankedFiles(store, ['vs_small'], 'alpha beta'), alone);
      const together = await rankedFiles(store, ['vs_small', 'vs_big'], 'alpha beta');
      assert.deepEqual(
        together.filter((fileId) => alone.includes(fileId)),
        alone,
      );
    });

    void test('postings and statistics follow detach, re-ingest, partial deletes and deleting a store', async () => {
      const { database, store } = await fresh();
      await createStore(store, 'vs_one');
      await createStore(store, 'vs_two');
      await ingest(store, 'vs_one', 'file-a', ['supersonic wing flutter', 'wing flutter flutter at mach two']);
      await ingest(store, 'vs_one', 'file-b', ['boundary layer transition on a flat plate']);
      await ingest(store, 'vs_two', 'file-a', ['the same file in another store: wing']);
      await assertIndexMatchesChunks(database.queryable);

      assert.equal(await store.removeFile(owner, 'vs_one', 'file-b'), true);
      await assertIndexMatchesChunks(database.queryable);
      assert.deepEqual(await rankedFiles(store, ['vs_one'], 'boundary'), []);

      // Re-attaching clears the chunks; completing again brings new text.
      await store.addFile(fileOf('vs_one', 'file-a'));
      await assertIndexMatchesChunks(database.queryable);
      assert.deepEqual(await rankedFiles(store, ['vs_one'], 'flutter'), []);
      await store.completeFile(
        owner,
        'vs_one',
        'file-a',
        [{ index: 0, text: 'hypersonic heat transfer', tokenCount: 1, embedding: null }],
        1,
      );
      await assertIndexMatchesChunks(database.queryable);
      assert.deepEqual(await rankedFiles(store, ['vs_one'], 'hypersonic'), ['file-a']);

      // Statements the store never issues keep them right too: one chunk of several, an update.
      await ingest(store, 'vs_one', 'file-c', ['shock wave', 'shock tube', 'expansion fan']);
      await database.queryable.query(
        `DELETE FROM vector_store_chunks WHERE file_id = 'file-c' AND chunk_index = 1`,
        [],
      );
      await assertIndexMatchesChunks(database.queryable);
      await database.queryable.query(
        `UPDATE vector_store_chunks SET text = 'oblique shock reflection' WHERE file_id = 'file-c' AND chunk_index = 2`,
        [],
      );
      await assertIndexMatchesChunks(database.queryable);
      assert.deepEqual(await rankedFiles(store, ['vs_one'], 'oblique'), ['file-c']);

      assert.equal(await store.delete(owner, 'vs_one'), true);
      await assertIndexMatchesChunks(database.queryable);
      const left = await database.queryable.query(
        `SELECT (SELECT count(*) FROM vector_store_postings WHERE vector_store_id = 'vs_one')::integer AS postings,
           (SELECT count(*) FROM vector_store_keyword_stats WHERE vector_store_id = 'vs_one')::integer AS stats`,
        [],
      );
      assert.deepEqual(left.rows, [{ postings: 0, stats: 0 }]);
      assert.deepEqual(await rankedFiles(store, ['vs_two'], 'wing'), ['file-a']);

      // A store with no chunk left keeps no statistics once deleted either.
      await createStore(store, 'vs_three');
      await ingest(store, 'vs_three', 'file-d', ['jet noise']);
      await store.removeFile(owner, 'vs_three', 'file-d');
      await store.delete(owner, 'vs_three');
      await assertIndexMatchesChunks(database.queryable);
    });

    void test('migration 21 indexes the chunks stored before it', async () => {
      const { database, store } = await fresh(earlierMigrations);
      await createStore(store, 'vs_old');
      for (let index = 0; index < 6; index += 1) {
        await ingest(store, 'vs_old', `file-common-${index}`, [`pressure distribution ${index}`]);
      }
      await ingest(store, 'vs_old', 'file-rare', ['cavity resonance', 'pressure drag']);
      await database.migrate(postgresMigrations);
      await assertIndexMatchesChunks(database.queryable);
      const ranked = await rankedFiles(store, ['vs_old'], 'pressure cavity');
      assert.equal(ranked[0], 'file-rare');
      // And the triggers run from then on.
      await ingest(store, 'vs_old', 'file-new', ['cavity flow']);
      await assertIndexMatchesChunks(database.queryable);
    });

    if (options.concurrent) {
      void test('ingestions racing into one store neither deadlock nor lose counts', async () => {
        const { database, store } = await fresh();
        await createStore(store, 'vs_race');
        const words = ['flow', 'pressure', 'wing', 'shock', 'layer', 'heat', 'mach', 'nozzle'];
        const textOf = (seed: number, index: number): string =>
          Array.from({ length: 30 }, (_, word) => words[(seed * 7 + index * 3 + word * 5) % words.length]).join(' ');
        await Promise.all(
          Array.from({ length: 16 }, (_, file) =>
            ingest(
              store,
              'vs_race',
              `file-${file}`,
              Array.from({ length: 20 }, (_, index) => textOf(file, index)),
            ),
          ),
        );
        await assertIndexMatchesChunks(database.queryable);
        // Detaching, re-attaching and completing, all at once.
        await Promise.all(
          Array.from({ length: 16 }, async (_, file) => {
            if (file % 2 === 0) {
              await store.removeFile(owner, 'vs_race', `file-${file}`);
            } else {
              await ingest(store, 'vs_race', `file-${file}`, [textOf(file, 99)]);
            }
          }),
        );
        await assertIndexMatchesChunks(database.queryable);
      });
    }
  });
}

describeKeywordIndex('PostgreSQL BM25 keyword index on PGlite', openPglite, { concurrent: false });

const serverUrl = process.env.RIPOSTE_TEST_DATABASE_URL;
if (serverUrl !== undefined && serverUrl !== '') {
  describeKeywordIndex('PostgreSQL BM25 keyword index on the server', openerForServer(serverUrl), {
    concurrent: true,
  });
}
