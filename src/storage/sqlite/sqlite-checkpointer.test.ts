import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { SqliteCheckpointer } from './sqlite-checkpointer.ts';

test('the worker, not the writing connection, copies the WAL into the database file', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'riposte-checkpoint-'));
  const path = join(directory, 'riposte.sqlite');
  const database = new DatabaseSync(path);
  try {
    database.exec('PRAGMA journal_mode = WAL');
    database.exec('CREATE TABLE rows (body TEXT NOT NULL)');
    const checkpointer = new SqliteCheckpointer(database, path);
    assert.deepEqual({ ...database.prepare('PRAGMA wal_autocheckpoint').get() }, { wal_autocheckpoint: 0 });
    const insert = database.prepare('INSERT INTO rows (body) VALUES (?)');
    // ~4 MB through the WAL: well past the 1,000 pages at which the connection itself would
    // have checkpointed.
    for (let index = 0; index < 2000; index++) insert.run('x'.repeat(2000));
    const written = statSync(path).size;
    assert.ok(written < 1_000_000, `the writer checkpointed by itself (${written} bytes in the file)`);
    const deadline = Date.now() + 10_000;
    while (statSync(path).size < 4_000_000 && Date.now() < deadline) await delay(50);
    assert.ok(statSync(path).size >= 4_000_000, 'the worker checkpointed the WAL into the file');
    await checkpointer.stop();
    await checkpointer.stop();
    assert.equal(database.prepare('SELECT count(*) AS n FROM rows').get()?.n, 2000);
  } finally {
    database.close();
    rmSync(directory, { recursive: true, force: true });
  }
});
