import type { FastifyInstance } from 'fastify';
import type { AppDependencies } from '../../app.ts';
import { compactResponse, parseCompactRequest } from '../../engine/compact-items.ts';
import type { EngineContext } from '../../engine/engine-context.ts';
import { UpstreamError } from '../../errors/upstream-error.ts';

/** POST /v1/responses/compact: parse, compact with the engine, answer the `response.compaction` object. */
export function registerCompactRoutes(app: FastifyInstance, dependencies: AppDependencies): void {
  const { storage } = dependencies;

  app.post('/v1/responses/compact', async (request, reply) => {
    const body = parseCompactRequest(request.body);
    const abort = new AbortController();
    // A client that leaves stops the summarising call upstream.
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) abort.abort(new Error('The client closed the connection.'));
    });
    const context: EngineContext = {
      router: dependencies.router,
      responses: storage.responses,
      conversations: storage.conversations,
      prompts: storage.prompts,
      sealer: dependencies.sealer,
      owner: request.owner,
      signal: abort.signal,
      logError: (error, message) => request.log.error({ err: error }, message),
    };
    try {
      return reply.send(await compactResponse(body, context));
    } catch (error) {
      throw error instanceof UpstreamError ? error.toApiError() : error;
    }
  });
}
