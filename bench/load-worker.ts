/**
 * The load generator, run in its own process so its CPU never counts against the server it
 * measures: `node bench/load-worker.ts '<job JSON>'` prints one JSON line with the result.
 *
 * Stateless request floods use autocannon (latencies taken from its per-response timer, which
 * has sub-millisecond resolution, rather than its whole-millisecond histogram). A fixed request
 * rate does not: autocannon's rate limit lets each connection send as fast as it is answered
 * until its share of the second is used up, then waits for the next second, so "500 rps" is a
 * burst at full concurrency every second and its latency is that of a saturated server. Fixed
 * rates are paced here instead (`paced`): one request every 1/rate seconds, open loop. Stateful
 * scenarios — chains, conversations, background polling, streams — need each request to depend
 * on the last answer, so they use a small keep-alive client over node:http.
 */
import autocannon from 'autocannon';
import { Agent, request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import { summarise, type LatencySummary } from './statistics.ts';

export type LoadJob =
  | {
      kind: 'autocannon';
      url: string;
      body: unknown;
      headers?: Record<string, string>;
      connections: number;
      durationSeconds: number;
      /** Requests per second across all connections; omitted: as fast as the server answers. */
      overallRate?: number;
    }
  | {
      /** Open loop: a request every 1/rate s, whether or not earlier ones were answered. */
      kind: 'paced';
      url: string;
      body: unknown;
      headers?: Record<string, string>;
      rate: number;
      durationSeconds: number;
    }
  | {
      kind: 'stream';
      url: string;
      body: unknown;
      headers?: Record<string, string>;
      requests: number;
      concurrency: number;
    }
  | { kind: 'chain'; baseUrl: string; model: string; depth: number; chains: number; concurrency: number }
  | {
      kind: 'conversation';
      baseUrl: string;
      model: string;
      items: number;
      conversations: number;
      requestsPerConversation: number;
      concurrency: number;
    }
  | {
      kind: 'background';
      baseUrl: string;
      model: string;
      requests: number;
      concurrency: number;
      pollIntervalMs: number;
    }
  | { kind: 'open-streams'; url: string; body: unknown; count: number };

export interface AutocannonResult {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  latencyMs: LatencySummary;
  errors: number;
  non2xx: number;
}

export interface StreamResult {
  requests: number;
  failures: number;
  wallSeconds: number;
  /** Request sent → first SSE frame of any kind. */
  firstEventMs: LatencySummary;
  /** Request sent → first frame carrying the first model token. */
  firstTokenMs: LatencySummary;
  totalMs: LatencySummary;
  eventsPerStream: number;
  /** All frames received by all streams, per second of wall time. */
  eventsPerSecond: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

interface JsonAnswer {
  status: number;
  body: Record<string, unknown>;
  milliseconds: number;
}

function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const started = performance.now();
    const outgoing = httpRequest(
      url,
      {
        method,
        agent,
        headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers },
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => {
          const milliseconds = performance.now() - started;
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            parsed = { text };
          }
          resolve({ status: incoming.statusCode ?? 0, body: parsed, milliseconds });
        });
        incoming.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

async function expectOk(answer: Promise<JsonAnswer>): Promise<JsonAnswer> {
  const result = await answer;
  if (result.status >= 300) throw new Error(`HTTP ${result.status}: ${JSON.stringify(result.body).slice(0, 300)}`);
  return result;
}

/** Runs `task(index)` for indexes 0…count-1 with at most `concurrency` at a time. */
async function pool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const index = next++;
      await task(index);
    }
  });
  await Promise.all(lanes);
}

