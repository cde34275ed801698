import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import pg from 'pg';
import { ScriptedChatUpstream, type ChatUpstreamReply } from '../../src/testing/scripted-chat-upstream.ts';
import { assertMatchesSchema, assertStreamEvent } from '../contract/spec-validator.ts';
import {
  countTags,
  inputTag,
  killAllRiposteProcesses,
  pollUntilAllFinished,
  replayEvents,
  startRiposte,
  temporaryDirectory,
  writeConfigFile,
  type RiposteProcess,
} from './riposte-process.ts';

/*
 * Two `riposte serve` replicas on one PostgreSQL, each in front of its own scripted upstream (so
 * the upstream that saw a request tells which replica ran it): streaming and cancelling across
 * replicas, every job run exactly once, and a replica killed mid-run.
 */

const databaseServerUrl = process.env.RIPOSTE_TEST_DATABASE_URL;

/** Seconds without a heartbeat after which the survivors end a response as interrupted. */
const STALE_SECONDS = 4;

describe('background mode on two PostgreSQL replicas', () => {
  if (databaseServerUrl === undefined || databaseServerUrl === '') {
    test(
      'replicas share background jobs',
      { skip: 'RIPOSTE_TEST_DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)' },
      () => undefined,
    );
    return;
  }
  const serverUrl = databaseServerUrl;
  const suffix = randomBytes(6).toString('hex');
  // A fresh schema for the store and another for pg-boss, so parallel runs never share jobs.
  const storeSchema = `riposte_replicas_${suffix}`;
  const jobsSchema = `riposte_replicas_jobs_${suffix}`;
  let schemaCreated = false;

  let chunkDelayMs = 0;
  let chunkCount = 4;
  /** `chunkCount` chunks of 6 characters, naming the request's tag. */
  const reply = (body: Record<string, unknown>): ChatUpstreamReply => ({
    content: `answer to ${inputTag(body) ?? 'untagged'} `.padEnd(chunkCount * 6, '.'),
    chunkDelayMs,
  });
  const upstreamA = new ScriptedChatUpstream([], { fallback: reply });
  const upstreamB = new ScriptedChatUpstream([], { fallback: reply });
  let replicaA: RiposteProcess;
  let replicaB: RiposteProcess;
  let clientA: OpenAI;
  let clientB: OpenAI;

  /** Runs one statement on a connection of its own; fails (never skips) when unreachable. */
  async function administer(statement: string): Promise<void> {
    const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  }

  const clientFor = (server: RiposteProcess): OpenAI =>
    new OpenAI({ baseURL: server.baseUrl, apiKey: 'not-checked-on-loopback', maxRetries: 0, timeout: 15_000 });

  before(async () => {
    await administer(`CREATE SCHEMA ${storeSchema}`);
    schemaCreated = true;
    const parsed = new URL(serverUrl);
    parsed.searchParams.set('options', `-c search_path=${storeSchema}`);
    const config = writeConfigFile({
      jobs_schema: jobsSchema,
      background_concurrency: 40,
      background_stale_seconds: STALE_SECONDS,
      shutdown_grace_ms: 0,
    });
    // Replicas must share the content key (it seals encrypted_content and is not in the database).
    const environment = { RIPOSTE_ENCRYPTION_KEY: randomBytes(32).toString('hex') };
    const start = async (upstream: ScriptedChatUpstream): Promise<RiposteProcess> =>
      startRiposte(
        [
          '--data-dir',
          temporaryDirectory(),
          '--config',
          config,
          '--database-url',
          parsed.toString(),
          '--upstream-url',
          await upstream.start(),
        ],
        { environment },
      );
    // Together, as an orchestrator starts them: migrations and pg-boss's install take locks.
    [replicaA, replicaB] = await Promise.all([start(upstreamA), start(upstreamB)]);
    clientA = clientFor(replicaA);
    clientB = clientFor(replicaB);
  });

  after(async () => {
    try {
      for (const replica of [replicaA, replicaB]) {
        if (replica !== undefined && replica.child.exitCode === null && replica.child.signalCode === null)
          await replica.stop('SIGTERM');
      }
    } finally {
      killAllRiposteProcesses();
      await upstreamA.stop();
      await upstreamB.stop();
      if (schemaCreated) {
        await administer(`DROP SCHEMA IF EXISTS ${storeSchema} CASCADE`);
        await administer(`DROP SCHEMA IF EXISTS ${jobsSchema} CASCADE`);
      }
    }
  });

  /** Which replica's upstream a tagged request reached first, once it has (bounded wait). */
  async function runnerOf(tag: string, timeoutMs = 10_000): Promise<'A' | 'B'> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (upstreamA.requests.some((body) => inputTag(body) === tag)) return 'A';
      if (upstreamB.requests.some((body) => inputTag(body) === tag)) return 'B';
      if (Date.now() > deadline) throw new Error(`no upstream ever saw ${tag}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  test(
    'a response created on one replica streams live through the other, from sequence 0 to response.completed',
    { timeout: 30_000 },
    async () => {
      chunkDelayMs = 40;
      chunkCount = 30;
      const tag = `tag-stream-${suffix}`;
      const created = await clientA.responses.create({ model: 'any-model', input: `Stream ${tag}`, background: true });
      const runner = await runnerOf(tag);
      // Follow it through the replica that is not running it: events cross on the database.
      const follower = runner === 'A' ? clientB : clientA;
      const stream = await follower.responses.retrieve(
        created.id,
        { stream: true },
        { signal: AbortSignal.timeout(20_000) },
      );
      const arrivals: Array<{ type: string; sequence_number: number; at: number }> = [];
      for await (const event of stream) {
        assertStreamEvent(event);
        arrivals.push({ type: event.type, sequence_number: event.sequence_number, at: Date.now() });
      }
      arrivals.forEach((event, index) => assert.equal(event.sequence_number, index));
      assert.deepEqual(
        arrivals.slice(0, 2).map((event) => event.type),
        ['response.created', 'response.queued'],
      );
      assert.equal(arrivals.at(-1)?.type, 'response.completed');
      const deltas = arrivals.filter((event) => event.type === 'response.output_text.delta');
      assert.ok(deltas.length >= 20, `${deltas.length} deltas`);
      // Live, not replayed at the end: the deltas came spread over the run (~1.2 s).
      assert.ok(deltas.at(-1)!.at - deltas[0]!.at > 500, 'deltas arrived while the response ran');
      const final = await follower.responses.retrieve(created.id);
      assert.equal(final.status, 'completed');
      assert.match(final.output_text, new RegExp(`^answer to ${tag} `));
    },
  );

  test(
    'a response running on one replica is cancelled through the other: partial output kept, upstream call aborted',
    { timeout: 30_000 },
    async () => {
      chunkDelayMs = 40;
      chunkCount = 100;
      const tag = `tag-cancel-${suffix}`;
      const created = await clientA.responses.create({ model: 'any-model', input: `Cancel ${tag}`, background: true });
      const runner = await runnerOf(tag);
      const [runningClient, otherClient] = runner === 'A' ? [clientA, clientB] : [clientB, clientA];
      const runningUpstream = runner === 'A' ? upstreamA : upstreamB;
      const stream = await runningClient.responses.retrieve(
        created.id,
        { stream: true },
        { signal: AbortSignal.timeout(20_000) },
      );
      let deltas = 0;
      for await (const event of stream) if (event.type === 'response.output_text.delta' && ++deltas === 3) break;

      const cancelled = await otherClient.responses.cancel(created.id);
      assert.equal(cancelled.status, 'cancelled');
      assertMatchesSchema('Response', cancelled);
      const stored = await runningClient.responses.retrieve(created.id);
      assert.equal(stored.status, 'cancelled');
      assert.ok(stored.output_text.length > 0, 'partial output kept');
      assert.ok(stored.output_text.length < 600, `the upstream call was cut short (${stored.output_text.length})`);
      // The replica running it closed its upstream connection mid-stream.
      const deadline = Date.now() + 5_000;
      while (!runningUpstream.abandoned.some((body) => inputTag(body) === tag)) {
        assert.ok(Date.now() < deadline, `replica ${runner} never closed its upstream call`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  );

  test(
    '200 background jobs created across both replicas each run exactly once, on both replicas',
    { timeout: 60_000 },
    async () => {
      chunkDelayMs = 10;
      chunkCount = 4;
      const tags = Array.from({ length: 200 }, (_, index) => `tag-many-${suffix}-${index}`);
      const ids: string[] = [];
      // Twenty at a time, alternating replicas.
      for (let start = 0; start < tags.length; start += 20) {
        const created = await Promise.all(
          tags.slice(start, start + 20).map((tag, offset) =>
            ((start + offset) % 2 === 0 ? clientA : clientB).responses.create({
              model: 'any-model',
              input: `Batch ${tag}`,
              background: true,
            }),
          ),
        );
        ids.push(...created.map((response) => response.id));
      }
      const finished = await pollUntilAllFinished(clientA, ids, 45_000);
      for (const [index, id] of ids.entries()) {
        const response = finished.get(id)!;
        assert.equal(response.status, 'completed', id);
        assert.match(response.output_text, new RegExp(`^answer to ${tags[index]} `));
      }
      const countsA = countTags(upstreamA.requests);
      const countsB = countTags(upstreamB.requests);
      for (const tag of tags)
        assert.equal((countsA.get(tag) ?? 0) + (countsB.get(tag) ?? 0), 1, `${tag} upstream calls`);
      const ranOnA = tags.filter((tag) => countsA.has(tag)).length;
      assert.ok(ranOnA > 0 && ranOnA < 200, `both replicas ran some (A ran ${ranOnA})`);
    },
  );

  // Last: it kills a replica.
  test(
    'a replica killed mid-run: the survivor ends its response as interrupted once the heartbeat is stale',
    { timeout: 40_000 },
    async () => {
      chunkDelayMs = 50;
      chunkCount = 400;
      const tag = `tag-killed-${suffix}`;
      const created = await clientB.responses.create({ model: 'any-model', input: `Die on ${tag}`, background: true });
      const runner = await runnerOf(tag);
      const [dying, survivor] = runner === 'A' ? [replicaA, clientB] : [replicaB, clientA];
      // Let it stream a little, so it is well in progress when its replica dies.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal((await survivor.responses.retrieve(created.id)).status, 'in_progress');
      const killedAt = Date.now();
      assert.equal((await dying.stop('SIGKILL')).signal, 'SIGKILL');

      const [ended] = (await pollUntilAllFinished(survivor, [created.id], 25_000)).values();
      assert.equal(ended?.status, 'failed');
      assert.match(ended.error?.message ?? '', /interrupted/);
      assertMatchesSchema('Response', ended);
      // Not before the heartbeat went stale (the survivor must not end live runs early).
      assert.ok(Date.now() - killedAt >= (STALE_SECONDS - 1) * 1000, 'ended only once stale');
      const events = await replayEvents(survivor, created.id);
      events.forEach((event, index) => assert.equal(event.sequence_number, index));
      assert.equal(events.at(-1)?.type, 'response.failed');
    },
  );
});
