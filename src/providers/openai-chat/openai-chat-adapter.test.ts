import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { UpstreamError } from '../../errors/upstream-error.ts';
import { modelRequest as baseRequest, type ModelEvent, type ModelRequest } from '../model-adapter.ts';
import type { OpenAiChatAdapterOptions } from './openai-chat-adapter.ts';
import { OpenAiChatAdapter } from './openai-chat-adapter.ts';

const fixtureFolder = path.join(import.meta.dirname, '../../../test/fixtures/openai-chat');
const readFixture = (name: string): string => readFileSync(path.join(fixtureFolder, name), 'utf8');
const snapshotOptions = { serializers: [(value: unknown): string => `${JSON.stringify(value, null, 2)}\n`] };

function modelRequest(overrides: Partial<ModelRequest> = {}): ModelRequest {
  return baseRequest({
    model: 'test-model',
    items: [{ type: 'message', role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
    signal: new AbortController().signal,
    ...overrides,
  });
}

/**
 * A body that delivers `text` in pieces of `pieceSize` bytes — cutting through SSE lines, JSON and
 * multi-byte characters, as TCP may — and then, unless `hang`, closes. `onCancel` sees the
 * adapter let go of it.
 */
function byteStream(
  text: string,
  pieceSize: number,
  options: { hang?: boolean; onCancel?: () => void } = {},
): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) {
        if (options.hang !== true) controller.close();
        return new Promise(() => undefined);
      }
      controller.enqueue(bytes.slice(offset, offset + pieceSize));
      offset += pieceSize;
      return undefined;
    },
    cancel() {
      options.onCancel?.();
    },
  });
}

function sseResponse(text: string, pieceSize = 7, options: { hang?: boolean; onCancel?: () => void } = {}): Response {
  return new Response(byteStream(text, pieceSize, options), {
    status: 200,
    headers: { 'content-type': 'text/event-stream' },
  });
}

function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

interface RecordedCall {
  url: string;
  headers: Headers;
  body: unknown;
}

/** A fetch that answers with the given responses in turn, recording what it was sent. */
function scriptedFetch(...responses: (() => Response | Promise<Response>)[]): {
  fetch: typeof globalThis.fetch;
  calls: RecordedCall[];
} {
  const calls: RecordedCall[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    // The adapter always sends a string URL and a string body.
    calls.push({ url: input as string, headers: new Headers(init?.headers), body: JSON.parse(init?.body as string) });
    const next = responses[calls.length - 1];
    if (next === undefined) throw new Error(`unexpected call ${calls.length}`);
    return next();
  };
  return { fetch, calls };
}

function adapter(fetch: typeof globalThis.fetch, options: Partial<OpenAiChatAdapterOptions> = {}): OpenAiChatAdapter {
  return new OpenAiChatAdapter({
    baseUrl: 'http://upstream.test/v1/',
    apiKey: 'sk-test',
    fetch,
    retryBaseDelayMs: 1,
    ...options,
  });
}

async function collect(events: AsyncIterable<ModelEvent>): Promise<{ events: ModelEvent[]; error: unknown }> {
  const collected: ModelEvent[] = [];
  try {
    for await (const event of events) collected.push(event);
  } catch (error) {
    return { events: collected, error };
  }
  return { events: collected, error: undefined };
}

/** The cancel travels back up the pipe chain (SSE parser, decoder, body) over a few ticks. */
const letGoOfBody = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));

function assertUpstreamError(error: unknown, code: string, message?: RegExp): asserts error is UpstreamError {
  assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  if (message !== undefined) assert.match(error.message, message);
}

const getWeather = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather for a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
    required: ['city', 'unit'],
    additionalProperties: false,
  },
  strict: true,
} as const;

