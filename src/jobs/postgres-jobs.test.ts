import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import type { BackgroundJob, IngestionJob } from './job-queue.ts';
import { ABANDONED_INGESTION_QUEUE, INGESTION_QUEUE, openJobs } from './open-jobs.ts';
import { PgBossJobQueue } from './pg-boss-job-queue.ts';
import { PostgresEventBus, postgresChannelName } from './postgres-event-bus.ts';

/*
 * Runs against a real PostgreSQL named by RIPOSTE_TEST_DATABASE_URL, e.g.
 * postgres://postgres@127.0.0.1:5432/test. Unset: skipped, visibly. Set but unreachable: fails.
 * pg-boss works in a schema of this run's own, dropped at the end; channels carry a random part.
 */
const serverUrl = process.env.RIPOSTE_TEST_DATABASE_URL;

async function administer<Row extends pg.QueryResultRow>(
  url: string,
  statement: string,
  values: unknown[] = [],
): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return (await client.query<Row>(statement, values)).rows;
  } finally {
    await client.end();
  }
}

async function eventually(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

if (serverUrl === undefined || serverUrl === '') {
  void describe(
    'PostgreSQL jobs and event bus',
    { skip: 'RIPOSTE_TEST_DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)' },
    () => {
      void test('replicas', () => undefined);
    },
  );
} else {
  const url = serverUrl;
  const suffix = randomBytes(6).toString('hex');
  const schema = `riposte_jobs_test_${suffix}`;
  after(async () => {
    await administer(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  const openQueue = () => PgBossJobQueue.open({ connectionString: url, schema, pollingIntervalMs: 200 });

  describe('PgBossJobQueue', () => {
    test('two replicas with concurrency 4 run each of 200 jobs exactly once, and both take some', async () => {
      const first = await openQueue();
      const second = await openQueue();
      const runs = new Map<string, string[]>();
      const handlerFor = (replica: string) => async (job: BackgroundJob) => {
        runs.set(job.responseId, [...(runs.get(job.responseId) ?? []), replica]);
        await delay(10);
      };
      try {
        await first.start(handlerFor('first'), 4);
        await second.start(handlerFor('second'), 4);
        const ids = Array.from({ length: 200 }, (_, index) => `resp_${suffix}_${index}`);
        await Promise.all(ids.map((responseId) => first.enqueue({ responseId, owner: 'owner' })));
        await eventually(() => runs.size === 200, 'all 200 jobs to run');
        await first.stop(5000);
        await second.stop(5000);
        for (const id of ids) assert.equal(runs.get(id)?.length, 1, `${id} ran ${runs.get(id)?.length ?? 0} times`);
        const byReplica = [...runs.values()].flat();
        assert.ok(byReplica.includes('first'), 'the first replica took some');
        assert.ok(byReplica.includes('second'), 'the second replica took some');
      } finally {
        await first.close();
        await second.close();
      }
    });

    test('stop hands running jobs back, and another replica then runs them', async () => {
      const leaving = await openQueue();
      const staying = await openQueue();
      try {
        const started: string[] = [];
        let returned = 0;
        await leaving.start(async (job, signal) => {
          started.push(job.responseId);
          await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
          await delay(20);
          returned += 1;
        }, 2);
        const ids = [`resp_${suffix}_back_1`, `resp_${suffix}_back_2`];
        for (const responseId of ids) await leaving.enqueue({ responseId, owner: 'owner' });
        await eventually(() => started.length === 2, 'both jobs to start on the leaving replica');
        await leaving.stop(100);
        assert.equal(returned, 2, 'stop resolves after the aborted handlers returned');

        const ranElsewhere: BackgroundJob[] = [];
        await staying.start(async (job) => {
          ranElsewhere.push(job);
        }, 2);
        await eventually(() => ranElsewhere.length === 2, 'the handed-back jobs to run on the other replica');
        assert.deepEqual(ranElsewhere.map((job) => job.responseId).sort(), [...ids].sort());
        assert.deepEqual(ranElsewhere[0]?.owner, 'owner');
        await delay(500);
        assert.equal(ranElsewhere.length, 2, 'each handed-back job runs once');
        await staying.stop(1000);
      } finally {
        await leaving.close();
        await staying.close();
      }
    });
  });

  describe('dead letters', () => {
    test('a job that fails on every attempt is run 1 + retryLimit times, then reaches the dead-letter queue whole', async () => {
      const deadLetters = await PgBossJobQueue.open<IngestionJob>({
        connectionString: url,
        schema,
        queueName: `dead-${suffix}`,
        pollingIntervalMs: 200,
      });
      const failing = await PgBossJobQueue.open<IngestionJob>({
        connectionString: url,
        schema,
        queueName: `failing-${suffix}`,
        pollingIntervalMs: 200,
        retryLimit: 2,
        deadLetterQueueName: `dead-${suffix}`,
      });
      const job = { owner: 'owner', vectorStoreId: `vs_${suffix}`, fileId: `file-dead-${suffix}` };
      let attempts = 0;
      const received: IngestionJob[] = [];
      try {
        await failing.start(async () => {
          attempts += 1;
          throw new Error('the store is unreachable');
        }, 1);
        await deadLetters.start(async (dead) => {
          received.push(dead);
        }, 1);
        await failing.enqueue(job);
        await eventually(() => received.length === 1, 'the job to reach the dead-letter queue');
        assert.equal(attempts, 3);
        assert.deepEqual(received, [job]);
      } finally {
        await failing.close();
        await deadLetters.close();
      }
    });

    test('a job that succeeds on a retry never reaches the dead-letter queue', async () => {
      const deadLetters = await PgBossJobQueue.open<IngestionJob>({
        connectionString: url,
        schema,
        queueName: `dead-ok-${suffix}`,
        pollingIntervalMs: 200,
      });
      const flaky = await PgBossJobQueue.open<IngestionJob>({
        connectionString: url,
        schema,
        queueName: `flaky-${suffix}`,
        pollingIntervalMs: 200,
        retryLimit: 2,
        deadLetterQueueName: `dead-ok-${suffix}`,
      });
      let attempts = 0;
      const received: IngestionJob[] = [];
      try {
        await flaky.start(async () => {
          attempts += 1;
          if (attempts === 1) throw new Error('a blip');
        }, 1);
        await deadLetters.start(async (dead) => {
          received.push(dead);
        }, 1);
        await flaky.enqueue({ owner: 'owner', vectorStoreId: `vs_${suffix}`, fileId: `file-ok-${suffix}` });
        await eventually(() => attempts === 2, 'the retry');
        await delay(1000);
        assert.deepEqual(received, []);
      } finally {
        await flaky.close();
        await deadLetters.close();
      }
    });
  });

  describe('openJobs', () => {
    test('the ingestion queue retries with a delay and sends what it gives up on to its dead-letter queue', async () => {
      const jobs = await openJobs({ databaseUrl: url, jobSchema: schema });
      try {
        assert.ok(jobs.abandonedIngestionQueue !== null);
        const [queue] = await administer<{ dead_letter: string; retry_limit: number; retry_delay: number }>(
          url,
          `SELECT dead_letter, retry_limit, retry_delay FROM ${schema}.queue WHERE name = $1`,
          [INGESTION_QUEUE],
        );
        assert.deepEqual(queue, { dead_letter: ABANDONED_INGESTION_QUEUE, retry_limit: 2, retry_delay: 10 });
      } finally {
        await jobs.close();
      }
    });

    test('ingestion jobs have a queue of their own, with their payload whole', async () => {
      const jobs = await openJobs({ databaseUrl: url, jobSchema: schema });
      try {
        const ingested: IngestionJob[] = [];
        const responses: BackgroundJob[] = [];
        await jobs.ingestionQueue.start(async (job) => {
          ingested.push(job);
        }, 2);
        await jobs.queue.start(async (job) => {
          responses.push(job);
        }, 2);
        const job = { owner: 'owner', vectorStoreId: `vs_${suffix}`, fileId: `file-${suffix}` };
        await jobs.ingestionQueue.enqueue(job);
        await jobs.queue.enqueue({ responseId: `resp_${suffix}_own`, owner: 'owner' });
        await eventually(() => ingested.length === 1 && responses.length === 1, 'one job on each queue');
        assert.deepEqual(ingested, [job]);
        assert.deepEqual(responses, [{ responseId: `resp_${suffix}_own`, owner: 'owner' }]);
      } finally {
        await jobs.close();
      }
    });
  });

  describe('PostgresEventBus', () => {
    test('two replicas see each other’s messages, and unsubscribe stops delivery', async () => {
      const first = await PostgresEventBus.open({ connectionString: url });
      const second = await PostgresEventBus.open({ connectionString: url });
      try {
        const channel = `riposte_resp_${suffix}`;
        const onFirst: string[] = [];
        const onSecond: string[] = [];
        const unsubscribeFirst = await first.subscribe(channel, (message) => onFirst.push(message));
        const unsubscribeSecond = await second.subscribe(channel, (message) => onSecond.push(message));
        await first.publish(channel, 'from first');
        await second.publish(channel, 'from second');
        await eventually(() => onFirst.length === 2 && onSecond.length === 2, 'both messages on both replicas');
        assert.deepEqual(onFirst, ['from first', 'from second']);
        assert.deepEqual(onSecond, ['from first', 'from second']);

        await unsubscribeSecond();
        await first.publish(channel, 'after');
        await eventually(() => onFirst.length === 3, 'the message after unsubscribe');
        await delay(200);
        assert.deepEqual(onSecond, ['from first', 'from second']);
        await unsubscribeFirst();
        const listening = await administer<{ count: string }>(
          url,
          "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'riposte-event-bus'",
        );
        assert.ok(Number(listening[0]?.count) >= 2);
      } finally {
        await first.close();
        await second.close();
      }
    });

    test('long and odd channel names are safe', async () => {
      const bus = await PostgresEventBus.open({ connectionString: url });
      try {
        const long = `riposte_resp_${suffix}_${'x'.repeat(80)}`;
        const odd = `Riposte "quoted"; DROP TABLE x; ${suffix}`;
        assert.ok(Buffer.byteLength(postgresChannelName(long)) <= 63);
        assert.notEqual(postgresChannelName(long), postgresChannelName(`${long}y`));
        const received: string[] = [];
        await bus.subscribe(long, (message) => received.push(`long:${message}`));
        await bus.subscribe(odd, (message) => received.push(`odd:${message}`));
        await bus.publish(long, '1');
        await bus.publish(odd, '2');
        await eventually(() => received.length === 2, 'both messages');
        assert.deepEqual(received.sort(), ['long:1', 'odd:2']);
      } finally {
        await bus.close();
      }
    });

    test('a bus whose LISTEN connection is killed reconnects and keeps receiving', async () => {
      const errors: unknown[] = [];
      const listening = await PostgresEventBus.open({ connectionString: url, onError: (error) => errors.push(error) });
      const publishing = await PostgresEventBus.open({ connectionString: url });
      try {
        const channel = `riposte_resp_${suffix}_reconnect`;
        const received: string[] = [];
        await listening.subscribe(channel, (message) => received.push(message));
        await publishing.publish(channel, 'before');
        await eventually(() => received.length === 1, 'the message before the kill');

        const terminated = await administer<{ terminated: boolean }>(
          url,
          `SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
            WHERE application_name = 'riposte-event-bus' AND query LIKE $1`,
          [`LISTEN%${channel}%`],
        );
        assert.equal(terminated.length, 1, 'the LISTEN connection was found and terminated');
        await eventually(() => errors.length > 0, 'the bus to notice the lost connection');

        // Messages during the gap may be lost (they are hints); keep publishing until one arrives.
        await eventually(() => {
          void publishing.publish(channel, 'after');
          return received.includes('after');
        }, 'a message after the reconnect');
      } finally {
        await listening.close();
        await publishing.close();
      }
    });
  });
}
