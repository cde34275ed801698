import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InMemoryEventBus } from '../jobs/in-memory-event-bus.ts';
import { InProcessJobQueue } from '../jobs/in-process-job-queue.ts';
import type { BackgroundJob, JobQueue } from '../jobs/job-queue.ts';
import { openSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage, StoredResponse } from '../storage/stores.ts';
import { ScriptedModel, textAnswer } from '../testing/scripted-model.ts';
import { StaticModelRouter } from '../testing/static-model-router.ts';
import {
  acceptBackgroundResponse,
  recoverBackgroundResponses,
  runBackgroundJob,
  type BackgroundDependencies,
} from './background-responses.ts';
import type { EngineContext } from './engine-context.ts';
import { parseCreateResponse } from './parse-create-response.ts';
import { ContentSealer } from './sealed-content.ts';

/*
 * Background jobs against SQLite with the in-process queue: a response is run by whichever job
 * claims it, once, however many jobs name it; and one left queued without a job (its replica died
 * between taking the job and claiming the response) is re-enqueued by the stale sweep.
 */

let directory: string;
let storage: Storage;
const sealer = new ContentSealer(randomBytes(32));

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'riposte-background-'));
  storage = await openSqliteStorage({ path: join(directory, 'riposte.sqlite') });
});
after(async () => {
  await storage.close();
  rmSync(directory, { recursive: true, force: true });
});

