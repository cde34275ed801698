import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { ScriptedChatUpstream, type ChatUpstreamReply } from '../../src/testing/scripted-chat-upstream.ts';
import { assertMatchesSchema } from '../contract/spec-validator.ts';
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
 * Background responses survive the process that runs them (SQLite): a real `riposte serve`
 * child in front of a slow scripted upstream in this process, killed with SIGKILL or stopped
 * with SIGTERM mid-run, then started again on the same data directory.
 */

const TERMINAL_EVENTS = new Set(['response.completed', 'response.failed', 'response.incomplete']);

/** Milliseconds between upstream chunks; tests slow it down before a kill and speed it up after. */
let chunkDelayMs = 50;
/** About 40 chunks (6 characters each), naming the request's tag so outputs can be matched. */
const reply = (body: Record<string, unknown>): ChatUpstreamReply => ({
  content: `answer to ${inputTag(body) ?? 'untagged'}: `.padEnd(240, '.'),
  chunkDelayMs,
});
const upstream = new ScriptedChatUpstream([], { fallback: reply });
let upstreamUrl: string;

before(async () => {
  upstreamUrl = await upstream.start();
});
after(async () => {
  killAllRiposteProcesses();
  await upstream.stop();
});

const clientFor = (server: RiposteProcess): OpenAI =>
  new OpenAI({ baseURL: server.baseUrl, apiKey: 'not-checked-on-loopback', maxRetries: 0, timeout: 15_000 });

/** Queues `count` background responses tagged `tag-<prefix>-<n>`; returns their ids by tag. */
async function queueMany(client: OpenAI, prefix: string, count: number): Promise<Map<string, string>> {
  const tags = Array.from({ length: count }, (_, index) => `tag-${prefix}-${index}`);
  const created = await Promise.all(
    tags.map((tag) => client.responses.create({ model: 'any-model', input: `Work on ${tag}`, background: true })),
  );
  for (const response of created) assert.equal(response.status, 'queued');
  return new Map(tags.map((tag, index) => [tag, created[index]!.id]));
}

