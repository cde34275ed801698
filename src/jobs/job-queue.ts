/** A background response to run: the worker loads its request from the BackgroundStore. */
export interface BackgroundJob {
  responseId: string;
  owner: string;
}

/** Runs one job; `signal` aborts when the queue stops (shutdown) and the job is handed back. */
export type JobHandler = (job: BackgroundJob, signal: AbortSignal) => Promise<void>;

/**
 * The durable queue of background responses. SQLite: in-process, over the store. PostgreSQL:
 * pg-boss, so that each job is run by exactly one replica.
 */
export interface JobQueue {
  enqueue(job: BackgroundJob): Promise<void>;
  /** Starts taking jobs, at most `concurrency` at once. */
  start(handler: JobHandler, concurrency: number): Promise<void>;
  /**
   * Stops taking jobs, waits up to `graceMs` for running ones to finish, then aborts the rest
   * and hands them back to the queue for another worker (or the next start).
   */
  stop(graceMs: number): Promise<void>;
}
