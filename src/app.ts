import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { BackgroundDependencies } from './engine/background-responses.ts';
import type { ModelRouter } from './engine/model-router.ts';
import type { ContentSealer } from './engine/sealed-content.ts';
import { methodNotAllowed, routeNotFound } from './errors/api-error.ts';
import { createAuthenticator } from './http/auth.ts';
import { sendError, toApiError } from './http/errors.ts';
import { registerCompactRoutes } from './http/routes/compact.ts';
import { registerConversationRoutes } from './http/routes/conversations.ts';
import { registerFileRoutes } from './http/routes/files.ts';
import { registerInputTokenRoutes } from './http/routes/input-tokens.ts';
import { registerModelRoutes } from './http/routes/models.ts';
import { registerPromptRoutes } from './http/routes/prompts.ts';
import { registerResponseRoutes } from './http/routes/responses.ts';
import { registerVectorStoreRoutes } from './http/routes/vector-stores.ts';
import type { IngestionJob, JobQueue } from './jobs/job-queue.ts';
import type { QueryEmbedder } from './tools/file-search/file-search-tool.ts';
import type { BlobStore } from './storage/blobs/blob-store.ts';
import type { Storage } from './storage/stores.ts';

/** Everything the HTTP app needs, built by main.ts (or by a test). */
export interface AppDependencies {
  storage: Storage;
  /** Background mode: the store's background part, the job queue and the event bus. */
  background: BackgroundDependencies;
  /** Vector stores: the queue their files are ingested from, and the embedder (null: keyword search only). */
  ingestion: { queue: JobQueue<IngestionJob>; embedder: QueryEmbedder | null };
  router: ModelRouter;
  sealer: ContentSealer;
  /** SHA-256 of each accepted API key → its project. Empty: no auth (loopback only). */
  apiKeyHashes: Map<string, string>;
  bodyLimitBytes: number;
  /** The bytes of files and upload parts; the storage keeps their metadata. */
  blobs: BlobStore;
  /** Largest file POST /v1/files takes. */
  maxFileBytes: number;
  structuredOutputRetries: number;
  /** pino options for Fastify's logger, or false for none. */
  logger?: boolean | Record<string, unknown>;
}

/** Builds the HTTP app: routes, auth, error handling. Listening is main.ts's job. */
export function createApp(dependencies: AppDependencies): FastifyInstance {
  const app = Fastify({
    logger: dependencies.logger ?? false,
    bodyLimit: dependencies.bodyLimitBytes,
    // Model names contain slashes and colons (`meta-llama/Llama-3.1-8B`, `qwen3:8b`).
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    // One line per request is noise at agent request rates; errors are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
  });
  const authenticate = createAuthenticator(dependencies.apiKeyHashes);
  const knownPaths: Array<{ pattern: RegExp; methods: Set<string> }> = [];

  app.addHook('onRoute', (route) => {
    const pattern = new RegExp(`^${route.url.replace(/:[^/]+/g, '[^/]+').replace(/\*/g, '.*')}/?$`);
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    knownPaths.push({ pattern, methods: new Set(methods) });
  });
  app.addHook('onRequest', async (request) => {
    // Load balancers probe /health without a key; it reveals nothing.
    if (request.url === '/health') return;
    authenticate(request);
  });

  app.setErrorHandler((error, request, reply) =>
    sendError(reply, toApiError(error, request, dependencies.bodyLimitBytes)),
  );
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const known = knownPaths.some((entry) => entry.pattern.test(path) && !entry.methods.has(request.method));
    return sendError(reply, known ? methodNotAllowed(request.method, path) : routeNotFound(request.method, path));
  });

  app.get('/health', async () => ({ status: 'ok' }));
  registerResponseRoutes(app, dependencies);
  registerInputTokenRoutes(app, dependencies);
  registerCompactRoutes(app, dependencies);
  registerConversationRoutes(app, dependencies);
  registerModelRoutes(app, dependencies.router);
  registerPromptRoutes(app, dependencies.storage.prompts);
  registerVectorStoreRoutes(app, dependencies);
  registerFileRoutes(app, dependencies);
  return app;
}
