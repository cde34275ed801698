/**
 * `npm run bench [-- --quick] [-- --scenario NAME …] [-- --no-profile] [-- --node-flag=FLAG …] [-- --help]`
 *
 * Starts the mock upstream, Riposte (fresh SQLite data dir) and Portkey's gateway as separate
 * processes, drives them from a load-generator process, and writes bench/results/<stamp>.json,
 * bench/results/<stamp>.md and docs/benchmarks.md. Every figure is measured side by side with the
 * same load sent straight to the mock upstream (added latency = gateway − mock) and, where Portkey
 * has the scenario, with Portkey (ratios).
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AutocannonResult, LoadJob, StreamResult } from './load-worker.ts';
import {
  BENCH_DIRECTORY,
  PROJECT_DIRECTORY,
  freePort,
  measure,
  rssBytes,
  runLoad,
  startHeldLoad,
  startService,
  type Service,
} from './processes.ts';
import { summariseProfile, type ProfileSummary } from './profile-summary.ts';
import { DEFAULT_CRANFIELD_DIRECTORY } from './cranfield.ts';
import { describeQuality, runRetrievalQuality } from './retrieval-quality.ts';
import { runSearchLatency } from './search-latency.ts';
import { renderMarkdown, updateDocs, type BenchReport, type ResultRow, type TargetCheck } from './report.ts';

const SCENARIOS = [
  'latency-store-false',
  'latency-store-true',
  'throughput-store-false',
  'throughput-store-true',
  'streaming',
  'chain-20',
  'conversation-200',
  'background',
  'retrieval-quality',
  'search-latency',
  'open-streams-1000',
] as const;
type ScenarioName = (typeof SCENARIOS)[number];

const MODEL = 'bench-model';
const STREAM_TOKENS = 64;

interface Settings {
  quick: boolean;
  latencySeconds: number;
  throughputSeconds: number;
  warmupSeconds: number;
  latencyRate: number;
  throughputConnections: number;
  streams: number;
  streamConcurrency: number;
  /** Streams timed one at a time for the first-token target. */
  streamsOneAtATime: number;
  chains: number;
  conversations: number;
  requestsPerConversation: number;
  backgroundResponses: number;
  openStreams: number;
  upstreamLatencyMs: number;
  upstreamTokensPerSecond: number;
  upstreamCompletionTokens: number;
}

function settingsFor(quick: boolean): Settings {
  return {
    quick,
    latencySeconds: quick ? 3 : 10,
    throughputSeconds: quick ? 3 : 10,
    warmupSeconds: quick ? 1 : 2,
    latencyRate: 500,
    throughputConnections: 32,
    streams: quick ? 300 : 2000,
    streamConcurrency: 8,
    streamsOneAtATime: 300,
    chains: quick ? 4 : 16,
    conversations: quick ? 3 : 8,
    requestsPerConversation: quick ? 3 : 5,
    backgroundResponses: quick ? 40 : 200,
    openStreams: 1000,
    upstreamLatencyMs: 0,
    upstreamTokensPerSecond: 0,
    upstreamCompletionTokens: 16,
  };
}

interface Targets {
  mock: Service;
  riposte: Service;
  portkey: Service | null;
  portkeyError: string | null;
}

const chatBody = (model = MODEL, stream = false): Record<string, unknown> => ({
  model,
  messages: [{ role: 'user', content: 'Say hello.' }],
  ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
});
const responsesBody = (store: boolean, model = MODEL, stream = false): Record<string, unknown> => ({
  model,
  input: 'Say hello.',
  store,
  ...(stream ? { stream: true } : {}),
});

function portkeyHeaders(targets: Targets): Record<string, string> {
  return {
    'x-portkey-provider': 'openai',
    'x-portkey-custom-host': `http://127.0.0.1:${targets.mock.port}/v1`,
    authorization: 'Bearer bench-unused',
  };
}

const url = (service: Service, path: string): string => `http://127.0.0.1:${service.port}${path}`;
const megabytes = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;
const round = (value: number, digits = 3): number => Math.round(value * 10 ** digits) / 10 ** digits;
const per1000 = (cpuSeconds: number, requests: number): number =>
  requests > 0 ? round((cpuSeconds / requests) * 1000, 3) : Number.NaN;

async function startMock(settings: Settings): Promise<Service> {
  return startService(
    'mock',
    process.execPath,
    [
      join(BENCH_DIRECTORY, 'mock-upstream.ts'),
      '--latency-ms',
      String(settings.upstreamLatencyMs),
      '--tokens-per-second',
      String(settings.upstreamTokensPerSecond),
      '--completion-tokens',
      String(settings.upstreamCompletionTokens),
    ],
    (line) => (line.startsWith('{"port"') ? (JSON.parse(line) as { port: number }).port : null),
  );
}