/** Recorded upstream streams, each with the request that produced it. */
const streamFixtures: { name: string; request: Partial<ModelRequest> }[] = [
  {
    name: 'vllm-qwen3-reasoning',
    request: {
      model: 'Qwen/Qwen3-8B',
      items: [
        { type: 'message', role: 'system', content: [{ type: 'text', text: 'You are a geography assistant.' }] },
        { type: 'message', role: 'developer', content: [{ type: 'text', text: 'Answer with JSON only.' }] },
        { type: 'message', role: 'user', content: [{ type: 'text', text: 'Which city hosted Expo 67?' }] },
      ],
      textFormat: {
        type: 'json_schema',
        name: 'city',
        description: 'A city and its country.',
        schema: {
          type: 'object',
          properties: { city: { type: 'string' }, country: { type: 'string' } },
          required: ['city', 'country'],
          additionalProperties: false,
        },
        strict: true,
      },
      temperature: 0.6,
      topP: 0.95,
      maxOutputTokens: 1024,
      user: 'user-42',
    },
  },
  {
    name: 'vllm-parallel-tool-calls',
    request: {
      model: 'Qwen/Qwen2.5-7B-Instruct',
      items: [
        { type: 'message', role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Tōkyō, in celsius?' }] },
      ],
      tools: [getWeather],
      toolChoice: 'required',
      promptCacheKey: 'tenant-7',
    },
  },
  {
    name: 'ollama-tool-calls',
    request: {
      model: 'qwen3:8b',
      items: [
        {
          type: 'message',
          role: 'user',
          content: [
            { type: 'text', text: 'Is it raining where this photo was taken, and what time is it?' },
            { type: 'image', url: 'data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ==', detail: 'auto' },
          ],
        },
      ],
      tools: [
        getWeather,
        {
          type: 'function',
          name: 'get_time',
          description: null,
          parameters: { type: 'object', properties: {} },
          strict: false,
        },
      ],
      reasoning: { effort: 'high', summary: null },
    },
  },
  {
    name: 'llamacpp-no-index',
    request: {
      model: 'gpt-oss-20b',
      items: [
        { type: 'message', role: 'user', content: [{ type: 'text', text: 'How should clients retry?' }] },
        { type: 'function_call', callId: 'call_earlier', name: 'list_open_tickets', arguments: '{}' },
        { type: 'function_call_output', callId: 'call_earlier', output: '[]' },
        { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'No open tickets.' }] },
        { type: 'message', role: 'user', content: [{ type: 'text', text: 'And the docs?' }] },
      ],
      tools: [
        {
          type: 'function',
          name: 'search_docs',
          description: 'Full-text search.',
          parameters: { type: 'object', properties: { query: { type: 'string' }, limit: { type: 'integer' } } },
          strict: false,
        },
        {
          type: 'function',
          name: 'list_open_tickets',
          description: null,
          parameters: { type: 'object', properties: {} },
          strict: false,
        },
      ],
      parallelToolCalls: false,
    },
  },
  {
    name: 'deepseek-reasoner',
    request: {
      model: 'deepseek-reasoner',
      items: [
        { type: 'message', role: 'user', content: [{ type: 'text', text: 'Hello' }] },
        { type: 'reasoning', text: 'A greeting; answer briefly.' },
        { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Hello! How can I help?' }] },
        { type: 'message', role: 'user', content: [{ type: 'text', text: 'How should my client retry 429s?' }] },
        { type: 'reasoning', text: 'Search the docs first.' },
        {
          type: 'function_call',
          callId: 'call_00_Vt4Qk9Lm2Xc7Rb1Nw8Jd3Hs5',
          name: 'search_docs',
          arguments: '{"query":"retry 429"}',
        },
        {
          type: 'function_call_output',
          callId: 'call_00_Vt4Qk9Lm2Xc7Rb1Nw8Jd3Hs5',
          output: '1. Retries  2. Backoff  3. Jitter',
        },
      ],
      tools: [
        {
          type: 'function',
          name: 'search_docs',
          description: 'Full-text search.',
          parameters: { type: 'object', properties: { query: { type: 'string' } } },
          strict: false,
        },
      ],
    },
  },
  {
    name: 'openrouter-custom-tool',
    request: {
      model: 'openai/gpt-5-mini',
      items: [
        { type: 'message', role: 'user', content: [{ type: 'text', text: 'Make the README greet the world.' }] },
        { type: 'custom_tool_call', callId: 'call_Read1', name: 'shell', input: 'cat README.md' },
        { type: 'custom_tool_call_output', callId: 'call_Read1', output: 'Hello\n' },
      ],
      tools: [
        {
          type: 'custom',
          name: 'apply_patch',
          description: 'Edits files with a patch.',
          format: { type: 'grammar', syntax: 'lark', definition: 'start: begin_patch hunk+ end_patch' },
        },
        { type: 'custom', name: 'shell', description: 'Runs a shell command.', format: { type: 'text' } },
      ],
      reasoning: { effort: 'medium', summary: 'auto' },
      verbosity: 'low',
      topLogprobs: 2,
    },
  },
];

