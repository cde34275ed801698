/**
 * `node bench/retrieval-quality.ts [--database-url URL] [--embeddings-url URL --embeddings-model M]`
 * (also `npm run bench -- --scenario retrieval-quality`)
 *
 * Search quality of `POST /v1/vector_stores/{id}/search` on the Cranfield collection, measured
 * through the real API: Riposte runs as a child process on a fresh data dir (or a fresh schema of
 * the given PostgreSQL), every document is uploaded as its own File (`cranfield-<id>.txt`) and
 * attached in one file batch with the attribute `doc_id`, and once the batch has ended the 225
 * queries are searched with max_num_results 10. Reports nDCG@10 (graded) and recall@10.
 *
 * Without an embeddings provider the search is keyword-only — the configuration that runs offline.
 * With `--embeddings-url` (an OpenAI-compatible /v1 base URL) Riposte is configured with that
 * provider and the search is hybrid; nothing here invents vectors.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadCranfield, ndcgAt, recallAt, DEFAULT_CRANFIELD_DIRECTORY } from './cranfield.ts';
import { BENCH_DIRECTORY, PROJECT_DIRECTORY, startService, type Service } from './processes.ts';
import { summarise, type LatencySummary } from './statistics.ts';

const CUTOFF = 10;
const UPLOAD_CONCURRENCY = 8;

export interface RetrievalQualityOptions {
  datasetDirectory: string;
  /** A PostgreSQL URL: Riposte then runs on a fresh schema of it (dropped afterwards). */
  databaseUrl: string | null;
  embeddings: { baseUrl: string; model: string; apiKeyEnvironment: string | null; dimensions: number | null } | null;
  log: (line: string) => void;
}

export interface RetrievalQualityResult {
  dataset: string;
  storage: 'sqlite' | 'postgres';
  searchMode: string;
  documents: number;
  documentsIngested: number;
  documentsFailed: number;
  chunks: number;
  queries: number;
  queriesJudged: number;
  ndcgAt10: number;
  recallAt10: number;
  /** Queries whose search found no judged-relevant document in the first 10. */
  queriesWithNoRelevantHit: number;
  searchLatencyMs: LatencySummary;
  ingestSeconds: number;
  perQuery: Array<{ queryId: string; ndcgAt10: number; recallAt10: number; hits: number }>;
}