/** The node flags `npm start` and bin/riposte.js run Riposte with (see bin/riposte.js). */
const STARTUP_NODE_FLAGS = ['--max-semi-space-size=8'];
/** Extra flags for every Riposte process the run starts (`--node-flag`, after the defaults), for experiments. */
let riposteNodeFlags: string[] = [];

async function startRiposte(mock: Service, dataDirectory: string, nodeFlags: string[] = []): Promise<Service> {
  return startService(
    'riposte',
    process.execPath,
    [
      ...STARTUP_NODE_FLAGS,
      ...riposteNodeFlags,
      ...nodeFlags,
      join(PROJECT_DIRECTORY, 'bin/riposte.js'),
      'serve',
      '--upstream-url',
      `http://127.0.0.1:${mock.port}/v1`,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--data-dir',
      dataDirectory,
      '--log-level',
      'silent',
    ],
    (line) => {
      const match = /Riposte listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(line);
      return match ? Number(match[1]) : null;
    },
  );
}

async function startPortkey(): Promise<Service> {
  const port = await freePort();
  return startService(
    'portkey',
    process.execPath,
    ['--import', join(BENCH_DIRECTORY, 'loopback-only.ts'), 'build/start-server.js', `--port=${port}`, '--headless'],
    (line) => (line.includes('Ready for connections') ? port : null),
    { cwd: join(PROJECT_DIRECTORY, 'node_modules/@portkey-ai/gateway'), env: { NODE_ENV: 'production' } },
  );
}

/** Fails loudly before a long run if a target does not answer the way the scenarios expect. */
async function checkTargets(targets: Targets): Promise<void> {
  const riposte = await fetch(url(targets.riposte, '/v1/responses'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(responsesBody(false)),
  });
  const answer = (await riposte.json()) as { status?: string; output_text?: string };
  if (riposte.status !== 200 || answer.status !== 'completed') {
    throw new Error(`Riposte did not answer through the mock: ${riposte.status} ${JSON.stringify(answer)}`);
  }
  if (targets.portkey) {
    const portkey = await fetch(url(targets.portkey, '/v1/chat/completions'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...portkeyHeaders(targets) },
      body: JSON.stringify(chatBody()),
    });
    const text = await portkey.text();
    if (portkey.status !== 200 || !text.includes('chat.completion')) {
      targets.portkeyError = `Portkey did not proxy to the mock: ${portkey.status} ${text.slice(0, 200)}`;
      targets.portkey = null;
    }
  }
}

interface AutocannonRun {
  result: AutocannonResult;
  cpuSeconds: number;
  peakRssBytes: number;
}

async function autocannonAgainst(
  service: Service,
  path: string,
  body: unknown,
  headers: Record<string, string>,
  options: { seconds: number; connections: number; rate?: number; warmupSeconds: number },
): Promise<AutocannonRun> {
  // A fixed rate is paced (open loop, see load-worker.ts); autocannon floods for throughput.
  const job: LoadJob = options.rate
    ? { kind: 'paced', url: url(service, path), body, headers, rate: options.rate, durationSeconds: options.seconds }
    : {
        kind: 'autocannon',
        url: url(service, path),
        body,
        headers,
        connections: options.connections,
        durationSeconds: options.seconds,
      };
  if (options.warmupSeconds > 0) await runLoad<AutocannonResult>({ ...job, durationSeconds: options.warmupSeconds });
  const { result, usage } = await measure([service], () =>
    runLoad<AutocannonResult>({ ...job, durationSeconds: options.seconds }),
  );
  const used = usage.get(service.name)!;
  return { result, cpuSeconds: used.cpuSeconds, peakRssBytes: used.peakRssBytes };
}

function row(
  scenario: string,
  target: string,
  run: AutocannonRun,
  baseline: AutocannonRun | null,
  note = '',
): ResultRow {
  const latency = run.result.latencyMs;
  return {
    scenario,
    target,
    status: 'measured',
    p50Ms: latency.p50,
    p99Ms: latency.p99,
    p50AddedMs: baseline ? round(latency.p50 - baseline.result.latencyMs.p50) : null,
    p99AddedMs: baseline ? round(latency.p99 - baseline.result.latencyMs.p99) : null,
    requestsPerSecond: run.result.requestsPerSecond,
    cpuSecondsPer1000: per1000(run.cpuSeconds, run.result.requests),
    peakRssMb: megabytes(run.peakRssBytes),
    note: [
      note,
      run.result.non2xx || run.result.errors ? `${run.result.non2xx} non-2xx, ${run.result.errors} errors` : '',
    ]
      .filter(Boolean)
      .join('; '),
    details: { ...run.result, cpuSeconds: run.cpuSeconds },
  };
}

