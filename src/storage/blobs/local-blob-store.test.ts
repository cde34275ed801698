import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { describeBlobStoreContract } from './blob-store-contract.ts';
import { LocalBlobStore } from './local-blob-store.ts';

describeBlobStoreContract('LocalBlobStore', async () => {
  const directory = await mkdtemp(path.join(tmpdir(), 'riposte-blobs-'));
  return {
    store: new LocalBlobStore(path.join(directory, 'blobs')),
    close: async () => rm(directory, { recursive: true, force: true }),
  };
});

test('LocalBlobStore: the SHA-256 is computed as it writes, and a failed put leaves no temporary file', async () => {
  const directory = await mkdtemp(path.join(tmpdir(), 'riposte-blobs-'));
  try {
    const blobs = new LocalBlobStore(path.join(directory, 'blobs'));
    assert.deepEqual(await blobs.put('files/file-abc', Buffer.from('hello')), {
      bytes: 5,
      sha256: createHash('sha256').update('hello').digest('hex'),
    });
    async function* failing(): AsyncIterable<Buffer> {
      yield Buffer.from('partial');
      throw new Error('client went away');
    }
    await assert.rejects(blobs.put('files/never-written', failing()), /client went away/);
    assert.deepEqual(await readdir(path.join(blobs.root, '.partial')), []);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
