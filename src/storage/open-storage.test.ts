import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openStorage } from './open-storage.ts';

void test('without a database URL, openStorage creates the data directory and riposte.sqlite in it', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'riposte-open-'));
  try {
    const dataDirectory = path.join(root, 'not', 'yet', 'there');
    const storage = await openStorage({ databaseUrl: null, dataDirectory });
    try {
      assert.equal(storage.kind, 'sqlite');
      assert.equal(storage.location, path.join(dataDirectory, 'riposte.sqlite'));
      assert.ok(existsSync(storage.location));
    } finally {
      await storage.close();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

void test('a postgres:// or postgresql:// URL selects PostgreSQL (here unreachable, so opening fails)', async () => {
  for (const scheme of ['postgres', 'postgresql']) {
    await assert.rejects(
      openStorage({ databaseUrl: `${scheme}://riposte@127.0.0.1:1/riposte`, dataDirectory: '/nonexistent' }),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(String((error as NodeJS.ErrnoException).code), /ECONNREFUSED/);
        return true;
      },
    );
  }
});

void test('another URL scheme is refused without echoing the URL', async () => {
  await assert.rejects(
    openStorage({ databaseUrl: 'mysql://user:hunter2@db/riposte', dataDirectory: '/nonexistent' }),
    (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /mysql:/);
      assert.equal(error.message.includes('hunter2'), false);
      return true;
    },
  );
});