interface Context {
  settings: Settings;
  targets: Targets;
  rows: ResultRow[];
  checks: TargetCheck[];
  /** Riposte CPU seconds per 1,000 requests of each throughput scenario, to pick the profile. */
  throughputCost: Map<ScenarioName, number>;
}

function check(context: Context, name: string, goal: string, measured: number, unit: string, met: boolean): void {
  context.checks.push({ name, goal, measured: `${round(measured, 3)} ${unit}`.trim(), met });
}

async function latencyScenario(context: Context, store: boolean): Promise<void> {
  const { settings, targets } = context;
  const scenario: ScenarioName = store ? 'latency-store-true' : 'latency-store-false';
  const options = {
    seconds: settings.latencySeconds,
    connections: 1,
    rate: settings.latencyRate,
    warmupSeconds: settings.warmupSeconds,
  };
  const mock = await autocannonAgainst(targets.mock, '/v1/chat/completions', chatBody(), {}, options);
  context.rows.push(row(scenario, 'mock upstream (direct)', mock, null, `${settings.latencyRate} rps offered`));
  const riposte = await autocannonAgainst(targets.riposte, '/v1/responses', responsesBody(store), {}, options);
  const achieved = (run: AutocannonRun): string =>
    run.result.requestsPerSecond < settings.latencyRate * 0.95
      ? `could not keep up: ${run.result.requestsPerSecond} of ${settings.latencyRate} rps offered, so latency includes queueing`
      : '';
  context.rows.push(row(scenario, `Riposte /v1/responses store:${store}`, riposte, mock, achieved(riposte)));
  if (!store) {
    check(
      context,
      'p50 added latency, store:false @ 500 rps',
      '≤ 0.5 ms',
      riposte.result.latencyMs.p50 - mock.result.latencyMs.p50,
      'ms',
      riposte.result.latencyMs.p50 - mock.result.latencyMs.p50 <= 0.5,
    );
    check(
      context,
      'p99 added latency, store:false @ 500 rps',
      '≤ 1 ms',
      riposte.result.latencyMs.p99 - mock.result.latencyMs.p99,
      'ms',
      riposte.result.latencyMs.p99 - mock.result.latencyMs.p99 <= 1,
    );
    if (targets.portkey) {
      const portkey = await autocannonAgainst(
        targets.portkey,
        '/v1/chat/completions',
        chatBody(),
        portkeyHeaders(targets),
        options,
      );
      context.rows.push(row(scenario, 'Portkey /v1/chat/completions', portkey, mock, achieved(portkey)));
    }
  }
}

async function throughputScenario(context: Context, store: boolean): Promise<void> {
  const { settings, targets } = context;
  const scenario: ScenarioName = store ? 'throughput-store-true' : 'throughput-store-false';
  const options = {
    seconds: settings.throughputSeconds,
    connections: settings.throughputConnections,
    warmupSeconds: settings.warmupSeconds,
  };
  const mock = await autocannonAgainst(targets.mock, '/v1/chat/completions', chatBody(), {}, options);
  context.rows.push(
    row(scenario, 'mock upstream (direct)', mock, null, `${settings.throughputConnections} connections, unthrottled`),
  );
  const riposte = await autocannonAgainst(targets.riposte, '/v1/responses', responsesBody(store), {}, options);
  context.throughputCost.set(scenario, per1000(riposte.cpuSeconds, riposte.result.requests));
  const riposteRow = row(scenario, `Riposte /v1/responses store:${store}`, riposte, mock);
  context.rows.push(riposteRow);
  const goal = store ? 1500 : 3000;
  check(
    context,
    `throughput store:${store}`,
    `≥ ${goal} rps`,
    riposte.result.requestsPerSecond,
    'rps',
    riposte.result.requestsPerSecond >= goal,
  );
  if (!store && targets.portkey) {
    const portkey = await autocannonAgainst(
      targets.portkey,
      '/v1/chat/completions',
      chatBody(),
      portkeyHeaders(targets),
      options,
    );
    const portkeyRow = row(scenario, 'Portkey /v1/chat/completions', portkey, mock);
    context.rows.push(portkeyRow);
    const ratio = riposte.result.requestsPerSecond / portkey.result.requestsPerSecond;
    riposteRow.note = [riposteRow.note, `${round(ratio, 2)}× Portkey's rps`].filter(Boolean).join('; ');
    check(context, 'throughput store:false vs Portkey', '≥ 5×', ratio, '×', ratio >= 5);
  }
}

