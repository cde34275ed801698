import { ApiError, invalidRequest, notFound } from '../errors/api-error.ts';
import type { EventBus } from '../jobs/event-bus.ts';
import type { BackgroundJob, JobQueue } from '../jobs/job-queue.ts';
import type { BackgroundStore, StoredResponse } from '../storage/stores.ts';
import type { ResponseObject, StreamEvent } from '../wire/response-types.ts';
import { applyPrompt } from './apply-prompt.ts';
import { cloneJson } from './clone-json.ts';
import type { CreateResponseRequest } from './create-response-request.ts';
import type { EngineContext } from './engine-context.ts';
import { prepareResponse } from './prepare-response.ts';
import { ResponseInterruption, runResponse } from './run-response.ts';

/** What background mode needs beside the engine context. */
export interface BackgroundDependencies {
  background: BackgroundStore;
  queue: JobQueue;
  bus: EventBus;
  /**
   * How often a running job refreshes its heartbeat (BackgroundStore.touch); well under the
   * window after which another replica takes it for dead. 15 s unless set.
   */
  heartbeatIntervalMs?: number;
}

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 15_000;

/** response.created and response.queued are logged when a background response is accepted. */
const ACCEPTED_EVENT_COUNT = 2;
const TERMINAL_EVENTS = new Set(['response.completed', 'response.failed', 'response.incomplete']);
const FINAL_STATUSES = new Set(['completed', 'failed', 'incomplete', 'cancelled']);
/** How many waits (a bus message, or a second) a follower gives a final response's terminal event. */
const MAX_ROUNDS_AFTER_FINAL = 5;

/** Bus channels: new events of a response, and requests to cancel it. */
export const eventsChannel = (responseId: string): string => `riposte_events_${responseId}`;
export const cancelChannel = (responseId: string): string => `riposte_cancel_${responseId}`;

/**
 * Accepts `background: true`: validates and prepares the request exactly as a foreground one
 * (so bad input is still an HTTP 400), stores the response as `queued` with the request to run,
 * logs its first events and queues the job. Returns the queued Response.
 */
export async function acceptBackgroundResponse(
  given: CreateResponseRequest,
  context: EngineContext,
  dependencies: BackgroundDependencies,
): Promise<ResponseObject> {
  if (!given.store) throw invalidRequest('store', 'Background mode requires store: true.', 'invalid_value');
  const request = await applyPrompt(given, context.prompts, context.owner);
  const prepared = await prepareResponse(request, context);
  const response: ResponseObject = { ...prepared.response, status: 'queued', background: true };
  await context.responses.create(
    {
      id: response.id,
      owner: context.owner,
      createdAt: response.created_at,
      status: 'queued',
      previousResponseId: request.previousResponseId,
      response: cloneJson(response),
    },
    prepared.storedInput,
  );
  // The request as the client sent it, with the prompt version pinned, so the worker (maybe on
  // another replica, maybe after a restart) runs exactly what was accepted.
  const toRun: CreateResponseRequest =
    given.prompt && request.prompt ? { ...given, prompt: { ...given.prompt, version: request.prompt.version } } : given;
  await dependencies.background.saveRequest(context.owner, response.id, toRun as unknown as Record<string, unknown>);
  await dependencies.background.appendEvents(response.id, [
    { sequenceNumber: 0, event: { type: 'response.created', response: cloneJson(response), sequence_number: 0 } },
    { sequenceNumber: 1, event: { type: 'response.queued', response: cloneJson(response), sequence_number: 1 } },
  ]);
  await dependencies.queue.enqueue({ responseId: response.id, owner: context.owner });
  return response;
}

/**
 * Runs one queued background response (the job handler): the engine's events are appended to
 * the event log and announced on the bus; a cancel request aborts the upstream call and keeps
 * the output so far; a shutdown (`signal`) ends it failed, saying it was interrupted.
 *
 * A job may be a duplicate (the PostgreSQL sweep re-enqueues responses left queued too long, in
 * case their job died with a replica): the worker first claims the response (ResponseStore.claim,
 * queued → in_progress, atomically), and a job that loses the claim returns without writing an
 * event or a status. A response already in progress belongs to the worker that claimed it, or —
 * if that worker died — to the recovery, which ends it as interrupted once its heartbeat is stale.
 */
