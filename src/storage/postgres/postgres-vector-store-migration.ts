import type { PostgresMigration } from './migrations.ts';

/**
 * Vector stores, their files, file batches and chunks, with a generated tsvector (English
 * stemming) under a GIN index. The `embedding vector` column is not here: pgvector may be
 * missing (Debian's PostgreSQL has none), so enablePgvector adds it at start-up when it can.
 *
 * Documents and names a client chooses are JSON text (migration 2); `filter_attributes` is a
 * jsonb copy of the attributes, made jsonb-safe, that search filters read.
 */
export const postgresVectorStoreMigration: PostgresMigration = {
  version: 20,
  name: 'vector stores, files, batches and chunks with full-text search',
  sql: `
    -- "sequence" orders stores created in the same second and is the paging key.
    CREATE TABLE vector_stores (
      id text PRIMARY KEY,
      sequence bigint GENERATED ALWAYS AS IDENTITY,
      owner text NOT NULL,
      name text,
      created_at bigint NOT NULL,
      last_active_at bigint,
      metadata text NOT NULL,
      expires_after text,
      expires_at bigint
    );
    CREATE INDEX vector_stores_by_owner ON vector_stores (owner, sequence);

    -- A vector-store file is keyed by (store, file); re-attaching keeps its sequence (its place).
    CREATE TABLE vector_store_files (
      vector_store_id text NOT NULL REFERENCES vector_stores (id) ON DELETE CASCADE,
      file_id text NOT NULL,
      sequence bigint GENERATED ALWAYS AS IDENTITY,
      owner text NOT NULL,
      created_at bigint NOT NULL,
      status text NOT NULL CHECK (status IN ('in_progress', 'completed', 'cancelled', 'failed')),
      usage_bytes bigint NOT NULL,
      last_error text,
      chunking_strategy text NOT NULL,
      attributes text NOT NULL,
      filter_attributes jsonb NOT NULL,
      batch_id text,
      filename text NOT NULL,
      PRIMARY KEY (vector_store_id, file_id)
    );
    CREATE INDEX vector_store_files_by_sequence ON vector_store_files (vector_store_id, sequence);
    CREATE INDEX vector_store_files_by_batch ON vector_store_files (vector_store_id, batch_id);
    -- Recovery after a restart re-enqueues the few files still being ingested.
    CREATE INDEX vector_store_files_in_progress ON vector_store_files (created_at, sequence) WHERE status = 'in_progress';

    CREATE TABLE vector_store_file_batches (
      id text PRIMARY KEY,
      vector_store_id text NOT NULL REFERENCES vector_stores (id) ON DELETE CASCADE,
      owner text NOT NULL,
      created_at bigint NOT NULL,
      status text NOT NULL CHECK (status IN ('in_progress', 'completed', 'cancelled', 'failed'))
    );

    -- Chunks go with their file (and so with their store).
    CREATE TABLE vector_store_chunks (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      vector_store_id text NOT NULL,
      file_id text NOT NULL,
      chunk_index integer NOT NULL,
      text text NOT NULL,
      token_count integer NOT NULL,
      search_vector tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
      FOREIGN KEY (vector_store_id, file_id) REFERENCES vector_store_files (vector_store_id, file_id) ON DELETE CASCADE
    );
    CREATE INDEX vector_store_chunks_by_file ON vector_store_chunks (vector_store_id, file_id, chunk_index);
    CREATE INDEX vector_store_chunks_search ON vector_store_chunks USING gin (search_vector);
  `,
};