async function streamingScenario(context: Context): Promise<void> {
  const { settings, targets } = context;
  const model = `bench-tokens-${STREAM_TOKENS}`;
  const run = async (service: Service, path: string, body: unknown, headers: Record<string, string> = {}) => {
    // A short warm-up, so JIT compilation is not charged to the first streams.
    await runLoad<StreamResult>({
      kind: 'stream',
      url: url(service, path),
      body,
      headers,
      requests: 50,
      concurrency: settings.streamConcurrency,
    });
    return measure([service], () =>
      runLoad<StreamResult>({
        kind: 'stream',
        url: url(service, path),
        body,
        headers,
        requests: settings.streams,
        concurrency: settings.streamConcurrency,
      }),
    );
  };
  const toRow = (
    target: string,
    measured: Awaited<ReturnType<typeof run>>,
    service: Service,
    baseline: StreamResult | null,
  ): ResultRow => {
    const result = measured.result;
    const usage = measured.usage.get(service.name)!;
    if (result.failures === result.requests) {
      return {
        scenario: 'streaming',
        target,
        status: 'failed',
        p50Ms: null,
        p99Ms: null,
        p50AddedMs: null,
        p99AddedMs: null,
        requestsPerSecond: null,
        cpuSecondsPer1000: null,
        peakRssMb: null,
        note: `every one of ${result.requests} streams failed (no figures)${target.startsWith('Portkey') ? ": Portkey 1.15.2 answers 500 'Something went wrong' and logs 'TypeError: immutable' in updateHeaders for streamed chat completions on Node (Portkey-AI/gateway#1389, #1550)" : ''}`,
        details: { ...result },
      };
    }
    return {
      scenario: 'streaming',
      target,
      status: 'measured',
      p50Ms: result.firstTokenMs.p50,
      p99Ms: result.firstTokenMs.p99,
      p50AddedMs: baseline ? round(result.firstTokenMs.p50 - baseline.firstTokenMs.p50) : null,
      p99AddedMs: baseline ? round(result.firstTokenMs.p99 - baseline.firstTokenMs.p99) : null,
      requestsPerSecond: round(result.requests / result.wallSeconds, 1),
      cpuSecondsPer1000: per1000(usage.cpuSeconds, result.requests),
      peakRssMb: megabytes(usage.peakRssBytes),
      note: `latency = time to first token; first event p50 ${result.firstEventMs.p50} ms; total p50 ${result.totalMs.p50} ms; ${result.eventsPerStream} events/stream; ${result.eventsPerSecond} events/s${result.failures ? `; ${result.failures} failed` : ''}`,
      details: { ...result, cpuSeconds: usage.cpuSeconds },
    };
  };
  const mock = await run(targets.mock, '/v1/chat/completions', chatBody(model, true));
  context.rows.push(toRow(`mock upstream (direct), ${STREAM_TOKENS} tokens`, mock, targets.mock, null));
  const riposte = await run(targets.riposte, '/v1/responses', responsesBody(false, model, true));
  context.rows.push(toRow('Riposte /v1/responses stream, store:false', riposte, targets.riposte, mock.result));
  // The rows above run 8 streams at a time as fast as they are answered: a saturated server, whose
  // first-token time is mostly queueing. What Riposte adds to the first token is measured one
  // stream at a time, alternating mock and Riposte, as the latency scenarios pace theirs.
  const firstTokenOneAtATime = async (service: Service, path: string, body: unknown): Promise<number> =>
    (
      await runLoad<StreamResult>({
        kind: 'stream',
        url: url(service, path),
        body,
        requests: settings.streamsOneAtATime,
        concurrency: 1,
      })
    ).firstTokenMs.p50;
  const mockFirst = await firstTokenOneAtATime(targets.mock, '/v1/chat/completions', chatBody(model, true));
  const riposteFirst = await firstTokenOneAtATime(targets.riposte, '/v1/responses', responsesBody(false, model, true));
  const firstTokenAdded = riposteFirst - mockFirst;
  context.rows.push({
    scenario: 'streaming',
    target: 'Riposte vs mock, one stream at a time',
    status: 'measured',
    p50Ms: round(riposteFirst),
    p99Ms: null,
    p50AddedMs: round(firstTokenAdded),
    p99AddedMs: null,
    requestsPerSecond: null,
    cpuSecondsPer1000: null,
    peakRssMb: null,
    note: `time to first token, ${settings.streamsOneAtATime} streams each, sequential: mock p50 ${round(mockFirst)} ms, Riposte p50 ${round(riposteFirst)} ms`,
    details: { mockFirstTokenP50Ms: mockFirst, riposteFirstTokenP50Ms: riposteFirst },
  });
  check(context, 'streaming: first token added (p50, one stream at a time)', '≤ 2 ms', firstTokenAdded, 'ms', firstTokenAdded <= 2);
  // The rest of the stream after the first token, spread over the token events relayed.
  const perEventMicroseconds =
    ((riposte.result.totalMs.p50 -
      riposte.result.firstTokenMs.p50 -
      (mock.result.totalMs.p50 - mock.result.firstTokenMs.p50)) /
      STREAM_TOKENS) *
    1000;
  check(
    context,
    'streaming: overhead per token event (p50)',
    '≤ 20 µs',
    perEventMicroseconds,
    'µs',
    perEventMicroseconds <= 20,
  );
  if (targets.portkey) {
    const portkey = await run(targets.portkey, '/v1/chat/completions', chatBody(model, true), portkeyHeaders(targets));
    context.rows.push(toRow('Portkey /v1/chat/completions stream', portkey, targets.portkey, mock.result));
  }
}