export async function runBackgroundJob(
  job: BackgroundJob,
  signal: AbortSignal,
  contextFor: (owner: string, signal: AbortSignal) => EngineContext,
  dependencies: BackgroundDependencies,
): Promise<void> {
  const { background, bus } = dependencies;
  const abort = new AbortController();
  const context = contextFor(job.owner, abort.signal);
  const stored = await context.responses.get(job.owner, job.responseId);
  const given = await background.getRequest(job.owner, job.responseId);
  if (!stored || !given || stored.status !== 'queued') return;
  // The first beat comes before the claim, so the sweep never sees the response in progress with
  // only the (maybe old) time it was queued. A job that then loses the claim has only refreshed
  // the heartbeat of a response another worker has just taken.
  await background.touch(job.responseId);
  const running = { ...cloneJson(stored.response), status: 'in_progress' };
  if (!(await context.responses.claim(job.owner, job.responseId, running))) return;

  const onShutdown = (): void =>
    abort.abort(new ResponseInterruption('The server shut down while this response was in progress.'));
  signal.addEventListener('abort', onShutdown, { once: true });
  const unsubscribe = await bus.subscribe(cancelChannel(job.responseId), () =>
    abort.abort(new Error('Cancelled by request.')),
  );
  // The heartbeat says this replica is alive and still running the response, however long the
  // upstream stays quiet; on PostgreSQL, a sweep ends responses whose heartbeat went stale
  // (their replica died).
  const beat = (): void => {
    // A missed beat is retried on the next tick; only a long run of them looks like a death.
    background.touch(job.responseId).catch(() => undefined);
  };
  const heartbeat = setInterval(beat, dependencies.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS);
  try {
    // A cancel requested before the subscription (e.g. between the claim and it) is read here.
    if (await background.isCancelRequested(job.responseId)) abort.abort(new Error('Cancelled by request.'));
    let lastSequence = ACCEPTED_EVENT_COUNT - 1;
    try {
      // The response is claimed: runResponse's queued path only updates what this job owns.
      const events = runResponse(given as unknown as CreateResponseRequest, context, {
        queued: { responseId: stored.id, createdAt: stored.createdAt, firstSequenceNumber: ACCEPTED_EVENT_COUNT },
      });
      for await (const event of events) {
        await background.appendEvents(job.responseId, [{ sequenceNumber: event.sequence_number, event }]);
        lastSequence = event.sequence_number;
        await bus.publish(eventsChannel(job.responseId), String(lastSequence));
      }
    } catch (error) {
      // Aborts (cancel, shutdown) end the run; runResponse has stored the final state.
      if (!abort.signal.aborted) {
        // A failure before the run started (its request no longer prepares: a prompt or model
        // gone) would leave the claimed response in progress: end it failed, then report it.
        const current = await context.responses.get(job.owner, job.responseId);
        if (current?.status === 'in_progress') {
          await failInterrupted(current, context, dependencies, {
            code: 'server_error',
            message: error instanceof ApiError ? error.message : 'The server could not run this response.',
          });
        }
        throw error;
      }
    }
    // A run stopped by shutdown ended failed without a terminal event; log one for followers.
    const final = await context.responses.get(job.owner, job.responseId);
    if (final?.status === 'failed' && abort.signal.reason instanceof ResponseInterruption) {
      await background.appendEvents(job.responseId, [
        {
          sequenceNumber: lastSequence + 1,
          event: { type: 'response.failed', response: final.response, sequence_number: lastSequence + 1 },
        },
      ]);
    }
  } finally {
    clearInterval(heartbeat);
    signal.removeEventListener('abort', onShutdown);
    await unsubscribe();
    await bus.publish(eventsChannel(job.responseId), 'end');
  }
}

