import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type OpenAI from 'openai';
import { BadRequestError } from 'openai';
import type { ResponseInputItem } from 'openai/resources/responses/responses';
import { SUMMARY_INSTRUCTION } from '../../src/engine/compact-items.ts';
import { assertMatchesSchema } from '../contract/spec-validator.ts';
import { startTestServer, type TestServer } from './start-test-server.ts';

let harness: TestServer;
let client: OpenAI;

before(async () => {
  harness = await startTestServer();
  client = harness.client;
});
after(async () => harness.stop());

const SUMMARY = 'The user asked for a dog café landing page; index.html with a hero and a booking form was delivered.';

describe('compaction with the official openai client', () => {
  test('responses.compact returns a compacted window that the next responses.create can continue from', async () => {
    harness.upstream.push({ content: SUMMARY, usage: { prompt_tokens: 139, completion_tokens: 24 } });
    const compacted = await client.responses.compact({
      model: 'any-model',
      input: [
        { role: 'user', content: 'Create a simple landing page for a dog petting café.' },
        {
          id: 'msg_001',
          type: 'message',
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', annotations: [], logprobs: [], text: 'Below is a single file…' }],
        },
      ],
    });
    assertMatchesSchema('CompactResource', compacted);
    assert.equal(compacted.object, 'response.compaction');
    assert.deepEqual(
      compacted.output.map((item) => item.type),
      ['message', 'compaction'],
    );
    assert.equal(compacted.usage.input_tokens, 139);
    assert.equal(compacted.usage.output_tokens, 24);

    const summaryRequest = harness.upstream.requests.at(-1)!;
    const summaryMessages = summaryRequest.messages as Array<{ role: string; content: unknown }>;
    assert.deepEqual(summaryMessages.at(-1), { role: 'user', content: SUMMARY_INSTRUCTION });
    assert.equal(summaryRequest.tools, undefined);

    harness.upstream.push({ content: 'Added a menu section.' });
    const next = await client.responses.create({
      model: 'any-model',
      input: [...(compacted.output as ResponseInputItem[]), { role: 'user', content: 'Add a menu.' }],
    });
    assert.equal(next.output_text, 'Added a menu section.');
    const messages = harness.upstream.requests.at(-1)!.messages as Array<{ role: string; content: string }>;
    assert.deepEqual(
      messages.map((message) => message.role),
      ['user', 'user', 'user'],
    );
    assert.ok(messages[1]!.content.includes(SUMMARY));
    assert.equal(messages[2]!.content, 'Add a menu.');
  });

  test('a tampered compaction item is refused with a 400 naming it', async () => {
    harness.upstream.push({ content: SUMMARY });
    const compacted = await client.responses.compact({
      model: 'any-model',
      input: 'Remember: the code word is heron.',
    });
    const [user, compaction] = compacted.output as [
      ResponseInputItem,
      { type: 'compaction'; id: string; encrypted_content: string },
    ];
    const sealed = compaction.encrypted_content;
    const tampered = {
      ...compaction,
      encrypted_content: sealed.slice(0, -3) + (sealed.endsWith('xyz') ? 'abc' : 'xyz'),
    };
    await assert.rejects(
      client.responses.create({ model: 'any-model', input: [user, tampered] }),
      (error: unknown) =>
        error instanceof BadRequestError &&
        error.param === 'input[1].encrypted_content' &&
        error.code === 'invalid_encrypted_content',
    );
  });
});
