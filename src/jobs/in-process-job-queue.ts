import type { BackgroundJob, JobHandler, JobPayload, JobQueue } from './job-queue.ts';

export interface InProcessJobQueueOptions<Job extends JobPayload = BackgroundJob> {
  /** Told about a handler that rejected; the job is not retried (the handler owns its failures). */
  onError?: (error: unknown, job: Job) => void;
}

interface RunningJob<Job extends JobPayload> {
  job: Job;
  controller: AbortController;
  finished: Promise<void>;
}

/**
 * The queue of the embedded (SQLite, one process) server: an in-memory FIFO with bounded
 * concurrency. It holds nothing durable on purpose: the BackgroundStore is the record, and the
 * server re-enqueues `listUnfinished()` at start, so a crash loses no job.
 */
export class InProcessJobQueue<Job extends JobPayload = BackgroundJob> implements JobQueue<Job> {
  readonly #waiting: Job[] = [];
  /** In start order, so jobs handed back on stop return to the head in the order they came. */
  readonly #running = new Set<RunningJob<Job>>();
  readonly #onError: (error: unknown, job: Job) => void;
  #handler: JobHandler<Job> | null = null;
  #concurrency = 0;
  #taking = false;

  constructor(options: InProcessJobQueueOptions<Job> = {}) {
    this.#onError = options.onError ?? (() => undefined);
  }

  /** Jobs waiting for a slot (for tests and diagnostics). */
  get waitingCount(): number {
    return this.#waiting.length;
  }

  async enqueue(job: Job): Promise<void> {
    // A copy, so a caller that changes its object afterwards cannot change the queued job.
    this.#waiting.push({ ...job });
    this.#pump();
  }

  async start(handler: JobHandler<Job>, concurrency: number): Promise<void> {
    if (this.#taking) throw new Error('the job queue is already started');
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new RangeError('concurrency must be a positive integer');
    this.#handler = handler;
    this.#concurrency = concurrency;
    this.#taking = true;
    this.#pump();
  }

  async stop(graceMs: number): Promise<void> {
    this.#taking = false;
    const running = [...this.#running];
    if (running.length === 0) return;
    const allFinished = Promise.all(running.map((entry) => entry.finished));
    if (!(await finishesWithin(allFinished, graceMs))) {
      const unfinished = running.filter((entry) => this.#running.has(entry));
      for (const entry of unfinished) entry.controller.abort(new Error('the job queue is stopping'));
      await allFinished;
      // Whether or not an aborted handler got to the end, its job is handed back: the signal told
      // it so, and the handler decides from the store whether anything is left to do.
      this.#waiting.unshift(...unfinished.map((entry) => entry.job));
    }
  }

  #pump(): void {
    const handler = this.#handler;
    if (handler === null) return;
    while (this.#taking && this.#running.size < this.#concurrency) {
      const job = this.#waiting.shift();
      if (job === undefined) return;
      this.#run(handler, job);
    }
  }

  #run(handler: JobHandler<Job>, job: Job): void {
    const entry: RunningJob<Job> = { job, controller: new AbortController(), finished: Promise.resolve() };
    // Added before the handler is called: one that throws synchronously reaches `finally` at once.
    this.#running.add(entry);
    entry.finished = this.#execute(handler, entry);
  }

  async #execute(handler: JobHandler<Job>, entry: RunningJob<Job>): Promise<void> {
    try {
      await handler(entry.job, entry.controller.signal);
    } catch (error) {
      this.#onError(error, entry.job);
    } finally {
      this.#running.delete(entry);
      this.#pump();
    }
  }
}

/** True when `promise` settles within `milliseconds`; the timer never holds the process open. */
export async function finishesWithin(promise: Promise<unknown>, milliseconds: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, milliseconds));
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