/**
 * The events of a background response after `startingAfter`, replayed from the log and then
 * followed live until the response ends — what `GET /v1/responses/{id}?stream=true` and a
 * `background: true, stream: true` create send.
 */
export async function* followResponseEvents(
  responseId: string,
  startingAfter: number,
  context: Pick<EngineContext, 'responses' | 'owner' | 'signal'>,
  dependencies: Pick<BackgroundDependencies, 'background' | 'bus'>,
): AsyncGenerator<StreamEvent> {
  let wake: (() => void) | null = null;
  const unsubscribe = await dependencies.bus.subscribe(eventsChannel(responseId), () => wake?.());
  try {
    let last = startingAfter;
    let roundsAfterFinal = 0;
    for (;;) {
      const events = await dependencies.background.readEvents(responseId, last, 500);
      for (const { sequenceNumber, event } of events) {
        last = sequenceNumber;
        yield event as StreamEvent;
        if (TERMINAL_EVENTS.has(String(event.type))) return;
      }
      if (events.length > 0) continue;
      const current = await context.responses.get(context.owner, responseId);
      if (!current || FINAL_STATUSES.has(current.status)) {
        // Cancelled responses end without a terminal event; read once more for a late one.
        const late = await dependencies.background.readEvents(responseId, last, 500);
        for (const { sequenceNumber, event } of late) {
          last = sequenceNumber;
          yield event as StreamEvent;
          if (TERMINAL_EVENTS.has(String(event.type))) return;
        }
        // Any other final status is stored a moment before its terminal event is appended (by
        // the worker, or by the sweep that ends an interrupted run): a follower that looked in
        // between waits for that event, a few rounds at most, instead of ending without it.
        if (!current || current.status === 'cancelled' || ++roundsAfterFinal > MAX_ROUNDS_AFTER_FINAL) return;
      }
      if (context.signal.aborted) return;
      // Sleep until the bus says there is more, or a second passes (a missed message costs latency only).
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 1000);
        function done(): void {
          clearTimeout(timer);
          wake = null;
          context.signal.removeEventListener('abort', done);
          resolve();
        }
        wake = done;
        context.signal.addEventListener('abort', done, { once: true });
      });
    }
  } finally {
    await unsubscribe();
  }
}

/** Checks a `starting_after` cursor against the log, as OpenAI does, before any byte is sent. */
export async function checkStreamCursor(
  stored: StoredResponse,
  startingAfter: number,
  dependencies: Pick<BackgroundDependencies, 'background'>,
): Promise<void> {
  if (stored.response.background !== true) {
    throw invalidRequest(
      'stream',
      'Streaming a stored response is only possible for responses created with background: true.',
    );
  }
  if (startingAfter < -1)
    throw invalidRequest('starting_after', 'starting_after must be a sequence number (0 or more).', 'invalid_value');
  if (startingAfter === -1) return;
  const atCursor = await dependencies.background.readEvents(stored.id, startingAfter - 1, 1);
  if (atCursor[0]?.sequenceNumber !== startingAfter) {
    throw invalidRequest(
      'starting_after',
      `No event with sequence number ${startingAfter} in this response's stream.`,
      'invalid_value',
    );
  }
}

/**
 * Cancels a background response: a queued one at once, a running one by aborting its upstream
 * call (wherever it runs; the request crosses replicas on the bus) and keeping its output so far.
 * Idempotent for cancelled responses; a 400 for responses not created in background or already
 * finished otherwise.
 */
