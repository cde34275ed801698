import { PgBoss } from 'pg-boss';
import type { Job } from 'pg-boss';
import type { BackgroundJob, JobHandler, JobPayload, JobQueue } from './job-queue.ts';
import { finishesWithin } from './in-process-job-queue.ts';

export interface PgBossJobQueueOptions {
  /** A postgres:// URL: the same database as the store. */
  connectionString: string;
  /** pg-boss's own schema inside that database, created at open. */
  schema?: string;
  queueName?: string;
  /** How often an idle replica asks for work another replica enqueued. */
  pollingIntervalMs?: number;
  /**
   * A running job's claim is refreshed every half of this; a job whose replica died is failed by
   * pg-boss's supervisor once this has passed without a refresh (its supervise pass runs every
   * minute), and is not run again.
   */
  heartbeatSeconds?: number;
  /** The longest a background response may run before pg-boss fails its job. */
  expireInSeconds?: number;
  /**
   * How many times pg-boss runs a job again after its handler rejected or its replica died
   * (heartbeat lost). 0 unless set: only jobs that are safe to run twice may be retried.
   */
  retryLimit?: number;
  /** Seconds before the first retry, doubled (with jitter) for each further one; 0 unless set. */
  retryDelaySeconds?: number;
  /**
   * A queue (opened first, as its own PgBossJobQueue) that receives a copy of each job that failed
   * for the last time — its handler rejected or its replica died on every attempt — so that
   * something can still end the work it stood for rather than leave it waiting for ever.
   */
  deadLetterQueueName?: string;
  /** Connections in pg-boss's pool. */
  maxConnections?: number;
  /** Told about pg-boss errors (a failed poll, heartbeat or settle) and handlers that rejected. */
  onError?: (error: unknown) => void;
}

interface RunningJob<Payload extends JobPayload> {
  job: Job<Payload>;
  controller: AbortController;
  /** Why the signal was aborted: handed back on stop, or the claim was lost to pg-boss. */
  abortedFor: 'stop' | 'lost' | null;
  finished: Promise<void>;
}

/**
 * The durable queue across replicas, on pg-boss in the store's PostgreSQL. pg-boss claims each
 * job for one replica (SELECT … FOR UPDATE SKIP LOCKED), so a job runs once. By default the
 * queue has retryLimit 0: a started background response is never run again automatically, since
 * its events are already half written. A job whose replica died is failed by pg-boss (heartbeat
 * lost) and left to the server's recovery — or, for a queue of jobs safe to repeat (ingestion,
 * `retryLimit` above 0), run again. A job handed back on stop() is re-sent, in the same
 * transaction that completes the old one, so it is neither lost nor doubled.
 *
 * It runs its own fetch loop rather than pg-boss's work(): work() polls once per job per worker,
 * which drains a backlog slowly, and fails the jobs still running when stopped, where this
 * queue must hand them back.
 */
export class PgBossJobQueue<Payload extends JobPayload = BackgroundJob> implements JobQueue<Payload> {
  readonly #boss: PgBoss;
  readonly #queueName: string;
  readonly #pollingIntervalMs: number;
  readonly #heartbeatSeconds: number;
  readonly #onError: (error: unknown) => void;
  readonly #running = new Set<RunningJob<Payload>>();
  #concurrency = 0;
  #taking = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  /** A wake-up that came while the loop was fetching rather than sleeping. */
  #wakePending = false;
  #heartbeatTimer: NodeJS.Timeout | null = null;
  #closed = false;

  private constructor(boss: PgBoss, queueName: string, options: PgBossJobQueueOptions) {
    this.#boss = boss;
    this.#queueName = queueName;
    this.#pollingIntervalMs = options.pollingIntervalMs ?? 2_000;
    this.#heartbeatSeconds = options.heartbeatSeconds ?? 30;
    this.#onError = options.onError ?? (() => undefined);
  }

