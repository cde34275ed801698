import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type OpenAI from 'openai';
import { NotFoundError } from 'openai';
import { assertMatchesSchema } from '../contract/spec-validator.ts';
import { startTestServer, type TestServer } from './start-test-server.ts';

let harness: TestServer;
let client: OpenAI;

before(async () => {
  harness = await startTestServer();
  client = harness.client;
});
after(async () => harness.stop());

describe('responses.inputTokens.count with the official openai client', () => {
  test('counts the input, instructions and tools, without calling the upstream', async () => {
    const before = harness.upstream.requests.length;
    const plain = await client.responses.inputTokens.count({ model: 'any-model', input: 'Tell me a joke.' });
    assertMatchesSchema('TokenCountsResource', plain);
    assert.equal(plain.object, 'response.input_tokens');
    assert.ok(plain.input_tokens > 0);

    const withMore = await client.responses.inputTokens.count({
      model: 'any-model',
      input: 'Tell me a joke.',
      instructions: 'Only knock-knock jokes.',
      tools: [
        {
          type: 'function',
          name: 'laugh',
          description: 'Laugh out loud',
          parameters: { type: 'object', properties: {}, additionalProperties: false },
          strict: true,
        },
      ],
    });
    assert.ok(withMore.input_tokens > plain.input_tokens);
    assert.equal(harness.upstream.requests.length, before);
  });

  test('follows previous_response_id like responses.create does', async () => {
    harness.upstream.push({ content: 'Knock knock.' });
    const first = await client.responses.create({ model: 'any-model', input: 'Tell me a joke.' });
    const alone = await client.responses.inputTokens.count({ model: 'any-model', input: "Who's there?" });
    const continued = await client.responses.inputTokens.count({
      model: 'any-model',
      input: "Who's there?",
      previous_response_id: first.id,
    });
    assert.ok(continued.input_tokens > alone.input_tokens);
    await assert.rejects(
      client.responses.inputTokens.count({ model: 'any-model', input: 'x', previous_response_id: 'resp_missing' }),
      NotFoundError,
    );
  });
});
