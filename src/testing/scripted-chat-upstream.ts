import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted answer of the fake Chat Completions upstream. */
export interface ChatUpstreamReply {
  content?: string;
  reasoning?: string;
  toolCalls?: Array<{ id: string; name: string; arguments: string }>;
  finishReason?: 'stop' | 'length' | 'tool_calls' | 'content_filter';
  usage?: { prompt_tokens: number; completion_tokens: number; cached_tokens?: number };
  /** Answer with this HTTP status and error body instead. */
  error?: { status: number; message: string; type?: string; code?: string };
  /** Milliseconds between streamed chunks. */
  chunkDelayMs?: number;
}

export type ChatUpstreamStep = ChatUpstreamReply | ((body: Record<string, unknown>) => ChatUpstreamReply);

/**
 * An OpenAI-compatible Chat Completions server on a loopback port, answering from a script and
 * recording every request body — the "recorded upstream" end-to-end tests put behind Riposte.
 * Streams like vLLM does: role chunk, content chunks, tool-call chunks, finish, usage, [DONE].
 */
export class ScriptedChatUpstream {
  readonly requests: Array<Record<string, unknown>> = [];
  /** Bodies of streamed requests whose client closed the connection before the stream ended. */
  readonly abandoned: Array<Record<string, unknown>> = [];
  private readonly steps: ChatUpstreamStep[];
  private server: Server | null = null;
  private fallback: ChatUpstreamStep | null;

  constructor(steps: ChatUpstreamStep[] = [], options: { fallback?: ChatUpstreamStep } = {}) {
    this.steps = [...steps];
    this.fallback = options.fallback ?? null;
  }

  push(...steps: ChatUpstreamStep[]): void {
    this.steps.push(...steps);
  }

  setFallback(step: ChatUpstreamStep): void {
    this.fallback = step;
  }

  /** Starts listening on 127.0.0.1 and returns the base URL (ending in /v1). */
  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: { message: String(error) } }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'POST' || !request.url?.endsWith('/chat/completions')) {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { message: `no route ${request.method} ${request.url}` } }));
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    this.requests.push(body);
    const step = this.steps.shift() ?? this.fallback;
    if (!step) throw new Error(`ScriptedChatUpstream: no step left for request ${this.requests.length}`);
    const reply = typeof step === 'function' ? step(body) : step;
    if (reply.error) {
      response.writeHead(reply.error.status, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          error: {
            message: reply.error.message,
            type: reply.error.type ?? 'invalid_request_error',
            code: reply.error.code ?? null,
          },
        }),
      );
      return;
    }
    const model = String(body.model);
    const usage = {
      prompt_tokens: reply.usage?.prompt_tokens ?? 10,
      completion_tokens: reply.usage?.completion_tokens ?? 5,
      total_tokens: (reply.usage?.prompt_tokens ?? 10) + (reply.usage?.completion_tokens ?? 5),
      prompt_tokens_details: { cached_tokens: reply.usage?.cached_tokens ?? 0 },
    };
    const finishReason = reply.finishReason ?? (reply.toolCalls?.length ? 'tool_calls' : 'stop');
    if (body.stream !== true) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          id: 'chatcmpl-scripted',
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model,
          choices: [
            {
              index: 0,
              finish_reason: finishReason,
              message: {
                role: 'assistant',
                content: reply.content ?? null,
                ...(reply.reasoning ? { reasoning_content: reply.reasoning } : {}),
                ...(reply.toolCalls?.length
                  ? {
                      tool_calls: reply.toolCalls.map((call) => ({
                        id: call.id,
                        type: 'function',
                        function: { name: call.name, arguments: call.arguments },
                      })),
                    }
                  : {}),
              },
            },
          ],
          usage,
        }),
      );
      return;
    }
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    // A client that aborts its call (a cancelled background response) closes the connection.
    response.on('close', () => {
      if (!response.writableFinished) this.abandoned.push(body);
    });
    const send = async (data: unknown): Promise<void> => {
      if (response.destroyed) return;
      if (reply.chunkDelayMs) await new Promise((resolve) => setTimeout(resolve, reply.chunkDelayMs));
      if (!response.destroyed) response.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    };
    const chunk = (delta: Record<string, unknown>, finish: string | null = null): Record<string, unknown> => ({
      id: 'chatcmpl-scripted',
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    await send(chunk({ role: 'assistant', content: '' }));
    for (const piece of split(reply.reasoning)) await send(chunk({ reasoning_content: piece }));
    for (const piece of split(reply.content)) await send(chunk({ content: piece }));
    for (const [index, call] of (reply.toolCalls ?? []).entries()) {
      await send(
        chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }),
      );
      for (const piece of split(call.arguments))
        await send(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
    }
    await send(chunk({}, finishReason));
    await send({
      id: 'chatcmpl-scripted',
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [],
      usage,
    });
    await send('[DONE]');
    response.end();
  }
}

function split(text: string | undefined): string[] {
  return text ? (text.match(/[\s\S]{1,6}/g) ?? []) : [];
}