async function chainScenario(context: Context): Promise<void> {
  const { settings, targets } = context;
  const { result, usage } = await measure([targets.riposte], () =>
    runLoad<{
      requests: number;
      requestsPerSecond: number;
      firstTurnMs: { p50: number; p99: number };
      lastTurnMs: { p50: number; p99: number };
      p50ByTurnMs: number[];
    }>({
      kind: 'chain',
      baseUrl: url(targets.riposte, '/v1'),
      model: MODEL,
      depth: 20,
      chains: settings.chains,
      concurrency: 4,
    }),
  );
  const used = usage.get('riposte')!;
  const ratio = result.lastTurnMs.p50 / result.firstTurnMs.p50;
  context.rows.push({
    scenario: 'chain-20',
    target: 'Riposte, previous_response_id, store:true',
    status: 'measured',
    p50Ms: result.lastTurnMs.p50,
    p99Ms: result.lastTurnMs.p99,
    p50AddedMs: null,
    p99AddedMs: null,
    requestsPerSecond: result.requestsPerSecond,
    cpuSecondsPer1000: per1000(used.cpuSeconds, result.requests),
    peakRssMb: megabytes(used.peakRssBytes),
    note: `latency = turn 20; turn 1 p50 ${result.firstTurnMs.p50} ms; turn 20 / turn 1 = ${round(ratio, 2)}×; ${settings.chains} chains, 4 at a time`,
    details: { ...result, cpuSeconds: used.cpuSeconds },
  });
  check(context, '20-turn chain: turn 20 vs turn 1 (p50)', '≤ 2×', ratio, '×', ratio <= 2);
}

async function conversationScenario(context: Context): Promise<void> {
  const { settings, targets } = context;
  const { result, usage } = await measure([targets.riposte], () =>
    runLoad<{
      requests: number;
      inConversationMs: { p50: number; p99: number };
      singleTurnMs: { p50: number; p99: number };
    }>({
      kind: 'conversation',
      baseUrl: url(targets.riposte, '/v1'),
      model: MODEL,
      items: 200,
      conversations: settings.conversations,
      requestsPerConversation: settings.requestsPerConversation,
      concurrency: 2,
    }),
  );
  const used = usage.get('riposte')!;
  context.rows.push({
    scenario: 'conversation-200',
    target: 'Riposte, conversation of 200 items, store:true',
    status: 'measured',
    p50Ms: result.inConversationMs.p50,
    p99Ms: result.inConversationMs.p99,
    p50AddedMs: round(result.inConversationMs.p50 - result.singleTurnMs.p50),
    p99AddedMs: round(result.inConversationMs.p99 - result.singleTurnMs.p99),
    requestsPerSecond: null,
    cpuSecondsPer1000: null,
    peakRssMb: megabytes(used.peakRssBytes),
    note: `added = vs the same request without a conversation (p50 ${result.singleTurnMs.p50} ms), interleaved; CPU includes building the conversations, so not per request`,
    details: { ...result, cpuSeconds: used.cpuSeconds },
  });
}

