import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { describeStoreContract } from '../store-contract.ts';
import { sqliteMigrations } from './migrations.ts';
import { openSqliteStorage } from './sqlite-storage.ts';

const directory = await mkdtemp(path.join(tmpdir(), 'riposte-sqlite-'));
const databasePath = path.join(directory, 'riposte.sqlite');

describeStoreContract(
  'SQLite storage',
  () => openSqliteStorage({ path: databasePath }),
  () => rm(directory, { recursive: true, force: true }),
);

void test('SQLite storage keeps a WAL journal, records its migrations and reports its file', async () => {
  const own = await mkdtemp(path.join(tmpdir(), 'riposte-sqlite-'));
  try {
    const file = path.join(own, 'riposte.sqlite');
    const storage = await openSqliteStorage({ path: file });
    assert.equal(storage.kind, 'sqlite');
    assert.equal(storage.location, file);
    await storage.close();
    // Opening again must not re-apply a step.
    await (await openSqliteStorage({ path: file })).close();

    const database = new DatabaseSync(file);
    try {
      assert.deepEqual({ ...database.prepare('PRAGMA journal_mode').get() }, { journal_mode: 'wal' });
      const versions = database
        .prepare('SELECT version FROM schema_migrations ORDER BY version')
        .all()
        .map((row) => row.version);
      assert.deepEqual(
        versions,
        sqliteMigrations.map((migration) => migration.version),
      );
    } finally {
      database.close();
    }
  } finally {
    await rm(own, { recursive: true, force: true });
  }
});
