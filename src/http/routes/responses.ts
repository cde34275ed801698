import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, invalidRequest, notFound } from '../../errors/api-error.ts';
import { parseCreateResponse } from '../../engine/parse-create-response.ts';
import { presentItems } from '../../engine/stored-items.ts';
import { collectResponse, runResponse } from '../../engine/run-response.ts';
import {
  acceptBackgroundResponse,
  cancelBackgroundResponse,
  checkStreamCursor,
  followResponseEvents,
} from '../../engine/background-responses.ts';
import { abortOnDisconnect, engineContextFor } from '../engine-context-for.ts';
import { CursorNotFoundError } from '../../storage/cursor-not-found-error.ts';
import type { StreamEvent } from '../../wire/response-types.ts';
import { listPage, readIncludeQuery, readPageQuery } from '../pagination.ts';
import { openEventStream, writeEvent } from '../sse.ts';
import type { AppDependencies } from '../../app.ts';

type IdParams = { Params: { id: string } };

/** OpenAI suggests a poll interval for background responses still running. */
const POLL_AFTER_HEADER = 'openai-poll-after-ms';
const POLL_AFTER_MS = '1000';

function readStartingAfter(value: unknown): number {
  if (value === undefined || value === '') return -1;
  if (typeof value !== 'string' || !/^\d+$/.test(value)) {
    throw invalidRequest(
      'starting_after',
      `Invalid 'starting_after': expected a sequence number, got ${JSON.stringify(value)}.`,
      'invalid_type',
    );
  }
  return Number(value);
}

/** The Responses API: thin handlers that parse, call the engine or the store, and answer. */
export function registerResponseRoutes(app: FastifyInstance, dependencies: AppDependencies): void {
  const { storage } = dependencies;

  app.post('/v1/responses', async (request, reply) => {
    const body = parseCreateResponse(request.body);
    const abort = abortOnDisconnect(reply);
    const context = engineContextFor(dependencies, request, abort.signal);
    if (body.background) {
      // Background responses run in a worker; a client that disconnects does not stop them.
      const workerContext = engineContextFor(dependencies, request, new AbortController().signal);
      const queued = await acceptBackgroundResponse(body, workerContext, dependencies.background);
      if (!body.stream) return reply.header(POLL_AFTER_HEADER, POLL_AFTER_MS).send(queued);
      reply.hijack();
      openEventStream(reply.raw);
      await streamEvents(
        reply,
        [],
        followResponseEvents(queued.id, -1, context, dependencies.background),
        abort,
        request,
      );
      return reply;
    }
    const events = runResponse(body, context);
    // Bad requests surface here, before any byte is sent, as plain HTTP errors.
    const first = await events.next();
    if (!body.stream) {
      const outcome = first.done ? first.value : await collectResponse(events);
      if (outcome.failure) throw outcome.failure;
      return reply.send(outcome.response);
    }
    reply.hijack();
    openEventStream(reply.raw);
    await streamEvents(reply, first.done ? [] : [first.value], events, abort, request);
    return reply;
  });

  app.get<IdParams>('/v1/responses/:id', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const stored = await storage.responses.get(request.owner, request.params.id);
    if (!stored) throw notFound('Response', request.params.id);
    if (query.stream === 'true') {
      const startingAfter = readStartingAfter(query.starting_after);
      await checkStreamCursor(stored, startingAfter, dependencies.background);
      const abort = abortOnDisconnect(reply);
      const context = engineContextFor(dependencies, request, abort.signal);
      reply.hijack();
      openEventStream(reply.raw);
      await streamEvents(
        reply,
        [],
        followResponseEvents(stored.id, startingAfter, context, dependencies.background),
        abort,
        request,
      );
      return reply;
    }
    if (stored.status === 'queued' || stored.status === 'in_progress') reply.header(POLL_AFTER_HEADER, POLL_AFTER_MS);
    const include = readIncludeQuery(query);
    const output = stored.response.output as Array<Record<string, unknown>>;
    return reply.send({
      ...stored.response,
      output: presentItems(output, include, dependencies.sealer, request.owner),
    });
  });

  app.delete<IdParams>('/v1/responses/:id', async (request, reply) => {
    const deleted = await storage.responses.delete(request.owner, request.params.id);
    if (!deleted) throw notFound('Response', request.params.id);
    return reply.send({ id: request.params.id, object: 'response', deleted: true });
  });

  app.post<IdParams>('/v1/responses/:id/cancel', async (request, reply) => {
    const cancelled = await cancelBackgroundResponse(
      request.owner,
      request.params.id,
      { responses: storage.responses },
      dependencies.background,
    );
    return reply.send(cancelled);
  });

  app.get<IdParams>('/v1/responses/:id/input_items', async (request, reply) => {
    const page = readPageQuery(request.query as Record<string, unknown>, { order: 'desc', limit: 20 });
    if (!(await storage.responses.get(request.owner, request.params.id))) throw notFound('Response', request.params.id);
    try {
      const result = await storage.responses.listInputItems(request.owner, request.params.id, page);
      const include = readIncludeQuery(request.query as Record<string, unknown>);
      return reply.send(
        listPage(presentItems(result.items, include, dependencies.sealer, request.owner), result.hasMore),
      );
    } catch (error) {
      if (error instanceof CursorNotFoundError) throw invalidRequest(error.param, error.message, 'invalid_value');
      throw error;
    }
  });
}

/**
 * Writes events as SSE frames until the stream ends or the client leaves. A failure after the
 * headers are out becomes an `error` event — the stream is closed cleanly, never torn.
 */
async function streamEvents(
  reply: FastifyReply,
  already: StreamEvent[],
  events: AsyncGenerator<StreamEvent, unknown>,
  abort: AbortController,
  request: FastifyRequest,
): Promise<void> {
  let lastSequence = -1;
  try {
    for (const event of already) {
      lastSequence = event.sequence_number;
      await writeEvent(reply.raw, event);
    }
    for await (const event of events) {
      lastSequence = event.sequence_number;
      if (!(await writeEvent(reply.raw, event)) || abort.signal.aborted) break;
    }
  } catch (error) {
    if (!abort.signal.aborted) {
      const apiError = error instanceof ApiError ? error : null;
      if (!apiError) request.log.error({ err: error }, 'stream failed');
      await writeEvent(reply.raw, {
        type: 'error',
        code: apiError?.code ?? 'server_error',
        message: apiError?.message ?? 'The server had an error while processing your request.',
        param: apiError?.param ?? null,
        sequence_number: lastSequence + 1,
      } as StreamEvent);
    }
  } finally {
    if (!reply.raw.writableEnded) reply.raw.end();
  }
}
