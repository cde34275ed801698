import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ModelItem, ModelRequest, ModelTool } from '../providers/model-adapter.ts';
import { ScriptedModel } from '../testing/scripted-model.ts';
import {
  IMAGE_TOKENS_HIGH_DETAIL,
  IMAGE_TOKENS_LOW_DETAIL,
  REMOTE_FILE_TOKENS,
  TOKENS_PER_MESSAGE,
  TOKENS_PER_REPLY,
  countInputTokens,
  encodingForModel,
  loadTokenCounter,
  upperBoundTokens,
} from './count-tokens.ts';
import type { ModelRoute } from './model-router.ts';

const user = (text: string): ModelItem => ({ type: 'message', role: 'user', content: [{ type: 'text', text }] });

describe('encodingForModel', () => {
  test("OpenAI's newer families use o200k_base", () => {
    for (const model of [
      'gpt-4o',
      'gpt-4o-mini',
      'gpt-4.1-nano',
      'gpt-5',
      'o1',
      'o3-mini',
      'o4-mini',
      'openai/gpt-4o',
      'gpt-oss:20b',
    ]) {
      assert.equal(encodingForModel(model), 'o200k_base', model);
    }
  });

  test('everything else uses cl100k_base', () => {
    for (const model of [
      'gpt-4',
      'gpt-3.5-turbo',
      'meta-llama/Llama-3.1-8B',
      'qwen3:8b',
      'mistral-small',
      'omni',
      'o1x',
    ]) {
      assert.equal(encodingForModel(model), 'cl100k_base', model);
    }
  });
});

