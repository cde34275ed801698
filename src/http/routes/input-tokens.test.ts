import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { assertErrorBody, assertMatchesSchema } from '../../../test/contract/spec-validator.ts';
import { createTestApp } from '../../testing/test-app.ts';
import { loadTokenCounter, type TokenCounter } from '../../engine/count-tokens.ts';
import { ContentSealer } from '../../engine/sealed-content.ts';
import type { ModelItem, ModelRequest, ModelTool } from '../../providers/model-adapter.ts';
import { openSqliteStorage } from '../../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../../storage/stores.ts';
import { ScriptedModel, textAnswer } from '../../testing/scripted-model.ts';
import { StaticModelRouter } from '../../testing/static-model-router.ts';

let directory: string;
let storage: Storage;
let model: ScriptedModel;
/** The encoding StaticModelRouter's upstream names (`upstream-test-model`) get: cl100k_base. */
let counter: TokenCounter;

function buildApp(
  adapters: Record<string, ScriptedModel> = { 'test-model': model },
  contextWindow?: number,
): FastifyInstance {
  return createTestApp({
    storage,
    router: new StaticModelRouter(adapters, contextWindow === undefined ? {} : { contextWindow }),
    sealer: new ContentSealer(randomBytes(32)),
    apiKeyHashes: new Map(),
    bodyLimitBytes: 1024 * 1024,
    structuredOutputRetries: 2,
  });
}

async function countTokens(app: FastifyInstance, payload: Record<string, unknown>): Promise<number> {
  const reply = await app.inject({ method: 'POST', url: '/v1/responses/input_tokens', payload });
  assert.equal(reply.statusCode, 200, reply.body);
  const body = reply.json();
  assertMatchesSchema('TokenCountsResource', body);
  assert.equal(body.object, 'response.input_tokens');
  return body.input_tokens as number;
}

const user = (text: string): ModelItem => ({ type: 'message', role: 'user', content: [{ type: 'text', text }] });
const developer = (text: string): ModelItem => ({
  type: 'message',
  role: 'developer',
  content: [{ type: 'text', text }],
});

const weatherTool = {
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
};
const weatherModelTool: ModelTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: weatherTool.parameters,
  strict: true,
};

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'riposte-input-tokens-'));
  storage = await openSqliteStorage({ path: join(directory, 'riposte.sqlite') });
  model = new ScriptedModel([], { whenExhausted: 'repeat-last' });
  model.push(textAnswer('Why did the chicken cross the road?'));
  counter = await loadTokenCounter('upstream-test-model');
});
after(async () => {
  await storage.close();
  rmSync(directory, { recursive: true, force: true });
});