async function runAutocannon(job: Extract<LoadJob, { kind: 'autocannon' }>): Promise<AutocannonResult> {
  const latencies: number[] = [];
  let finish: (error: unknown, result: autocannon.Result) => void = () => undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (error, result) =>
      error ? reject(error instanceof Error ? error : new Error(JSON.stringify(error))) : resolve(result);
  });
  // With a callback autocannon returns its instance, whose 'response' event carries each timing.
  const instance = autocannon(
    {
      url: job.url,
      method: 'POST',
      body: JSON.stringify(job.body),
      headers: { 'content-type': 'application/json', ...job.headers },
      connections: job.connections,
      duration: job.durationSeconds,
      ...(job.overallRate ? { overallRate: job.overallRate } : {}),
    },
    (error, result) => finish(error, result),
  );
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
  });
  const result = await done;
  return {
    requests: result.requests.total,
    durationSeconds: result.duration,
    requestsPerSecond: Math.round((latencies.length / result.duration) * 10) / 10,
    latencyMs: summarise(latencies),
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

async function runPaced(job: Extract<LoadJob, { kind: 'paced' }>): Promise<AutocannonResult> {
  const intervalMs = 1000 / job.rate;
  const total = Math.round(job.rate * job.durationSeconds);
  const latencies: number[] = [];
  let errors = 0;
  let non2xx = 0;
  const inFlight: Array<Promise<void>> = [];
  const started = performance.now();
  for (let index = 0; index < total; index++) {
    // Sleep until this request's slot; a timer that fires late sends the requests it owes at once.
    const due = started + index * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, Math.floor(wait)));
    inFlight.push(
      call('POST', job.url, job.body, job.headers).then(
        (answer) => {
          if (answer.status >= 200 && answer.status < 300) latencies.push(answer.milliseconds);
          else non2xx++;
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(inFlight);
  const durationSeconds = (performance.now() - started) / 1000;
  return {
    requests: total,
    durationSeconds: Math.round(durationSeconds * 1000) / 1000,
    requestsPerSecond: Math.round((latencies.length / durationSeconds) * 10) / 10,
    latencyMs: summarise(latencies),
    errors,
    non2xx,
  };
}

interface StreamTiming {
  ok: boolean;
  firstEventMs: number;
  firstTokenMs: number;
  totalMs: number;
  events: number;
}

/** Opens one SSE stream; `onFirstEvent` fires once the first frame is in. */
function openStream(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  onFirstEvent?: (abort: () => void) => void,
): Promise<StreamTiming> {
  return new Promise((resolve) => {
    const started = performance.now();
    const timing: StreamTiming = {
      ok: false,
      firstEventMs: Number.NaN,
      firstTokenMs: Number.NaN,
      totalMs: 0,
      events: 0,
    };
    let carry = '';
    const outgoing = httpRequest(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } },
      (incoming) => {
        incoming.setEncoding('utf8');
        incoming.on('data', (chunk: string) => {
          const frames = (carry + chunk).split('\n\n');
          carry = frames.pop() ?? '';
          for (const frame of frames) {
            if (!frame.includes('data:')) continue;
            timing.events++;
            const now = performance.now() - started;
            if (timing.events === 1) {
              timing.firstEventMs = now;
              onFirstEvent?.(() => outgoing.destroy());
            }
            // The mock's first token is the word `token`, both as a chat delta and a Responses delta.
            if (Number.isNaN(timing.firstTokenMs) && frame.includes(':"token"')) timing.firstTokenMs = now;
          }
        });
        incoming.on('end', () => {
          timing.totalMs = performance.now() - started;
          timing.ok = incoming.statusCode === 200;
          resolve(timing);
        });
        incoming.on('error', () => resolve(timing));
        incoming.on('close', () => resolve(timing));
      },
    );
    outgoing.on('error', () => resolve(timing));
    outgoing.end(JSON.stringify(body));
  });
}

async function runStreams(job: Extract<LoadJob, { kind: 'stream' }>): Promise<StreamResult> {
  const timings: StreamTiming[] = [];
  const started = performance.now();
  await pool(job.requests, job.concurrency, async () => {
    timings.push(await openStream(job.url, job.body, job.headers));
  });
  const wallSeconds = (performance.now() - started) / 1000;
  const good = timings.filter((timing) => timing.ok);
  const events = good.reduce((sum, timing) => sum + timing.events, 0);
  return {
    requests: timings.length,
    failures: timings.length - good.length,
    wallSeconds: Math.round(wallSeconds * 1000) / 1000,
    firstEventMs: summarise(good.map((timing) => timing.firstEventMs)),
    firstTokenMs: summarise(good.map((timing) => timing.firstTokenMs)),
    totalMs: summarise(good.map((timing) => timing.totalMs)),
    eventsPerStream: good.length ? Math.round((events / good.length) * 10) / 10 : 0,
    eventsPerSecond: Math.round(events / wallSeconds),
  };
}

async function runChain(job: Extract<LoadJob, { kind: 'chain' }>): Promise<Record<string, unknown>> {
  const byTurn: number[][] = Array.from({ length: job.depth }, () => []);
  const started = performance.now();
  await pool(job.chains, job.concurrency, async (chain) => {
    let previous: string | undefined;
    for (let turn = 0; turn < job.depth; turn++) {
      const answer = await expectOk(
        call('POST', `${job.baseUrl}/responses`, {
          model: job.model,
          input: `Chain ${chain}, turn ${turn + 1}: say something.`,
          store: true,
          ...(previous ? { previous_response_id: previous } : {}),
        }),
      );
      byTurn[turn]!.push(answer.milliseconds);
      previous = String(answer.body.id);
    }
  });
  const wallSeconds = (performance.now() - started) / 1000;
  return {
    requests: job.chains * job.depth,
    requestsPerSecond: Math.round(((job.chains * job.depth) / wallSeconds) * 10) / 10,
    firstTurnMs: summarise(byTurn[0] ?? []),
    lastTurnMs: summarise(byTurn[job.depth - 1] ?? []),
    allTurnsMs: summarise(byTurn.flat()),
    p50ByTurnMs: byTurn.map((samples) => summarise(samples).p50),
  };
}

async function runConversation(job: Extract<LoadJob, { kind: 'conversation' }>): Promise<Record<string, unknown>> {
  const conversationIds: string[] = [];
  // Setup, not timed: conversations of `items` messages, appended 20 at a time (the API's limit).
  for (let index = 0; index < job.conversations; index++) {
    const created = await expectOk(call('POST', `${job.baseUrl}/conversations`, {}));
    const id = String(created.body.id);
    for (let offset = 0; offset < job.items; offset += 20) {
      const items = Array.from({ length: Math.min(20, job.items - offset) }, (_, position) => {
        const number = offset + position;
        return number % 2 === 0
          ? { type: 'message', role: 'user', content: `Question ${number}: what happened next in the story?` }
          : { type: 'message', role: 'assistant', content: `Answer ${number}: the story went on for a while.` };
      });
      await expectOk(call('POST', `${job.baseUrl}/conversations/${id}/items`, { items }));
    }
    conversationIds.push(id);
  }
  // The same requests without a conversation, side by side, as the baseline.
  const baseline: number[] = [];
  const inConversation: number[] = [];
  const total = job.conversations * job.requestsPerConversation;
  await pool(job.conversations, job.concurrency, async (index) => {
    for (let turn = 0; turn < job.requestsPerConversation; turn++) {
      const plain = await expectOk(
        call('POST', `${job.baseUrl}/responses`, { model: job.model, input: 'And then?', store: true }),
      );
      baseline.push(plain.milliseconds);
      const answer = await expectOk(
        call('POST', `${job.baseUrl}/responses`, {
          model: job.model,
          input: 'And then?',
          conversation: conversationIds[index],
          store: true,
        }),
      );
      inConversation.push(answer.milliseconds);
    }
  });
  return { requests: total * 2, inConversationMs: summarise(inConversation), singleTurnMs: summarise(baseline) };
}

async function runBackground(job: Extract<LoadJob, { kind: 'background' }>): Promise<Record<string, unknown>> {
  const createMs: number[] = [];
  const completedMs: number[] = [];
  let polls = 0;
  let failures = 0;
  const started = performance.now();
  await pool(job.requests, job.concurrency, async () => {
    const begun = performance.now();
    const created = await expectOk(
      call('POST', `${job.baseUrl}/responses`, { model: job.model, input: 'Run in the background.', background: true }),
    );
    createMs.push(created.milliseconds);
    const id = String(created.body.id);
    let status = String(created.body.status);
    while (status === 'queued' || status === 'in_progress') {
      await new Promise((resolve) => setTimeout(resolve, job.pollIntervalMs));
      const polled = await expectOk(call('GET', `${job.baseUrl}/responses/${id}`));
      polls++;
      status = String(polled.body.status);
    }
    if (status === 'completed') completedMs.push(performance.now() - begun);
    else failures++;
  });
  const wallSeconds = (performance.now() - started) / 1000;
  return {
    requests: job.requests + polls,
    responses: job.requests,
    failures,
    responsesPerSecond: Math.round((job.requests / wallSeconds) * 10) / 10,
    pollsPerResponse: Math.round((polls / job.requests) * 100) / 100,
    createMs: summarise(createMs),
    createToCompletedMs: summarise(completedMs),
  };
}

/** Opens `count` streams, says `{"ready": …}` once all have their first event, closes them on stdin. */
async function runOpenStreams(job: Extract<LoadJob, { kind: 'open-streams' }>): Promise<Record<string, unknown>> {
  const aborts: Array<() => void> = [];
  let opened = 0;
  const firstEvents: number[] = [];
  const ready = Promise.withResolvers<void>();
  const streams = Array.from({ length: job.count }, () =>
    openStream(job.url, job.body, {}, (abort) => {
      aborts.push(abort);
      opened++;
      if (opened === job.count) ready.resolve();
    }),
  );
  // Streams that fail before their first event would never count as opened.
  const settled = Promise.all(streams).then(() => ready.resolve());
  const timeout = setTimeout(() => ready.resolve(), 60_000);
  await ready.promise;
  clearTimeout(timeout);
  process.stdout.write(`${JSON.stringify({ ready: true, opened })}\n`);
  await new Promise<void>((resolve) => {
    process.stdin.once('data', () => resolve());
    process.stdin.once('end', () => resolve());
  });
  for (const abort of aborts) abort();
  const timings = await Promise.race([
    settled.then(() => Promise.all(streams)),
    new Promise<StreamTiming[]>((resolve) => setTimeout(() => resolve([]), 5000)),
  ]);
  for (const timing of timings) if (!Number.isNaN(timing.firstEventMs)) firstEvents.push(timing.firstEventMs);
  return { requested: job.count, opened, firstEventMs: summarise(firstEvents) };
}

export async function runJob(job: LoadJob): Promise<unknown> {
  switch (job.kind) {
    case 'autocannon':
      return runAutocannon(job);
    case 'paced':
      return runPaced(job);
    case 'stream':
      return runStreams(job);
    case 'chain':
      return runChain(job);
    case 'conversation':
      return runConversation(job);
    case 'background':
      return runBackground(job);
    case 'open-streams':
      return runOpenStreams(job);
  }
}

if (import.meta.main) {
  const job = JSON.parse(process.argv[2] ?? '{}') as LoadJob;
  runJob(job).then(
    (result) => {
      process.stdout.write(`${JSON.stringify({ result })}\n`);
      agent.destroy();
      process.exit(0);
    },
    (error: unknown) => {
      process.stdout.write(`${JSON.stringify({ error: error instanceof Error ? error.message : String(error) })}\n`);
      process.exit(1);
    },
  );
}
