import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type OpenAI from 'openai';
import { BadRequestError, toFile } from 'openai';
import { assertMatchesSchema } from '../contract/spec-validator.ts';
import { startTestServer, type TestServer } from './start-test-server.ts';

/*
 * Input parts that name an uploaded File by file_id, through the official client: the upstream
 * (a scripted Chat Completions server) receives the File's bytes as a data URL.
 */

interface ChatPart {
  type: string;
  text?: string;
  file?: { filename?: string; file_data?: string };
  image_url?: { url: string; detail?: string };
}
interface ChatMessage {
  role: string;
  content?: string | ChatPart[];
}

const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

let harness: TestServer;
let client: OpenAI;

before(async () => {
  harness = await startTestServer();
  client = harness.client;
});
after(async () => harness.stop());

function lastUserParts(): ChatPart[] {
  const messages = harness.upstream.requests.at(-1)!.messages as ChatMessage[];
  const user = messages.filter((message) => message.role === 'user').at(-1)!;
  return Array.isArray(user.content) ? user.content : [{ type: 'text', text: user.content ?? '' }];
}

describe('input_file and input_image by file_id', () => {
  test('the model receives an uploaded PDF and PNG as data URLs; the stored input keeps the file_id', async () => {
    const pdf = await client.files.create({ file: await toFile(PDF, 'report.pdf'), purpose: 'user_data' });
    const png = await client.files.create({ file: await toFile(PNG, 'dot.png'), purpose: 'vision' });
    harness.upstream.push({ content: 'A report and a dot.' });
    const response = await client.responses.create({
      model: 'any-model',
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'What are these?' },
            { type: 'input_file', file_id: pdf.id },
            { type: 'input_image', file_id: png.id, detail: 'low' },
          ],
        },
      ],
    });
    assertMatchesSchema('Response', response);
    assert.equal(response.output_text, 'A report and a dot.');
    const [text, file, image] = lastUserParts();
    assert.deepEqual(text, { type: 'text', text: 'What are these?' });
    assert.deepEqual(file, {
      type: 'file',
      file: { filename: 'report.pdf', file_data: `data:application/pdf;base64,${PDF.toString('base64')}` },
    });
    assert.deepEqual(image, {
      type: 'image_url',
      image_url: { url: `data:image/png;base64,${PNG.toString('base64')}`, detail: 'low' },
    });

    const items = await client.responses.inputItems.list(response.id);
    const stored = items.data[0] as unknown as { content: Array<Record<string, unknown>> };
    assert.equal(stored.content[1]?.file_id, pdf.id, 'the stored input names the file, it does not copy it');
    assert.equal(stored.content[1]?.file_data, undefined);
  });

  test('an unknown file_id, or a non-image as input_image, is a 400 naming the part; the model is not called', async () => {
    const text = await client.files.create({ file: await toFile(Buffer.from('plain'), 'a.txt'), purpose: 'user_data' });
    const calls = harness.upstream.requests.length;
    for (const [part, message] of [
      [{ type: 'input_file', file_id: 'file-doesnotexist' }, /No such File object: file-doesnotexist/],
      [{ type: 'input_image', file_id: text.id, detail: 'auto' }, /is not an image/],
    ] as const) {
      const error = await client.responses
        .create({
          model: 'any-model',
          input: [{ role: 'user', content: [{ type: 'input_text', text: 'x' }, part] }],
        })
        .then(
          () => null,
          (caught: unknown) => caught,
        );
      assert.ok(error instanceof BadRequestError, `a 400 for ${JSON.stringify(part)}`);
      assert.equal(error.param, 'input[0].content[1].file_id');
      assert.match(error.message, message);
    }
    assert.equal(harness.upstream.requests.length, calls);
  });

  test('a File deleted after its turn does not break the chain: the next turn is told it is gone', async () => {
    const notes = await client.files.create({
      file: await toFile(Buffer.from('meeting notes'), 'notes.txt'),
      purpose: 'user_data',
    });
    harness.upstream.push({ content: 'Read them.' }, { content: 'They were about a meeting.' });
    const first = await client.responses.create({
      model: 'any-model',
      input: [{ role: 'user', content: [{ type: 'input_file', file_id: notes.id }] }],
    });
    await client.files.delete(notes.id);
    const second = await client.responses.create({
      model: 'any-model',
      previous_response_id: first.id,
      input: 'What were they about?',
    });
    assert.equal(second.status, 'completed');
    const messages = harness.upstream.requests.at(-1)!.messages as ChatMessage[];
    const text = (message: ChatMessage): string =>
      typeof message.content === 'string' ? message.content : (message.content ?? []).map((part) => part.text).join('');
    assert.deepEqual(
      messages.map((message) => [message.role, text(message)]),
      [
        ['user', `[File ${notes.id} was attached here; it has since been deleted.]`],
        ['assistant', 'Read them.'],
        ['user', 'What were they about?'],
      ],
    );
  });
});
