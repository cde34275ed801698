import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { modelRequest as baseRequest, type ModelItem, type ModelRequest } from '../model-adapter.ts';
import { OpenAiChatAdapter } from './openai-chat-adapter.ts';
import { serverRoot } from './tokenize.ts';

function countingRequest(items: ModelItem[], overrides: Partial<ModelRequest> = {}): ModelRequest {
  return baseRequest({ model: 'Qwen/Qwen3-8B', items, signal: new AbortController().signal, ...overrides });
}

const conversation: ModelItem[] = [
  { type: 'message', role: 'developer', content: [{ type: 'text', text: 'Be brief.' }] },
  { type: 'message', role: 'user', content: [{ type: 'text', text: 'Weather?' }] },
  { type: 'function_call', callId: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' },
  { type: 'function_call_output', callId: 'call_1', output: 'sunny' },
];

interface Recorded {
  url: string;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/** A fetch that records each call and answers with `answer` (a status and a JSON body, or a throw). */
function fakeFetch(answer: { status: number; body: unknown } | Error): {
  fetch: typeof globalThis.fetch;
  calls: Recorded[];
} {
  const calls: Recorded[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    calls.push({
      url: input as string,
      body: JSON.parse(init?.body as string) as Record<string, unknown>,
      headers: init?.headers as Record<string, string>,
    });
    if (answer instanceof Error) throw answer;
    return new Response(JSON.stringify(answer.body), {
      status: answer.status,
      headers: { 'content-type': 'application/json' },
    });
  };
  return { fetch, calls };
}

describe('countTokens on the Chat Completions adapter', () => {
  test('is absent unless a tokenize endpoint is configured, so nothing is probed', () => {
    const adapter = new OpenAiChatAdapter({ baseUrl: 'http://127.0.0.1:8000/v1', apiKey: null });
    assert.equal(adapter.countTokens, undefined);
    const explicitNull = new OpenAiChatAdapter({
      baseUrl: 'http://127.0.0.1:8000/v1',
      apiKey: null,
      tokenizeEndpoint: null,
    });
    assert.equal(explicitNull.countTokens, undefined);
  });

  test('the tokenize endpoint lives at the server root, beside /v1', () => {
    assert.equal(serverRoot('http://127.0.0.1:8000/v1'), 'http://127.0.0.1:8000');
    assert.equal(serverRoot('http://127.0.0.1:8000/v1/'), 'http://127.0.0.1:8000');
    assert.equal(serverRoot('http://gpu-box/vllm/v1'), 'http://gpu-box/vllm');
    assert.equal(serverRoot('http://127.0.0.1:8080'), 'http://127.0.0.1:8080');
  });

  test('vLLM: POST {root}/tokenize with the chat messages and tools, answering its count', async () => {
    const { fetch, calls } = fakeFetch({ status: 200, body: { count: 42, max_model_len: 32768, tokens: [] } });
    const adapter = new OpenAiChatAdapter({
      baseUrl: 'http://127.0.0.1:8000/v1',
      apiKey: 'sk-upstream',
      fetch,
      tokenizeEndpoint: 'vllm',
    });
    const tools = [{ type: 'function' as const, name: 'weather', description: null, parameters: {}, strict: false }];
    assert.equal(await adapter.countTokens?.(countingRequest(conversation, { tools })), 42);
    assert.equal(calls.length, 1);
    const [call] = calls;
    assert.equal(call?.url, 'http://127.0.0.1:8000/tokenize');
    assert.equal(call?.headers.authorization, 'Bearer sk-upstream');
    assert.deepEqual(call?.body, {
      model: 'Qwen/Qwen3-8B',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: '',
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      ],
      tools: [{ type: 'function', function: { name: 'weather', parameters: {} } }],
      add_generation_prompt: true,
    });
  });

  test('llama.cpp: POST {root}/tokenize with the rendered text, counting tokens plus template framing', async () => {
    const { fetch, calls } = fakeFetch({
      status: 200,
      body: { tokens: Array.from({ length: 30 }, (_u, index) => index) },
    });
    const adapter = new OpenAiChatAdapter({
      baseUrl: 'http://127.0.0.1:8080/v1',
      apiKey: null,
      fetch,
      tokenizeEndpoint: 'llama.cpp',
    });
    // 30 text tokens + 4 messages × 4 template tokens + 3 for the reply's generation prompt.
    assert.equal(await adapter.countTokens?.(countingRequest(conversation)), 30 + 16 + 3);
    assert.equal(calls[0]?.url, 'http://127.0.0.1:8080/tokenize');
    assert.equal(calls[0]?.headers.authorization, undefined);
    assert.deepEqual(calls[0]?.body, {
      content:
        'system\nBe brief.\nuser\nWeather?\nassistant\n{"name":"weather","arguments":"{\\"city\\":\\"Paris\\"}"}\ntool\nsunny',
      add_special: true,
    });
  });

  test('llama.cpp: a conversation with an image is left to the local estimate, without a call', async () => {
    const { fetch, calls } = fakeFetch({ status: 200, body: { tokens: [] } });
    const adapter = new OpenAiChatAdapter({
      baseUrl: 'http://h/v1',
      apiKey: null,
      fetch,
      tokenizeEndpoint: 'llama.cpp',
    });
    const withImage: ModelItem[] = [
      {
        type: 'message',
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image', url: 'https://example.com/cat.png', detail: 'auto' },
        ],
      },
    ];
    assert.equal(await adapter.countTokens?.(countingRequest(withImage)), null);
    assert.equal(calls.length, 0);
  });

  test('any failure is null, so the caller falls back to the local estimate', async () => {
    const answers: Array<{ status: number; body: unknown } | Error> = [
      { status: 404, body: { detail: 'Not Found' } },
      { status: 500, body: { error: 'boom' } },
      { status: 200, body: { unexpected: true } },
      { status: 200, body: { count: -1 } },
      { status: 200, body: 'not an object' },
      new TypeError('fetch failed'),
    ];
    for (const answer of answers) {
      for (const endpoint of ['vllm', 'llama.cpp'] as const) {
        const { fetch } = fakeFetch(answer);
        const adapter = new OpenAiChatAdapter({
          baseUrl: 'http://h/v1',
          apiKey: null,
          fetch,
          tokenizeEndpoint: endpoint,
        });
        assert.equal(
          await adapter.countTokens?.(countingRequest(conversation)),
          null,
          `${endpoint} ${JSON.stringify(answer)}`,
        );
      }
    }
  });

  test('a tokenize call that hangs gives up after its timeout', async () => {
    const fetch: typeof globalThis.fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason as Error), { once: true });
      });
    const adapter = new OpenAiChatAdapter({
      baseUrl: 'http://h/v1',
      apiKey: null,
      fetch,
      tokenizeEndpoint: 'vllm',
      tokenizeTimeoutMs: 20,
    });
    assert.equal(await adapter.countTokens?.(countingRequest(conversation)), null);
  });
});