export async function cancelBackgroundResponse(
  owner: string,
  responseId: string,
  context: Pick<EngineContext, 'responses'>,
  dependencies: Pick<BackgroundDependencies, 'background' | 'bus'>,
): Promise<Record<string, unknown>> {
  const stored = await context.responses.get(owner, responseId);
  if (!stored) throw notFound('Response', responseId);
  if (stored.response.background !== true)
    throw invalidRequest(null, 'Only responses created with background: true can be cancelled.');
  if (stored.status === 'cancelled') return stored.response;
  if (FINAL_STATUSES.has(stored.status))
    throw invalidRequest(null, `Cannot cancel a response with status '${stored.status}'.`);
  await dependencies.background.requestCancel(owner, responseId);
  if (stored.status === 'queued') {
    const cancelled = { ...stored.response, status: 'cancelled' };
    await context.responses.finish(owner, responseId, 'cancelled', cancelled, []);
  }
  await dependencies.bus.publish(cancelChannel(responseId), 'cancel');
  // The worker stops within moments; answer with the final state when it is there.
  for (let attempt = 0; attempt < 100; attempt++) {
    const current = await context.responses.get(owner, responseId);
    if (!current) throw notFound('Response', responseId);
    if (FINAL_STATUSES.has(current.status)) return current.response;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return (await context.responses.get(owner, responseId))?.response ?? stored.response;
}

/**
 * After a restart (SQLite, `requeue: true`): queued background responses run again; ones that
 * were running when the process died end failed, saying so, with a terminal event for anyone
 * replaying their stream.
 *
 * The PostgreSQL sweep (`staleAfterSeconds`, with `requeue: true`) looks only at responses whose
 * last event or heartbeat is older than that. One in progress is ended: its replica died (a live
 * one touches every few seconds). One still queued is enqueued again: its job may have died with
 * a replica that took it and never claimed it (pg-boss fails such a job, and never runs it
 * again). If its job is only waiting its turn, the copy is harmless — whichever job comes first
 * claims the response, and the other finds it taken and does nothing. The heartbeat is touched
 * as it is re-enqueued, so a response waiting behind a long backlog is copied at most once per
 * stale window.
 */
export async function recoverBackgroundResponses(
  context: Pick<EngineContext, 'responses'>,
  dependencies: BackgroundDependencies,
  options: { requeue: boolean; staleAfterSeconds?: number },
): Promise<{ requeued: number; failed: number }> {
  let requeued = 0;
  let failed = 0;
  const staleBefore =
    options.staleAfterSeconds === undefined ? null : Math.floor(Date.now() / 1000) - options.staleAfterSeconds;
  for (const unfinished of await dependencies.background.listUnfinished()) {
    if (staleBefore !== null && unfinished.lastEventAt >= staleBefore) continue;
    if (unfinished.status === 'queued') {
      if (options.requeue) {
        if (staleBefore !== null) await dependencies.background.touch(unfinished.responseId);
        await dependencies.queue.enqueue({ responseId: unfinished.responseId, owner: unfinished.owner });
        requeued++;
      }
      continue;
    }
    const stored = await context.responses.get(unfinished.owner, unfinished.responseId);
    // Re-read: it may have finished since the list was taken.
    if (stored?.status !== 'in_progress') continue;
    await failInterrupted(stored, context, dependencies);
    failed++;
  }
  return { requeued, failed };
}

const INTERRUPTED = {
  code: 'server_error',
  message: 'The server stopped while this response was in progress; it was interrupted.',
};

/**
 * Ends a background response that was running when its worker died (or, given another `error`,
 * that its worker could not run), with a terminal event.
 */
async function failInterrupted(
  stored: StoredResponse,
  context: Pick<EngineContext, 'responses'>,
  dependencies: Pick<BackgroundDependencies, 'background' | 'bus'>,
  error: { code: string; message: string } = INTERRUPTED,
): Promise<void> {
  const response = { ...stored.response, status: 'failed', error };
  await context.responses.finish(stored.owner, stored.id, 'failed', response, (stored.response.output ?? []) as never);
  const events = await dependencies.background.readEvents(stored.id, -1, 1_000_000);
  const last = events.at(-1);
  // Another replica's sweep may have ended it a moment ago: one terminal event is enough.
  if (last !== undefined && TERMINAL_EVENTS.has(String(last.event.type))) return;
  const next = (last?.sequenceNumber ?? -1) + 1;
  await dependencies.background.appendEvents(stored.id, [
    { sequenceNumber: next, event: { type: 'response.failed', response, sequence_number: next } },
  ]);
  await dependencies.bus.publish(eventsChannel(stored.id), 'end');
}