async function backgroundScenario(context: Context): Promise<void> {
  const { settings, targets } = context;
  const { result, usage } = await measure([targets.riposte], () =>
    runLoad<{
      requests: number;
      responses: number;
      failures: number;
      responsesPerSecond: number;
      pollsPerResponse: number;
      createMs: { p50: number; p99: number };
      createToCompletedMs: { p50: number; p99: number };
    }>({
      kind: 'background',
      baseUrl: url(targets.riposte, '/v1'),
      model: MODEL,
      requests: settings.backgroundResponses,
      concurrency: 10,
      pollIntervalMs: 10,
    }),
  );
  const used = usage.get('riposte')!;
  context.rows.push({
    scenario: 'background',
    target: 'Riposte, background:true create + poll every 10 ms',
    status: 'measured',
    p50Ms: result.createToCompletedMs.p50,
    p99Ms: result.createToCompletedMs.p99,
    p50AddedMs: null,
    p99AddedMs: null,
    requestsPerSecond: result.responsesPerSecond,
    cpuSecondsPer1000: per1000(used.cpuSeconds, result.responses),
    peakRssMb: megabytes(used.peakRssBytes),
    note: `latency = create → seen completed; create call p50 ${result.createMs.p50} ms; ${result.pollsPerResponse} polls/response; rps and CPU per background response (polls included)${result.failures ? `; ${result.failures} did not complete` : ''}`,
    details: { ...result, cpuSeconds: used.cpuSeconds },
  });
}

/** Keyword-only on SQLite, and on PostgreSQL too when RIPOSTE_TEST_DATABASE_URL names one. */
async function retrievalQualityScenario(context: Context): Promise<void> {
  const databases = [null, process.env.RIPOSTE_TEST_DATABASE_URL ?? null].filter(
    (url, index) => index === 0 || url !== null,
  );
  for (const databaseUrl of databases) {
    const result = await runRetrievalQuality({
      datasetDirectory: DEFAULT_CRANFIELD_DIRECTORY,
      databaseUrl,
      embeddings: null,
      log: (line) => void process.stderr.write(`[bench] retrieval-quality: ${line}\n`),
    });
    context.rows.push({
      scenario: 'retrieval-quality',
      target: `Riposte /v1/vector_stores/{id}/search, ${result.storage}, ${result.searchMode}`,
      status: 'measured',
      p50Ms: result.searchLatencyMs.p50,
      p99Ms: result.searchLatencyMs.p99,
      p50AddedMs: null,
      p99AddedMs: null,
      requestsPerSecond: null,
      cpuSecondsPer1000: null,
      peakRssMb: null,
      note: `Cranfield: nDCG@10 ${result.ndcgAt10}, recall@10 ${result.recallAt10} over ${result.queriesJudged} queries; latency = one search over HTTP, ${result.chunks} chunks`,
      details: { ...result, summary: describeQuality(result) },
    });
  }
}

async function searchLatencyScenario(context: Context): Promise<void> {
  const result = await runSearchLatency({
    sizes: context.settings.quick ? [10_000] : [10_000, 100_000],
    queries: context.settings.quick ? 50 : 200,
    dimensions: 384,
    chunkWords: 150,
    secondsPerRow: context.settings.quick ? 10 : 30,
    databaseUrl: process.env.RIPOSTE_TEST_DATABASE_URL ?? null,
    datasetDirectory: DEFAULT_CRANFIELD_DIRECTORY,
    log: (line) => void process.stderr.write(`[bench] search-latency: ${line}\n`),
  });
  for (const row of result.rows) {
    const scope =
      row.chunksInDatabase > row.chunks
        ? ` (one store, in a database of ${row.chunksInDatabase.toLocaleString('en')})`
        : '';
    context.rows.push({
      scenario: 'search-latency',
      target: `${row.database} store.search, ${row.mode}, ${row.chunks.toLocaleString('en')} chunks${scope}`,
      status: 'measured',
      p50Ms: row.latencyMs.p50,
      p99Ms: row.latencyMs.p99,
      p50AddedMs: null,
      p99AddedMs: null,
      requestsPerSecond: null,
      cpuSecondsPer1000: null,
      peakRssMb: null,
      note: `in-process, ${row.latencyMs.count} Cranfield queries one at a time, top 10; chunks bulk-loaded through the store API${row.mode === 'keyword' ? '' : `; vectors are synthetic random ${result.settings.dimensions}-d unit vectors (timing only)`}`,
      details: { ...row, loads: result.loads },
    });
  }
}

