import type { FastifyInstance } from 'fastify';
import type { AppDependencies } from '../../app.ts';
import { abortOnDisconnect, engineContextFor } from '../engine-context-for.ts';
import { compactResponse, parseCompactRequest } from '../../engine/compact-items.ts';
import { UpstreamError } from '../../errors/upstream-error.ts';

/** POST /v1/responses/compact: parse, compact with the engine, answer the `response.compaction` object. */
export function registerCompactRoutes(app: FastifyInstance, dependencies: AppDependencies): void {
  app.post('/v1/responses/compact', async (request, reply) => {
    const body = parseCompactRequest(request.body);
    const abort = abortOnDisconnect(reply);
    const context = engineContextFor(dependencies, request, abort.signal);
    try {
      return reply.send(await compactResponse(body, context));
    } catch (error) {
      throw error instanceof UpstreamError ? error.toApiError() : error;
    }
  });
}
