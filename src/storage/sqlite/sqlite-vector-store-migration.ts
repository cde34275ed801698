import type { SqliteMigration } from './migrations.ts';
import { ownerChunkIndex } from './sqlite-chunk-index.ts';
import { readText } from './sqlite-rows.ts';

/**
 * Vector stores, their files, file batches and chunks, with an FTS5 index over chunk text.
 *
 * Embeddings are float32 BLOBs in a plain column, scored with sqlite-vec's vec_distance_cosine
 * over the chunks of the searched stores: dimensions differ per embedding model, which a vec0
 * table (one fixed dimension) cannot hold. The scan is linear in those chunks; see
 * SqliteVectorStoreStore for the limit.
 */
export const sqliteVectorStoreMigration: SqliteMigration = {
  version: 20,
  name: 'vector stores, files, batches and chunks with full-text search',
  sql: `
    -- "sequence" (a rowid alias) orders stores created in the same second and is the paging key.
    -- name, metadata and expires_after are JSON text; name NULL means no name.
    CREATE TABLE vector_stores (
      sequence INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      owner TEXT NOT NULL,
      name TEXT,
      created_at INTEGER NOT NULL,
      last_active_at INTEGER,
      metadata TEXT NOT NULL,
      expires_after TEXT,
      expires_at INTEGER
    );
    CREATE INDEX vector_stores_by_owner ON vector_stores (owner, sequence);

    -- A vector-store file is keyed by (store, file); re-attaching keeps its sequence (its place).
    -- attributes, chunking_strategy, last_error and filename are JSON text.
    CREATE TABLE vector_store_files (
      sequence INTEGER PRIMARY KEY,
      vector_store_id TEXT NOT NULL REFERENCES vector_stores (id) ON DELETE CASCADE,
      file_id TEXT NOT NULL,
      owner TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('in_progress', 'completed', 'cancelled', 'failed')),
      usage_bytes INTEGER NOT NULL,
      last_error TEXT,
      chunking_strategy TEXT NOT NULL,
      attributes TEXT NOT NULL,
      batch_id TEXT,
      filename TEXT NOT NULL,
      UNIQUE (vector_store_id, file_id)
    );
    CREATE INDEX vector_store_files_by_batch ON vector_store_files (vector_store_id, batch_id);
    -- Recovery after a restart re-enqueues the few files still being ingested.
    CREATE INDEX vector_store_files_in_progress ON vector_store_files (created_at, sequence) WHERE status = 'in_progress';

    CREATE TABLE vector_store_file_batches (
      id TEXT PRIMARY KEY,
      vector_store_id TEXT NOT NULL REFERENCES vector_stores (id) ON DELETE CASCADE,
      owner TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('in_progress', 'completed', 'cancelled', 'failed'))
    );

    -- Chunks go with their file (and so with their store). "id" is the FTS5 rowid.
    CREATE TABLE vector_store_chunks (
      id INTEGER PRIMARY KEY,
      vector_store_id TEXT NOT NULL,
      file_id TEXT NOT NULL,
      chunk_index INTEGER NOT NULL,
      text TEXT NOT NULL,
      token_count INTEGER NOT NULL,
      embedding BLOB,
      FOREIGN KEY (vector_store_id, file_id) REFERENCES vector_store_files (vector_store_id, file_id) ON DELETE CASCADE
    );
    CREATE INDEX vector_store_chunks_by_file ON vector_store_chunks (vector_store_id, file_id, chunk_index);

    -- External-content FTS5: the text is kept once, in vector_store_chunks; the triggers keep the
    -- index in step (they fire for the cascading deletes too). Porter stems English words, so
    -- "running" finds "runs"; unicode61 folds case and diacritics.
    CREATE VIRTUAL TABLE vector_store_chunks_fts USING fts5(
      text, content = 'vector_store_chunks', content_rowid = 'id', tokenize = 'porter unicode61'
    );
    CREATE TRIGGER vector_store_chunks_fts_insert AFTER INSERT ON vector_store_chunks BEGIN
      INSERT INTO vector_store_chunks_fts (rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER vector_store_chunks_fts_delete AFTER DELETE ON vector_store_chunks BEGIN
      INSERT INTO vector_store_chunks_fts (vector_store_chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
  `,
};

/**
 * The full-text index moves from one table over every owner's chunks to one per owner, each row
 * with its store's sequence (sqlite-chunk-index.ts says why). The owners' tables are named by a
 * number from vector_store_chunk_indexes, so they are created by `apply`, which also refills them
 * from the chunks already stored; the old index and its triggers go.
 */
export const sqliteVectorStoreIndexMigration: SqliteMigration = {
  version: 21,
  name: 'full-text index of vector-store chunks per owner, restricted by store',
  sql: `
    DROP TRIGGER vector_store_chunks_fts_insert;
    DROP TRIGGER vector_store_chunks_fts_delete;
    DROP TABLE vector_store_chunks_fts;
    -- "number" names the owner's index table (vector_store_chunks_fts_<number>); rows are never
    -- deleted, so a number is never given to another owner.
    CREATE TABLE vector_store_chunk_indexes (
      number INTEGER PRIMARY KEY,
      owner TEXT NOT NULL UNIQUE
    );
  `,
  apply(database) {
    const owners = database
      .prepare(
        `SELECT DISTINCT store.owner FROM vector_stores AS store
         WHERE EXISTS (SELECT 1 FROM vector_store_chunks AS chunk WHERE chunk.vector_store_id = store.id)
         ORDER BY store.owner`,
      )
      .all();
    for (const row of owners) ownerChunkIndex(database, readText(row, 'owner'), true);
  },
};
