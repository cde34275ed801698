import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { BadRequestError} from 'openai';
import type OpenAI from 'openai';
import { NotFoundError } from 'openai';
import { assertMatchesSchema, assertStreamEvent } from '../contract/spec-validator.ts';
import { startTestServer, type TestServer } from './start-test-server.ts';

let harness: TestServer;
let client: OpenAI;

before(async () => {
  harness = await startTestServer();
  client = harness.client;
});
after(async () => harness.stop());

async function pollUntilDone(id: string): Promise<OpenAI.Responses.Response> {
  for (let attempt = 0; attempt < 400; attempt++) {
    const response = await client.responses.retrieve(id);
    if (response.status !== 'queued' && response.status !== 'in_progress') return response;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`response ${id} never finished`);
}

describe('background mode with the official openai client', () => {
  test('create in background returns queued at once, then polling reaches the completed response', async () => {
    harness.upstream.push({ content: 'Done in the background.', chunkDelayMs: 20 });
    const raw = await client.responses
      .create({ model: 'any-model', input: 'Work slowly', background: true })
      .withResponse();
    assert.equal(raw.data.status, 'queued');
    assert.equal(raw.data.background, true);
    assert.ok(Number(raw.response.headers.get('openai-poll-after-ms')) > 0);
    assertMatchesSchema('Response', raw.data);
    const done = await pollUntilDone(raw.data.id);
    assert.equal(done.status, 'completed');
    assert.equal(done.output_text, 'Done in the background.');
    assertMatchesSchema('Response', done);
  });

  test('background requires store: true', async () => {
    await assert.rejects(
      client.responses.create({ model: 'any-model', input: 'x', background: true, store: false }),
      (error: BadRequestError) => error.status === 400 && error.param === 'store',
    );
  });

  test('streaming: the stream starts at sequence 0, and a resumed stream continues after the cursor', async () => {
    harness.upstream.push({ content: 'one two three four five six seven eight nine ten', chunkDelayMs: 15 });
    const stream = await client.responses.create({
      model: 'any-model',
      input: 'Stream it',
      background: true,
      stream: true,
    });
    const seen: Array<{ type: string; sequence_number: number }> = [];
    let responseId = '';
    for await (const event of stream) {
      assertStreamEvent(event);
      seen.push(event);
      if (event.type === 'response.created') responseId = event.response.id;
      if (seen.length === 6) break; // the client goes away; the response keeps running
    }
    assert.deepEqual(
      seen.map((event) => event.sequence_number),
      [0, 1, 2, 3, 4, 5],
    );
    assert.deepEqual(
      seen.slice(0, 2).map((event) => event.type),
      ['response.created', 'response.queued'],
    );

    const resumed = await client.responses.retrieve(responseId, { stream: true, starting_after: 3 });
    const rest: Array<{ type: string; sequence_number: number }> = [];
    for await (const event of resumed) {
      assertStreamEvent(event);
      rest.push(event);
    }
    assert.equal(rest[0]?.sequence_number, 4);
    assert.equal(rest.at(-1)?.type, 'response.completed');
    rest.forEach((event, index) => assert.equal(event.sequence_number, 4 + index));

    const replay = await client.responses.retrieve(responseId, { stream: true });
    let count = 0;
    for await (const event of replay) {
      assert.equal(event.sequence_number, count++);
    }
    assert.equal(count, 4 + rest.length);
  });

  test('a cursor beyond the end, or on a foreground response, is a 400', async () => {
    harness.upstream.push({ content: 'short' });
    const foreground = await client.responses.create({ model: 'any-model', input: 'x' });
    await assert.rejects(
      client.responses.retrieve(foreground.id, { stream: true }),
      (error: BadRequestError) => error.status === 400,
    );
    harness.upstream.push({ content: 'short' });
    const background = await client.responses.create({ model: 'any-model', input: 'x', background: true });
    await pollUntilDone(background.id);
    await assert.rejects(
      client.responses.retrieve(background.id, { stream: true, starting_after: 9999 }),
      (error: BadRequestError) => error.status === 400 && error.param === 'starting_after',
    );
  });

  test('cancel mid-run aborts the upstream call, keeps the partial output, and is idempotent', async () => {
    // About 80 chunks, 30 ms apart: the run takes seconds; cancel once some text has streamed.
    harness.upstream.push({
      content: 'a b c d e f g h i j k l m n o p q r s t u v w x y z '.repeat(9),
      chunkDelayMs: 30,
    });
    const created = await client.responses.create({ model: 'any-model', input: 'Long job', background: true });
    const stream = await client.responses.retrieve(created.id, { stream: true });
    for await (const event of stream) if (event.type === 'response.output_text.delta') break;
    await new Promise((resolve) => setTimeout(resolve, 150));
    const cancelled = await client.responses.cancel(created.id);
    assert.equal(cancelled.status, 'cancelled');
    const again = await client.responses.cancel(created.id);
    assert.equal(again.status, 'cancelled');
    const stored = await client.responses.retrieve(created.id);
    assert.equal(stored.status, 'cancelled');
    assert.ok(stored.output_text.length > 0, 'partial output kept');
    assert.ok(stored.output_text.length < 300, 'the upstream call was cut short');

    await client.responses.delete(created.id);
    await assert.rejects(client.responses.retrieve(created.id), NotFoundError);
  });

  test('cancelling a queued response, or a foreground one', async () => {
    harness.upstream.push({ content: 'x' });
    const foreground = await client.responses.create({ model: 'any-model', input: 'x' });
    await assert.rejects(client.responses.cancel(foreground.id), (error: BadRequestError) => error.status === 400);
  });
});
