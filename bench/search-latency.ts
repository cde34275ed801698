/**
 * `node bench/search-latency.ts [--sizes 10000,100000] [--queries 200] [--seconds-per-row 30] [--database-url URL]
 *   [--databases sqlite,postgres]`
 * (also `npm run bench -- --scenario search-latency`)
 *
 * Latency of vector-store search at 10k and 100k chunks, timed around the store's `search` call in
 * this process (no HTTP: the route and the request add a few milliseconds, which the quality
 * benchmark's latency includes). Chunks are bulk-loaded through the store API (addFile + completeFile,
 * 100 chunks per file), not uploaded: the upload path is not what is measured, and it would take
 * far longer.
 *
 * - Chunk text: random sentences of the Cranfield abstracts, about `--chunk-words` words each, so
 *   the words and their frequencies are those of real technical prose. Queries: the Cranfield
 *   queries. The generator is seeded, so every run searches the same chunks.
 * - Vectors: SYNTHETIC random unit vectors of `--dimensions` dimensions, for chunks and queries.
 *   They mean nothing, and no quality is measured with them; exact cosine search costs the same
 *   whatever the vectors mean, so the latency is honest.
 * - SQLite: keyword-only and hybrid (FTS5 + sqlite-vec). The 100k database holds two stores,
 *   10k + 90k chunks of one owner: searching both is the 100k figure, and searching the 10k one
 *   alone shows what the other store's chunks cost it (the owner's FTS5 index holds both stores;
 *   the MATCH restricts itself to the searched one).
 * - PostgreSQL (with --database-url, or RIPOSTE_TEST_DATABASE_URL): keyword-only, in a fresh
 *   schema that is dropped afterwards.
 * - `--databases` picks which of the two run (both by default), e.g. `--databases postgres`.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openPostgresStorage } from '../src/storage/postgres/postgres-storage.ts';
import { openSqliteStorage } from '../src/storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../src/storage/stores.ts';
import type { ChunkToStore, VectorStoreStore } from '../src/storage/vector-stores.ts';
import { addCompletedFile, createBenchStore } from './bulk-load.ts';
import { DEFAULT_CRANFIELD_DIRECTORY, loadCranfield } from './cranfield.ts';
import { BENCH_DIRECTORY } from './processes.ts';
import { summarise, type LatencySummary } from './statistics.ts';

const OWNER = 'bench-owner';
const CHUNKS_PER_FILE = 100;
const WARMUP_QUERIES = 10;
/** At least this many timed queries per row, however slow, so p50 means something. */
const MINIMUM_QUERIES = 30;

export interface SearchLatencyOptions {
  sizes: number[];
  queries: number;
  dimensions: number;
  chunkWords: number;
  /**
   * Time budget per row: a row stops timing after this many seconds once it has MINIMUM_QUERIES
   * samples (its `latencyMs.count` says how many it took), so the whole run stays within minutes.
   */
  secondsPerRow: number;
  /** PostgreSQL for a keyword-only run, or null to skip it. */
  databaseUrl: string | null;
  /** False to skip the SQLite rows (to time PostgreSQL alone); true when absent. */
  sqlite?: boolean;
  datasetDirectory: string;
  log: (line: string) => void;
}

export interface SearchLatencyRow {
  database: 'sqlite' | 'postgres';
  mode: 'keyword' | 'hybrid (synthetic vectors)';
  /** Chunks searched (in the searched stores). */
  chunks: number;
  /** Chunks in the whole database, when more than those searched. */
  chunksInDatabase: number;
  latencyMs: LatencySummary;
  /** Mean hits returned (of max 10): a sanity check that the search finds something. */
  meanHits: number;
}

export interface SearchLatencyResult {
  settings: Omit<SearchLatencyOptions, 'log' | 'databaseUrl' | 'sqlite'> & {
    sqlite: boolean;
    postgres: boolean;
    chunksPerFile: number;
  };
  loads: Array<{ database: string; chunks: number; seconds: number }>;
  rows: SearchLatencyRow[];
}

/** mulberry32: a small seeded generator, so runs are repeatable. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A random unit vector (normal components, normalised): synthetic, for timing only. */
function syntheticUnitVector(random: () => number, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  let norm = 0;
  for (let index = 0; index < dimensions; index += 2) {
    // Box–Muller: two normal samples from two uniform ones.
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    vector[index] = radius * Math.cos(angle);
    if (index + 1 < dimensions) vector[index + 1] = radius * Math.sin(angle);
  }
  for (const value of vector) norm += value * value;
  const scale = 1 / Math.sqrt(norm);
  for (let index = 0; index < dimensions; index++) vector[index]! *= scale;
  return vector;
}

/** Chunk texts made of random Cranfield sentences, about `words` words each. */
function chunkTextMaker(sentences: string[], words: number, random: () => number): () => string {
  return () => {
    const parts: string[] = [];
    let count = 0;
    while (count < words) {
      const sentence = sentences[Math.floor(random() * sentences.length)]!;
      parts.push(sentence);
      count += sentence.split(' ').length;
    }
    return parts.join(' . ');
  };
}