interface Json {
  [key: string]: unknown;
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<Json> {
  const response = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const answer = (await response.json()) as Json;
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(answer)}`);
  return answer;
}

async function uploadFile(base: string, filename: string, text: string): Promise<string> {
  const form = new FormData();
  form.set('purpose', 'assistants');
  form.set('file', new Blob([text], { type: 'text/plain' }), filename);
  const response = await fetch(`${base}/v1/files`, { method: 'POST', body: form });
  const answer = (await response.json()) as Json;
  if (!response.ok || typeof answer.id !== 'string') {
    throw new Error(`upload of ${filename} answered ${response.status}: ${JSON.stringify(answer)}`);
  }
  return answer.id;
}

/** Runs `work` over `items` with at most `concurrency` at once, keeping the order of results. */
async function inParallel<Item, Result>(
  items: readonly Item[],
  concurrency: number,
  work: (item: Item) => Promise<Result>,
): Promise<Result[]> {
  const results: Result[] = new Array<Result>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  });
  await Promise.all(workers);
  return results;
}

/** A fresh schema on the PostgreSQL, and the URL that puts Riposte's tables in it. */
async function freshSchema(databaseUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const schema = `riposte_bench_${Date.now().toString(36)}_${process.pid}`;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.end();
  const url = new URL(databaseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    drop: async () => {
      const dropper = new pg.Client({ connectionString: databaseUrl });
      await dropper.connect();
      await dropper.query(`DROP SCHEMA ${schema} CASCADE`);
      await dropper.end();
    },
  };
}

async function startRiposteFor(
  dataDirectory: string,
  options: RetrievalQualityOptions,
  databaseUrl: string | null,
): Promise<Service> {
  const args = [
    join(PROJECT_DIRECTORY, 'bin/riposte.js'),
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--data-dir',
    dataDirectory,
    '--log-level',
    'silent',
  ];
  if (databaseUrl !== null) args.push('--database-url', databaseUrl);
  if (options.embeddings !== null) {
    const config = join(dataDirectory, 'bench-config.json');
    writeFileSync(
      config,
      JSON.stringify({
        embeddings: {
          base_url: options.embeddings.baseUrl,
          model: options.embeddings.model,
          ...(options.embeddings.apiKeyEnvironment ? { api_key_env: options.embeddings.apiKeyEnvironment } : {}),
          ...(options.embeddings.dimensions ? { dimensions: options.embeddings.dimensions } : {}),
        },
      }),
    );
    args.push('--config', config);
  }
  return startService('riposte', process.execPath, args, (line) => {
    const match = /Riposte listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(line);
    return match ? Number(match[1]) : null;
  });
}

export async function runRetrievalQuality(options: RetrievalQualityOptions): Promise<RetrievalQualityResult> {
  const { documents, queries, judgements } = loadCranfield(options.datasetDirectory);
  const dataDirectory = mkdtempSync(join(tmpdir(), 'riposte-bench-quality-'));
  const schema = options.databaseUrl === null ? null : await freshSchema(options.databaseUrl);
  let riposte: Service | null = null;
  try {
    riposte = await startRiposteFor(dataDirectory, options, schema?.url ?? null);
    const base = `http://127.0.0.1:${riposte.port}`;
    const began = Date.now();
    const storeResponse = await fetch(`${base}/v1/vector_stores`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'cranfield' }),
    });
    const searchMode = storeResponse.headers.get('x-riposte-search-mode') ?? 'unknown';
    const store = (await storeResponse.json()) as Json;
    const storeId = String(store.id);
    options.log(`uploading ${documents.length} documents (search mode: ${searchMode})…`);
    const fileIds = await inParallel(documents, UPLOAD_CONCURRENCY, (document) =>
      uploadFile(base, `cranfield-${document.id}.txt`, document.text),
    );
    const batch = await call(base, 'POST', `/v1/vector_stores/${storeId}/file_batches`, {
      files: fileIds.map((fileId, index) => ({ file_id: fileId, attributes: { doc_id: documents[index]!.id } })),
    });
    let state = batch;
    while (state.status === 'in_progress') {
      await new Promise((resolve) => setTimeout(resolve, 250));
      state = await call(base, 'GET', `/v1/vector_stores/${storeId}/file_batches/${String(batch.id)}`);
    }
    const counts = state.file_counts as { completed: number; failed: number };
    const ingestSeconds = (Date.now() - began) / 1000;
    options.log(`batch ${String(state.status)}: ${counts.completed} completed, ${counts.failed} failed`);

    // Chunks per document, from the content endpoint (each abstract should be a single chunk).
    const chunkCounts = await inParallel(fileIds, UPLOAD_CONCURRENCY, async (fileId) => {
      const content = await fetch(`${base}/v1/vector_stores/${storeId}/files/${fileId}/content`);
      if (!content.ok) return 0;
      return ((await content.json()) as { data: unknown[] }).data.length;
    });

    const perQuery: RetrievalQualityResult['perQuery'] = [];
    const latencies: number[] = [];
    for (const query of queries) {
      const started = performance.now();
      const page = await call(base, 'POST', `/v1/vector_stores/${storeId}/search`, {
        query: query.text,
        max_num_results: CUTOFF,
      });
      latencies.push(performance.now() - started);
      const relevance = judgements.get(query.id);
      if (relevance === undefined || relevance.size === 0) continue;
      const ranked = (page.data as Array<{ attributes: { doc_id: string } }>).map((hit) => hit.attributes.doc_id);
      perQuery.push({
        queryId: query.id,
        ndcgAt10: ndcgAt(CUTOFF, ranked, relevance),
        recallAt10: recallAt(CUTOFF, ranked, relevance),
        hits: ranked.length,
      });
    }
    const mean = (values: number[]): number =>
      Math.round((values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length)) * 10_000) / 10_000;
    return {
      dataset: 'Cranfield 1400 (BEIR layout)',
      storage: options.databaseUrl === null ? 'sqlite' : 'postgres',
      searchMode,
      documents: documents.length,
      documentsIngested: counts.completed,
      documentsFailed: counts.failed,
      chunks: chunkCounts.reduce((sum, count) => sum + count, 0),
      queries: queries.length,
      queriesJudged: perQuery.length,
      ndcgAt10: mean(perQuery.map((entry) => entry.ndcgAt10)),
      recallAt10: mean(perQuery.map((entry) => entry.recallAt10)),
      queriesWithNoRelevantHit: perQuery.filter((entry) => entry.recallAt10 === 0).length,
      searchLatencyMs: summarise(latencies),
      ingestSeconds: Math.round(ingestSeconds * 10) / 10,
      perQuery: perQuery.map((entry) => ({
        ...entry,
        ndcgAt10: Math.round(entry.ndcgAt10 * 10_000) / 10_000,
        recallAt10: Math.round(entry.recallAt10 * 10_000) / 10_000,
      })),
    };
  } finally {
    await riposte?.stop();
    rmSync(dataDirectory, { recursive: true, force: true });
    await schema?.drop();
  }
}