describe('OpenAiChatAdapter replaying recorded upstreams', () => {
  for (const fixture of streamFixtures) {
    it(`${fixture.name}: request body and events`, async (context) => {
      const text = readFixture(`${fixture.name}.sse`);
      const results: ModelEvent[][] = [];
      // The same bytes cut at different places must give the same events.
      for (const pieceSize of [1, 7, 64, 100_000]) {
        const { fetch, calls } = scriptedFetch(() => sseResponse(text, pieceSize));
        const { events, error } = await collect(adapter(fetch).stream(modelRequest(fixture.request)));
        assert.equal(error, undefined);
        assert.equal(calls.length, 1);
        if (pieceSize === 1)
          context.assert.fileSnapshot(
            calls[0]!.body,
            path.join(fixtureFolder, `${fixture.name}.request.json`),
            snapshotOptions,
          );
        results.push(events);
      }
      for (const events of results.slice(1)) assert.deepEqual(events, results[0]);
      context.assert.fileSnapshot(results[0], path.join(fixtureFolder, `${fixture.name}.events.json`), snapshotOptions);
      assert.equal(results[0]!.at(-1)?.type, 'finish');
    });
  }

  it('vllm-completion: the non-streaming mode maps a whole completion to the same events', async (context) => {
    const { fetch, calls } = scriptedFetch(() => jsonResponse(200, JSON.parse(readFixture('vllm-completion.json'))));
    const request = modelRequest({
      model: 'Qwen/Qwen3-8B',
      tools: [
        {
          type: 'function',
          name: 'get_order',
          description: null,
          parameters: { type: 'object', properties: { order_id: { type: 'string' } } },
          strict: false,
        },
      ],
    });
    const { events, error } = await collect(adapter(fetch, { streaming: false }).stream(request));
    assert.equal(error, undefined);
    context.assert.fileSnapshot(
      calls[0]!.body,
      path.join(fixtureFolder, 'vllm-completion.request.json'),
      snapshotOptions,
    );
    context.assert.fileSnapshot(events, path.join(fixtureFolder, 'vllm-completion.events.json'), snapshotOptions);
    assert.equal(calls[0]!.headers.get('accept'), 'application/json');
  });

  it('a call nobody reads incrementally (incremental: false) asks for the whole answer, unless a first-byte timeout is set', async () => {
    const whole = scriptedFetch(() => jsonResponse(200, JSON.parse(readFixture('vllm-completion.json'))));
    const { events, error } = await collect(adapter(whole.fetch).stream(modelRequest({ incremental: false })));
    assert.equal(error, undefined);
    assert.deepEqual(events, JSON.parse(readFixture('vllm-completion.events.json')));
    assert.equal((whole.calls[0]!.body as { stream?: boolean }).stream, false);
    assert.equal(whole.calls[0]!.headers.get('accept'), 'application/json');

    const streamed = scriptedFetch(() => sseResponse(readFixture('vllm-qwen3-reasoning.sse')));
    await collect(adapter(streamed.fetch).stream(modelRequest()));
    assert.equal((streamed.calls[0]!.body as { stream?: boolean }).stream, true);
    assert.equal(streamed.calls[0]!.headers.get('accept'), 'text/event-stream');

    const timed = scriptedFetch(() => sseResponse(readFixture('vllm-qwen3-reasoning.sse')));
    await collect(adapter(timed.fetch, { firstByteTimeoutMs: 60_000 }).stream(modelRequest({ incremental: false })));
    assert.equal((timed.calls[0]!.body as { stream?: boolean }).stream, true, 'the timeout needs a first byte early');
  });

  it('sends the URL and headers: bearer key, extra headers winning', async () => {
    const { fetch, calls } = scriptedFetch(() => sseResponse(readFixture('vllm-qwen3-reasoning.sse')));
    await collect(
      adapter(fetch, { headers: { 'x-tenant': 'acme', accept: 'text/event-stream, */*' } }).stream(modelRequest()),
    );
    assert.equal(calls[0]!.url, 'http://upstream.test/v1/chat/completions');
    assert.equal(calls[0]!.headers.get('authorization'), 'Bearer sk-test');
    assert.equal(calls[0]!.headers.get('content-type'), 'application/json');
    assert.equal(calls[0]!.headers.get('x-tenant'), 'acme');
    assert.equal(calls[0]!.headers.get('accept'), 'text/event-stream, */*');

    const keyless = scriptedFetch(() => sseResponse(readFixture('vllm-qwen3-reasoning.sse')));
    await collect(adapter(keyless.fetch, { apiKey: null }).stream(modelRequest()));
    assert.equal(keyless.calls[0]!.headers.has('authorization'), false);
  });

  it('reports the default capabilities and takes overrides', () => {
    const { fetch } = scriptedFetch();
    assert.deepEqual(adapter(fetch).capabilities, { enforcesJsonSchema: true, enforcesStrictTools: false });
    assert.deepEqual(adapter(fetch, { capabilities: { enforcesJsonSchema: false } }).capabilities, {
      enforcesJsonSchema: false,
      enforcesStrictTools: false,
    });
  });
});