/** Polls the statuses until `ready` holds for them; gives the snapshot it held for. */
async function waitForStatuses(
  client: OpenAI,
  ids: string[],
  ready: (statuses: Map<string, string>) => boolean,
  timeoutMs = 10_000,
): Promise<Map<string, string>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const responses = await Promise.all(ids.map((id) => client.responses.retrieve(id)));
    const statuses = new Map(responses.map((response) => [response.id, String(response.status)]));
    if (ready(statuses)) return statuses;
    if (Date.now() > deadline) throw new Error(`statuses never got ready: ${JSON.stringify([...statuses])}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const countOf = (statuses: Map<string, string>, status: string): number =>
  [...statuses.values()].filter((value) => value === status).length;

/** The whole log replays from sequence 0, without gaps, and ends with one terminal event. */
async function assertLogEndsTerminal(client: OpenAI, id: string, expectedType: string): Promise<void> {
  const events = await replayEvents(client, id);
  events.forEach((event, index) => assert.equal(event.sequence_number, index, `${id}: sequence ${index}`));
  assert.equal(events[0]?.type, 'response.created', id);
  assert.equal(events.at(-1)?.type, expectedType, id);
  assert.equal(events.filter((event) => TERMINAL_EVENTS.has(event.type)).length, 1, id);
}

describe('background responses across a crash and a restart (SQLite)', () => {
  test(
    'SIGKILL mid-run: queued ones complete after the restart, running ones fail as interrupted, none is lost',
    { timeout: 90_000 },
    async () => {
      chunkDelayMs = 50;
      const dataDirectory = temporaryDirectory();
      const config = writeConfigFile({ background_concurrency: 8 });
      const args = ['--data-dir', dataDirectory, '--config', config, '--upstream-url', upstreamUrl];
      const first = await startRiposte(args);
      const ids = await queueMany(clientFor(first), 'crash', 50);
      const allIds = [...ids.values()];
      const before = await waitForStatuses(
        clientFor(first),
        allIds,
        (statuses) => countOf(statuses, 'in_progress') > 0 && countOf(statuses, 'queued') > 0,
      );
      // Each run takes about two seconds, so nothing starts between the snapshot and the kill.
      const killed = await first.stop('SIGKILL');
      assert.equal(killed.signal, 'SIGKILL');
      const wasRunning = allIds.filter((id) => before.get(id) === 'in_progress');
      const wasQueued = allIds.filter((id) => before.get(id) === 'queued');
      assert.ok(wasRunning.length > 0 && wasQueued.length > 0, JSON.stringify([...before]));

      // Quick replies after the restart keep the test short; the crash happened mid-stream.
      chunkDelayMs = 0;
      const second = await startRiposte(args);
      try {
        const client = clientFor(second);
        const finished = await pollUntilAllFinished(client, allIds, 30_000);
        assert.equal(finished.size, 50, 'none disappeared');
        for (const [tag, id] of ids) {
          const response = finished.get(id)!;
          assertMatchesSchema('Response', response);
          assert.equal(response.background, true);
          if (wasQueued.includes(id)) {
            assert.equal(response.status, 'completed', `${tag} was queued at the crash`);
            assert.match(response.output_text, new RegExp(`^answer to ${tag}: `));
            await assertLogEndsTerminal(client, id, 'response.completed');
          } else {
            assert.equal(response.status, 'failed', `${tag} was running at the crash`);
            assert.match(response.error?.message ?? '', /interrupted/);
            await assertLogEndsTerminal(client, id, 'response.failed');
          }
        }
        // Interrupted runs are not run again; queued ones ran once after the restart (and were
        // never sent upstream before it).
        const counts = countTags(upstream.requests);
        for (const [tag, id] of ids) assert.equal(counts.get(tag), 1, `${tag} (${before.get(id)}) upstream calls`);
      } finally {
        const exit = await second.stop('SIGTERM');
        assert.deepEqual(exit, { code: 0, signal: null }, second.stderr());
      }
    },
  );

  test(
    'SIGTERM: running responses finish within the grace period, the process exits 0, queued ones run after a restart',
    { timeout: 60_000 },
    async () => {
      // About 45 chunks 30 ms apart: well over a second per run, well under the grace.
      chunkDelayMs = 30;
      const dataDirectory = temporaryDirectory();
      const config = writeConfigFile({ background_concurrency: 2, shutdown_grace_ms: 10_000 });
      const args = ['--data-dir', dataDirectory, '--config', config, '--upstream-url', upstreamUrl];
      const first = await startRiposte(args);
      const ids = await queueMany(clientFor(first), 'term', 6);
      const allIds = [...ids.values()];
      const before = await waitForStatuses(
        clientFor(first),
        allIds,
        (statuses) => countOf(statuses, 'in_progress') === 2,
      );
      const wasRunning = allIds.filter((id) => before.get(id) === 'in_progress');
      const wasQueued = allIds.filter((id) => before.get(id) === 'queued');
      assert.equal(wasQueued.length, 4);

      const stoppedAt = Date.now();
      const exit = await first.stop('SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null }, first.stderr());
      assert.match(first.stdout(), /Received SIGTERM/);
      assert.ok(Date.now() - stoppedAt < 10_000, 'it did not wait out the whole grace');

      chunkDelayMs = 0;
      const second = await startRiposte(args);
      try {
        const client = clientFor(second);
        const finished = await pollUntilAllFinished(client, allIds, 20_000);
        for (const id of allIds) {
          const response = finished.get(id)!;
          assertMatchesSchema('Response', response);
          assert.equal(response.status, 'completed', `${id} (${before.get(id)} at SIGTERM)`);
          await assertLogEndsTerminal(client, id, 'response.completed');
        }
        // The running ones completed before the exit (each was sent upstream once, not re-run).
        const counts = countTags(upstream.requests);
        for (const [tag] of ids) assert.equal(counts.get(tag), 1, `${tag} upstream calls`);
        assert.equal(wasRunning.length, 2);
      } finally {
        const secondExit = await second.stop('SIGTERM');
        assert.deepEqual(secondExit, { code: 0, signal: null }, second.stderr());
      }
    },
  );
});