async function loadStore(
  vectorStores: VectorStoreStore,
  storeId: string,
  chunkCount: number,
  makeText: () => string,
  makeVector: (() => Float32Array) | null,
): Promise<void> {
  await createBenchStore(vectorStores, OWNER, storeId);
  for (let fileIndex = 0; fileIndex * CHUNKS_PER_FILE < chunkCount; fileIndex++) {
    const fileId = `file-${storeId}-${fileIndex}`;
    const chunks: ChunkToStore[] = [];
    for (let index = 0; index < CHUNKS_PER_FILE && fileIndex * CHUNKS_PER_FILE + index < chunkCount; index++) {
      const text = makeText();
      chunks.push({
        index,
        text,
        tokenCount: Math.round(text.split(' ').length * 1.3),
        embedding: makeVector === null ? null : makeVector(),
      });
    }
    await addCompletedFile(vectorStores, {
      owner: OWNER,
      storeId,
      fileId,
      filename: `${fileId}.txt`,
      attributes: { file_index: fileIndex },
      chunks,
    });
  }
}

async function timeSearches(
  vectorStores: VectorStoreStore,
  storeIds: string[],
  queries: string[],
  queryVectors: Float32Array[] | null,
  secondsPerRow: number,
): Promise<{ latencyMs: LatencySummary; meanHits: number }> {
  const search = (index: number) =>
    vectorStores.search(OWNER, storeIds, {
      queries: [queries[index % queries.length]!],
      queryEmbeddings: queryVectors === null ? null : [queryVectors[index % queryVectors.length]!],
      filters: null,
      maxResults: 10,
      scoreThreshold: 0,
    });
  for (let index = 0; index < WARMUP_QUERIES; index++) await search(queries.length - 1 - index);
  const samples: number[] = [];
  let hits = 0;
  const deadline = performance.now() + secondsPerRow * 1000;
  for (let index = 0; index < queries.length; index++) {
    if (index >= MINIMUM_QUERIES && performance.now() > deadline) break;
    const started = performance.now();
    const found = await search(index);
    samples.push(performance.now() - started);
    hits += found.length;
  }
  return { latencyMs: summarise(samples), meanHits: Math.round((hits / samples.length) * 10) / 10 };
}

