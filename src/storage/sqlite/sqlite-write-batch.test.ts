import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { SqliteWriteBatch } from './sqlite-write-batch.ts';

function database(): DatabaseSync {
  const opened = new DatabaseSync(':memory:');
  opened.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE)');
  return opened;
}

const texts = (opened: DatabaseSync): string[] =>
  opened
    .prepare('SELECT text FROM notes ORDER BY id')
    .all()
    .map((row) => String(row.text));

describe('SqliteWriteBatch', () => {
  it('commits the writes of one turn in one transaction, resolving each with its result', async (context) => {
    const directory = mkdtempSync(path.join(tmpdir(), 'riposte-write-batch-'));
    context.after(() => rmSync(directory, { recursive: true, force: true }));
    const file = path.join(directory, 'notes.sqlite');
    const opened = new DatabaseSync(file);
    opened.exec('PRAGMA journal_mode = WAL');
    opened.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE)');
    const reader = new DatabaseSync(file);
    context.after(() => {
      reader.close();
      opened.close();
    });
    const batch = new SqliteWriteBatch(opened);
    const insert = opened.prepare('INSERT INTO notes (text) VALUES (?)');
    const committedBefore: number[] = [];
    const write = (text: string): Promise<number> =>
      batch.run(() => {
        // Another connection sees only what is committed: nothing, while the batch is open.
        committedBefore.push(Number(reader.prepare('SELECT count(*) AS count FROM notes').get()!.count));
        return Number(insert.run(text).lastInsertRowid);
      });
    const results = await Promise.all([write('a'), write('b'), write('c')]);
    assert.deepEqual(results, [1, 2, 3]);
    assert.deepEqual(committedBefore, [0, 0, 0]);
    assert.deepEqual(texts(reader), ['a', 'b', 'c']);
    assert.equal(opened.isTransaction, false);
  });

  it('undoes and fails only the write that throws; the others commit', async () => {
    const opened = database();
    const batch = new SqliteWriteBatch(opened);
    const insert = opened.prepare('INSERT INTO notes (text) VALUES (?)');
    const outcomes = await Promise.allSettled([
      batch.run(() => insert.run('first')),
      batch.run(() => {
        insert.run('half of a failed write');
        insert.run('first'); // UNIQUE violation
      }),
      batch.run(() => {
        throw new Error('refused');
      }),
      batch.run(() => insert.run('last')),
    ]);
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['fulfilled', 'rejected', 'rejected', 'fulfilled'],
    );
    assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /UNIQUE/);
    assert.match(String((outcomes[2] as PromiseRejectedResult).reason), /refused/);
    assert.deepEqual(texts(opened), ['first', 'last']);
    assert.equal(opened.isTransaction, false);
  });

  it('rolls a lone failing write back', async () => {
    const opened = database();
    const batch = new SqliteWriteBatch(opened);
    const insert = opened.prepare('INSERT INTO notes (text) VALUES (?)');
    await assert.rejects(
      batch.run(() => {
        insert.run('kept?');
        throw new Error('no');
      }),
      /no/,
    );
    assert.deepEqual(texts(opened), []);
    assert.equal(opened.isTransaction, false);
  });

  it('fails every write of a batch whose transaction cannot start', async () => {
    const opened = database();
    const batch = new SqliteWriteBatch(opened);
    opened.exec('BEGIN');
    const outcomes = await Promise.allSettled([batch.run(() => 1), batch.run(() => 2)]);
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['rejected', 'rejected'],
    );
    opened.exec('ROLLBACK');
  });

  it('flush commits what is queued at once', async () => {
    const opened = database();
    const batch = new SqliteWriteBatch(opened);
    const pending = batch.run(() => opened.prepare("INSERT INTO notes (text) VALUES ('now')").run());
    batch.flush();
    assert.deepEqual(texts(opened), ['now']);
    await pending;
  });
});
