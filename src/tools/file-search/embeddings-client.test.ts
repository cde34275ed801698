import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { UpstreamError } from '../../errors/upstream-error.ts';
import { EmbeddingsClient } from './embeddings-client.ts';

function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

/** An embedding that encodes the input's length, so tests can tell which vector is whose. */
function embeddingFor(text: string): number[] {
  return [text.length, 0, 0, 0];
}

interface RecordedRequest {
  url: string;
  body: { model: string; input: string[]; dimensions?: number };
  authorization: string | null;
}

function scriptedFetch(responses: Array<(request: RecordedRequest) => Response | Promise<Response>>): {
  fetch: typeof globalThis.fetch;
  requests: RecordedRequest[];
} {
  const requests: RecordedRequest[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    const request: RecordedRequest = {
      url: input as string,
      body: JSON.parse(init?.body as string),
      authorization: headers.get('authorization'),
    };
    requests.push(request);
    const next = responses.shift() ?? ((recorded: RecordedRequest) => okFor(recorded));
    return next(request);
  };
  return { fetch, requests };
}

function okFor(request: RecordedRequest): Response {
  return jsonResponse(200, {
    object: 'list',
    data: request.body.input.map((text, index) => ({ object: 'embedding', index, embedding: embeddingFor(text) })),
    model: request.body.model,
  });
}

