/* eslint-disable @typescript-eslint/no-floating-promises -- node:test's describe() and test() return promises the runner itself awaits, as in the *.test.ts files. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import type { BlobStore } from './blob-store.ts';

/** A store under test and how to dispose of it. */
export interface OpenedBlobStore {
  store: BlobStore;
  close(): Promise<void>;
}

export async function readAll(stream: Readable | null): Promise<Buffer> {
  assert.ok(stream);
  return buffer(stream);
}

export async function* chunksOf(...parts: string[]): AsyncIterable<Buffer> {
  for (const part of parts) yield Buffer.from(part);
}

/** `count` chunks of 1 MiB, each filled with its index, failing after them when `failAfter`. */
async function* megabytes(count: number, failAfter = false): AsyncIterable<Buffer> {
  for (let index = 0; index < count; index++) yield Buffer.alloc(1024 * 1024, index);
  if (failAfter) throw new Error('client went away');
}

async function* failing(): AsyncIterable<Buffer> {
  yield Buffer.from('partial');
  throw new Error('client went away');
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/**
 * The behaviour every BlobStore must have, run against each implementation so that they are
 * interchangeable. `open` is called once for the suite.
 */
export function describeBlobStoreContract(name: string, open: () => Promise<OpenedBlobStore>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let opened: OpenedBlobStore;
    let blobs: BlobStore;
    before(async () => {
      opened = await open();
      blobs = opened.store;
    });
    after(async () => opened.close());

    test('put a buffer or a stream, then get, exists and delete', async () => {
      const result = await blobs.put('files/file-abc', Buffer.from('hello'));
      assert.equal(result.bytes, 5);
      if (result.sha256 !== undefined) assert.equal(result.sha256, sha256('hello'));
      assert.equal((await readAll(await blobs.get('files/file-abc'))).toString(), 'hello');

      assert.equal((await blobs.put('uploads/upload_1/part_1', chunksOf('ab', 'cd', ''))).bytes, 4);
      assert.equal((await readAll(await blobs.get('uploads/upload_1/part_1'))).toString(), 'abcd');

      assert.equal(await blobs.exists('files/file-abc'), true);
      assert.equal(await blobs.delete('files/file-abc'), true);
      assert.equal(await blobs.exists('files/file-abc'), false);
      assert.equal(await blobs.delete('files/file-abc'), false);
      assert.equal(await blobs.get('files/file-abc'), null);
    });

    test('a missing key: get is null, exists false, delete false (and never throws)', async () => {
      assert.equal(await blobs.get('files/never'), null);
      assert.equal(await blobs.exists('files/never'), false);
      assert.equal(await blobs.delete('files/never'), false);
      assert.equal(await blobs.delete('files/never'), false);
    });

    test('an empty blob', async () => {
      assert.equal((await blobs.put('files/empty', Buffer.alloc(0))).bytes, 0);
      assert.equal((await readAll(await blobs.get('files/empty'))).length, 0);
      assert.equal((await blobs.put('files/empty-stream', chunksOf())).bytes, 0);
      assert.equal(await blobs.exists('files/empty-stream'), true);
    });

    test('a multi-megabyte stream round-trips byte for byte', async () => {
      const expected = Buffer.concat(Array.from({ length: 12 }, (_, index) => Buffer.alloc(1024 * 1024, index)));
      const result = await blobs.put('files/file-big', megabytes(12));
      assert.equal(result.bytes, expected.length);
      if (result.sha256 !== undefined) assert.equal(result.sha256, sha256(expected));
      const read = await readAll(await blobs.get('files/file-big'));
      assert.equal(read.length, expected.length);
      assert.ok(read.equals(expected));
      assert.equal(await blobs.delete('files/file-big'), true);
    });

    test('keys with slashes are distinct from their prefixes and siblings', async () => {
      await blobs.put('uploads/upload_9/part_1', Buffer.from('one'));
      await blobs.put('uploads/upload_9/part_2', Buffer.from('two'));
      await blobs.put('uploads/upload_9.b', Buffer.from('three'));
      assert.equal(await blobs.exists('uploads/upload_9'), false);
      assert.equal(await blobs.get('uploads/upload_9'), null);
      assert.equal((await readAll(await blobs.get('uploads/upload_9/part_2'))).toString(), 'two');
      assert.equal(await blobs.delete('uploads/upload_9/part_1'), true);
      assert.equal((await readAll(await blobs.get('uploads/upload_9/part_2'))).toString(), 'two');
      assert.equal((await readAll(await blobs.get('uploads/upload_9.b'))).toString(), 'three');
    });

    test('a second put replaces the blob', async () => {
      await blobs.put('files/replaced', Buffer.from('first'));
      await blobs.put('files/replaced', chunksOf('second'));
      assert.equal((await readAll(await blobs.get('files/replaced'))).toString(), 'second');
    });

    test('a stream that fails leaves nothing under the key and the old blob intact', async () => {
      await blobs.put('files/kept', Buffer.from('old'));
      await assert.rejects(blobs.put('files/never-written', failing()), /client went away/);
      await assert.rejects(blobs.put('files/kept', failing()), /client went away/);
      // After several megabytes: past the first part of a multipart upload.
      await assert.rejects(blobs.put('files/never-written-big', megabytes(10, true)), /client went away/);
      await assert.rejects(blobs.put('files/kept', megabytes(10, true)), /client went away/);
      assert.equal(await blobs.exists('files/never-written'), false);
      assert.equal(await blobs.exists('files/never-written-big'), false);
      assert.equal((await readAll(await blobs.get('files/kept'))).toString(), 'old');
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
        await assert.rejects(blobs.exists(key), TypeError, key);
        await assert.rejects(blobs.delete(key), TypeError, key);
      }
    });
  });
}
