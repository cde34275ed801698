import pg from 'pg';
import type { Storage } from '../stores.ts';
import { migratePostgres } from './migrations.ts';
import { PostgresBackgroundStore } from './postgres-background-store.ts';
import { PostgresFileStore } from './postgres-file-store.ts';
import { PostgresUploadStore } from './postgres-upload-store.ts';
import { enablePgvector, PostgresVectorStoreStore } from './postgres-vector-store-store.ts';
import { PostgresConversationStore } from './postgres-conversation-store.ts';
import { PostgresPromptStore } from './postgres-prompt-store.ts';
import { PostgresResponseStore } from './postgres-response-store.ts';

export interface PostgresStorageOptions {
  /**
   * A postgres:// or postgresql:// URL. Tables live in the first schema of the search_path; set
   * another with `?options=-c%20search_path%3Dname`.
   */
  url: string;
}

/**
 * Connects a pool and brings the schema up to date before returning, so an unreachable server
 * or a failed migration fails the start-up rather than the first request.
 */
export async function openPostgresStorage(options: PostgresStorageOptions): Promise<Storage> {
  const pool = new pg.Pool({ connectionString: options.url, connectionTimeoutMillis: 10_000 });
  // An idle client whose connection drops emits 'error' on the pool, and an unhandled 'error'
  // event would end the process; the pool has already discarded that client and the next query
  // opens a fresh connection, so there is nothing left to do here.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    try {
      await migratePostgres(client);
      client.release();
    } catch (error) {
      client.release(true);
      throw error;
    }
  } catch (error) {
    await pool.end();
    throw error;
  }
  let supportsVectors: boolean;
  try {
    supportsVectors = await enablePgvector(pool);
  } catch (error) {
    await pool.end();
    throw error;
  }
  let closed = false;
  return {
    kind: 'postgres',
    location: describePostgresLocation(options.url),
    responses: new PostgresResponseStore(pool),
    conversations: new PostgresConversationStore(pool),
    prompts: new PostgresPromptStore(pool),
    background: new PostgresBackgroundStore(pool),
    files: new PostgresFileStore(pool),
    uploads: new PostgresUploadStore(pool),
    vectorStores: new PostgresVectorStoreStore(pool, supportsVectors),
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/**
 * The URL without its secrets, for the start-up banner: no password, and of the query only the
 * `host` (a socket directory) is kept, since other parameters may carry keys or passwords.
 */
export function describePostgresLocation(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'postgres (unparsable URL)';
  }
  parsed.password = '';
  const host = parsed.searchParams.get('host');
  parsed.search = '';
  if (host !== null) parsed.searchParams.set('host', host);
  return parsed.toString();
}