async function rejection(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

describe('EmbeddingsClient', () => {
  it('batches, keeps the order and returns unit-length vectors', async () => {
    const { fetch, requests } = scriptedFetch([]);
    const client = new EmbeddingsClient({
      baseUrl: 'http://embed.test/v1/',
      apiKey: 'sk-test',
      model: 'nomic-embed-text',
      batchSize: 2,
      fetch,
    });
    const texts = ['a', 'bb', 'ccc', 'dddd', 'eeeee'];
    const vectors = await client.embed(texts, new AbortController().signal);
    assert.deepEqual(
      requests.map((request) => request.body.input),
      [['a', 'bb'], ['ccc', 'dddd'], ['eeeee']],
    );
    assert.equal(requests[0]!.url, 'http://embed.test/v1/embeddings');
    assert.equal(requests[0]!.authorization, 'Bearer sk-test');
    assert.equal(requests[0]!.body.model, 'nomic-embed-text');
    assert.equal('dimensions' in requests[0]!.body, false);
    assert.equal(vectors.length, 5);
    for (const vector of vectors) {
      assert.ok(vector instanceof Float32Array);
      assert.deepEqual([...vector], [1, 0, 0, 0]);
    }
  });

  it('normalises, orders by index and reads base64 embeddings', async () => {
    const base64 = Buffer.from(new Float32Array([0, 3, 4]).buffer).toString('base64');
    const { fetch } = scriptedFetch([
      () =>
        jsonResponse(200, {
          data: [
            { index: 1, embedding: base64 },
            { index: 0, embedding: [2, 0, 0] },
          ],
        }),
    ]);
    const client = new EmbeddingsClient({ baseUrl: 'http://embed.test/v1', model: 'm', dimensions: 3, fetch });
    const [first, second] = await client.embed(['x', 'y'], new AbortController().signal);
    assert.deepEqual([...first!], [1, 0, 0]);
    assert.deepEqual(
      [...second!].map((value) => Number(value.toFixed(6))),
      [0, 0.6, 0.8],
    );
  });

  it('sends dimensions when configured and refuses vectors of another length', async () => {
    const { fetch, requests } = scriptedFetch([]);
    const client = new EmbeddingsClient({ baseUrl: 'http://embed.test/v1', model: 'm', dimensions: 256, fetch });
    const error = await rejection(client.embed(['x'], new AbortController().signal));
    assert.equal(requests[0]!.body.dimensions, 256);
    assert.equal(error.code, 'upstream_error');
    assert.equal(error.retryable, false);
    assert.match(error.message, /4 dimensions, not the 256/);
  });

  it('gives no vectors for no texts, without a request', async () => {
    const { fetch, requests } = scriptedFetch([]);
    const client = new EmbeddingsClient({ baseUrl: 'http://embed.test/v1', model: 'm', fetch });
    assert.deepEqual(await client.embed([], new AbortController().signal), []);
    assert.equal(requests.length, 0);
  });

  it('retries 429 and 5xx, then succeeds', async () => {
    const { fetch, requests } = scriptedFetch([
      () => jsonResponse(429, { error: { message: 'slow down' } }, { 'retry-after': '0' }),
      () => jsonResponse(503, { error: 'model loading' }),
    ]);
    const client = new EmbeddingsClient({ baseUrl: 'http://embed.test/v1', model: 'm', retryBaseDelayMs: 1, fetch });
    const vectors = await client.embed(['hello'], new AbortController().signal);
    assert.equal(requests.length, 3);
    assert.equal(vectors.length, 1);
  });

  it('gives up after maxRetries with the last error', async () => {
    const { fetch, requests } = scriptedFetch(
      Array.from({ length: 5 }, () => () => jsonResponse(500, { error: { message: 'boom' } })),
    );
    const client = new EmbeddingsClient({
      baseUrl: 'http://embed.test/v1',
      model: 'm',
      maxRetries: 2,
      retryBaseDelayMs: 1,
      fetch,
    });
    const error = await rejection(client.embed(['x'], new AbortController().signal));
    assert.equal(requests.length, 3);
    assert.equal(error.code, 'upstream_error');
    assert.equal(error.upstreamStatus, 500);
    assert.equal(error.retryable, true);
    assert.match(error.message, /The embeddings server answered HTTP 500: boom/);
  });

  it('does not retry a refused request or a bad key', async () => {
    for (const [status, code] of [
      [400, 'upstream_bad_request'],
      [401, 'upstream_authentication_error'],
    ] as const) {
      const { fetch, requests } = scriptedFetch([() => jsonResponse(status, { error: { message: 'no' } })]);
      const client = new EmbeddingsClient({ baseUrl: 'http://embed.test/v1', model: 'm', retryBaseDelayMs: 1, fetch });
      const error = await rejection(client.embed(['x'], new AbortController().signal));
      assert.equal(requests.length, 1);
      assert.equal(error.code, code);
      assert.equal(error.retryable, false);
    }
  });

  it('refuses a malformed answer', async () => {
    for (const body of [
      { nothing: true },
      { data: [] },
      { data: [{ index: 0, embedding: ['a'] }] },
      { data: [{ index: 3, embedding: [1] }] },
    ]) {
      const { fetch } = scriptedFetch([() => jsonResponse(200, body)]);
      const client = new EmbeddingsClient({ baseUrl: 'http://embed.test/v1', model: 'm', fetch });
      const error = await rejection(client.embed(['x'], new AbortController().signal));
      assert.equal(error.code, 'upstream_error');
    }
  });

  it('times out a silent server as upstream_timeout, and stops at once when aborted', async () => {
    const hang: typeof globalThis.fetch = (_input, init) =>
      new Promise((_resolve, reject) =>
        init?.signal?.addEventListener('abort', () => reject(init.signal!.reason as Error)),
      );
    const client = new EmbeddingsClient({
      baseUrl: 'http://embed.test/v1',
      model: 'm',
      timeoutMs: 20,
      maxRetries: 1,
      retryBaseDelayMs: 1,
      fetch: hang,
    });
    const error = await rejection(client.embed(['x'], new AbortController().signal));
    assert.equal(error.code, 'upstream_timeout');

    const controller = new AbortController();
    const patient = new EmbeddingsClient({ baseUrl: 'http://embed.test/v1', model: 'm', fetch: hang });
    const pending = patient.embed(['x'], controller.signal);
    controller.abort(new Error('job cancelled'));
    await assert.rejects(pending, /job cancelled/);
  });

  it('talks to a real HTTP server on loopback, and reports a refused connection', async () => {
    const seen: Array<{ path: string | undefined; body: RecordedRequest['body']; authorization: string | undefined }> =
      [];
    let failures = 1;
    const server = createServer((request: IncomingMessage, response) => {
      let raw = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (raw += chunk));
      request.on('end', () => {
        const body = JSON.parse(raw) as RecordedRequest['body'];
        seen.push({ path: request.url, body, authorization: request.headers.authorization });
        if (failures > 0) {
          failures -= 1;
          response.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway');
          return;
        }
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({ data: body.input.map((text, index) => ({ index, embedding: [text.length, text.length] })) }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const client = new EmbeddingsClient({
        baseUrl: `http://127.0.0.1:${port}/v1`,
        apiKey: 'sk-local',
        model: 'bge-m3',
        batchSize: 64,
        retryBaseDelayMs: 1,
      });
      const texts = Array.from({ length: 130 }, (_, index) => `text number ${index}`);
      const vectors = await client.embed(texts, new AbortController().signal);
      assert.equal(vectors.length, 130);
      assert.deepEqual(
        seen.map((request) => request.body.input.length),
        [64, 64, 64, 2],
      );
      assert.ok(
        seen.every((request) => request.path === '/v1/embeddings' && request.authorization === 'Bearer sk-local'),
      );
      const norm = Math.hypot(...vectors[0]!);
      assert.ok(Math.abs(norm - 1) < 1e-6);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const refused = new EmbeddingsClient({
      baseUrl: `http://127.0.0.1:${port}/v1`,
      model: 'm',
      maxRetries: 1,
      retryBaseDelayMs: 1,
    });
    const error = await rejection(refused.embed(['x'], new AbortController().signal));
    assert.equal(error.code, 'upstream_unavailable');
    assert.equal(error.retryable, true);
  });
});