async function openStreamsScenario(context: Context): Promise<void> {
  const { settings, targets } = context;
  // A Riposte of its own: the one the other scenarios loaded keeps their high-water memory, which
  // says nothing about what open streams cost.
  const dataDirectory = mkdtempSync(join(tmpdir(), 'riposte-bench-streams-'));
  const riposte = await startRiposte(targets.mock, dataDirectory);
  let before = 0;
  let during = 0;
  let held: Awaited<ReturnType<typeof startHeldLoad<{ ready: boolean; opened: number }, { opened: number }>>>;
  try {
    // One request first, so start-up's lazy work (the first model route, prepared statements) is
    // in the baseline rather than counted against the streams.
    await fetch(url(riposte, '/v1/responses'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(responsesBody(false)),
    }).then((response) => response.arrayBuffer());
    before = rssBytes(riposte.pid);
    held = await startHeldLoad<{ ready: boolean; opened: number }, { opened: number }>({
      kind: 'open-streams',
      url: url(riposte, '/v1/responses'),
      body: responsesBody(false, 'bench-hold', true),
      count: settings.openStreams,
    });
    // Let the allocations settle before sampling, then take the larger of a few samples.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (let sample = 0; sample < 5; sample++) {
      during = Math.max(during, rssBytes(riposte.pid));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await held.finish();
  } finally {
    await riposte.stop();
    rmSync(dataDirectory, { recursive: true, force: true });
  }
  const opened = held.ready.opened;
  const perStreamKilobytes = opened > 0 ? (during - before) / opened / 1024 : Number.NaN;
  context.rows.push({
    scenario: 'open-streams-1000',
    target: `Riposte, ${settings.openStreams} idle open streams`,
    status: 'measured',
    p50Ms: null,
    p99Ms: null,
    p50AddedMs: null,
    p99AddedMs: null,
    requestsPerSecond: null,
    cpuSecondsPer1000: null,
    peakRssMb: megabytes(during),
    note: `${opened} opened; RSS ${megabytes(before)} MB before → ${megabytes(during)} MB open = ${round(perStreamKilobytes, 1)} KB per stream`,
    details: { opened, rssBeforeBytes: before, rssOpenBytes: during, perStreamKilobytes },
  });
  check(
    context,
    `RSS with ${settings.openStreams} idle open streams`,
    '< 200 MB',
    megabytes(during),
    'MB',
    megabytes(during) < 200 && opened === settings.openStreams,
  );
}

async function runScenario(context: Context, name: ScenarioName): Promise<void> {
  switch (name) {
    case 'latency-store-false':
      return latencyScenario(context, false);
    case 'latency-store-true':
      return latencyScenario(context, true);
    case 'throughput-store-false':
      return throughputScenario(context, false);
    case 'throughput-store-true':
      return throughputScenario(context, true);
    case 'streaming':
      return streamingScenario(context);
    case 'chain-20':
      return chainScenario(context);
    case 'conversation-200':
      return conversationScenario(context);
    case 'background':
      return backgroundScenario(context);
    case 'retrieval-quality':
      return retrievalQualityScenario(context);
    case 'search-latency':
      return searchLatencyScenario(context);
    case 'open-streams-1000':
      return openStreamsScenario(context);
  }
}

/** Re-runs the costliest throughput scenario against a Riposte started with --cpu-prof. */
async function profileHottest(
  context: Context,
  resultsDirectory: string,
  stamp: string,
): Promise<{ scenario: string; file: string; summary: ProfileSummary } | null> {
  const hottest = [...context.throughputCost.entries()].sort((left, right) => right[1] - left[1])[0];
  if (!hottest) return null;
  const [scenario] = hottest;
  const store = scenario === 'throughput-store-true';
  const profileDirectory = mkdtempSync(join(tmpdir(), 'riposte-bench-profile-'));
  const dataDirectory = mkdtempSync(join(tmpdir(), 'riposte-bench-data-'));
  const riposte = await startRiposte(context.targets.mock, dataDirectory, [
    '--cpu-prof',
    '--cpu-prof-dir',
    profileDirectory,
  ]);
  try {
    await autocannonAgainst(
      riposte,
      '/v1/responses',
      responsesBody(store),
      {},
      {
        seconds: context.settings.throughputSeconds,
        connections: context.settings.throughputConnections,
        warmupSeconds: 0,
      },
    );
  } finally {
    await riposte.stop();
    rmSync(dataDirectory, { recursive: true, force: true });
  }
  const written = readdirSync(profileDirectory).find((file) => file.endsWith('.cpuprofile'));
  if (!written) return null;
  const file = join(resultsDirectory, `${stamp}-riposte-${scenario}.cpuprofile`);
  renameSync(join(profileDirectory, written), file);
  rmSync(profileDirectory, { recursive: true, force: true });
  return {
    scenario,
    file: file.replace(`${PROJECT_DIRECTORY}/`, ''),
    summary: summariseProfile(file, PROJECT_DIRECTORY),
  };
}

