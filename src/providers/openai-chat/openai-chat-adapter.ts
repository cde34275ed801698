import { setTimeout as sleep } from 'node:timers/promises';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { UpstreamError } from '../../errors/upstream-error.ts';
import type { ModelAdapter, ModelCapabilities, ModelEvent, ModelRequest } from '../model-adapter.ts';
import { fetchTransport, undiciTransport, type UpstreamAnswer, type UpstreamTransport } from '../upstream-transport.ts';
import { convertRequest, customToolNames } from './convert-input.ts';
import { countTokensUpstream, serverRoot, type TokenizeEndpoint } from './tokenize.ts';
import {
  ChatCompletionEventMapper,
  mapCompletion,
  upstreamErrorForStatus,
  upstreamErrorFromPayload,
} from './map-events.ts';

/** How to reach one OpenAI-compatible Chat Completions upstream (vLLM, Ollama, llama.cpp, …). */
export interface OpenAiChatAdapterOptions {
  /** The API root, with the version: `http://127.0.0.1:11434/v1`. `/chat/completions` is appended. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …`; null for upstreams without auth. */
  apiKey: string | null;
  /** Extra request headers; they override the adapter's own (e.g. a different auth scheme). */
  headers?: Record<string, string>;
  /** The whole call, retries and waits included, must finish within this. Default 600 000. */
  timeoutMs?: number;
  /**
   * An attempt fails (and is retried) when no response (non-streaming) or no first SSE message
   * (streaming) arrives within this. Default null: off — undici already gives up on a connect
   * after 10 s and on headers after 300 s, and a cold model load in Ollama can legitimately take
   * minutes.
   */
  firstByteTimeoutMs?: number | null;
  /** Retries of a failure before the first event (429, 5xx, connection errors). Default 2. */
  maxRetries?: number;
  /** The first retry waits about this long, doubling each time up to 8 s. Default 500; tests use 1. */
  retryBaseDelayMs?: number;
  /**
   * Call the upstream through this fetch instead of the adapter's own undici pool (tests inject a
   * scripted one). Tokenize calls use it too; without it they use the global fetch.
   */
  fetch?: typeof globalThis.fetch;
  /** Default: enforcesJsonSchema true, enforcesStrictTools false. */
  capabilities?: Partial<ModelCapabilities>;
  /** Stream (SSE) or fetch the whole completion at once. Default true. */
  streaming?: boolean;
  /**
   * The upstream's tokenize endpoint, used by countTokens for exact input counts. Default null:
   * none, and countTokens is absent, so the engine uses its local estimate.
   */
  tokenizeEndpoint?: TokenizeEndpoint | null;
  /** How long a tokenize call may take before the local estimate is used instead. Default 10 000. */
  tokenizeTimeoutMs?: number;
}

/**
 * The adapter's optional ModelAdapter.countTokens, present only when a tokenize endpoint is
 * configured, so callers can tell "no endpoint" from "endpoint failed" by its absence.
 */
type CountTokens = NonNullable<ModelAdapter['countTokens']>;

/** A Retry-After longer than this is not waited out: the error goes to the engine instead. */
const maximumRetryAfterSeconds = 60;
const maximumRetryDelayMs = 8000;

/**
 * The adapter for every OpenAI-compatible Chat Completions upstream: POST {baseUrl}/chat/completions,
 * streamed as SSE (or not), translated to and from model events by convert-input.ts and
 * map-events.ts. Failures before the first event are retried here; once an event has gone out,
 * any failure is thrown as is, because the engine may already have forwarded it to a client.
 */
export class OpenAiChatAdapter implements ModelAdapter {
  readonly capabilities: ModelCapabilities;
  readonly countTokens?: CountTokens;
  readonly #url: string;
  /** The same for every call, so built once. */
  readonly #requestHeaders: Record<string, string>;
  readonly #tokenizeHeaders: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #firstByteTimeoutMs: number | null;
  readonly #maxRetries: number;
  readonly #retryBaseDelayMs: number;
  readonly #transport: UpstreamTransport;
  readonly #streaming: boolean;
  readonly #jsonHeaders: Record<string, string>;

