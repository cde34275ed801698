import { DatabaseSync } from 'node:sqlite';
import * as sqliteVec from 'sqlite-vec';
import type { Storage } from '../stores.ts';
import { migrateSqlite } from './migrations.ts';
import { SqliteBackgroundStore } from './sqlite-background-store.ts';
import { SqliteFileStore } from './sqlite-file-store.ts';
import { SqliteUploadStore } from './sqlite-upload-store.ts';
import { SqliteVectorStoreStore } from './sqlite-vector-store-store.ts';
import { SqliteConversationStore } from './sqlite-conversation-store.ts';
import { SqlitePromptStore } from './sqlite-prompt-store.ts';
import { SqliteResponseStore } from './sqlite-response-store.ts';
import { SqliteCheckpointer } from './sqlite-checkpointer.ts';
import { SqliteWriteBatch } from './sqlite-write-batch.ts';

export interface SqliteStorageOptions {
  /** The database file (created when missing). */
  path: string;
}

/**
 * Opens (or creates) the SQLite database and brings its schema up to date. One connection serves
 * the whole process: node:sqlite is synchronous, so a pool would buy nothing.
 */
export async function openSqliteStorage(options: SqliteStorageOptions): Promise<Storage> {
  const database = new DatabaseSync(options.path, { enableForeignKeyConstraints: true, allowExtension: true });
  const supportsVectors = loadSqliteVec(database);
  try {
    // WAL lets readers run beside the one writer; NORMAL is durable across a process crash (only
    // a power loss can drop the last commits), and it saves an fsync on every commit of the hot
    // path. busy_timeout makes a second process wait for the write lock instead of failing.
    database.exec('PRAGMA journal_mode = WAL');
    database.exec('PRAGMA synchronous = NORMAL');
    database.exec('PRAGMA busy_timeout = 5000');
    database.exec('PRAGMA foreign_keys = ON');
    // Vector-store searches read chunk rows (text beside a float32 vector, several pages each)
    // and index pages scattered over the file; through the default 2 MB page cache every search
    // copied them in again with read(). Mapped, they are read in place from the OS page cache —
    // at 100k chunks the scope check of every keyword match fell from ~350 ms to ~95 ms. This
    // reserves address space, not memory.
    database.exec('PRAGMA mmap_size = 1073741824');
    migrateSqlite(database);
  } catch (error) {
    database.close();
    throw error;
  }
  const writes = new SqliteWriteBatch(database);
  const checkpointer = options.path === ':memory:' ? null : new SqliteCheckpointer(database, options.path);
  let closed = false;
  return {
    kind: 'sqlite',
    location: options.path,
    responses: new SqliteResponseStore(database, writes),
    conversations: new SqliteConversationStore(database),
    prompts: new SqlitePromptStore(database),
    background: new SqliteBackgroundStore(database),
    files: new SqliteFileStore(database),
    uploads: new SqliteUploadStore(database),
    vectorStores: new SqliteVectorStoreStore(database, supportsVectors),
    async close() {
      if (closed) return;
      closed = true;
      // Writes still waiting for their batch are committed, not lost.
      writes.flush();
      await checkpointer?.stop();
      database.close();
    },
  };
}

/**
 * Loads sqlite-vec for vector search; without it (no build for this platform, or a SQLite that
 * refuses extensions) vector stores search by keyword alone. Loading is switched off again
 * afterwards so nothing else can load code into the process through this connection.
 */
function loadSqliteVec(database: DatabaseSync): boolean {
  try {
    database.loadExtension(sqliteVec.getLoadablePath());
    return true;
  } catch {
    return false;
  } finally {
    database.enableLoadExtension(false);
  }
}
