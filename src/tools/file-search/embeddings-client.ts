import { setTimeout as sleep } from 'node:timers/promises';
import { UpstreamError } from '../../errors/upstream-error.ts';
import { upstreamErrorForStatus } from '../../providers/openai-chat/map-events.ts';

/** How to reach an OpenAI-compatible embeddings endpoint (OpenAI, Ollama, vLLM, TEI, llama.cpp…). */
export interface EmbeddingsClientOptions {
  /** The API root, with the version: `http://127.0.0.1:11434/v1`. `/embeddings` is appended. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …`; null or absent for servers without auth. */
  apiKey?: string | null;
  model: string;
  /**
   * Asks for vectors this long (OpenAI's text-embedding-3 models shorten on request) and checks
   * that they are. Null or absent: the model's own length, whatever it is, the same for all.
   */
  dimensions?: number | null;
  /** Texts per request. Default 64: well under OpenAI's 2048 inputs and 300k tokens a request. */
  batchSize?: number;
  /** Each attempt (one batch) must answer within this. Default 60 000. */
  timeoutMs?: number;
  /** Retries of a 408, 429, 5xx, timeout or dropped connection, per batch. Default 3. */
  maxRetries?: number;
  /** The first retry waits about this long, doubling each time up to 8 s. Default 500; tests use 1. */
  retryBaseDelayMs?: number;
  fetch?: typeof globalThis.fetch;
}

/** A Retry-After longer than this is not waited out: the batch fails and the job may try later. */
const MAXIMUM_RETRY_AFTER_SECONDS = 60;
const MAXIMUM_RETRY_DELAY_MS = 8000;

/**
 * Embeds texts through `POST {baseUrl}/embeddings`, in batches, retrying transient failures, and
 * returns unit-length vectors (so cosine similarity is a dot product, whichever server made
 * them: OpenAI normalises, many local models do not). Failures are UpstreamErrors.
 */
export class EmbeddingsClient {
  readonly model: string;
  readonly #url: string;
  readonly #apiKey: string | null;
  readonly #dimensions: number | null;
  readonly #batchSize: number;
  readonly #timeoutMs: number;
  readonly #maxRetries: number;
  readonly #retryBaseDelayMs: number;
  readonly #fetch: typeof globalThis.fetch;

