import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createApp, type AppDependencies } from '../app.ts';
import { startBackgroundWorker } from '../background-worker.ts';
import { InMemoryEventBus } from '../jobs/in-memory-event-bus.ts';
import { InProcessJobQueue } from '../jobs/in-process-job-queue.ts';
import { LocalBlobStore } from '../storage/blobs/local-blob-store.ts';

/**
 * The app as main.ts builds it on SQLite, for route tests: the given dependencies plus an
 * in-process job queue, whose worker starts when the app is ready (inject() and listen() make it
 * so), and an in-memory event bus. `app.close()` stops both. Without `blobs`, file bytes go to
 * a temporary folder that `app.close()` removes; `maxFileBytes` defaults to OpenAI's 512 MB.
 */
export function createTestApp(
  dependencies: Omit<AppDependencies, 'background' | 'blobs' | 'maxFileBytes'> &
    Partial<Pick<AppDependencies, 'blobs' | 'maxFileBytes'>>,
): FastifyInstance {
  const queue = new InProcessJobQueue();
  const bus = new InMemoryEventBus();
  let blobFolder: string | null = null;
  const blobs =
    dependencies.blobs ?? new LocalBlobStore((blobFolder = mkdtempSync(join(tmpdir(), 'riposte-test-blobs-'))));
  const complete: AppDependencies = {
    ...dependencies,
    blobs,
    maxFileBytes: dependencies.maxFileBytes ?? 512 * 1024 * 1024,
    background: { background: dependencies.storage.background, queue, bus },
  };
  const app = createApp(complete);
  app.addHook('onReady', async () => startBackgroundWorker(complete));
  app.addHook('onClose', async () => {
    await queue.stop(1000);
    await bus.close();
    if (blobFolder !== null) rmSync(blobFolder, { recursive: true, force: true });
  });
  return app;
}
