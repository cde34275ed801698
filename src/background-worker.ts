import type { AppDependencies } from './app.ts';
import { runBackgroundJob } from './engine/background-responses.ts';
import { contextForOwner } from './http/engine-context-for.ts';

/** Background responses one process runs at once. */
export const DEFAULT_BACKGROUND_CONCURRENCY = 8;

/** Starts taking background jobs from the queue and running them through the engine. */
export async function startBackgroundWorker(
  dependencies: AppDependencies,
  options: { concurrency?: number; logError?: (error: unknown, message: string) => void } = {},
): Promise<void> {
  const logError = options.logError ?? (() => undefined);
  await dependencies.background.queue.start(
    (job, signal) =>
      runBackgroundJob(
        job,
        signal,
        (owner, jobSignal) => contextForOwner(dependencies, owner, jobSignal, logError),
        dependencies.background,
      ),
    options.concurrency ?? DEFAULT_BACKGROUND_CONCURRENCY,
  );
}
