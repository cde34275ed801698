import type { SqliteMigration } from './migrations.ts';

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