/** A queue that takes jobs and never runs them: the job died with the replica that fetched it. */
class LostJobQueue implements JobQueue {
  readonly lost: BackgroundJob[] = [];
  async enqueue(job: BackgroundJob): Promise<void> {
    this.lost.push(job);
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

interface Harness {
  owner: string;
  model: ScriptedModel;
  queue: InProcessJobQueue;
  dependencies: BackgroundDependencies;
  contextFor: (owner: string, signal: AbortSignal) => EngineContext;
  failures: unknown[];
}

function harness(model: ScriptedModel): Harness {
  const failures: unknown[] = [];
  const queue = new InProcessJobQueue({ onError: (error) => failures.push(error) });
  const router = new StaticModelRouter({ 'test-model': model });
  const contextFor = (owner: string, signal: AbortSignal): EngineContext => ({
    router,
    responses: storage.responses,
    conversations: storage.conversations,
    prompts: storage.prompts,
    vectorStores: storage.vectorStores,
    embedder: null,
    sealer,
    owner,
    signal,
  });
  const dependencies: BackgroundDependencies = {
    background: storage.background,
    queue,
    bus: new InMemoryEventBus(),
    heartbeatIntervalMs: 50,
  };
  return { owner: `proj_${randomUUID()}`, model, queue, dependencies, contextFor, failures };
}

async function startWorker(h: Harness, concurrency: number): Promise<void> {
  await h.queue.start(
    (job, signal) => runBackgroundJob(job, signal, h.contextFor, h.dependencies),
    concurrency,
  );
}

async function accept(h: Harness, queue: JobQueue = h.queue): Promise<string> {
  const accepted = await acceptBackgroundResponse(
    parseCreateResponse({ model: 'test-model', input: 'Hi', background: true, store: true }),
    h.contextFor(h.owner, new AbortController().signal),
    { ...h.dependencies, queue },
  );
  return accepted.id;
}

async function waitUntilEnded(owner: string, id: string): Promise<StoredResponse> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const stored = await storage.responses.get(owner, id);
    if (stored && stored.status !== 'queued' && stored.status !== 'in_progress') return stored;
    assert.ok(Date.now() < deadline, `${id} is still ${stored?.status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The logged events' types, after checking their sequence numbers run 0, 1, 2, … */
async function eventTypes(id: string): Promise<string[]> {
  const events = await storage.background.readEvents(id, -1, 10_000);
  events.forEach((event, index) => assert.equal(event.sequenceNumber, index));
  return events.map((event) => String(event.event.type));
}

const TERMINAL = new Set(['response.completed', 'response.failed', 'response.incomplete']);

describe('background jobs: claim and stale re-enqueue', () => {
  test('two jobs for one queued response: one claims and runs it, the other does nothing', async () => {
    const h = harness(new ScriptedModel([textAnswer('Only once.')], { whenExhausted: 'repeat-last', delayMs: 5 }));
    const id = await accept(h);
    // A duplicate before the worker starts: both jobs start together and race for the claim.
    await h.queue.enqueue({ responseId: id, owner: h.owner });
    await startWorker(h, 4);
    const ended = await waitUntilEnded(h.owner, id);
    await h.queue.stop(5_000);
    assert.equal(ended.status, 'completed');
    assert.equal(ended.response.output_text, 'Only once.');
    assert.equal(h.model.requests.length, 1, 'upstream calls');
    const types = await eventTypes(id);
    assert.deepEqual(types.slice(0, 3), ['response.created', 'response.queued', 'response.in_progress']);
    assert.equal(types.filter((type) => type === 'response.in_progress').length, 1);
    assert.equal(types.filter((type) => TERMINAL.has(type)).length, 1);
    assert.deepEqual(h.failures, []);
  });

  test('a duplicate job for a running response neither runs it again nor ends it', async () => {
    const h = harness(new ScriptedModel([textAnswer('A slow answer.')], { whenExhausted: 'repeat-last', delayMs: 40 }));
    await startWorker(h, 4);
    const id = await accept(h);
    const deadline = Date.now() + 5_000;
    while ((await storage.responses.get(h.owner, id))?.status !== 'in_progress') {
      assert.ok(Date.now() < deadline, 'never started');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const before = await storage.background.readEvents(id, -1, 10_000);
    await h.queue.enqueue({ responseId: id, owner: h.owner });
    const ended = await waitUntilEnded(h.owner, id);
    await h.queue.stop(5_000);
    assert.equal(ended.status, 'completed');
    assert.equal(ended.response.output_text, 'A slow answer.');
    assert.equal(h.model.requests.length, 1, 'upstream calls');
    const types = await eventTypes(id);
    assert.ok(types.length > before.length);
    assert.equal(types.filter((type) => TERMINAL.has(type)).length, 1);
    assert.equal(types.at(-1), 'response.completed');
    assert.deepEqual(h.failures, []);
  });

  test('a response left queued with no job is re-enqueued once stale, and completes', async () => {
    const h = harness(new ScriptedModel([textAnswer('Recovered.')], { whenExhausted: 'repeat-last' }));
    await startWorker(h, 2);
    const lostQueue = new LostJobQueue();
    const id = await accept(h, lostQueue);
    assert.equal(lostQueue.lost.length, 1);

    // Not stale yet: the sweep leaves it to its job.
    const early = await recoverBackgroundResponses({ responses: storage.responses }, h.dependencies, {
      requeue: true,
      staleAfterSeconds: 60,
    });
    assert.equal(early.requeued, 0);
    assert.equal((await storage.responses.get(h.owner, id))?.status, 'queued');

    // Once its last event is older than the window (here: any earlier second), it runs again.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const swept = await recoverBackgroundResponses({ responses: storage.responses }, h.dependencies, {
      requeue: true,
      staleAfterSeconds: 0,
    });
    assert.ok(swept.requeued >= 1, `requeued ${swept.requeued}`);
    assert.equal(swept.failed, 0);
    const ended = await waitUntilEnded(h.owner, id);
    assert.equal(ended.status, 'completed');
    assert.equal(ended.response.output_text, 'Recovered.');
    assert.equal(h.model.requests.length, 1, 'upstream calls');

    // The original job turning up late changes nothing.
    await h.queue.enqueue(lostQueue.lost[0]!);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await h.queue.stop(5_000);
    assert.equal(h.model.requests.length, 1, 'upstream calls');
    const types = await eventTypes(id);
    assert.equal(types.filter((type) => TERMINAL.has(type)).length, 1);
    assert.deepEqual(h.failures, []);
  });

  test('a claimed response whose request no longer prepares ends failed, not in progress', async () => {
    const h = harness(new ScriptedModel([textAnswer('Never sent.')]));
    const lostQueue = new LostJobQueue();
    const id = await accept(h, lostQueue);
    // The model was unrouted between acceptance and the run.
    const unrouted = (owner: string, signal: AbortSignal): EngineContext => ({
      ...h.contextFor(owner, signal),
      router: new StaticModelRouter({}),
    });
    await assert.rejects(
      runBackgroundJob(lostQueue.lost[0]!, new AbortController().signal, unrouted, h.dependencies),
    );
    const ended = await storage.responses.get(h.owner, id);
    assert.equal(ended?.status, 'failed');
    assert.equal((ended?.response.error as { code?: string } | null)?.code, 'server_error');
    assert.equal(h.model.requests.length, 0);
    assert.deepEqual(await eventTypes(id), ['response.created', 'response.queued', 'response.failed']);
  });
});
