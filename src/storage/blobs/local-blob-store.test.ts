import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { LocalBlobStore } from './local-blob-store.ts';

let directory: string;
let blobs: LocalBlobStore;

before(async () => {
  directory = await mkdtemp(path.join(tmpdir(), 'riposte-blobs-'));
  blobs = new LocalBlobStore(path.join(directory, 'blobs'));
});
after(async () => rm(directory, { recursive: true, force: true }));

async function readAll(stream: Readable | null): Promise<Buffer> {
  assert.ok(stream);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function* chunksOf(...parts: string[]): AsyncIterable<Buffer> {
  for (const part of parts) yield Buffer.from(part);
}

test('put a buffer or a stream, then get, exists and delete', async () => {
  const result = await blobs.put('files/file-abc', Buffer.from('hello'));
  assert.deepEqual(result, { bytes: 5, sha256: createHash('sha256').update('hello').digest('hex') });
  assert.equal((await readAll(await blobs.get('files/file-abc'))).toString(), 'hello');

  assert.equal((await blobs.put('uploads/upload_1/part_1', chunksOf('ab', 'cd', ''))).bytes, 4);
  assert.equal((await readAll(await blobs.get('uploads/upload_1/part_1'))).toString(), 'abcd');

  assert.equal(await blobs.exists('files/file-abc'), true);
  assert.equal(await blobs.delete('files/file-abc'), true);
  assert.equal(await blobs.exists('files/file-abc'), false);
  assert.equal(await blobs.delete('files/file-abc'), false);
  assert.equal(await blobs.get('files/file-abc'), null);
  assert.equal(await blobs.get('files/never'), null);
});

test('a second put replaces the blob', async () => {
  await blobs.put('files/replaced', Buffer.from('first'));
  await blobs.put('files/replaced', chunksOf('second'));
  assert.equal((await readAll(await blobs.get('files/replaced'))).toString(), 'second');
});

test('a stream that fails leaves nothing under the key and no temporary file', async () => {
  await blobs.put('files/kept', Buffer.from('old'));
  async function* failing(): AsyncIterable<Buffer> {
    yield Buffer.from('partial');
    throw new Error('client went away');
  }
  await assert.rejects(blobs.put('files/never-written', failing()), /client went away/);
  await assert.rejects(blobs.put('files/kept', failing()), /client went away/);
  assert.equal(await blobs.exists('files/never-written'), false);
  assert.equal((await readAll(await blobs.get('files/kept'))).toString(), 'old');
  assert.deepEqual(await readdir(path.join(blobs.root, '.partial')), []);
});

test('keys outside the safe alphabet are refused', async () => {
  for (const key of [
    '../escape',
    'files/../../etc',
    '/absolute',
    '',
    'a//b',
    '.partial/x',
    'spaces here',
    'nul\u0000',
  ]) {
    await assert.rejects(blobs.put(key, Buffer.from('x')), TypeError, key);
    await assert.rejects(blobs.get(key), TypeError, key);
  }
});
