import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { readNumber } from './sqlite-rows.ts';

/*
 * The full-text index of vector-store chunks: one FTS5 table per owner (the API key's project),
 * so BM25's statistics (the number of chunks, their average length, each word's document
 * frequency) are the project's own — another project's documents neither shift its ranking nor
 * show through it. Each row carries its store's `sequence` in a second column, so a search
 * restricts the MATCH itself to the searched stores and FTS5 ranks only their chunks.
 *
 * Not one table per store, though that would give each store its own statistics: an FTS5 table
 * is five shadow tables in the schema, and the Assistants API makes a store per thread. With
 * 2,000 stores an empty database was 35 MB, creating one more store's table took 33 ms and
 * opening the database 0.3 s, all growing with the number of stores (docs/vector-stores.md).
 *
 * The tables are contentless (the text is kept once, in vector_store_chunks) with
 * contentless_delete, so a chunk leaves the index by its rowid (the chunk's id). They are kept in
 * step by SqliteVectorStoreStore, not by triggers: a trigger cannot name a table chosen at run
 * time.
 */

/** The table of one owner's index, by its number in vector_store_chunk_indexes. */
export function chunkIndexTable(number: number): string {
  return `vector_store_chunks_fts_${number}`;
}

/**
 * Porter stems English words, so "running" finds "runs"; unicode61 folds case and diacritics.
 * `store` holds the store's sequence, one token; searches weigh it 0 in bm25.
 */
function createChunkIndexTable(database: DatabaseSync, table: string): void {
  database.exec(
    `CREATE VIRTUAL TABLE IF NOT EXISTS ${table} USING fts5(
       text, store, content = '', contentless_delete = 1, tokenize = 'porter unicode61'
     )`,
  );
}

/**
 * An owner's index table, created (and filled with the owner's chunks already stored) when
 * `create` is set and it does not exist yet; null when it does not exist and `create` is not set.
 * Run inside the caller's transaction.
 */
export function ownerChunkIndex(database: DatabaseSync, owner: string, create: boolean): string | null {
  const row = database.prepare('SELECT number FROM vector_store_chunk_indexes WHERE owner = ?').get(owner);
  if (row !== undefined) return chunkIndexTable(readNumber(row, 'number'));
  if (!create) return null;
  const inserted = database
    .prepare('INSERT INTO vector_store_chunk_indexes (owner) VALUES (?) RETURNING number')
    .get(owner);
  if (inserted === undefined) throw new Error('vector_store_chunk_indexes returned no number');
  const table = chunkIndexTable(readNumber(inserted, 'number'));
  createChunkIndexTable(database, table);
  database
    .prepare(
      `INSERT INTO ${table} (rowid, text, store)
       SELECT chunk.id, chunk.text, store.sequence FROM vector_store_chunks AS chunk
       JOIN vector_stores AS store ON store.id = chunk.vector_store_id
       WHERE store.owner = ?`,
    )
    .run(owner);
  return table;
}

/**
 * The FTS5 expression for chunks of the given stores (by sequence) matching `words` (an
 * expression of fts5Query) in their text. The column filters keep a query word from matching a
 * store number and the store numbers from matching text.
 */
export function chunkIndexMatch(storeSequences: readonly number[], words: string): string {
  return `{store} : (${storeSequences.map((sequence) => `"${sequence}"`).join(' OR ')}) AND {text} : (${words})`;
}

/**
 * Statements on owners' index tables, prepared once per table. The SQL is fixed but for the
 * table name, which comes from chunkIndexTable, never from a request.
 */
export class SqliteChunkIndexStatements {
  private readonly database: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();

  constructor(database: DatabaseSync) {
    this.database = database;
  }

  /** Indexes the chunks of one file (after they are inserted). */
  addFile(table: string): StatementSync {
    return this.prepared(
      table,
      'addFile',
      `INSERT INTO ${table} (rowid, text, store)
       SELECT chunk.id, chunk.text, ? FROM vector_store_chunks AS chunk WHERE chunk.vector_store_id = ? AND chunk.file_id = ?`,
    );
  }

  /** Takes the chunks of one file out of the index (before they are deleted). */
  removeFile(table: string): StatementSync {
    return this.prepared(
      table,
      'removeFile',
      `DELETE FROM ${table} WHERE rowid IN
         (SELECT id FROM vector_store_chunks WHERE vector_store_id = ? AND file_id = ?)`,
    );
  }

  /** Takes the chunks of one store out of the index (before they are deleted). */
  removeStore(table: string): StatementSync {
    return this.prepared(
      table,
      'removeStore',
      `DELETE FROM ${table} WHERE rowid IN (SELECT id FROM vector_store_chunks WHERE vector_store_id = ?)`,
    );
  }

  /**
   * The best `limit` chunk ids for a chunkIndexMatch expression, best first, ties by id (as the
   * full search orders them). The store column weighs 0, so only the text is scored.
   */
  ranked(table: string): StatementSync {
    return this.prepared(
      table,
      'ranked',
      `SELECT rowid AS id FROM ${table} WHERE ${table} MATCH ? ORDER BY bm25(${table}, 1, 0), rowid LIMIT ?`,
    );
  }

  private prepared(table: string, kind: string, sql: string): StatementSync {
    const key = `${kind} ${table}`;
    let statement = this.statements.get(key);
    if (statement === undefined) {
      statement = this.database.prepare(sql);
      this.statements.set(key, statement);
    }
    return statement;
  }
}
