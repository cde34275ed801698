import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ApiError } from '../errors/api-error.ts';
import { LocalBlobStore } from '../storage/blobs/local-blob-store.ts';
import { openSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/stores.ts';
import { createFileId } from './ids.ts';
import { MAX_INPUT_FILE_BYTES, resolveInputFiles, type FileSource } from './resolve-input-files.ts';

let directory: string;
let storage: Storage;
let source: FileSource;

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'riposte-input-files-'));
  storage = await openSqliteStorage({ path: join(directory, 'riposte.sqlite') });
  source = { store: storage.files, blobs: new LocalBlobStore(join(directory, 'blobs')) };
});
after(async () => {
  await storage.close();
  rmSync(directory, { recursive: true, force: true });
});

/** Uploads `bytes` for `owner`; `declaredBytes` lets a test claim a size without writing it. */
async function upload(
  owner: string,
  filename: string,
  bytes: Buffer,
  mimeType: string | null = null,
  declaredBytes = bytes.length,
): Promise<string> {
  const id = createFileId();
  await source.blobs.put(`files/${id}`, bytes);
  await storage.files.create({
    id,
    owner,
    createdAt: Math.floor(Date.now() / 1000),
    bytes: declaredBytes,
    filename,
    purpose: 'user_data',
    mimeType,
    expiresAt: null,
    blobKey: `files/${id}`,
  });
  return id;
}

const userMessage = (...parts: Array<Record<string, unknown>>) => [{ type: 'message', role: 'user', content: parts }];

test('reads each File once, with the declared type or one from its extension', async () => {
  const pdf = await upload('owner-a', 'Report.PDF', Buffer.from('%PDF'));
  const csv = await upload('owner-a', 'data.bin', Buffer.from('a,b'), 'text/csv');
  const files = await resolveInputFiles(
    [
      {
        items: userMessage(
          { type: 'input_file', file_id: pdf },
          { type: 'input_file', file_id: pdf },
          { type: 'input_file', file_id: csv },
        ),
        param: 'input',
        required: true,
      },
    ],
    source,
    'owner-a',
  );
  assert.deepEqual([...files.keys()], [pdf, csv]);
  assert.deepEqual(files.get(pdf), {
    filename: 'Report.PDF',
    mediaType: 'application/pdf',
    dataUrl: 'data:application/pdf;base64,JVBERg==',
  });
  assert.equal(files.get(csv)?.mediaType, 'text/csv');
});

test("another project's File is not found; in an earlier turn it is skipped rather than failing", async () => {
  const theirs = await upload('owner-b', 'secret.txt', Buffer.from('secret'));
  const part = { type: 'input_file', file_id: theirs };
  await assert.rejects(
    resolveInputFiles(
      [{ items: [{ type: 'function_call_output', call_id: 'c', output: [part] }], param: 'input', required: true }],
      source,
      'owner-a',
    ),
    (error: ApiError) => error.status === 400 && error.param === 'input[0].output[0].file_id',
  );
  const files = await resolveInputFiles(
    [{ items: userMessage(part), param: 'conversation', required: false }],
    source,
    'owner-a',
  );
  assert.equal(files.size, 0);
});

test('inline data wins over a file_id; more than the request budget is a 400 naming the part that crossed it', async () => {
  const inline = await resolveInputFiles(
    [
      {
        items: userMessage({ type: 'input_file', file_id: 'file-unknown', file_data: 'data:text/plain;base64,eA==' }),
        param: 'input',
        required: true,
      },
    ],
    source,
    'owner-a',
  );
  assert.equal(inline.size, 0);
  const big = await upload('owner-a', 'big.txt', Buffer.from('x'), null, MAX_INPUT_FILE_BYTES);
  const small = await upload('owner-a', 'small.txt', Buffer.from('y'));
  await assert.rejects(
    resolveInputFiles(
      [
        {
          items: userMessage({ type: 'input_file', file_id: big }, { type: 'input_file', file_id: small }),
          param: 'input',
          required: true,
        },
      ],
      source,
      'owner-a',
    ),
    (error: ApiError) => error.param === 'input[0].content[1].file_id' && /32 MB/.test(error.message),
  );
});

test('without a file source, a required file_id is a 400 and an earlier one is skipped', async () => {
  const items = userMessage({ type: 'input_image', file_id: 'file-x' });
  await assert.rejects(
    resolveInputFiles([{ items, param: 'input', required: true }], undefined, 'owner-a'),
    (error: ApiError) => error.param === 'input[0].content[0].file_id',
  );
  assert.equal(
    (await resolveInputFiles([{ items, param: 'conversation', required: false }], undefined, 'owner-a')).size,
    0,
  );
});
