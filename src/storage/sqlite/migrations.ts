import type { DatabaseSync } from 'node:sqlite';
import { sqliteVectorStoreIndexMigration, sqliteVectorStoreMigration } from './sqlite-vector-store-migration.ts';

/** One schema change. Versions only grow; a released step is never edited, only followed. */
export interface SqliteMigration {
  version: number;
  name: string;
  sql: string;
  /** Runs after `sql`, in the same transaction, for a step SQL alone cannot say (tables named by data). */
  apply?: (database: DatabaseSync) => void;
}

export const sqliteMigrations: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'responses and their items',
    sql: `
      CREATE TABLE responses (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued', 'in_progress', 'completed', 'failed', 'incomplete', 'cancelled')),
        previous_response_id TEXT,
        response TEXT NOT NULL
      );
      -- failInterrupted scans only the few responses still running.
      CREATE INDEX responses_running ON responses (created_at) WHERE status IN ('queued', 'in_progress');

      -- Item ids come from clients too (a client may resend the same msg_ id), so an item is keyed
      -- by where it sits, and "sequence" (a rowid alias, so VACUUM keeps it) orders recordings.
      CREATE TABLE response_items (
        sequence INTEGER PRIMARY KEY,
        response_id TEXT NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('input', 'output')),
        position INTEGER NOT NULL,
        owner TEXT NOT NULL,
        item_id TEXT NOT NULL,
        item TEXT NOT NULL
      );
      CREATE UNIQUE INDEX response_items_by_place ON response_items (response_id, kind, position);
      CREATE INDEX response_items_by_item_id ON response_items (owner, item_id, sequence);
    `,
  },
  {
    version: 2,
    name: 'conversations and prompts',
    sql: `
      -- next_position only grows, so an item deleted from the middle or the end never gives its
      -- place (and its order among the others) to a later one.
      CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        metadata TEXT NOT NULL,
        next_position INTEGER NOT NULL
      );

      -- Item ids are unique within a conversation (ItemIdConflictError): getItem, deleteItem and
      -- the paging cursors name an item by its id.
      CREATE TABLE conversation_items (
        conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        owner TEXT NOT NULL,
        item_id TEXT NOT NULL,
        item TEXT NOT NULL,
        PRIMARY KEY (conversation_id, position)
      );
      CREATE UNIQUE INDEX conversation_items_by_item_id ON conversation_items (conversation_id, item_id);

      -- "sequence" (a rowid alias) orders prompts created in the same second as they came.
      CREATE TABLE prompts (
        sequence INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        owner TEXT NOT NULL,
        name TEXT,
        created_at INTEGER NOT NULL,
        default_version INTEGER NOT NULL,
        latest_version INTEGER NOT NULL
      );
      CREATE INDEX prompts_by_owner ON prompts (owner, created_at, sequence);

      CREATE TABLE prompt_versions (
        prompt_id TEXT NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (prompt_id, version)
      );
    `,
  },
  {
    version: 3,
    name: 'background requests and their events',
    sql: `
      -- A background response's request, kept so a restarted process can run it again. Deleting
      -- the response deletes it, and its events with it. "sequence" (a rowid alias) orders
      -- responses created in the same second for listUnfinished. last_event_at starts at
      -- created_at and moves with every appendEvents: the terminal event is the last one a
      -- worker appends, so it tells prune when the response ended without reading the document.
      CREATE TABLE background_requests (
        sequence INTEGER PRIMARY KEY,
        response_id TEXT NOT NULL UNIQUE REFERENCES responses (id) ON DELETE CASCADE,
        owner TEXT NOT NULL,
        request TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_event_at INTEGER NOT NULL,
        cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1))
      );
      CREATE INDEX background_requests_by_last_event ON background_requests (last_event_at);

      -- The stream events clients replay; a repeated sequence number is a primary-key error.
      CREATE TABLE background_events (
        response_id TEXT NOT NULL REFERENCES background_requests (response_id) ON DELETE CASCADE,
        sequence INTEGER NOT NULL,
        event TEXT NOT NULL,
        PRIMARY KEY (response_id, sequence)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 10,
    name: 'files, uploads and upload parts',
    sql: `
      -- Bytes live in the blob store under blob_key; these rows are the metadata. "sequence" (a
      -- rowid alias) orders files created in the same second. filename is JSON text, as names
      -- a client chooses are (nameText). expires_at NULL: kept until deleted.
      CREATE TABLE files (
        sequence INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        owner TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        filename TEXT NOT NULL,
        purpose TEXT NOT NULL,
        mime_type TEXT,
        expires_at INTEGER,
        blob_key TEXT NOT NULL
      );
      CREATE INDEX files_by_owner ON files (owner, created_at, sequence);
      CREATE INDEX files_by_expiry ON files (expires_at) WHERE expires_at IS NOT NULL;

      CREATE TABLE uploads (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        filename TEXT NOT NULL,
        purpose TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        mime_type TEXT NOT NULL,
        file_expires_after INTEGER,
        status TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'cancelled')),
        file_id TEXT
      );
      CREATE INDEX uploads_by_expiry ON uploads (expires_at);

      -- "sequence" keeps the order parts were added in; completion takes the order the client gives.
      CREATE TABLE upload_parts (
        sequence INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        upload_id TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        blob_key TEXT NOT NULL
      );
      CREATE INDEX upload_parts_by_upload ON upload_parts (upload_id, sequence);
    `,
  },
  sqliteVectorStoreMigration,
  sqliteVectorStoreIndexMigration,
];

/**
 * Applies the steps not yet recorded in schema_migrations, each with its record, in one
 * IMMEDIATE transaction: a second process opening the same file waits (busy_timeout) and then
 * finds everything applied.
 */
export function migrateSqlite(database: DatabaseSync, migrations: readonly SqliteMigration[] = sqliteMigrations): void {
  database.exec('BEGIN IMMEDIATE');
  try {
    database.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    const applied = new Set<number>();
    for (const row of database.prepare('SELECT version FROM schema_migrations').all()) {
      if (typeof row.version === 'number') applied.add(row.version);
    }
    const record = database.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const migration of [...migrations].sort((left, right) => left.version - right.version)) {
      if (applied.has(migration.version)) continue;
      database.exec(migration.sql);
      migration.apply?.(database);
      record.run(migration.version, migration.name, Math.floor(Date.now() / 1000));
    }
    database.exec('COMMIT');
  } catch (error) {
    database.exec('ROLLBACK');
    throw error;
  }
}
