import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { InProcessJobQueue } from './in-process-job-queue.ts';
import type { BackgroundJob } from './job-queue.ts';

function job(index: number): BackgroundJob {
  return { responseId: `resp_${index}`, owner: 'owner' };
}

test('runs jobs in FIFO order, at most `concurrency` at once', async () => {
  const queue = new InProcessJobQueue();
  const started: string[] = [];
  let running = 0;
  let mostRunning = 0;
  for (let index = 0; index < 10; index += 1) await queue.enqueue(job(index));
  await queue.start(async (next) => {
    started.push(next.responseId);
    running += 1;
    mostRunning = Math.max(mostRunning, running);
    await delay(5);
    running -= 1;
  }, 3);
  while (started.length < 10 || running > 0) await delay(5);
  assert.deepEqual(
    started,
    Array.from({ length: 10 }, (_, index) => `resp_${index}`),
  );
  assert.equal(mostRunning, 3);
  await queue.stop(1000);
});

test('stop waits for handlers that finish within the grace period and hands nothing back', async () => {
  const queue = new InProcessJobQueue();
  let finished = 0;
  await queue.start(async () => {
    await delay(30);
    finished += 1;
  }, 2);
  await queue.enqueue(job(1));
  await queue.enqueue(job(2));
  await queue.stop(5000);
  assert.equal(finished, 2);
  assert.equal(queue.waitingCount, 0);
});

test('stop aborts handlers past the grace period, waits for them and puts their jobs back at the head', async () => {
  const errors: unknown[] = [];
  const queue = new InProcessJobQueue({ onError: (error) => errors.push(error) });
  let returned = 0;
  await queue.start(async (_job, signal) => {
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    await delay(10);
    returned += 1;
  }, 2);
  for (let index = 1; index <= 3; index += 1) await queue.enqueue(job(index));
  await delay(5);
  await queue.stop(20);
  assert.equal(returned, 2, 'stop resolves only after the aborted handlers returned');
  assert.equal(queue.waitingCount, 3);
  // Jobs enqueued while stopped wait behind the handed-back ones.
  await queue.enqueue(job(4));
  const order: string[] = [];
  await queue.start(async (next) => {
    order.push(next.responseId);
  }, 1);
  while (order.length < 4) await delay(2);
  assert.deepEqual(order, ['resp_1', 'resp_2', 'resp_3', 'resp_4']);
  await queue.stop(1000);
  assert.deepEqual(errors, []);
});

test('a handler that rejects is reported and does not stop the queue', async () => {
  const errors: unknown[] = [];
  const queue = new InProcessJobQueue({ onError: (error) => errors.push(error) });
  const ran: string[] = [];
  await queue.start(async (next) => {
    ran.push(next.responseId);
    if (next.responseId === 'resp_1') throw new Error('boom');
  }, 1);
  await queue.enqueue(job(1));
  await queue.enqueue(job(2));
  while (ran.length < 2) await delay(2);
  await queue.stop(1000);
  assert.equal(errors.length, 1);
});