export async function runSearchLatency(options: SearchLatencyOptions): Promise<SearchLatencyResult> {
  const cranfield = loadCranfield(options.datasetDirectory);
  const sentences = cranfield.documents
    .flatMap((document) => document.text.split(' . '))
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence.split(' ').length >= 4);
  const queries = cranfield.queries.slice(0, options.queries).map((query) => query.text);
  const queryVectors = queries.map((_, index) =>
    syntheticUnitVector(seededRandom(1_000_000 + index), options.dimensions),
  );
  const result: SearchLatencyResult = {
    settings: {
      sizes: options.sizes,
      queries: queries.length,
      dimensions: options.dimensions,
      chunkWords: options.chunkWords,
      secondsPerRow: options.secondsPerRow,
      datasetDirectory: options.datasetDirectory,
      sqlite: options.sqlite ?? true,
      postgres: options.databaseUrl !== null,
      chunksPerFile: CHUNKS_PER_FILE,
    },
    loads: [],
    rows: [],
  };

  for (const size of (options.sqlite ?? true) ? options.sizes : []) {
    const directory = mkdtempSync(join(tmpdir(), 'riposte-bench-latency-'));
    let storage: Storage | null = null;
    try {
      storage = await openSqliteStorage({ path: join(directory, 'riposte.sqlite') });
      const { vectorStores } = storage;
      if (!vectorStores.supportsVectors) options.log('sqlite-vec did not load: hybrid rows are skipped');
      const random = seededRandom(size);
      const makeText = chunkTextMaker(sentences, options.chunkWords, random);
      const makeVector = vectorStores.supportsVectors ? () => syntheticUnitVector(random, options.dimensions) : null;
      // Up to 10k chunks in one store; beyond, a 10k store and the rest in a second one.
      const first = Math.min(size, 10_000);
      const began = performance.now();
      options.log(`sqlite: loading ${size} chunks…`);
      await loadStore(vectorStores, 'vs_first', first, makeText, makeVector);
      if (size > first) await loadStore(vectorStores, 'vs_rest', size - first, makeText, makeVector);
      const seconds = Math.round((performance.now() - began) / 100) / 10;
      result.loads.push({ database: 'sqlite', chunks: size, seconds });
      options.log(`sqlite: loaded ${size} chunks in ${seconds} s`);
      const storeIds = size > first ? ['vs_first', 'vs_rest'] : ['vs_first'];
      const modes: Array<[SearchLatencyRow['mode'], Float32Array[] | null]> = [['keyword', null]];
      if (vectorStores.supportsVectors) modes.push(['hybrid (synthetic vectors)', queryVectors]);
      for (const [mode, vectors] of modes) {
        const timed = await timeSearches(vectorStores, storeIds, queries, vectors, options.secondsPerRow);
        result.rows.push({ database: 'sqlite', mode, chunks: size, chunksInDatabase: size, ...timed });
        options.log(`sqlite ${mode} ${size}: p50 ${timed.latencyMs.p50} ms, p99 ${timed.latencyMs.p99} ms`);
        if (size > first) {
          const alone = await timeSearches(vectorStores, ['vs_first'], queries, vectors, options.secondsPerRow);
          result.rows.push({ database: 'sqlite', mode, chunks: first, chunksInDatabase: size, ...alone });
          options.log(
            `sqlite ${mode} ${first} of ${size}: p50 ${alone.latencyMs.p50} ms, p99 ${alone.latencyMs.p99} ms`,
          );
        }
      }
    } finally {
      await storage?.close();
      rmSync(directory, { recursive: true, force: true });
    }
  }

  if (options.databaseUrl !== null) {
    for (const size of options.sizes) {
      const schema = `riposte_bench_latency_${Date.now().toString(36)}_${process.pid}`;
      const admin = new pg.Client({ connectionString: options.databaseUrl });
      await admin.connect();
      await admin.query(`CREATE SCHEMA ${schema}`);
      await admin.end();
      const url = new URL(options.databaseUrl);
      url.searchParams.set('options', `-c search_path=${schema}`);
      let storage: Storage | null = null;
      try {
        storage = await openPostgresStorage({ url: url.toString() });
        const { vectorStores } = storage;
        const random = seededRandom(size);
        const makeText = chunkTextMaker(sentences, options.chunkWords, random);
        const began = performance.now();
        options.log(`postgres: loading ${size} chunks…`);
        // Keyword-only: no vectors are stored (the server has no pgvector here, and the
        // keyword figure is the one asked for).
        await loadStore(vectorStores, 'vs_first', size, makeText, null);
        const seconds = Math.round((performance.now() - began) / 100) / 10;
        result.loads.push({ database: 'postgres', chunks: size, seconds });
        options.log(`postgres: loaded ${size} chunks in ${seconds} s`);
        const timed = await timeSearches(vectorStores, ['vs_first'], queries, null, options.secondsPerRow);
        result.rows.push({ database: 'postgres', mode: 'keyword', chunks: size, chunksInDatabase: size, ...timed });
        options.log(`postgres keyword ${size}: p50 ${timed.latencyMs.p50} ms, p99 ${timed.latencyMs.p99} ms`);
      } finally {
        await storage?.close();
        const dropper = new pg.Client({ connectionString: options.databaseUrl });
        await dropper.connect();
        await dropper.query(`DROP SCHEMA ${schema} CASCADE`);
        await dropper.end();
      }
    }
  }
  return result;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '10000,100000' },
      queries: { type: 'string', default: '200' },
      dimensions: { type: 'string', default: '384' },
      'chunk-words': { type: 'string', default: '150' },
      'seconds-per-row': { type: 'string', default: '30' },
      'database-url': { type: 'string' },
      'no-postgres': { type: 'boolean', default: false },
      databases: { type: 'string', default: 'sqlite,postgres' },
      dataset: { type: 'string', default: DEFAULT_CRANFIELD_DIRECTORY },
      'results-dir': { type: 'string', default: join(BENCH_DIRECTORY, 'results') },
    },
  });
  const log = (line: string): void => void process.stderr.write(`[search-latency] ${line}\n`);
  const databases = new Set(values.databases.split(','));
  const databaseUrl =
    values['no-postgres'] || !databases.has('postgres')
      ? null
      : (values['database-url'] ?? process.env.RIPOSTE_TEST_DATABASE_URL ?? null);
  const result = await runSearchLatency({
    sizes: values.sizes.split(',').map(Number),
    queries: Number(values.queries),
    dimensions: Number(values.dimensions),
    chunkWords: Number(values['chunk-words']),
    secondsPerRow: Number(values['seconds-per-row']),
    databaseUrl,
    sqlite: databases.has('sqlite'),
    datasetDirectory: values.dataset,
    log,
  });
  mkdirSync(values['results-dir'], { recursive: true });
  const stamp = new Date()
    .toISOString()
    .replace(/[:.]/g, '-')
    .replace(/-\d{3}Z$/, 'Z');
  const file = join(values['results-dir'], `${stamp}-search-latency.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  for (const row of result.rows) {
    const scope = row.chunksInDatabase > row.chunks ? ` (of ${row.chunksInDatabase} in the database)` : '';
    process.stdout.write(
      `${row.database} ${row.mode} ${row.chunks}${scope}: p50 ${row.latencyMs.p50} ms, p99 ${row.latencyMs.p99} ms over ${row.latencyMs.count} queries, ${row.meanHits} hits\n`,
    );
  }
  log(`wrote ${file}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