function machine(): BenchReport['machine'] {
  const cpuInfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuInfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return {
    cpus: cpus().length,
    cpuModel: model.trim(),
    memoryGb: round(totalmem() / 1024 ** 3, 1),
    freeMemoryGb: round(freemem() / 1024 ** 3, 1),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverageAtStart: load,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      scenario: { type: 'string', multiple: true },
      'no-profile': { type: 'boolean', default: false },
      'no-docs': { type: 'boolean', default: false },
      'results-dir': { type: 'string' },
      'node-flag': { type: 'string', multiple: true },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'npm run bench [-- --quick] [-- --scenario NAME …] [-- --no-profile] [-- --no-docs] [-- --results-dir DIR] [-- --node-flag=FLAG …]\n' +
        `scenarios: ${SCENARIOS.join(', ')}\n`,
    );
    return;
  }
  riposteNodeFlags = values['node-flag'] ?? [];
  const selected = (values.scenario ?? [...SCENARIOS]) as ScenarioName[];
  for (const name of selected) {
    if (!SCENARIOS.includes(name)) throw new Error(`Unknown scenario '${name}'. Scenarios: ${SCENARIOS.join(', ')}`);
  }
  const settings = settingsFor(values.quick);
  const resultsDirectory = values['results-dir'] ?? join(BENCH_DIRECTORY, 'results');
  mkdirSync(resultsDirectory, { recursive: true });
  const startedAt = new Date();
  const stamp = startedAt
    .toISOString()
    .replace(/[:.]/g, '-')
    .replace(/-\d{3}Z$/, 'Z');
  const machineInfo = machine();
  const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

  const dataDirectory = mkdtempSync(join(tmpdir(), 'riposte-bench-data-'));
  const services: Service[] = [];
  const context: Context = {
    settings,
    targets: null as unknown as Targets,
    rows: [],
    checks: [],
    throughputCost: new Map(),
  };
  let profile: Awaited<ReturnType<typeof profileHottest>> = null;
  const failures: string[] = [];
  try {
    const mock = await startMock(settings);
    services.push(mock);
    const riposte = await startRiposte(mock, dataDirectory);
    services.push(riposte);
    let portkey: Service | null = null;
    let portkeyError: string | null = null;
    try {
      portkey = await startPortkey();
      services.push(portkey);
    } catch (error) {
      portkeyError = `Portkey did not start: ${error instanceof Error ? error.message : String(error)}`;
    }
    context.targets = { mock, riposte, portkey, portkeyError };
    await checkTargets(context.targets);
    if (context.targets.portkeyError) log(context.targets.portkeyError);
    for (const name of selected) {
      const began = Date.now();
      log(`${name}…`);
      try {
        await runScenario(context, name);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failures.push(`${name}: ${message}`);
        context.rows.push({
          scenario: name,
          target: 'Riposte',
          status: 'failed',
          p50Ms: null,
          p99Ms: null,
          p50AddedMs: null,
          p99AddedMs: null,
          requestsPerSecond: null,
          cpuSecondsPer1000: null,
          peakRssMb: null,
          note: `FAILED: ${message.slice(0, 300)}`,
          details: {},
        });
      }
      log(`${name} done in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    }
    if (!values['no-profile']) {
      log('profiling the hottest throughput scenario…');
      profile = await profileHottest(context, resultsDirectory, stamp);
    }
  } finally {
    for (const service of services.reverse()) await service.stop();
    rmSync(dataDirectory, { recursive: true, force: true });
  }

  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    machine: {
      ...machineInfo,
      loadAverageAtEnd: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    },
    settings: {
      ...settings,
      model: MODEL,
      streamTokens: STREAM_TOKENS,
      scenarios: selected,
      storage: 'SQLite (fresh temporary data dir)',
    },
    portkey: context.targets.portkey
      ? 'Portkey gateway (@portkey-ai/gateway), provider openai + x-portkey-custom-host → mock'
      : (context.targets.portkeyError ?? 'not run'),
    rows: context.rows,
    checks: context.checks,
    profile,
    failures,
  };
  const markdown = renderMarkdown(report);
  writeFileSync(join(resultsDirectory, `${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(resultsDirectory, `${stamp}.md`), markdown);
  if (!values['no-docs']) {
    const docs = join(PROJECT_DIRECTORY, 'docs/benchmarks.md');
    writeFileSync(docs, updateDocs(docs, markdown));
  }
  process.stdout.write(markdown);
  log(`wrote ${join(resultsDirectory, `${stamp}.json`)} and .md${values['no-docs'] ? '' : ', and docs/benchmarks.md'}`);
  if (failures.length > 0) process.exitCode = 1;
}

await main();
