import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createApp, type AppDependencies } from '../app.ts';
import { startBackgroundWorker } from '../background-worker.ts';
import { InMemoryEventBus } from '../jobs/in-memory-event-bus.ts';
import { InProcessJobQueue } from '../jobs/in-process-job-queue.ts';
import type { IngestionJob } from '../jobs/job-queue.ts';
import { startIngestionWorker } from '../tools/file-search/ingest-file.ts';
import type { QueryEmbedder } from '../tools/file-search/file-search-tool.ts';
import { LocalBlobStore } from '../storage/blobs/local-blob-store.ts';

/**
 * The app as main.ts builds it on SQLite, for route tests: the given dependencies plus an
 * in-process job queue, whose worker starts when the app is ready (inject() and listen() make it
 * so), and an in-memory event bus. `app.close()` stops both. Without `blobs`, file bytes go to
 * a temporary folder that `app.close()` removes; `maxFileBytes` defaults to OpenAI's 512 MB.
 * Files attached to vector stores are ingested by an in-process worker, with `embedder` (none:
 * keyword search only).
 */
export function createTestApp(
  dependencies: Omit<AppDependencies, 'background' | 'blobs' | 'maxFileBytes' | 'ingestion'> &
    Partial<Pick<AppDependencies, 'blobs' | 'maxFileBytes'>> & { embedder?: QueryEmbedder | null },
): FastifyInstance {
  const queue = new InProcessJobQueue();
  const ingestionQueue = new InProcessJobQueue<IngestionJob>();
  const bus = new InMemoryEventBus();
  let blobFolder: string | null = null;
  const blobs =
    dependencies.blobs ?? new LocalBlobStore((blobFolder = mkdtempSync(join(tmpdir(), 'riposte-test-blobs-'))));
  const { embedder = null, ...given } = dependencies;
  const complete: AppDependencies = {
    ...given,
    blobs,
    maxFileBytes: dependencies.maxFileBytes ?? 512 * 1024 * 1024,
    background: { background: dependencies.storage.background, queue, bus },
    ingestion: { queue: ingestionQueue, embedder },
  };
  const app = createApp(complete);
  app.addHook('onReady', async () => {
    await startBackgroundWorker(complete);
    await startIngestionWorker({
      vectorStores: complete.storage.vectorStores,
      files: complete.storage.files,
      blobs,
      ...complete.ingestion,
    });
  });
  app.addHook('onClose', async () => {
    await queue.stop(1000);
    await ingestionQueue.stop(1000);
    await bus.close();
    if (blobFolder !== null) rmSync(blobFolder, { recursive: true, force: true });
  });
  return app;
}
