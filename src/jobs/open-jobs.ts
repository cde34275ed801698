import type { EventBus } from './event-bus.ts';
import { InMemoryEventBus } from './in-memory-event-bus.ts';
import { InProcessJobQueue } from './in-process-job-queue.ts';
import type { IngestionJob, JobQueue } from './job-queue.ts';

export const INGESTION_QUEUE = 'riposte-ingestion';
export const ABANDONED_INGESTION_QUEUE = 'riposte-ingestion-abandoned';

export interface OpenJobsOptions {
  /** The store's PostgreSQL URL, or null for the embedded (SQLite, one process) server. */
  databaseUrl: string | null;
  /** pg-boss's schema in that database; `riposte_jobs` unless set. */
  jobSchema?: string;
  /** Told about errors in the background machinery that no caller is waiting on. */
  onError?: (error: unknown) => void;
}

export interface Jobs {
  queue: JobQueue;
  /** Files attached to vector stores, waiting to be read, chunked and indexed. */
  ingestionQueue: JobQueue<IngestionJob>;
  /**
   * PostgreSQL only: ingestion jobs that failed on every attempt (a store write kept failing, or
   * the replica running them kept dying), whose files must still end. Null on SQLite, where a file
   * left in progress is ingested again at the next start.
   */
  abandonedIngestionQueue: JobQueue<IngestionJob> | null;
  bus: EventBus;
  /** Stops the queue (handing running jobs back at once) and closes connections. */
  close(): Promise<void>;
}

/**
 * The job queue and event bus that fit the storage: in-process for SQLite, where there is one
 * process; pg-boss and LISTEN/NOTIFY for PostgreSQL, where there may be several replicas (loaded
 * only then: pg-boss and pg are some 10 MB of memory an embedded server never uses).
 */
export async function openJobs(options: OpenJobsOptions): Promise<Jobs> {
  const onError = options.onError ?? (() => undefined);
  if (options.databaseUrl === null) {
    const queue = new InProcessJobQueue({ onError: (error) => onError(error) });
    const ingestionQueue = new InProcessJobQueue<IngestionJob>({ onError: (error) => onError(error) });
    const bus = new InMemoryEventBus({ onListenerError: onError });
    return {
      queue,
      ingestionQueue,
      abandonedIngestionQueue: null,
      bus,
      async close() {
        await queue.stop(0);
        await ingestionQueue.stop(0);
        await bus.close();
      },
    };
  }
  const [pgBoss, postgresBus] = await Promise.all([
    import('./pg-boss-job-queue.ts'),
    import('./postgres-event-bus.ts'),
  ]);
  const schema = options.jobSchema ?? 'riposte_jobs';
  // What is open so far, closed again (last first) if a later piece fails to open.
  const opened: Array<{ close(): Promise<void> }> = [];
  const open = async <Piece extends { close(): Promise<void> }>(opening: Promise<Piece>): Promise<Piece> => {
    try {
      const piece = await opening;
      opened.push(piece);
      return piece;
    } catch (error) {
      for (const piece of opened.reverse()) await piece.close();
      throw error;
    }
  };
  const queue = await open(pgBoss.PgBossJobQueue.open({ connectionString: options.databaseUrl, schema, onError }));
  // Opened before the ingestion queue, which names it as its dead-letter queue.
  const abandonedIngestionQueue = await open(
    pgBoss.PgBossJobQueue.open<IngestionJob>({
      connectionString: options.databaseUrl,
      schema,
      queueName: ABANDONED_INGESTION_QUEUE,
      maxConnections: 1,
      pollingIntervalMs: 10_000,
      retryLimit: 5,
      retryDelaySeconds: 30,
      onError,
    }),
  );
  // A queue of its own, so a burst of uploads never keeps background responses waiting.
  const ingestionQueue = await open(
    pgBoss.PgBossJobQueue.open<IngestionJob>({
      connectionString: options.databaseUrl,
      schema,
      queueName: INGESTION_QUEUE,
      maxConnections: 2,
      // Ingestion is idempotent (a file's chunks are replaced whole), so unlike a background
      // response a job whose replica died is simply run again elsewhere; a store that is briefly
      // unreachable gets time to come back (retries after about 10 s and 20 s).
      retryLimit: 2,
      retryDelaySeconds: 10,
      deadLetterQueueName: ABANDONED_INGESTION_QUEUE,
      onError,
    }),
  );
  const bus = await open(postgresBus.PostgresEventBus.open({ connectionString: options.databaseUrl, onError }));
  return {
    queue,
    ingestionQueue,
    abandonedIngestionQueue,
    bus,
    async close() {
      await queue.close();
      await ingestionQueue.close();
      await abandonedIngestionQueue.close();
      await bus.close();
    },
  };
}
