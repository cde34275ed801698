import type { EventBus } from './event-bus.ts';
import { InMemoryEventBus } from './in-memory-event-bus.ts';
import { InProcessJobQueue } from './in-process-job-queue.ts';
import type { JobQueue } from './job-queue.ts';
import { PgBossJobQueue } from './pg-boss-job-queue.ts';
import { PostgresEventBus } from './postgres-event-bus.ts';

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
  bus: EventBus;
  /** Stops the queue (handing running jobs back at once) and closes connections. */
  close(): Promise<void>;
}

/**
 * The job queue and event bus that fit the storage: in-process for SQLite, where there is one
 * process; pg-boss and LISTEN/NOTIFY for PostgreSQL, where there may be several replicas.
 */
export async function openJobs(options: OpenJobsOptions): Promise<Jobs> {
  const onError = options.onError ?? (() => undefined);
  if (options.databaseUrl === null) {
    const queue = new InProcessJobQueue({ onError: (error) => onError(error) });
    const bus = new InMemoryEventBus({ onListenerError: onError });
    return {
      queue,
      bus,
      async close() {
        await queue.stop(0);
        await bus.close();
      },
    };
  }
  const queue = await PgBossJobQueue.open({
    connectionString: options.databaseUrl,
    schema: options.jobSchema ?? 'riposte_jobs',
    onError,
  });
  let bus: PostgresEventBus;
  try {
    bus = await PostgresEventBus.open({ connectionString: options.databaseUrl, onError });
  } catch (error) {
    await queue.close();
    throw error;
  }
  return {
    queue,
    bus,
    async close() {
      await queue.close();
      await bus.close();
    },
  };
}