  constructor(options: EmbeddingsClientOptions) {
    this.model = options.model;
    this.#url = `${options.baseUrl.replace(/\/+$/, '')}/embeddings`;
    this.#apiKey = options.apiKey ?? null;
    this.#dimensions = options.dimensions ?? null;
    this.#batchSize = Math.max(1, Math.floor(options.batchSize ?? 64));
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#maxRetries = Math.max(0, Math.floor(options.maxRetries ?? 3));
    this.#retryBaseDelayMs = options.retryBaseDelayMs ?? 500;
    // Looked up per call, not bound at construction, so a fetch patched later (a mock) is used.
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** One unit-length vector per text, in order. Rejects with the signal's reason when aborted. */
  async embed(texts: string[], signal: AbortSignal): Promise<Float32Array[]> {
    signal.throwIfAborted();
    const vectors: Float32Array[] = [];
    // Batches go one after another: ingestion is a background job, and a local embedding server
    // is better used by one full batch at a time than by several competing ones.
    for (let start = 0; start < texts.length; start += this.#batchSize) {
      const batch = texts.slice(start, start + this.#batchSize);
      vectors.push(...(await this.#embedBatchWithRetries(batch, signal)));
    }
    const length = vectors[0]?.length;
    if (vectors.some((vector) => vector.length !== length)) {
      throw malformed(`The embeddings server returned vectors of different lengths for model ${this.model}.`);
    }
    return vectors;
  }

  async #embedBatchWithRetries(batch: string[], signal: AbortSignal): Promise<Float32Array[]> {
    const body = JSON.stringify({
      model: this.model,
      input: batch,
      ...(this.#dimensions === null ? {} : { dimensions: this.#dimensions }),
    });
    for (let attempt = 0; ; attempt += 1) {
      let upstreamError: UpstreamError;
      try {
        return await this.#attempt(body, batch.length, signal);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        upstreamError = error instanceof UpstreamError ? error : connectionError(error);
      }
      if (!upstreamError.retryable || attempt >= this.#maxRetries) throw upstreamError;
      const delayMs = this.#retryDelayMs(attempt, upstreamError);
      if (delayMs === null) throw upstreamError;
      await sleep(delayMs, undefined, { signal }).catch(() => {
        throw signal.reason;
      });
    }
  }

  async #attempt(body: string, expected: number, signal: AbortSignal): Promise<Float32Array[]> {
    const timeout = new AbortController();
    // A plain timer rather than AbortSignal.timeout, so it is gone as soon as the attempt ends.
    const timer = setTimeout(() => timeout.abort(new Error('timeout')), this.#timeoutMs);
    const attemptSignal = AbortSignal.any([signal, timeout.signal]);
    try {
      const response = await this.#fetch(this.#url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(this.#apiKey === null ? {} : { authorization: `Bearer ${this.#apiKey}` }),
        },
        body,
        signal: attemptSignal,
      });
      const text = await response.text();
      if (!response.ok) {
        throw upstreamErrorForStatus(response.status, parseJsonOrText(text), {
          retryAfterSeconds: retryAfterSeconds(response.headers),
          prefix: `The embeddings server answered HTTP ${response.status}`,
        });
      }
      return this.#readVectors(parseJsonOrText(text), expected);
    } catch (error) {
      if (timeout.signal.aborted && !signal.aborted) {
        throw new UpstreamError({
          message: `The embeddings server did not answer within ${this.#timeoutMs} ms.`,
          code: 'upstream_timeout',
          retryable: true,
          cause: error,
        });
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The vectors of an OpenAI embeddings response, in input order, normalised to unit length. */
  #readVectors(payload: unknown, expected: number): Float32Array[] {
    const data = isRecord(payload) ? payload.data : undefined;
    if (!Array.isArray(data)) {
      throw malformed(`The embeddings server answered without a data list: ${describe(payload)}`);
    }
    if (data.length !== expected) {
      throw malformed(`The embeddings server returned ${data.length} vectors for ${expected} inputs.`);
    }
    const vectors = new Array<Float32Array | undefined>(expected);
    data.forEach((entry: unknown, position) => {
      if (!isRecord(entry)) throw malformed('The embeddings server returned an entry that is not an object.');
      // `index` says which input a vector belongs to; servers that omit it answer in order.
      const index = typeof entry.index === 'number' ? entry.index : position;
      if (!Number.isInteger(index) || index < 0 || index >= expected || vectors[index] !== undefined) {
        throw malformed(`The embeddings server returned a vector with a bad or repeated index ${String(entry.index)}.`);
      }
      vectors[index] = normalise(readEmbedding(entry.embedding));
    });
    const result = vectors as Float32Array[];
    for (const vector of result) {
      if (vector.length === 0) throw malformed('The embeddings server returned an empty vector.');
      if (this.#dimensions !== null && vector.length !== this.#dimensions) {
        throw malformed(
          `The embeddings server returned vectors of ${vector.length} dimensions, not the ${this.#dimensions} configured for ${this.model}.`,
        );
      }
    }
    return result;
  }

  /** Retry-After when the server gave one (null when too long to wait), else backoff with jitter. */
  #retryDelayMs(attempt: number, error: UpstreamError): number | null {
    if (error.retryAfterSeconds !== undefined) {
      return error.retryAfterSeconds > MAXIMUM_RETRY_AFTER_SECONDS ? null : error.retryAfterSeconds * 1000;
    }
    const ceiling = Math.min(this.#retryBaseDelayMs * 2 ** attempt, MAXIMUM_RETRY_DELAY_MS);
    // "Equal jitter": at least half the backoff, so many jobs retrying spread out.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
}

/** A float array, or the base64 of little-endian float32s (what `encoding_format: base64` returns). */
function readEmbedding(embedding: unknown): Float32Array {
  if (typeof embedding === 'string') {
    const bytes = Buffer.from(embedding, 'base64');
    if (bytes.length % 4 !== 0) throw malformed('The embeddings server returned a base64 embedding of a bad length.');
    const vector = new Float32Array(bytes.length / 4);
    for (let index = 0; index < vector.length; index += 1) vector[index] = bytes.readFloatLE(index * 4);
    return vector;
  }
  if (!Array.isArray(embedding) || !embedding.every((value) => typeof value === 'number' && Number.isFinite(value))) {
    throw malformed('The embeddings server returned an embedding that is not a list of numbers.');
  }
  return Float32Array.from(embedding as number[]);
}

/**
 * Scales a vector to length 1. A zero vector stays zero (it matches nothing), and a non-finite
 * one is refused, since it would poison every similarity computed with it.
 */
function normalise(vector: Float32Array): Float32Array {
  let sumOfSquares = 0;
  for (const value of vector) sumOfSquares += value * value;
  if (!Number.isFinite(sumOfSquares))
    throw malformed('The embeddings server returned a vector with non-finite values.');
  if (sumOfSquares === 0) return vector;
  const norm = Math.sqrt(sumOfSquares);
  for (let index = 0; index < vector.length; index += 1) vector[index] = vector[index]! / norm;
  return vector;
}

/** Seconds from a Retry-After header: a number of seconds or an HTTP date. */
function retryAfterSeconds(headers: Headers): number | undefined {
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

function connectionError(error: unknown): UpstreamError {
  return new UpstreamError({
    message: `The embeddings server could not be reached: ${describeCause(error)}`,
    code: 'upstream_unavailable',
    retryable: true,
    cause: error,
  });
}

/** The useful part of a fetch failure: undici hides the reason (ECONNREFUSED…) in `cause`. */
function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  return cause instanceof Error && cause.message !== '' ? `${error.message} (${cause.message})` : error.message;
}

function malformed(message: string): UpstreamError {
  return new UpstreamError({ message, code: 'upstream_error', retryable: false });
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

function describe(payload: unknown): string {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