  constructor(options: OpenAiChatAdapterOptions) {
    this.#url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
    this.#streaming = options.streaming ?? true;
    // Lower-cased, so an extra header replaces the adapter's own whatever its spelling.
    const extraHeaders = Object.fromEntries(
      Object.entries(options.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
    );
    const authorization: Record<string, string> =
      options.apiKey === null ? {} : { authorization: `Bearer ${options.apiKey}` };
    this.#requestHeaders = {
      // fetch sent `user-agent: node` on its own; undici's request sends none, and some
      // CDN-fronted upstreams turn away requests without one.
      'user-agent': 'riposte',
      'content-type': 'application/json',
      accept: this.#streaming ? 'text/event-stream' : 'application/json',
      ...authorization,
      ...extraHeaders,
    };
    // For calls whose output nobody reads before it ends (see #streams).
    this.#jsonHeaders = { ...this.#requestHeaders, accept: extraHeaders.accept ?? 'application/json' };
    this.#tokenizeHeaders = { ...authorization, ...extraHeaders };
    this.#timeoutMs = options.timeoutMs ?? 600_000;
    this.#firstByteTimeoutMs = options.firstByteTimeoutMs ?? null;
    this.#maxRetries = Math.max(0, Math.floor(options.maxRetries ?? 2));
    this.#retryBaseDelayMs = options.retryBaseDelayMs ?? 500;
    this.#transport = options.fetch ? fetchTransport(options.fetch) : undiciTransport();
    this.capabilities = { enforcesJsonSchema: true, enforcesStrictTools: false, ...options.capabilities };
    const tokenizeEndpoint = options.tokenizeEndpoint ?? null;
    if (tokenizeEndpoint !== null) {
      const root = serverRoot(options.baseUrl);
      const timeoutMs = options.tokenizeTimeoutMs ?? 10_000;
      // Looked up per call, not bound at construction, so a fetch patched later (a mock) is used.
      const fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
      this.countTokens = async (request) => {
        const body = convertRequest(request, { stream: false });
        return countTokensUpstream(
          {
            endpoint: tokenizeEndpoint,
            root,
            headers: this.#tokenizeHeaders,
            fetch,
            signal: AbortSignal.any([request.signal, AbortSignal.timeout(timeoutMs)]),
          },
          body,
        );
      };
    }
  }

