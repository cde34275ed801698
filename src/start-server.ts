import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createApp, type AppDependencies } from './app.ts';
import { startBackgroundWorker } from './background-worker.ts';
import { DEFAULT_HEARTBEAT_INTERVAL_MS, recoverBackgroundResponses } from './engine/background-responses.ts';
import { openJobs, type Jobs } from './jobs/open-jobs.ts';
import { ConfigModelRouter } from './config/config-model-router.ts';
import type { RiposteConfig } from './config/riposte-config.ts';
import { ConfigError } from './config/load-config.ts';
import { ContentSealer } from './engine/sealed-content.ts';
import { createAdapter } from './providers/create-adapter.ts';
import { openBlobStore } from './storage/blobs/open-blob-store.ts';
import { openStorage } from './storage/open-storage.ts';
import { pruneFiles } from './storage/prune-files.ts';
import { EmbeddingsClient } from './tools/file-search/embeddings-client.ts';
import {
  abandonIngestion,
  recoverIngestion,
  searchMode,
  startIngestionWorker,
} from './tools/file-search/ingest-file.ts';

export interface RunningServer {
  app: FastifyInstance;
  /** The base URL clients use, e.g. `http://127.0.0.1:8080/v1`. */
  baseUrl: string;
  port: number;
  /** Stops taking requests, lets in-flight ones finish, closes the store. */
  close(): Promise<void>;
}

/** Hosts that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Opens the store, builds the app and listens. Refuses to listen beyond loopback without API
 * keys: an open server on a network would hand every stored response to anyone who asks.
 */
