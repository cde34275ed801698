import type { PoolClient } from 'pg';
import { postgresKeywordIndexMigration } from './postgres-keyword-index-migration.ts';
import { postgresVectorStoreMigration } from './postgres-vector-store-migration.ts';

/** One schema change. Versions only grow; a released step is never edited, only followed. */
export interface PostgresMigration {
  version: number;
  name: string;
  sql: string;
}

export const postgresMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'responses and their items',
    sql: `
      CREATE TABLE responses (
        id text PRIMARY KEY,
        owner text NOT NULL,
        created_at bigint NOT NULL,
        status text NOT NULL CHECK (status IN ('queued', 'in_progress', 'completed', 'failed', 'incomplete', 'cancelled')),
        previous_response_id text,
        response jsonb NOT NULL
      );
      -- failInterrupted scans only the few responses still running.
      CREATE INDEX responses_running ON responses (created_at) WHERE status IN ('queued', 'in_progress');

      -- Item ids come from clients too (a client may resend the same msg_ id), so an item is keyed
      -- by where it sits, and "sequence" orders recordings for findItem.
      CREATE TABLE response_items (
        response_id text NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
        kind text NOT NULL CHECK (kind IN ('input', 'output')),
        position integer NOT NULL,
        sequence bigint GENERATED ALWAYS AS IDENTITY,
        owner text NOT NULL,
        item_id text NOT NULL,
        item jsonb NOT NULL,
        PRIMARY KEY (response_id, kind, position)
      );
      CREATE INDEX response_items_by_item_id ON response_items (owner, item_id, sequence DESC);
    `,
  },
  {
    version: 2,
    name: 'documents and item ids as JSON text',
    // jsonb rejects \u0000 in strings (user text can hold one) and re-sorts object keys; json
    // keeps the text, but its operators (->> and the rest) fail on \u0000 too. So the documents
    // are the JSON.stringify text, kept and returned byte for byte, and SQL never looks inside.
    // item_id holds JSON.stringify(id) likewise: ids come from clients, and a text value cannot
    // hold NUL. Rows stored as jsonb come out with jsonb's key order, which is already lost.
    sql: `
      ALTER TABLE responses ALTER COLUMN response TYPE text USING response::text;
      ALTER TABLE response_items ALTER COLUMN item TYPE text USING item::text;
      UPDATE response_items SET item_id = to_json(item_id)::text;
    `,
  },
  {
    version: 3,
    name: 'conversations and prompts',
    // Documents (metadata, items, prompt bodies) and item ids are JSON text, as migration 2
    // made them for responses; so is a prompt's name, which a client chooses and may hold NUL.
    sql: `
      -- next_position only grows, so an item deleted from the middle or the end never gives its
      -- place (and its order among the others) to a later one. appendItems takes it with an
      -- UPDATE, whose row lock queues racing appends on one conversation.
      CREATE TABLE conversations (
        id text PRIMARY KEY,
        owner text NOT NULL,
        created_at bigint NOT NULL,
        metadata text NOT NULL,
        next_position integer NOT NULL
      );

      -- Item ids are unique within a conversation (ItemIdConflictError): getItem, deleteItem and
      -- the paging cursors name an item by its id.
      CREATE TABLE conversation_items (
        conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        position integer NOT NULL,
        owner text NOT NULL,
        item_id text NOT NULL,
        item text NOT NULL,
        PRIMARY KEY (conversation_id, position)
      );
      CREATE UNIQUE INDEX conversation_items_by_item_id ON conversation_items (conversation_id, item_id);

      -- "sequence" orders prompts created in the same second as they came.
      CREATE TABLE prompts (
        id text PRIMARY KEY,
        sequence bigint GENERATED ALWAYS AS IDENTITY,
        owner text NOT NULL,
        name text,
        created_at bigint NOT NULL,
        default_version integer NOT NULL,
        latest_version integer NOT NULL
      );
      CREATE INDEX prompts_by_owner ON prompts (owner, created_at, sequence);

      CREATE TABLE prompt_versions (
        prompt_id text NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
        version integer NOT NULL,
        created_at bigint NOT NULL,
        body text NOT NULL,
        PRIMARY KEY (prompt_id, version)
      );
    `,
  },
  {
    version: 4,
    name: 'background requests and their events',
    // Request and events are JSON text, as migration 2 made documents.
    sql: `
      -- A background response's request, kept so a restarted replica can run it again. Deleting
      -- the response deletes it, and its events with it. "sequence" orders responses created in
      -- the same second for listUnfinished. last_event_at starts at created_at and moves with
      -- every appendEvents: the terminal event is the last one a worker appends, so it tells
      -- prune when the response ended without reading the document.
      CREATE TABLE background_requests (
        response_id text PRIMARY KEY REFERENCES responses (id) ON DELETE CASCADE,
        sequence bigint GENERATED ALWAYS AS IDENTITY,
        owner text NOT NULL,
        request text NOT NULL,
        created_at bigint NOT NULL,
        last_event_at bigint NOT NULL,
        cancel_requested boolean NOT NULL DEFAULT false
      );
      CREATE INDEX background_requests_by_last_event ON background_requests (last_event_at);

      -- The stream events clients replay; a repeated sequence number is a primary-key error.
      CREATE TABLE background_events (
        response_id text NOT NULL REFERENCES background_requests (response_id) ON DELETE CASCADE,
        sequence integer NOT NULL,
        event text NOT NULL,
        PRIMARY KEY (response_id, sequence)
      );
    `,
  },
  {
    version: 10,
    name: 'files, uploads and upload parts',
    // Documents and client-chosen names are JSON text, as migration 2 made them.
    sql: `
      -- Bytes live in the blob store under blob_key; these rows are the metadata. "sequence"
      -- orders files created in the same second. filename is JSON text (nameText): a text value
      -- cannot hold the NUL a client may put in a name. expires_at NULL: kept until deleted.
      CREATE TABLE files (
        id text PRIMARY KEY,
        sequence bigint GENERATED ALWAYS AS IDENTITY,
        owner text NOT NULL,
        created_at bigint NOT NULL,
        bytes bigint NOT NULL,
        filename text NOT NULL,
        purpose text NOT NULL,
        mime_type text,
        expires_at bigint,
        blob_key text NOT NULL
      );
      CREATE INDEX files_by_owner ON files (owner, created_at, sequence);
      CREATE INDEX files_by_expiry ON files (expires_at) WHERE expires_at IS NOT NULL;

      CREATE TABLE uploads (
        id text PRIMARY KEY,
        owner text NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        filename text NOT NULL,
        purpose text NOT NULL,
        bytes bigint NOT NULL,
        mime_type text NOT NULL,
        file_expires_after bigint,
        status text NOT NULL CHECK (status IN ('pending', 'completed', 'cancelled')),
        file_id text
      );
      CREATE INDEX uploads_by_expiry ON uploads (expires_at);

      -- "sequence" keeps the order parts were added in; completion takes the order the client gives.
      CREATE TABLE upload_parts (
        id text PRIMARY KEY,
        sequence bigint GENERATED ALWAYS AS IDENTITY,
        upload_id text NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
        created_at bigint NOT NULL,
        bytes bigint NOT NULL,
        blob_key text NOT NULL
      );
      CREATE INDEX upload_parts_by_upload ON upload_parts (upload_id, sequence);
    `,
  },
  postgresVectorStoreMigration,
  postgresKeywordIndexMigration,
];

/**
 * A fixed key for pg_advisory_xact_lock: every replica that starts migrates under the same lock,
 * so they queue instead of racing to create the same tables. (The bytes spell "riposte".)
 */
const migrationLockKey = 0x7269706f737465n;

/**
 * Applies the steps not yet recorded in schema_migrations, all in one transaction holding the
 * migration lock: a replica that waited finds them recorded and applies nothing. Tables go into
 * the first schema of the connection's search_path.
 */
export async function migratePostgres(
  client: PoolClient,
  migrations: readonly PostgresMigration[] = postgresMigrations,
): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [migrationLockKey.toString()]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const result = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(result.rows.map((row) => row.version));
    for (const migration of [...migrations].sort((left, right) => left.version - right.version)) {
      if (applied.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
    }
    await client.query('COMMIT');
  } catch (error) {
    // The first error is the one worth reporting; a connection that broke cannot roll back.
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
