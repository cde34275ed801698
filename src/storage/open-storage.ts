import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { openSqliteStorage } from './sqlite/sqlite-storage.ts';
import type { Storage } from './stores.ts';

export interface OpenStorageOptions {
  /** A postgres:// or postgresql:// URL, or null for the embedded SQLite file. */
  databaseUrl: string | null;
  /** Where the SQLite file `riposte.sqlite` lives (created when missing). */
  dataDirectory: string;
}

/**
 * Opens the configured storage: PostgreSQL when a database URL is set, otherwise SQLite. The
 * PostgreSQL store (and `pg`) is loaded only then, so an embedded server does not carry it.
 */
export async function openStorage(options: OpenStorageOptions): Promise<Storage> {
  if (options.databaseUrl !== null && options.databaseUrl !== '') {
    if (!/^postgres(ql)?:\/\//i.test(options.databaseUrl)) {
      // Only the scheme is quoted: the rest of the URL may hold a password.
      const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(options.databaseUrl)?.[0] ?? 'none';
      throw new Error(`Unsupported database URL scheme '${scheme}': use postgres:// or postgresql://.`);
    }
    const { openPostgresStorage } = await import('./postgres/postgres-storage.ts');
    return openPostgresStorage({ url: options.databaseUrl });
  }
  await mkdir(options.dataDirectory, { recursive: true });
  return openSqliteStorage({ path: path.join(options.dataDirectory, 'riposte.sqlite') });
}