export async function startServer(
  config: RiposteConfig,
  options: { log?: (line: string) => void } = {},
): Promise<RunningServer> {
  if (config.apiKeys.length === 0 && !isLoopbackHost(config.host)) {
    throw new ConfigError(
      'host',
      `refusing to listen on ${config.host} without API keys: anyone on the network could read and create responses. Configure --api-key (or api_keys in the config file), or bind to 127.0.0.1.`,
    );
  }
  mkdirSync(config.dataDirectory, { recursive: true });
  const storage = await openStorage({ databaseUrl: config.databaseUrl, dataDirectory: config.dataDirectory });
  let jobs: Jobs | null = null;
  const blobStore = await openBlobStore(config.blobs, config.dataDirectory);
  try {
    // A response that was in progress when a previous SQLite process died can never finish now.
    // On PostgreSQL another replica may still be running it, so only long-stale ones are ended.
    await storage.responses.failInterrupted(
      'The server stopped while this response was in progress.',
      storage.kind === 'sqlite' ? 0 : 6 * 3600,
    );
    const router = new ConfigModelRouter(config.models, config.providers, createAdapter);
    jobs = await openJobs({ databaseUrl: config.databaseUrl, jobSchema: config.jobsSchema });
    const dependencies: AppDependencies = {
      storage,
      router,
      sealer: new ContentSealer(config.encryptionKey ?? loadOrCreateKey(config.dataDirectory)),
      apiKeyHashes: new Map(config.apiKeys.map((key) => [key.sha256, key.project])),
      bodyLimitBytes: config.bodyLimitBytes,
      // Several replicas (PostgreSQL) need `blobs: {type: s3}`, or one folder they all mount.
      blobs: blobStore.blobs,
      maxFileBytes: config.maxFileBytes,
      structuredOutputRetries: config.structuredOutputRetries,
      logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
      background: {
        background: storage.background,
        queue: jobs.queue,
        bus: jobs.bus,
        // Several beats fit in the stale window, so one slow write never looks like a death.
        heartbeatIntervalMs: Math.min(DEFAULT_HEARTBEAT_INTERVAL_MS, (config.backgroundStaleSeconds * 1000) / 4),
      },
      ingestion: {
        queue: jobs.ingestionQueue,
        embedder: config.embeddings === null ? null : new EmbeddingsClient(config.embeddings),
      },
    };
    const app = createApp(dependencies);
    if (storage.kind === 'sqlite') {
      // One process owns the SQLite file, so whatever it left queued runs again and whatever it
      // left running was interrupted. (On PostgreSQL the queue keeps queued jobs, and the sweep
      // below recovers the responses of a replica that died.)
      await recoverBackgroundResponses({ responses: storage.responses }, dependencies.background, { requeue: true });
    }
    await startBackgroundWorker(dependencies, {
      concurrency: config.backgroundConcurrency,
      logError: (error, message) => app.log.error({ err: error }, message),
    });
    const ingestion = {
      vectorStores: storage.vectorStores,
      files: storage.files,
      blobs: dependencies.blobs,
      ...dependencies.ingestion,
      logError: (error: unknown, message: string) => app.log.error({ err: error }, message),
    };
    if (storage.kind === 'sqlite') {
      // The in-process queue died with the last process: files it left in progress start over.
      // (On PostgreSQL pg-boss keeps waiting jobs across restarts.)
      await recoverIngestion(ingestion);
    }
    await startIngestionWorker(ingestion);
    await jobs.abandonedIngestionQueue?.start((job) => abandonIngestion(job, ingestion), 1);
    const prune = (): void => {
      storage.background
        .prune(config.backgroundRetentionSeconds)
        .catch((error: unknown) => app.log.error({ err: error }, 'prune failed'));
      pruneFiles(storage, dependencies.blobs).catch((error: unknown) =>
        app.log.error({ err: error }, 'pruning expired files failed'),
      );
    };
    prune();
    const pruneTimer = setInterval(prune, 3600_000);
    pruneTimer.unref();
    // PostgreSQL: pg-boss fails the job of a replica that died but never runs it again, and its
    // response would stay in progress (or, if it died before claiming it, queued) for ever. Every
    // replica sweeps for responses whose heartbeat went stale: one in progress ends as
    // interrupted, as a SQLite restart does; one still queued is enqueued again (a copy of a job
    // that is only waiting loses the claim and does nothing). Two replicas sweeping the same one
    // at once is harmless: finish is idempotent, a second terminal event is skipped, at worst one
    // append collides and that sweep is retried on the next tick, and of two jobs one claims.
    let sweepTimer: NodeJS.Timeout | null = null;
    if (storage.kind === 'postgres') {
      const sweep = (): void => {
        recoverBackgroundResponses({ responses: storage.responses }, dependencies.background, {
          requeue: true,
          staleAfterSeconds: config.backgroundStaleSeconds,
        }).catch((error: unknown) => app.log.error({ err: error }, 'sweeping stale background responses failed'));
      };
      sweep();
      sweepTimer = setInterval(sweep, Math.min(60_000, (config.backgroundStaleSeconds * 1000) / 2));
      sweepTimer.unref();
    }
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const hostForUrl = config.host.includes(':') && !config.host.startsWith('[') ? `[${config.host}]` : config.host;
    const baseUrl = `http://${hostForUrl}:${port}/v1`;
    const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
    log(`Riposte listening on ${baseUrl}`);
    log(`  storage: ${storage.kind} (${storage.location})`);
    log(`  blobs: ${blobStore.description}`);
    log(`  auth: ${config.apiKeys.length === 0 ? 'none (loopback only)' : `${config.apiKeys.length} API key(s)`}`);
    log(
      `  file search: ${searchMode(ingestion) === 'hybrid' ? `hybrid (embeddings: ${config.embeddings?.model})` : 'keyword only (no embeddings configured)'}`,
    );
    const routed = router.list();
    if (routed.length === 0)
      log('  models: none routed — pass --upstream-url URL or add providers and models to a --config file');
    for (const model of routed) log(`  model: ${model.id} → ${model.ownedBy}`);
    return {
      app,
      baseUrl,
      port,
      close: async () => {
        clearInterval(pruneTimer);
        if (sweepTimer !== null) clearInterval(sweepTimer);
        // Stop taking jobs; running ones get the grace period, then end as interrupted.
        await dependencies.background.queue.stop(config.shutdownGraceMs);
        // An ingestion cut short stays in progress and starts over later: no grace needed.
        await dependencies.ingestion.queue.stop(0);
        await jobs?.abandonedIngestionQueue?.stop(0);
        await app.close();
        await jobs?.close();
        await storage.close();
        blobStore.close();
      },
    };
  } catch (error) {
    await jobs?.close();
    await storage.close();
    blobStore.close();
    throw error;
  }
}

/** The server's content key: generated once into the data dir, so restarts can open old blobs. */
function loadOrCreateKey(dataDirectory: string): Buffer {
  const path = join(dataDirectory, 'encryption.key');
  try {
    return Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
  } catch {
    const key = randomBytes(32);
    writeFileSync(path, key.toString('hex'), { mode: 0o600, flag: 'wx' });
    return key;
  }
}
