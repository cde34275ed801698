import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type OpenAI from 'openai';
import { NotFoundError, toFile } from 'openai';
import { assertListPage, assertMatchesSchema } from '../contract/spec-validator.ts';
import { startTestServer, type TestServer } from './start-test-server.ts';

let harness: TestServer;
let client: OpenAI;

before(async () => {
  harness = await startTestServer();
  client = harness.client;
});
after(async () => harness.stop());

describe('the official openai client on the Files and Uploads APIs', () => {
  test('create, list with auto-pagination, retrieve, content and delete', async () => {
    const created = await client.files.create({
      file: await toFile(Buffer.from('hello from e2e'), 'a.txt'),
      purpose: 'assistants',
    });
    assertMatchesSchema('OpenAIFile', created);
    assert.match(created.id, /^file-/);
    assert.equal(created.bytes, 14);
    assert.equal(created.filename, 'a.txt');

    const more = [];
    for (let index = 0; index < 3; index += 1) {
      more.push(
        await client.files.create({
          file: await toFile(Buffer.from(`n${index}`), `n${index}.txt`),
          purpose: 'user_data',
        }),
      );
    }
    const firstPage = await client.files.list({ limit: 2 });
    assertListPage('ListFilesResponse', {
      object: 'list',
      data: firstPage.data,
      first_id: firstPage.data[0]?.id,
      last_id: firstPage.data.at(-1)?.id,
      has_more: firstPage.has_more,
    });
    assert.equal(firstPage.has_more, true);
    const seen: string[] = [];
    for await (const file of client.files.list({ limit: 2, order: 'asc' })) seen.push(file.id);
    assert.deepEqual(seen, [created.id, ...more.map((file) => file.id)]);
    const userData: string[] = [];
    for await (const file of client.files.list({ purpose: 'user_data' })) userData.push(file.id);
    assert.deepEqual(userData, more.map((file) => file.id).reverse());

    const retrieved = await client.files.retrieve(created.id);
    assert.deepEqual(retrieved, created);
    const body = await client.files.content(created.id);
    assert.equal(await body.text(), 'hello from e2e');

    const deleted = await client.files.delete(created.id);
    assertMatchesSchema('DeleteFileResponse', deleted);
    assert.deepEqual(deleted, { id: created.id, object: 'file', deleted: true });
    await assert.rejects(client.files.retrieve(created.id), NotFoundError);
    await assert.rejects(client.files.content(created.id), NotFoundError);
  });

  test('a multi-part upload is assembled in the order given, with the right bytes', async () => {
    const chunks = [Buffer.alloc(70_000, 'a'), Buffer.alloc(50_000, 'b'), Buffer.from('the end')];
    const whole = Buffer.concat(chunks);
    const upload = await client.uploads.create({
      filename: 'big.txt',
      purpose: 'assistants',
      bytes: whole.length,
      mime_type: 'text/plain',
    });
    assertMatchesSchema('Upload', upload);
    assert.equal(upload.status, 'pending');

    // Sent in parallel and out of order, as the Uploads guide allows.
    const parts = await Promise.all(
      [2, 0, 1].map(async (index) => ({
        index,
        part: await client.uploads.parts.create(upload.id, { data: await toFile(chunks[index]!, `part${index}`) }),
      })),
    );
    for (const { part } of parts) assertMatchesSchema('UploadPart', part);
    const ordered = [...parts].sort((left, right) => left.index - right.index).map(({ part }) => part.id);

    const completed = await client.uploads.complete(upload.id, {
      part_ids: ordered,
      md5: createHash('md5').update(whole).digest('hex'),
    });
    assertMatchesSchema('Upload', completed);
    assert.equal(completed.status, 'completed');
    assert.ok(completed.file);
    assert.equal(completed.file.bytes, whole.length);
    const bytes = Buffer.from(await (await client.files.content(completed.file.id)).arrayBuffer());
    assert.ok(bytes.equals(whole));

    const cancelled = await client.uploads.create({
      filename: 'x.txt',
      purpose: 'assistants',
      bytes: 1,
      mime_type: 'text/plain',
    });
    assert.equal((await client.uploads.cancel(cancelled.id)).status, 'cancelled');
  });
});