describe('OpenAiChatAdapter failures', () => {
  it('fails mid-stream on an error chunk without retrying, after the events already given', async () => {
    const { fetch, calls } = scriptedFetch(() => sseResponse(readFixture('openrouter-mid-stream-error.sse')));
    const { events, error } = await collect(adapter(fetch).stream(modelRequest()));
    assert.deepEqual(events, [
      { type: 'text-delta', delta: 'The three' },
      { type: 'text-delta', delta: ' largest' },
    ]);
    assertUpstreamError(error, 'upstream_error', /Provider disconnected unexpectedly/);
    assert.equal(error.upstreamStatus, 502);
    assert.equal(calls.length, 1);
  });

  it('fails a stream that ends without finish_reason or [DONE], and does not retry once events went out', async () => {
    const { fetch, calls } = scriptedFetch(() => sseResponse(readFixture('vllm-truncated.sse')));
    const { events, error } = await collect(adapter(fetch).stream(modelRequest()));
    assert.deepEqual(events, [
      { type: 'text-delta', delta: 'Once upon' },
      { type: 'text-delta', delta: ' a time' },
    ]);
    assertUpstreamError(error, 'upstream_error', /before a finish_reason or \[DONE\]/);
    assert.equal(calls.length, 1);
  });

  it('retries a 503 and then succeeds', async () => {
    const { fetch, calls } = scriptedFetch(
      () => jsonResponse(503, { error: { message: 'Service Unavailable', type: 'server_error' } }),
      () => new Response('upstream connect error or disconnect/reset before headers', { status: 502 }),
      () => sseResponse(readFixture('vllm-qwen3-reasoning.sse')),
    );
    const { events, error } = await collect(adapter(fetch).stream(modelRequest()));
    assert.equal(error, undefined);
    assert.equal(calls.length, 3);
    assert.deepEqual(calls[0]!.body, calls[2]!.body);
    assert.deepEqual(events.at(-1), { type: 'finish', reason: 'stop' });
  });

  it('retries a stream that dies before its first event', async () => {
    const { fetch, calls } = scriptedFetch(
      () => sseResponse(': keep-alive\n\n'),
      () => sseResponse(readFixture('vllm-qwen3-reasoning.sse')),
    );
    const { error } = await collect(adapter(fetch).stream(modelRequest()));
    assert.equal(error, undefined);
    assert.equal(calls.length, 2);
  });

  it('gives up after maxRetries with the last error and the upstream message', async () => {
    const { fetch, calls } = scriptedFetch(
      () => jsonResponse(503, { error: { message: 'overloaded' } }),
      () => jsonResponse(503, { error: { message: 'still overloaded' } }),
      () => jsonResponse(503, { error: { message: 'overloaded for good' } }),
    );
    const { error } = await collect(adapter(fetch).stream(modelRequest()));
    assertUpstreamError(error, 'upstream_error', /HTTP 503: overloaded for good/);
    assert.equal(error.upstreamStatus, 503);
    assert.equal(calls.length, 3);
  });

  it('waits out Retry-After on a 429', async () => {
    const { fetch, calls } = scriptedFetch(
      () => jsonResponse(429, { error: { message: 'Rate limit reached for requests' } }, { 'retry-after': '1' }),
      () => sseResponse(readFixture('vllm-qwen3-reasoning.sse')),
    );
    const started = performance.now();
    const { error } = await collect(adapter(fetch, { retryBaseDelayMs: 0 }).stream(modelRequest()));
    assert.equal(error, undefined);
    assert.equal(calls.length, 2);
    assert.ok(performance.now() - started >= 950, 'the retry came before Retry-After');
  });

  it('hands a 429 with a long Retry-After to the engine instead of waiting', async () => {
    const { fetch, calls } = scriptedFetch(() =>
      jsonResponse(429, { error: { message: 'Rate limit reached' } }, { 'retry-after': '120' }),
    );
    const { error } = await collect(adapter(fetch).stream(modelRequest()));
    assertUpstreamError(error, 'rate_limit_exceeded', /Rate limit reached/);
    assert.equal(error.retryAfterSeconds, 120);
    assert.equal(error.retryable, true);
    assert.equal(calls.length, 1);
  });

  it('maps context-length 400s from vLLM and llama.cpp, without retrying', async () => {
    for (const [fixture, message] of [
      ['vllm-context-length.json', /maximum context length is 32768 tokens/],
      ['llamacpp-context-size.json', /exceeds the available context size/],
    ] as const) {
      const { fetch, calls } = scriptedFetch(() => jsonResponse(400, JSON.parse(readFixture(fixture))));
      const { error } = await collect(adapter(fetch).stream(modelRequest()));
      assertUpstreamError(error, 'context_length_exceeded', message);
      assert.equal(error.retryable, false);
      assert.equal(calls.length, 1);
      assert.equal(error.toApiError().status, 400);
    }
  });

  it('maps other statuses: bad request, authentication, unknown model', async () => {
    const cases = [
      [
        400,
        { error: { message: "'messages' must contain at least one message", type: 'invalid_request_error' } },
        'upstream_bad_request',
      ],
      [
        401,
        { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } },
        'upstream_authentication_error',
      ],
      [
        404,
        {
          error: {
            message: 'model "llama9" not found, try pulling it first',
            type: 'api_error',
            param: null,
            code: null,
          },
        },
        'model_not_found',
      ],
    ] as const;
    for (const [status, body, code] of cases) {
      const { fetch, calls } = scriptedFetch(() => jsonResponse(status, body));
      const { error } = await collect(adapter(fetch).stream(modelRequest()));
      assertUpstreamError(error, code, new RegExp(body.error.message.slice(0, 20)));
      assert.equal(calls.length, 1);
    }
  });

  it('stops promptly on abort mid-stream, throwing the signal reason and letting go of the body', async () => {
    const controller = new AbortController();
    let cancelled = false;
    const { fetch } = scriptedFetch(() =>
      sseResponse(readFixture('vllm-truncated.sse'), 64, { hang: true, onCancel: () => (cancelled = true) }),
    );
    const reason = new DOMException('client went away', 'AbortError');
    const events: ModelEvent[] = [];
    await assert.rejects(
      async () => {
        for await (const event of adapter(fetch).stream(modelRequest({ signal: controller.signal }))) {
          events.push(event);
          controller.abort(reason);
        }
      },
      (error: unknown) => error === reason,
    );
    assert.equal(events.length, 1);
    await letGoOfBody();
    assert.equal(cancelled, true);
  });

  it('stops on abort while waiting for a fetch that ignores the signal', async () => {
    const controller = new AbortController();
    const { fetch } = scriptedFetch(() => new Promise<Response>(() => undefined));
    setTimeout(() => controller.abort(), 20);
    const { error } = await collect(adapter(fetch).stream(modelRequest({ signal: controller.signal })));
    assert.ok(error instanceof DOMException && error.name === 'AbortError');
  });

  it('does not call the upstream for an already aborted request', async () => {
    const { fetch, calls } = scriptedFetch();
    const { error } = await collect(adapter(fetch).stream(modelRequest({ signal: AbortSignal.abort() })));
    assert.ok(error instanceof DOMException && error.name === 'AbortError');
    assert.equal(calls.length, 0);
  });

  it('lets go of the upstream when the consumer stops reading', async () => {
    let cancelled = false;
    const { fetch } = scriptedFetch(() =>
      sseResponse(readFixture('vllm-truncated.sse'), 64, { hang: true, onCancel: () => (cancelled = true) }),
    );
    for await (const _event of adapter(fetch).stream(modelRequest())) break;
    await letGoOfBody();
    assert.equal(cancelled, true);
  });

  it('times out a stream that stalls, as upstream_timeout, without retrying', async () => {
    const { fetch, calls } = scriptedFetch(() => sseResponse(readFixture('vllm-truncated.sse'), 64, { hang: true }));
    const { events, error } = await collect(adapter(fetch, { timeoutMs: 100 }).stream(modelRequest()));
    assert.equal(events.length, 2);
    assertUpstreamError(error, 'upstream_timeout', /within 100 ms/);
    assert.equal(calls.length, 1);
  });

  it('retries an attempt that sends nothing within firstByteTimeoutMs', async () => {
    const { fetch, calls } = scriptedFetch(
      () => new Promise<Response>(() => undefined),
      () => sseResponse('', 1, { hang: true }),
    );
    const { error } = await collect(adapter(fetch, { firstByteTimeoutMs: 30, maxRetries: 1 }).stream(modelRequest()));
    assertUpstreamError(error, 'upstream_timeout', /sent nothing within 30 ms/);
    assert.equal(calls.length, 2);
  });
});

