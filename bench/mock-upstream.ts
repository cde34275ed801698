/**
 * The benchmark's upstream: an OpenAI-compatible Chat Completions server (non-streaming and
 * streaming) and an embeddings endpoint, with a fixed latency and token rate, in its own process.
 *
 *   node bench/mock-upstream.ts --port 0 --latency-ms 0 --tokens-per-second 0 --completion-tokens 16
 *
 * Prints one JSON line `{"port": N}` once it listens on 127.0.0.1.
 *
 * The model name picks a behaviour, because it is the one field every gateway forwards untouched:
 * - `bench-hold`: streams the role chunk and one token, then keeps the stream open until the
 *   client goes away (the "open streams" memory scenario);
 * - `bench-tokens-N`: answers with N completion tokens instead of the default;
 * - anything else: the default answer.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

export interface MockUpstreamSettings {
  /** Milliseconds before the first byte of every answer (time to first token). */
  latencyMs: number;
  /** Streamed tokens per second after the first; 0 writes them back to back. */
  tokensPerSecond: number;
  /** Completion tokens in the default answer. */
  completionTokens: number;
  /** Dimensions of every embedding. */
  embeddingDimensions: number;
}

const sleep = (milliseconds: number): Promise<void> =>
  milliseconds > 0 ? new Promise((resolve) => setTimeout(resolve, milliseconds)) : Promise.resolve();

async function readBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
}

function tokensFor(model: string, settings: MockUpstreamSettings): number {
  const match = /^bench-tokens-(\d+)$/.exec(model);
  return match ? Number(match[1]) : settings.completionTokens;
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

async function chatCompletion(
  body: Record<string, unknown>,
  response: ServerResponse,
  settings: MockUpstreamSettings,
): Promise<void> {
  const model = String(body.model);
  const tokenCount = model === 'bench-hold' ? 1 : tokensFor(model, settings);
  const usage = { prompt_tokens: 12, completion_tokens: tokenCount, total_tokens: 12 + tokenCount };
  const created = Math.floor(Date.now() / 1000);
  await sleep(settings.latencyMs);
  if (body.stream !== true) {
    sendJson(response, 200, {
      id: 'chatcmpl-bench',
      object: 'chat.completion',
      created,
      model,
      choices: [
        {
          index: 0,
          finish_reason: 'stop',
          message: { role: 'assistant', content: 'token '.repeat(tokenCount).trimEnd() },
        },
      ],
      usage,
    });
    return;
  }
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const frame = (delta: Record<string, unknown>, finish: string | null = null): string =>
    `data: ${JSON.stringify({
      id: 'chatcmpl-bench',
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    })}\n\n`;
  response.write(frame({ role: 'assistant', content: '' }));
  const gapMs = settings.tokensPerSecond > 0 ? 1000 / settings.tokensPerSecond : 0;
  for (let index = 0; index < tokenCount; index++) {
    if (response.destroyed) return;
    if (index > 0 && gapMs > 0) await sleep(gapMs);
    response.write(frame({ content: index === 0 ? 'token' : ' token' }));
  }
  if (model === 'bench-hold') {
    // Held until the client leaves: the stream costs the gateway memory, not CPU.
    await new Promise<void>((resolve) => response.once('close', () => resolve()));
    return;
  }
  response.write(frame({}, 'stop'));
  response.write(
    `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created, model, choices: [], usage })}\n\n`,
  );
  response.end('data: [DONE]\n\n');
}

function embeddings(body: Record<string, unknown>, response: ServerResponse, settings: MockUpstreamSettings): void {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const data = inputs.map((input, index) => {
    // Deterministic vectors, so the same text always lands in the same place.
    const seed = createHash('sha256').update(String(input)).digest();
    const embedding = Array.from({ length: settings.embeddingDimensions }, (_, dimension) => {
      const byte = seed[dimension % seed.length] ?? 0;
      return ((byte ^ (dimension * 31)) % 255) / 255 - 0.5;
    });
    return { object: 'embedding', index, embedding };
  });
  sendJson(response, 200, {
    object: 'list',
    data,
    model: String(body.model),
    usage: { prompt_tokens: inputs.length * 8, total_tokens: inputs.length * 8 },
  });
}

/** Starts the mock on 127.0.0.1 and resolves with its port. */
export async function startMockUpstream(port: number, settings: MockUpstreamSettings): Promise<number> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0] ?? '';
    if (request.method === 'GET' && path.endsWith('/models')) {
      sendJson(response, 200, { object: 'list', data: [{ id: 'bench-model', object: 'model', owned_by: 'bench' }] });
      return;
    }
    if (request.method !== 'POST') {
      sendJson(response, 404, { error: { message: `no route ${request.method} ${path}` } });
      return;
    }
    readBody(request)
      .then(async (body) => {
        if (path.endsWith('/chat/completions')) return chatCompletion(body, response, settings);
        if (path.endsWith('/embeddings')) return embeddings(body, response, settings);
        sendJson(response, 404, { error: { message: `no route POST ${path}` } });
        return undefined;
      })
      .catch((error: unknown) => {
        if (!response.headersSent) sendJson(response, 500, { error: { message: String(error) } });
        else response.destroy();
      });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'latency-ms': { type: 'string', default: '0' },
      'tokens-per-second': { type: 'string', default: '0' },
      'completion-tokens': { type: 'string', default: '16' },
      'embedding-dimensions': { type: 'string', default: '256' },
    },
  });
  const port = await startMockUpstream(Number(values.port), {
    latencyMs: Number(values['latency-ms']),
    tokensPerSecond: Number(values['tokens-per-second']),
    completionTokens: Number(values['completion-tokens']),
    embeddingDimensions: Number(values['embedding-dimensions']),
  });
  process.stdout.write(`${JSON.stringify({ port })}\n`);
}
