/**
 * A job's payload: a few strings naming what to do. The worker loads everything else from the
 * store, so a payload stays small, JSON-safe, and never goes stale while it waits.
 */
export type JobPayload = Record<string, string>;

/** A background response to run: the worker loads its request from the BackgroundStore. */
export type BackgroundJob = {
  responseId: string;
  owner: string;
};

/**
 * A vector-store file to ingest (read, extract, chunk, embed, index): the worker reads its
 * chunking strategy and status from the VectorStoreStore.
 */
export type IngestionJob = {
  owner: string;
  vectorStoreId: string;
  fileId: string;
};

/** Runs one job; `signal` aborts when the queue stops (shutdown) and the job is handed back. */
export type JobHandler<Job extends JobPayload = BackgroundJob> = (job: Job, signal: AbortSignal) => Promise<void>;

/**
 * A durable queue of jobs: background responses, file ingestion. SQLite: in-process, over the
 * store. PostgreSQL: pg-boss, so that each job is run by exactly one replica.
 */
export interface JobQueue<Job extends JobPayload = BackgroundJob> {
  enqueue(job: Job): Promise<void>;
  /** Starts taking jobs, at most `concurrency` at once. */
  start(handler: JobHandler<Job>, concurrency: number): Promise<void>;
  /**
   * Stops taking jobs, waits up to `graceMs` for running ones to finish, then aborts the rest
   * and hands them back to the queue for another worker (or the next start).
   */
  stop(graceMs: number): Promise<void>;
}
