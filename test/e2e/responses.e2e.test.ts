import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type OpenAI from 'openai';
import { NotFoundError } from 'openai';
import {
  assertHasEverySpecKey,
  assertListPage,
  assertMatchesSchema,
  assertStreamEvent,
} from '../contract/spec-validator.ts';
import { startTestServer, type TestServer } from './start-test-server.ts';

let harness: TestServer;
let client: OpenAI;

before(async () => {
  harness = await startTestServer();
  client = harness.client;
});
after(async () => harness.stop());

describe('the official openai client against Riposte', () => {
  test('responses.create returns a complete Response object', async () => {
    harness.upstream.push({
      content: 'Hello from the upstream.',
      usage: { prompt_tokens: 21, completion_tokens: 6, cached_tokens: 4 },
    });
    const response = await client.responses.create({
      model: 'any-model',
      input: 'Say hello',
      instructions: 'Be kind.',
    });
    assertMatchesSchema('Response', response);
    assertHasEverySpecKey('Response', response, { except: ['prompt_cache_options'] });
    assert.equal(response.status, 'completed');
    assert.equal(response.output_text, 'Hello from the upstream.');
    assert.equal(response.usage?.input_tokens, 21);
    assert.equal(response.usage?.input_tokens_details.cached_tokens, 4);
    const sent = harness.upstream.requests.at(-1)!;
    assert.equal(sent.model, 'any-model');
    assert.deepEqual(sent.messages, [
      { role: 'system', content: 'Be kind.' },
      { role: 'user', content: 'Say hello' },
    ]);
  });

  test('responses.stream() delivers spec-valid events and the final response', async () => {
    harness.upstream.push({ content: 'Streaming works fine.', chunkDelayMs: 2 });
    const stream = client.responses.stream({ model: 'any-model', input: 'Stream please' });
    const types: string[] = [];
    let text = '';
    for await (const event of stream) {
      assertStreamEvent(event);
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
    }
    const final = await stream.finalResponse();
    assert.equal(text, 'Streaming works fine.');
    assert.equal(final.output_text, 'Streaming works fine.');
    assert.equal(types[0], 'response.created');
    assert.equal(types.at(-1), 'response.completed');
  });

  test('the upstream streams only when someone reads the output as it comes: stream, or background', async () => {
    const upstreamStreamed = async (body: Record<string, unknown>): Promise<unknown> => {
      harness.upstream.push({ content: 'Fine.' });
      const response = (await client.responses.create({ model: 'any-model', input: 'Hi', ...body } as never)) as
        { id: string; status: string } | AsyncIterable<unknown>;
      if (Symbol.asyncIterator in response) for await (const event of response) void event;
      else if (response.status !== 'completed') {
        for (let attempt = 0; attempt < 200; attempt++) {
          if ((await client.responses.retrieve(response.id)).status === 'completed') break;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
      return harness.upstream.requests.at(-1)!.stream;
    };
    assert.equal(await upstreamStreamed({}), false, 'stream: false — one JSON answer');
    assert.equal(await upstreamStreamed({ stream: true }), true);
    assert.equal(await upstreamStreamed({ background: true }), true, 'followers may stream a background response');
  });

  test('a function call round trip with previous_response_id', async () => {
    harness.upstream.push({ toolCalls: [{ id: 'call_abc', name: 'get_weather', arguments: '{"city":"Paris"}' }] });
    const tools: OpenAI.Responses.Tool[] = [
      {
        type: 'function',
        name: 'get_weather',
        description: 'Weather for a city',
        parameters: {
          type: 'object',
          properties: { city: { type: 'string' } },
          required: ['city'],
          additionalProperties: false,
        },
        strict: true,
      },
    ];
    const first = await client.responses.create({ model: 'any-model', input: 'Weather in Paris?', tools });
    const call = first.output.find((item) => item.type === 'function_call');
    assert.ok(call && call.type === 'function_call');
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'Paris' });

    harness.upstream.push({ content: 'It is sunny in Paris.' });
    const second = await client.responses.create({
      model: 'any-model',
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"sky":"sunny"}' }],
      tools,
    });
    assert.equal(second.output_text, 'It is sunny in Paris.');
    const messages = harness.upstream.requests.at(-1)!.messages as Array<Record<string, unknown>>;
    assert.deepEqual(
      messages.map((message) => message.role),
      ['user', 'assistant', 'tool'],
    );
    assert.deepEqual((messages[1]!.tool_calls as unknown[])[0], {
      id: 'call_abc',
      type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
    });
    assert.equal(messages[2]!.tool_call_id, 'call_abc');
  });

  test('a previous_response_id chain sends every earlier turn upstream', async () => {
    let previous: string | undefined;
    for (const turn of [1, 2, 3]) {
      harness.upstream.push({ content: `answer ${turn}` });
      const response = await client.responses.create({
        model: 'any-model',
        input: `question ${turn}`,
        previous_response_id: previous,
      });
      previous = response.id;
    }
    const messages = harness.upstream.requests.at(-1)!.messages as Array<{ role: string; content: string }>;
    assert.deepEqual(
      messages.map((message) => `${message.role}: ${message.content}`),
      ['user: question 1', 'assistant: answer 1', 'user: question 2', 'assistant: answer 2', 'user: question 3'],
    );
  });

  test('structured output parsed with the client parse helper', async () => {
    harness.upstream.push({ content: '{"name":"Ada","age":36}' });
    const parsed = await client.responses.parse({
      model: 'any-model',
      input: 'Who?',
      text: {
        format: {
          type: 'json_schema',
          name: 'person',
          strict: true,
          schema: {
            type: 'object',
            properties: { name: { type: 'string' }, age: { type: 'integer' } },
            required: ['name', 'age'],
            additionalProperties: false,
          },
        },
      },
    });
    assert.deepEqual(parsed.output_parsed, { name: 'Ada', age: 36 });
    const sent = harness.upstream.requests.at(-1)!;
    assert.equal((sent.response_format as { type: string }).type, 'json_schema');
  });

  test('retrieve, input_items pages, delete then 404', async () => {
    harness.upstream.push({ content: 'stored' });
    const input: OpenAI.Responses.ResponseInput = [
      { role: 'user', content: 'one' },
      { role: 'assistant', content: 'two' },
      { role: 'user', content: 'three' },
      { role: 'developer', content: 'four' },
      { role: 'user', content: [{ type: 'input_text', text: 'five' }] },
    ];
    const created = await client.responses.create({ model: 'any-model', input });
    const retrieved = await client.responses.retrieve(created.id);
    assertMatchesSchema('Response', retrieved);
    assert.deepEqual(retrieved, created);

    const firstPage = await client.responses.inputItems.list(created.id, { limit: 2, order: 'asc' });
    assertListPage('ResponseItemList', {
      object: 'list',
      data: firstPage.data,
      first_id: firstPage.data[0]?.id,
      last_id: firstPage.data.at(-1)?.id,
      has_more: firstPage.has_more,
    });
    assert.equal(firstPage.data.length, 2);
    assert.equal(firstPage.has_more, true);
    const all: string[] = [];
    for await (const item of client.responses.inputItems.list(created.id, { limit: 2, order: 'asc' })) {
      assert.equal(item.type, 'message');
      if (item.type === 'message') all.push((item.content[0] as { text: string }).text);
    }
    assert.deepEqual(all, ['one', 'two', 'three', 'four', 'five']);
    const newestFirst = await client.responses.inputItems.list(created.id);
    assert.equal((newestFirst.data[0] as { content: Array<{ text: string }> }).content[0]!.text, 'five');

    await client.responses.delete(created.id);
    await assert.rejects(client.responses.retrieve(created.id), NotFoundError);
    await assert.rejects(client.responses.inputItems.list(created.id), NotFoundError);
  });
});