  /** Starts pg-boss (installing or migrating its schema) and creates the queue. */
  static async open<Payload extends JobPayload = BackgroundJob>(
    options: PgBossJobQueueOptions,
  ): Promise<PgBossJobQueue<Payload>> {
    const onError = options.onError ?? (() => undefined);
    const boss = new PgBoss({
      connectionString: options.connectionString,
      schema: options.schema ?? 'riposte_jobs',
      max: options.maxConnections ?? 4,
      application_name: 'riposte-jobs',
      // Only the supervisor is needed (it fails jobs whose heartbeat stopped and deletes old ones);
      // no cron, no instance registry rows, no persisted warnings or vacuum checks to fill the logs.
      schedule: false,
      registerInstance: false,
      persistWarnings: false,
      monitorVacuum: false,
      superviseIntervalSeconds: 60,
    });
    // pg-boss reports errors as events; without a listener an 'error' event ends the process.
    boss.on('error', onError);
    boss.on('warning', () => undefined);
    await boss.start();
    const queueName = options.queueName ?? 'riposte-background-responses';
    const queueOptions = {
      retryLimit: options.retryLimit ?? 0,
      retryDelay: options.retryDelaySeconds ?? 0,
      retryBackoff: (options.retryDelaySeconds ?? 0) > 0,
      expireInSeconds: options.expireInSeconds ?? 6 * 3600,
      heartbeatSeconds: options.heartbeatSeconds ?? 30,
      // Settled jobs are bookkeeping only (the store holds the response): keep a day to look at.
      deleteAfterSeconds: 24 * 3600,
    };
    try {
      // Idempotent (ON CONFLICT DO NOTHING), so replicas starting together are fine; the update
      // applies options changed since the queue was first created.
      const deadLetter = options.deadLetterQueueName === undefined ? {} : { deadLetter: options.deadLetterQueueName };
      await boss.createQueue(queueName, { ...queueOptions, ...deadLetter });
      await boss.updateQueue(queueName, { ...queueOptions, ...deadLetter });
    } catch (error) {
      await boss.stop({ graceful: false, close: true });
      throw error;
    }
    return new PgBossJobQueue<Payload>(boss, queueName, options);
  }

  async enqueue(job: Payload): Promise<void> {
    await this.#boss.send(this.#queueName, { ...job });
    // Work enqueued here can start here at once; other replicas find it on their next poll.
    this.#wakeLoop();
  }