describe('the local token counter', () => {
  test('counts text with the right encoding and treats special-token look-alikes as text', async () => {
    const o200k = await loadTokenCounter('gpt-4o');
    const cl100k = await loadTokenCounter('llama3');
    assert.equal(o200k.encoding, 'o200k_base');
    assert.equal(cl100k.encoding, 'cl100k_base');
    assert.equal(cl100k.countText('hello world'), 2);
    assert.equal(o200k.countText('hello world'), 2);
    assert.equal(cl100k.countText(''), 0);
    assert.ok(cl100k.countText('<|endoftext|>') > 1, 'counted as ordinary text, not one special token');
  });

  test('adds the per-message and reply overheads', async () => {
    const counter = await loadTokenCounter('gpt-4o');
    // "Tell me a joke." is 5 tokens; the role 1; OpenAI's own endpoint reports 11 for this input
    // with its Responses framing, and the Chat Completions formula gives 3 + 1 + 5 + 3 = 12.
    assert.equal(counter.countItems([user('Tell me a joke.')]), TOKENS_PER_MESSAGE + 1 + 5 + TOKENS_PER_REPLY);
    assert.equal(counter.countItems([]), TOKENS_PER_REPLY);
  });

  test('counts tool calls, their outputs and reasoning by their text', async () => {
    const counter = await loadTokenCounter('llama3');
    const call: ModelItem = { type: 'function_call', callId: 'c1', name: 'get_weather', arguments: '{"city":"Paris"}' };
    const output: ModelItem = { type: 'function_call_output', callId: 'c1', output: 'sunny' };
    const custom: ModelItem = { type: 'custom_tool_call', callId: 'c2', name: 'shell', input: 'ls -la' };
    const reasoning: ModelItem = { type: 'reasoning', text: 'The user wants the weather.' };
    assert.equal(
      counter.countItem(call),
      TOKENS_PER_MESSAGE + counter.countText('get_weather') + counter.countText('{"city":"Paris"}'),
    );
    assert.equal(counter.countItem(output), TOKENS_PER_MESSAGE + counter.countText('sunny'));
    assert.equal(
      counter.countItem(custom),
      TOKENS_PER_MESSAGE + counter.countText('shell') + counter.countText('ls -la'),
    );
    assert.equal(counter.countItem(reasoning), TOKENS_PER_MESSAGE + counter.countText('The user wants the weather.'));
  });

  test('images cost a fixed amount by detail, files by their size', async () => {
    const counter = await loadTokenCounter('gpt-4o');
    const withImage = (detail: 'low' | 'high' | 'auto'): ModelItem => ({
      type: 'message',
      role: 'user',
      content: [{ type: 'image', url: 'https://example.com/cat.png', detail }],
    });
    assert.equal(counter.countItem(withImage('low')), TOKENS_PER_MESSAGE + 1 + IMAGE_TOKENS_LOW_DETAIL);
    assert.equal(counter.countItem(withImage('high')), TOKENS_PER_MESSAGE + 1 + IMAGE_TOKENS_HIGH_DETAIL);
    assert.equal(counter.countItem(withImage('auto')), TOKENS_PER_MESSAGE + 1 + IMAGE_TOKENS_HIGH_DETAIL);
    const data = `data:application/pdf;base64,${Buffer.alloc(4000).toString('base64')}`;
    const file: ModelItem = {
      type: 'message',
      role: 'user',
      content: [
        { type: 'file', filename: null, data, url: null },
        { type: 'file', filename: null, data: null, url: 'https://example.com/a.pdf' },
      ],
    };
    assert.equal(counter.countItem(file), TOKENS_PER_MESSAGE + 1 + 1000 + REMOTE_FILE_TOKENS);
  });

  test('counts tool definitions as their JSON', async () => {
    const counter = await loadTokenCounter('gpt-4o');
    const tools: ModelTool[] = [
      { type: 'function', name: 'f', description: 'does f', parameters: { type: 'object' }, strict: false },
    ];
    assert.equal(counter.countTools(tools), counter.countText(JSON.stringify(tools[0])));
    assert.equal(
      counter.countRequest([user('hi')], tools),
      counter.countItems([user('hi')]) + counter.countTools(tools),
    );
  });

  test('the byte bound is never below the count, whatever the script', async () => {
    const items: ModelItem[] = [
      user('日本語のテキストと emoji 🎉🎉 and plain English.'),
      { type: 'function_call', callId: 'c', name: 'f', arguments: '{"x": "Ünïcödé"}' },
      { type: 'function_call_output', callId: 'c', output: [{ type: 'text', text: 'ok' }] },
      { type: 'reasoning', text: 'Привет, мир' },
    ];
    for (const model of ['gpt-4o', 'llama3']) {
      const counter = await loadTokenCounter(model);
      assert.ok(upperBoundTokens(items, []) >= counter.countRequest(items, []), model);
    }
  });
});

describe('countInputTokens', () => {
  const route = (adapter: ScriptedModel): ModelRoute => ({
    publicName: 'm',
    providerName: 'p',
    upstreamModel: 'llama3',
    contextWindow: 8192,
    adapter,
  });

  test("uses the adapter's countTokens when it answers, the local estimate otherwise", async () => {
    const items = [user('How many tokens is this?')];
    const local = (await loadTokenCounter('llama3')).countRequest(items, []);
    const counting = Object.assign(new ScriptedModel([]), { countTokens: async () => 1234 });
    assert.equal(await countInputTokens(route(counting), items, [], new AbortController().signal), 1234);
    const failing = Object.assign(new ScriptedModel([]), { countTokens: async () => null });
    assert.equal(await countInputTokens(route(failing), items, [], new AbortController().signal), local);
    assert.equal(await countInputTokens(route(new ScriptedModel([])), items, [], new AbortController().signal), local);
  });

  test('passes the model, items and tools to countTokens', async () => {
    const tools: ModelTool[] = [{ type: 'custom', name: 'shell', description: null, format: null }];
    const items = [user('hi')];
    let seen: ModelRequest | undefined;
    const adapter = Object.assign(new ScriptedModel([]), {
      countTokens: async (request: ModelRequest) => {
        seen = request;
        return 7;
      },
    });
    await countInputTokens(route(adapter), items, tools, new AbortController().signal);
    assert.equal(seen?.model, 'llama3');
    assert.equal(seen.items, items);
    assert.equal(seen.tools, tools);
  });
});