  /**
   * The events of one completion: the retry loop around #attempt. There are only these two
   * generators on purpose: every event passes through each of them.
   */
  async *stream(request: ModelRequest): AsyncGenerator<ModelEvent> {
    request.signal.throwIfAborted();
    const streaming = this.#streams(request);
    const body = JSON.stringify(convertRequest(request, { stream: streaming }));
    const toolNames = customToolNames(request.tools);
    const call = new CallAbort(request.signal, this.#timeoutMs);
    try {
      for (let attempt = 0; ; attempt += 1) {
        const attemptController = call.next();
        let firstByteTimedOut = false;
        const firstByteTimer =
          this.#firstByteTimeoutMs === null
            ? undefined
            : setTimeout(() => {
                firstByteTimedOut = true;
                attemptController.abort(new Error('first-byte timeout'));
              }, this.#firstByteTimeoutMs);
        const onFirstByte = (): void => clearTimeout(firstByteTimer);
        let yielded = false;
        try {
          for await (const event of this.#attempt(body, streaming, toolNames, attemptController.signal, onFirstByte)) {
            yielded = true;
            yield event;
          }
          return;
        } catch (error) {
          if (request.signal.aborted) throw request.signal.reason;
          if (call.deadlinePassed)
            throw this.#timeoutError(`The upstream did not finish within ${this.#timeoutMs} ms.`, error);
          const upstreamError = firstByteTimedOut
            ? this.#timeoutError(`The upstream sent nothing within ${this.#firstByteTimeoutMs} ms.`, error)
            : toUpstreamError(error);
          if (yielded || !upstreamError.retryable || attempt >= this.#maxRetries) throw upstreamError;
          const delayMs = this.#retryDelayMs(attempt, upstreamError);
          if (delayMs === null) throw upstreamError;
          try {
            await sleep(delayMs, undefined, { signal: call.next().signal });
          } catch (sleepError) {
            if (request.signal.aborted) throw request.signal.reason;
            throw this.#timeoutError(`The upstream did not finish within ${this.#timeoutMs} ms.`, sleepError);
          }
        } finally {
          clearTimeout(firstByteTimer);
        }
      }
    } finally {
      call.close();
    }
  }

  /**
   * Whether to ask the upstream for a stream. Not when the provider is set to plain calls, nor
   * when nobody reads the output before it ends (`incremental: false`: a foreground response with
   * `stream: false`), where one JSON answer costs far less to read than a chunk per token — unless
   * a first-byte timeout is set, which on a plain call would have to cover the whole generation.
   */
  #streams(request: ModelRequest): boolean {
    if (!this.#streaming) return false;
    return request.incremental !== false || this.#firstByteTimeoutMs !== null;
  }

  /**
   * One request to the upstream and its events; errors are thrown raw or as UpstreamError. An
   * answer read to its end (or to `[DONE]`, the rest drained) keeps its keep-alive connection; any
   * other ending — an error, an abort, the consumer stopping early — closes it, so the upstream
   * call never outlives the attempt.
   */
  async *#attempt(
    body: string,
    streaming: boolean,
    toolNames: ReadonlySet<string>,
    signal: AbortSignal,
    onFirstByte: () => void,
  ): AsyncGenerator<ModelEvent> {
    let answer: UpstreamAnswer;
    try {
      const headers = streaming ? this.#requestHeaders : this.#jsonHeaders;
      answer = await this.#transport({ url: this.#url, headers, body, signal });
    } catch (error) {
      if (signal.aborted) throw error;
      throw connectionError(error);
    }
    let complete = false;
    try {
      if (answer.status < 200 || answer.status > 299) {
        const text = await answer.text().catch((error: unknown) => {
          if (signal.aborted) throw error;
          return '';
        });
        throw upstreamErrorForStatus(answer.status, parseJsonOrText(text), {
          retryAfterSeconds: retryAfterSeconds(answer),
        });
      }

      // Some servers answer a streaming request with plain JSON (and non-streaming is JSON anyway).
      const contentType = answer.header('content-type') ?? '';
      if (!streaming || contentType.includes('application/json')) {
        onFirstByte();
        const text = await readBody(answer.text(), signal);
        const completion = parseJsonOrText(text);
        if (!isRecord(completion))
          throw malformed(`The upstream answered with something that is not a completion: ${text.slice(0, 200)}`);
        for (const event of mapCompletion(completion, { customToolNames: toolNames })) yield event;
        complete = true;
        return;
      }

      // The SSE parser is fed decoded text and hands back the messages each piece completes.
      const messages: EventSourceMessage[] = [];
      const parser = createParser({ onEvent: (message) => void messages.push(message) });
      const decoder = new TextDecoder();
      const chunks = answer.chunks()[Symbol.asyncIterator]();
      const mapper = new ChatCompletionEventMapper({ customToolNames: toolNames });
      let sawDone = false;
      reading: for (;;) {
        const result = await readBody(chunks.next(), signal);
        if (result.done) break;
        parser.feed(decoder.decode(result.value, { stream: true }));
        for (let index = 0; index < messages.length; index++) {
          // One piece may complete several messages; an abort while the consumer held the last
          // event stops the rest.
          signal.throwIfAborted();
          const message = messages[index]!;
          onFirstByte();
          const data = message.data.trim();
          if (data === '[DONE]') {
            sawDone = true;
            break reading;
          }
          if (data === '') continue;
          const chunk = parseJsonOrText(data);
          if (!isRecord(chunk)) throw malformed(`The upstream sent a malformed chunk: ${data.slice(0, 200)}`);
          // llama.cpp and others name a failure with an SSE `event: error`.
          if (message.event === 'error')
            throw upstreamErrorFromPayload(
              'error' in chunk ? chunk : { error: chunk },
              'The upstream reported an error mid-stream',
            );
          for (const event of mapper.mapChunk(chunk)) yield event;
        }
        messages.length = 0;
      }
      if (!sawDone && !mapper.hasFinishReason) {
        throw new UpstreamError({
          message: 'The upstream closed the stream before a finish_reason or [DONE]: the answer is incomplete.',
          code: 'upstream_error',
          retryable: true,
        });
      }
      for (const event of mapper.finish()) yield event;
      complete = true;
    } finally {
      if (complete) answer.drain();
      else answer.discard();
    }
  }

  #timeoutError(message: string, cause: unknown): UpstreamError {
    return new UpstreamError({ message, code: 'upstream_timeout', retryable: true, cause });
  }

  /** Retry-After when the upstream gave one (null when too long to wait), else backoff with jitter. */
  #retryDelayMs(attempt: number, error: UpstreamError): number | null {
    if (error.retryAfterSeconds !== undefined) {
      return error.retryAfterSeconds > maximumRetryAfterSeconds ? null : error.retryAfterSeconds * 1000;
    }
    const ceiling = Math.min(this.#retryBaseDelayMs * 2 ** attempt, maximumRetryDelayMs);
    // "Equal jitter": at least half the backoff, so retries of many requests spread out but none
    // comes back immediately.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJsonOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function malformed(message: string): UpstreamError {
  return new UpstreamError({ message, code: 'upstream_error', retryable: true });
}

/**
 * What may stop one call to the upstream: the caller's signal (a client gone, a cancel) and the
 * deadline. Each attempt, and each wait between attempts, gets a controller of its own that
 * either one aborts. Plain listeners and one timer rather than AbortSignal.any chains and
 * AbortSignal.timeout, which cost more per request than the rest of the call's bookkeeping.
 */
class CallAbort {
  deadlinePassed = false;
  #current: AbortController | null = null;
  readonly #caller: AbortSignal;
  readonly #timer: NodeJS.Timeout;
  readonly #onCallerAbort = (): void => this.#current?.abort(this.#caller.reason);

  constructor(caller: AbortSignal, timeoutMs: number) {
    this.#caller = caller;
    caller.addEventListener('abort', this.#onCallerAbort, { once: true });
    // A plain timer that goes away as soon as the call ends; setTimeout caps at 2^31-1 ms.
    this.#timer = setTimeout(
      () => {
        this.deadlinePassed = true;
        this.#current?.abort(new Error('deadline'));
      },
      Math.min(timeoutMs, 2 ** 31 - 1),
    );
  }

  /** The controller of the next attempt or wait: aborted already if the call is over. */
  next(): AbortController {
    const controller = new AbortController();
    this.#current = controller;
    if (this.#caller.aborted) controller.abort(this.#caller.reason);
    else if (this.deadlinePassed) controller.abort(new Error('deadline'));
    return controller;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#caller.removeEventListener('abort', this.#onCallerAbort);
  }
}

/** A failure while reading the body, unless it is an abort, is the connection dropping. */
async function readBody<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    if (signal.aborted || error instanceof UpstreamError) throw error;
    throw new UpstreamError({
      message: `The upstream connection failed mid-response: ${describeCause(error)}`,
      code: 'upstream_error',
      retryable: true,
      cause: error,
    });
  }
}

const timeoutCodes = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

/** fetch failed before a response: refused, reset, DNS, TLS, or undici's own timeouts. */
function connectionError(error: unknown): UpstreamError {
  const codes = errorCodes(error);
  const detail = describeCause(error);
  if (codes.some((code) => timeoutCodes.has(code))) {
    return new UpstreamError({
      message: `The upstream timed out: ${detail}`,
      code: 'upstream_timeout',
      retryable: true,
      cause: error,
    });
  }
  return new UpstreamError({
    message: `Could not reach the upstream: ${detail}`,
    code: 'upstream_unavailable',
    retryable: true,
    cause: error,
  });
}

/** Anything thrown while talking to the upstream, as an UpstreamError. */
function toUpstreamError(error: unknown): UpstreamError {
  if (error instanceof UpstreamError) return error;
  return new UpstreamError({
    message: `The upstream call failed: ${describeCause(error)}`,
    code: 'upstream_error',
    retryable: false,
    cause: error,
  });
}

/** Node's fetch says only "fetch failed"; the reason (ECONNREFUSED …) is down the cause chain. */
function errorChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  const pending: unknown[] = [error];
  while (pending.length > 0 && chain.length < 10) {
    const current = pending.shift();
    if (!(current instanceof Error)) continue;
    chain.push(current);
    if (current instanceof AggregateError) pending.push(...(current.errors as unknown[]));
    if (current.cause !== undefined) pending.push(current.cause);
  }
  return chain;
}

function errorCodes(error: unknown): string[] {
  return errorChain(error).flatMap((link) => (isRecord(link) && typeof link.code === 'string' ? [link.code] : []));
}

function describeCause(error: unknown): string {
  const messages = errorChain(error)
    .map((link) => (link instanceof Error ? link.message : ''))
    .filter((message) => message !== '' && message !== 'fetch failed');
  const codes = errorCodes(error);
  return [...new Set(messages)].join(': ') || codes[0] || String(error);
}

/** Seconds to wait from `retry-after-ms` (OpenAI) or `retry-after` (seconds or an HTTP date). */
function retryAfterSeconds(answer: UpstreamAnswer): number | undefined {
  const milliseconds = Number(answer.header('retry-after-ms') ?? Number.NaN);
  if (Number.isFinite(milliseconds) && milliseconds >= 0) return milliseconds / 1000;
  const value = answer.header('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}