  async start(handler: JobHandler<Payload>, concurrency: number): Promise<void> {
    if (this.#closed) throw new Error('the job queue is closed');
    if (this.#loop !== null) throw new Error('the job queue is already started');
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new RangeError('concurrency must be a positive integer');
    this.#concurrency = concurrency;
    this.#taking = true;
    this.#heartbeatTimer = setInterval(() => void this.#heartbeat(), (this.#heartbeatSeconds * 1000) / 2);
    this.#loop = this.#run(handler);
  }

  async stop(graceMs: number): Promise<void> {
    if (this.#loop === null) return;
    this.#taking = false;
    this.#wakeLoop();
    // A fetch in flight finishes first: what it claimed is handed back, never started.
    await this.#loop;
    const running = [...this.#running];
    const allFinished = Promise.all(running.map((entry) => entry.finished));
    if (!(await finishesWithin(allFinished, graceMs))) {
      for (const entry of running) {
        if (!this.#running.has(entry) || entry.abortedFor !== null) continue;
        entry.abortedFor = 'stop';
        entry.controller.abort(new Error('the job queue is stopping'));
      }
      await allFinished;
    }
    // Heartbeats go on until the last handler has returned, so a long grace keeps its claims.
    if (this.#heartbeatTimer !== null) clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
    this.#loop = null;
  }

  /** Stops taking jobs (handing running ones back at once) and stops pg-boss. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.stop(0);
    await this.#boss.stop({ graceful: true, close: true, timeout: 10_000 });
  }

  async #run(handler: JobHandler<Payload>): Promise<void> {
    while (this.#taking) {
      const free = this.#concurrency - this.#running.size;
      let fetchedAll = false;
      if (free > 0) {
        let jobs: Job<Payload>[] = [];
        try {
          jobs = await this.#boss.fetch<Payload>(this.#queueName, { batchSize: free });
        } catch (error) {
          this.#onError(error);
        }
        if (!this.#taking) {
          await Promise.all(jobs.map((job) => this.#settle(job, 'hand back')));
          return;
        }
        for (const job of jobs) this.#execute(handler, job);
        // A full batch says there may be more: ask again as soon as a slot is free.
        fetchedAll = jobs.length === free;
      }
      await this.#sleep(fetchedAll || free <= 0 ? null : this.#pollingIntervalMs);
    }
  }

  /** Waits for a wake-up (a slot freed, a local enqueue, stop) or, if given, the poll interval. */
  async #sleep(milliseconds: number | null): Promise<void> {
    if (!this.#taking) return;
    if (milliseconds === null && this.#running.size < this.#concurrency) return;
    if (this.#wakePending) {
      this.#wakePending = false;
      return;
    }
    await new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      const done = (): void => {
        if (timer !== null) clearTimeout(timer);
        if (this.#wake === done) this.#wake = null;
        resolve();
      };
      if (milliseconds !== null) timer = setTimeout(done, milliseconds);
      this.#wake = done;
    });
  }

  #wakeLoop(): void {
    if (this.#wake === null) this.#wakePending = true;
    else this.#wake();
  }

  #execute(handler: JobHandler<Payload>, job: Job<Payload>): void {
    const entry: RunningJob<Payload> = {
      job,
      controller: new AbortController(),
      abortedFor: null,
      finished: Promise.resolve(),
    };
    this.#running.add(entry);
    entry.finished = (async () => {
      let outcome: 'complete' | 'hand back' | 'leave' | { failure: unknown } = 'complete';
      try {
        await handler({ ...job.data }, entry.controller.signal);
      } catch (error) {
        outcome = { failure: error };
        this.#onError(error);
      }
      // However the handler ended once aborted, the abort decides: a handed-back job is sent
      // again, and a lost claim is no longer this replica's to settle.
      if (entry.abortedFor === 'stop') outcome = 'hand back';
      else if (entry.abortedFor === 'lost') outcome = 'leave';
      try {
        if (outcome !== 'leave') await this.#settle(job, outcome);
      } catch (error) {
        this.#onError(error);
      } finally {
        this.#running.delete(entry);
        this.#wakeLoop();
      }
    })();
  }

  async #settle(job: Job<Payload>, outcome: 'complete' | 'hand back' | { failure: unknown }): Promise<void> {
    if (outcome === 'complete') {
      await this.#boss.complete(this.#queueName, job);
      return;
    }
    if (outcome !== 'hand back') {
      const failure = outcome.failure;
      await this.#boss.fail(this.#queueName, job, {
        message: failure instanceof Error ? failure.message : String(failure),
      });
      return;
    }
    const database = this.#boss.getDb();
    if (database.beginTransaction === undefined) throw new Error('pg-boss database adapter cannot open a transaction');
    const transaction = await database.beginTransaction();
    try {
      // Completing fences on this attempt: if pg-boss already took the claim away (heartbeat
      // lost), the job is the recovery's, and sending a copy would run it beside the recovery.
      const completion = (await this.#boss.complete(this.#queueName, job, null, { db: transaction.db })) as {
        affected?: number;
      };
      if (completion.affected !== 1) {
        await transaction.rollback();
        return;
      }
      await this.#boss.send(this.#queueName, { ...job.data }, { db: transaction.db });
      await transaction.commit();
    } catch (error) {
      await transaction.rollback();
      throw error;
    }
  }

  /** Refreshes the claims of running jobs; a claim pg-boss no longer has aborts its handler. */
  async #heartbeat(): Promise<void> {
    // Jobs being handed back keep their claims until the hand-back, however long the handler
    // takes to return; otherwise pg-boss could fail them first and they would be lost.
    const held = [...this.#running].filter((entry) => entry.abortedFor !== 'lost');
    if (held.length === 0) return;
    let settled: string[] | undefined;
    try {
      const response = (await this.#boss.touch(
        this.#queueName,
        held.map((entry) => entry.job),
      )) as { settled?: string[] };
      settled = response.settled;
    } catch (error) {
      // A heartbeat that could not run says nothing about the claims.
      this.#onError(error);
      return;
    }
    if (settled === undefined) return;
    const refreshed = new Set(settled);
    for (const entry of held) {
      // One that finished since the snapshot was settled by us, not lost.
      if (refreshed.has(entry.job.id) || !this.#running.has(entry) || entry.abortedFor !== null) continue;
      entry.abortedFor = 'lost';
      entry.controller.abort(new Error('the job was failed by pg-boss (its heartbeat or time ran out)'));
    }
  }
}
