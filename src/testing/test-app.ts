import type { FastifyInstance } from 'fastify';
import { createApp, type AppDependencies } from '../app.ts';
import { startBackgroundWorker } from '../background-worker.ts';
import { InMemoryEventBus } from '../jobs/in-memory-event-bus.ts';
import { InProcessJobQueue } from '../jobs/in-process-job-queue.ts';

/**
 * The app as main.ts builds it on SQLite, for route tests: the given dependencies plus an
 * in-process job queue, whose worker starts when the app is ready (inject() and listen() make it
 * so), and an in-memory event bus. `app.close()` stops both.
 */
export function createTestApp(dependencies: Omit<AppDependencies, 'background'>): FastifyInstance {
  const queue = new InProcessJobQueue();
  const bus = new InMemoryEventBus();
  const complete: AppDependencies = {
    ...dependencies,
    background: { background: dependencies.storage.background, queue, bus },
  };
  const app = createApp(complete);
  app.addHook('onReady', async () => startBackgroundWorker(complete));
  app.addHook('onClose', async () => {
    await queue.stop(1000);
    await bus.close();
  });
  return app;
}
