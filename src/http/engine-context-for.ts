import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppDependencies } from '../app.ts';
import type { EngineContext } from '../engine/engine-context.ts';

/** The engine context for one request: its owner, the app's stores and router, an abort signal. */
export function engineContextFor(
  dependencies: AppDependencies,
  request: FastifyRequest,
  signal: AbortSignal,
): EngineContext {
  return contextForOwner(dependencies, request.owner, signal, (error, message) =>
    request.log.error({ err: error }, message),
  );
}

/** An abort signal that fires when the client goes away before the answer was fully sent. */
export function abortOnDisconnect(reply: FastifyReply): AbortController {
  const abort = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) abort.abort(new Error('The client closed the connection.'));
  });
  return abort;
}

/** The same for work that belongs to no HTTP request (a background job). */
export function contextForOwner(
  dependencies: AppDependencies,
  owner: string,
  signal: AbortSignal,
  logError?: (error: unknown, message: string) => void,
): EngineContext {
  const { storage } = dependencies;
  return {
    router: dependencies.router,
    responses: storage.responses,
    conversations: storage.conversations,
    prompts: storage.prompts,
    sealer: dependencies.sealer,
    vectorStores: storage.vectorStores,
    files: { store: storage.files, blobs: dependencies.blobs },
    embedder: dependencies.ingestion.embedder,
    owner,
    signal,
    structuredOutputRetries: dependencies.structuredOutputRetries,
    ...(logError ? { logError } : {}),
  };
}