/** The one-line summary the harness and the command line print. */
export function describeQuality(result: RetrievalQualityResult): string {
  return (
    `${result.storage}, ${result.searchMode}: nDCG@10 ${result.ndcgAt10.toFixed(4)}, recall@10 ${result.recallAt10.toFixed(4)} ` +
    `over ${result.queriesJudged} judged queries; ${result.documentsIngested} documents in ${result.chunks} chunks ` +
    `(${result.documentsFailed} failed); search p50 ${result.searchLatencyMs.p50} ms, p99 ${result.searchLatencyMs.p99} ms over HTTP`
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dataset: { type: 'string', default: DEFAULT_CRANFIELD_DIRECTORY },
      'database-url': { type: 'string' },
      'embeddings-url': { type: 'string' },
      'embeddings-model': { type: 'string' },
      'embeddings-api-key-env': { type: 'string' },
      'embeddings-dimensions': { type: 'string' },
      'results-dir': { type: 'string', default: join(BENCH_DIRECTORY, 'results') },
    },
  });
  const embeddingsUrl = values['embeddings-url'];
  if (embeddingsUrl !== undefined && values['embeddings-model'] === undefined) {
    throw new Error('--embeddings-url needs --embeddings-model (the model name the provider serves)');
  }
  const log = (line: string): void => void process.stderr.write(`[retrieval-quality] ${line}\n`);
  const result = await runRetrievalQuality({
    datasetDirectory: values.dataset,
    databaseUrl: values['database-url'] ?? null,
    embeddings:
      embeddingsUrl === undefined
        ? null
        : {
            baseUrl: embeddingsUrl,
            model: values['embeddings-model']!,
            apiKeyEnvironment: values['embeddings-api-key-env'] ?? null,
            dimensions: values['embeddings-dimensions'] === undefined ? null : Number(values['embeddings-dimensions']),
          },
    log,
  });
  mkdirSync(values['results-dir'], { recursive: true });
  const stamp = new Date()
    .toISOString()
    .replace(/[:.]/g, '-')
    .replace(/-\d{3}Z$/, 'Z');
  const file = join(values['results-dir'], `${stamp}-retrieval-quality-${result.storage}-${result.searchMode}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${describeQuality(result)}\n`);
  log(`wrote ${file}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