describe('POST /v1/responses/input_tokens', () => {
  test('counts a text input as the model would see it, without calling the model', async () => {
    const app = buildApp();
    const before = model.requests.length;
    const tokens = await countTokens(app, { model: 'test-model', input: 'Tell me a joke.' });
    assert.equal(tokens, counter.countRequest([user('Tell me a joke.')], []));
    assert.equal(model.requests.length, before);
  });

  test('instructions and tools are counted; tool_choice "none" sends no tools, so counts none', async () => {
    const app = buildApp();
    const instructed = await countTokens(app, {
      model: 'test-model',
      input: 'Weather in Paris?',
      instructions: 'Answer in French.',
      tools: [weatherTool],
    });
    const items = [developer('Answer in French.'), user('Weather in Paris?')];
    assert.equal(instructed, counter.countRequest(items, [weatherModelTool]));
    const withoutTools = await countTokens(app, {
      model: 'test-model',
      input: 'Weather in Paris?',
      instructions: 'Answer in French.',
      tools: [weatherTool],
      tool_choice: 'none',
    });
    assert.equal(withoutTools, counter.countRequest(items, []));
    assert.ok(instructed > withoutTools);
  });

  test('previous_response_id brings the earlier turns in, as a response would', async () => {
    const app = buildApp();
    const first = await app.inject({
      method: 'POST',
      url: '/v1/responses',
      payload: { model: 'test-model', input: 'Tell me a joke.', instructions: 'Be funny.' },
    });
    assert.equal(first.statusCode, 200, first.body);
    const tokens = await countTokens(app, {
      model: 'test-model',
      input: 'Another one.',
      previous_response_id: first.json().id,
    });
    // The earlier instructions are not carried over; its input and output are.
    const items: ModelItem[] = [
      user('Tell me a joke.'),
      { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Why did the chicken cross the road?' }] },
      user('Another one.'),
    ];
    assert.equal(tokens, counter.countRequest(items, []));
    // And this is what the model is sent when the same request is made for real.
    await app.inject({
      method: 'POST',
      url: '/v1/responses',
      payload: { model: 'test-model', input: 'Another one.', previous_response_id: first.json().id },
    });
    assert.equal(counter.countRequest(model.lastRequest?.items ?? [], []), tokens);
  });

  test('an input item list with a function call round trip is counted item by item', async () => {
    const app = buildApp();
    const tokens = await countTokens(app, {
      model: 'test-model',
      input: [
        { role: 'user', content: 'Weather in Paris?' },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call_output', call_id: 'call_1', output: 'Sunny, 21 °C' },
      ],
      tools: [weatherTool],
    });
    const items: ModelItem[] = [
      user('Weather in Paris?'),
      { type: 'function_call', callId: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { type: 'function_call_output', callId: 'call_1', output: 'Sunny, 21 °C' },
    ];
    assert.equal(tokens, counter.countRequest(items, [weatherModelTool]));
  });

  test("uses the upstream's own count when the adapter has one", async () => {
    const counting = Object.assign(new ScriptedModel([]), {
      seen: [] as ModelRequest[],
      countTokens: async function (this: { seen: ModelRequest[] }, request: ModelRequest) {
        this.seen.push(request);
        return 77;
      },
    });
    const app = buildApp({ 'counting-model': counting });
    assert.equal(await countTokens(app, { model: 'counting-model', input: 'hi', tools: [weatherTool] }), 77);
    assert.equal(counting.seen[0]?.model, 'upstream-counting-model');
    assert.deepEqual(counting.seen[0]?.tools, [weatherModelTool]);
  });

  test('truncation "auto" counts what would be sent after truncation; "disabled" counts it all', async () => {
    const app = buildApp({ 'test-model': model }, 2000);
    const input = [
      ...Array.from({ length: 10 }, (_unused, index) => [
        { role: 'user', content: `question ${index} ${'lorem ipsum '.repeat(80)}` },
        { role: 'assistant', content: `answer ${index} ${'dolor sit '.repeat(80)}` },
      ]).flat(),
      { role: 'user', content: 'the last question' },
    ];
    const all = await countTokens(app, { model: 'test-model', input, truncation: 'disabled' });
    const truncated = await countTokens(app, { model: 'test-model', input, truncation: 'auto' });
    assert.ok(all > 2000, `${all}`);
    // The budget is the window less the default output reserve: 2000 − min(4096, 500).
    assert.ok(truncated <= 1500 && truncated > 0, `${truncated}`);
  });

  test('accepts the explicit nulls and the personality field the spec allows', async () => {
    const app = buildApp();
    const tokens = await countTokens(app, {
      model: 'test-model',
      input: 'hi',
      instructions: null,
      tools: null,
      tool_choice: null,
      previous_response_id: null,
      conversation: null,
      text: null,
      reasoning: null,
      parallel_tool_calls: null,
      personality: 'friendly',
      // Not part of a count: ignored rather than refused.
      stream: true,
      max_output_tokens: 5,
    });
    assert.equal(tokens, counter.countRequest([user('hi')], []));
  });

  test('bad requests are OpenAI errors naming the parameter', async () => {
    const app = buildApp();
    const cases: Array<[Record<string, unknown> | string, number, string | null]> = [
      [{ model: 'test-model', input: 42 }, 400, 'input'],
      [{ model: 'test-model', input: 'x', truncation: 'sometimes' }, 400, 'truncation'],
      [{ model: 'test-model', input: 'x', tools: [{ type: 'function' }] }, 400, 'tools[0].name'],
      [{ model: 'test-model', input: 'x', personality: 3 }, 400, 'personality'],
      [{ input: 'x' }, 400, 'model'],
      [{ model: 'no-such-model', input: 'x' }, 404, 'model'],
      [{ model: 'test-model', input: 'x', previous_response_id: 'resp_missing' }, 404, 'previous_response_id'],
      ['[1, 2]', 400, null],
    ];
    for (const [payload, status, param] of cases) {
      const reply = await app.inject({
        method: 'POST',
        url: '/v1/responses/input_tokens',
        payload,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(reply.statusCode, status, `${JSON.stringify(payload)}: ${reply.body}`);
      const body = reply.json();
      assertErrorBody(body);
      assert.equal(body.error.param, param, JSON.stringify(payload));
    }
  });
});