/** A node:http server on a loopback port, closed after the test, counting its connections. */
async function loopbackServer(
  context: { after: (fn: () => Promise<void>) => void },
  handler: RequestListener,
): Promise<{ baseUrl: string; connections: () => number }> {
  const server = createServer(handler);
  let connections = 0;
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  context.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}/v1`, connections: () => connections };
}

/** Answers each request with the next of `answers` (status, content type, body), once its body is in. */
function answering(
  ...answers: { status?: number; type?: string; body: string; hang?: boolean; onClose?: () => void }[]
): RequestListener {
  return (request, response) => {
    request.resume();
    request.on('end', () => {
      const answer = answers.shift();
      if (answer === undefined) return void response.destroy();
      response.on('close', () => answer.onClose?.());
      response.writeHead(answer.status ?? 200, { 'content-type': answer.type ?? 'text/event-stream' });
      if (answer.hang === true) response.write(answer.body);
      else response.end(answer.body);
    });
  };
}

describe('OpenAiChatAdapter over real HTTP', () => {
  it('keeps its upstream connection alive across calls, streaming or not', async (context) => {
    const completion = readFixture('vllm-completion.json');
    const stream = readFixture('vllm-qwen3-reasoning.sse');
    const server = await loopbackServer(
      context,
      answering(
        ...Array.from({ length: 5 }, () => ({ body: stream })),
        ...Array.from({ length: 5 }, () => ({ type: 'application/json', body: completion })),
      ),
    );
    const streamingAdapter = new OpenAiChatAdapter({ baseUrl: server.baseUrl, apiKey: null });
    for (let call = 0; call < 5; call++) {
      const { events, error } = await collect(streamingAdapter.stream(modelRequest()));
      assert.equal(error, undefined);
      assert.deepEqual(events.at(-1), { type: 'finish', reason: 'stop' });
    }
    const wholeAdapter = new OpenAiChatAdapter({ baseUrl: server.baseUrl, apiKey: null, streaming: false });
    for (let call = 0; call < 5; call++) {
      const { events, error } = await collect(wholeAdapter.stream(modelRequest()));
      assert.equal(error, undefined);
      assert.deepEqual(events, JSON.parse(readFixture('vllm-completion.events.json')));
    }
    // Each adapter may open a second socket while the first is being released, never one per call.
    assert.ok(server.connections() <= 4, `${server.connections()} connections for 10 calls`);
  });

  it('retries a 503 with its error body, then streams', async (context) => {
    const server = await loopbackServer(
      context,
      answering(
        { status: 503, type: 'application/json', body: '{"error":{"message":"overloaded"}}' },
        { body: readFixture('vllm-qwen3-reasoning.sse') },
      ),
    );
    const realAdapter = new OpenAiChatAdapter({ baseUrl: server.baseUrl, apiKey: null, retryBaseDelayMs: 1 });
    const { events, error } = await collect(realAdapter.stream(modelRequest()));
    assert.equal(error, undefined);
    assert.deepEqual(events.at(-1), { type: 'finish', reason: 'stop' });
  });

  it('maps an error status to an UpstreamError with the upstream message and Retry-After', async (context) => {
    const server = await loopbackServer(context, (request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(429, { 'content-type': 'application/json', 'retry-after': '120' });
        response.end('{"error":{"message":"Rate limit reached"}}');
      });
    });
    const realAdapter = new OpenAiChatAdapter({ baseUrl: server.baseUrl, apiKey: null });
    const { error } = await collect(realAdapter.stream(modelRequest()));
    assertUpstreamError(error, 'rate_limit_exceeded', /Rate limit reached/);
    assert.equal(error.retryAfterSeconds, 120);
  });

  it('closes the upstream request when the caller aborts mid-stream', async (context) => {
    let upstreamClosed = false;
    const server = await loopbackServer(
      context,
      answering({ body: readFixture('vllm-truncated.sse'), hang: true, onClose: () => (upstreamClosed = true) }),
    );
    const controller = new AbortController();
    const reason = new Error('client went away');
    const realAdapter = new OpenAiChatAdapter({ baseUrl: server.baseUrl, apiKey: null });
    const events: ModelEvent[] = [];
    await assert.rejects(
      async () => {
        for await (const event of realAdapter.stream(modelRequest({ signal: controller.signal }))) {
          events.push(event);
          controller.abort(reason);
        }
      },
      (error: unknown) => error === reason,
    );
    assert.equal(events.length, 1);
    await letGoOfBody();
    assert.equal(upstreamClosed, true);
  });

  it('closes the upstream request when the consumer stops reading', async (context) => {
    let upstreamClosed = false;
    const server = await loopbackServer(
      context,
      answering({ body: readFixture('vllm-truncated.sse'), hang: true, onClose: () => (upstreamClosed = true) }),
    );
    const realAdapter = new OpenAiChatAdapter({ baseUrl: server.baseUrl, apiKey: null });
    for await (const _event of realAdapter.stream(modelRequest())) break;
    await letGoOfBody();
    assert.equal(upstreamClosed, true);
  });

  it('times out a stalled stream and retries an upstream that sends nothing', async (context) => {
    let requests = 0;
    const server = await loopbackServer(context, (request) => {
      requests += 1;
      request.resume();
    });
    const silent = new OpenAiChatAdapter({
      baseUrl: server.baseUrl,
      apiKey: null,
      firstByteTimeoutMs: 30,
      maxRetries: 1,
      retryBaseDelayMs: 1,
    });
    const { error } = await collect(silent.stream(modelRequest()));
    assertUpstreamError(error, 'upstream_timeout', /sent nothing within 30 ms/);
    assert.equal(requests, 2);

    const stalling = await loopbackServer(context, answering({ body: readFixture('vllm-truncated.sse'), hang: true }));
    const deadline = new OpenAiChatAdapter({ baseUrl: stalling.baseUrl, apiKey: null, timeoutMs: 100 });
    const stalled = await collect(deadline.stream(modelRequest()));
    assert.equal(stalled.events.length, 2);
    assertUpstreamError(stalled.error, 'upstream_timeout', /within 100 ms/);
  });

  it('streams from a node:http server on a loopback port', async (context) => {
    const received: { url: string | undefined; authorization: string | undefined; body: unknown }[] = [];
    const fixture = readFixture('vllm-parallel-tool-calls.sse');
    const server = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (piece: string) => (body += piece));
      request.on('end', () => {
        received.push({ url: request.url, authorization: request.headers.authorization, body: JSON.parse(body) });
        response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        // Written in odd pieces across several ticks so the client really sees a stream.
        const pieces = fixture.match(/[\s\S]{1,97}/g) ?? [];
        const writeNext = (): void => {
          const piece = pieces.shift();
          if (piece === undefined) return void response.end();
          response.write(piece);
          setImmediate(writeNext);
        };
        writeNext();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    context.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;

    const realAdapter = new OpenAiChatAdapter({ baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: 'sk-local' });
    const { events, error } = await collect(realAdapter.stream(modelRequest({ tools: [getWeather] })));
    assert.equal(error, undefined);
    assert.equal(received.length, 1);
    assert.equal(received[0]!.url, '/v1/chat/completions');
    assert.equal(received[0]!.authorization, 'Bearer sk-local');
    assert.deepEqual(events, JSON.parse(readFixture('vllm-parallel-tool-calls.events.json')));
  });

  it('reports a refused connection as upstream_unavailable after retrying', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));

    let attempts = 0;
    const countingFetch: typeof globalThis.fetch = (input, init) => {
      attempts += 1;
      return globalThis.fetch(input, init);
    };
    const closedAdapter = new OpenAiChatAdapter({
      baseUrl: `http://127.0.0.1:${port}/v1`,
      apiKey: null,
      fetch: countingFetch,
      maxRetries: 1,
      retryBaseDelayMs: 1,
    });
    const { error } = await collect(closedAdapter.stream(modelRequest()));
    assertUpstreamError(error, 'upstream_unavailable', /ECONNREFUSED/);
    assert.equal(error.retryable, true);
    assert.equal(attempts, 2);
  });
});
