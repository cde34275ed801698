import { ApiError, serverError } from '../errors/api-error.ts';
import { UpstreamError } from '../errors/upstream-error.ts';
import type { ModelEvent, ModelItem, ModelRequest, ModelUsage } from '../providers/model-adapter.ts';
import type { StoredItem } from '../storage/stores.ts';
import type { ResponseObject, ResponseStatus, StreamEvent } from '../wire/response-types.ts';
import type { CreateResponseRequest } from './create-response-request.ts';
import type { EngineContext } from './engine-context.ts';
import type { SearchHit } from '../storage/vector-stores.ts';
import { FILE_SEARCH_TOOL_NAME, formatHitsForModel, searchFiles } from '../tools/file-search/file-search-tool.ts';
import type { FileSearchCallItem, OutputItem } from '../wire/response-types.ts';
import { applyPrompt } from './apply-prompt.ts';
import { CitationFilter, type CitableSource, type FilteredText } from './citation-filter.ts';
import { cloneJson } from './clone-json.ts';
import { createId } from './ids.ts';
import { maybeCompact } from './compact-items.ts';
import { checkJsonText } from './json-schema-validator.ts';
import type { OfferedTools } from './offered-tools.ts';
import { OutputBuilder, type EventPayload } from './output-builder.ts';
import { prepareResponse, type PreparedResponse } from './prepare-response.ts';

export type { EngineContext } from './engine-context.ts';

/** Model calls a response may spend on built-in tools before it must answer. */
const MAX_SERVER_TOOL_STEPS = 8;

function readQueries(argumentsText: string): string[] {
  try {
    const parsed = JSON.parse(argumentsText) as { queries?: unknown; query?: unknown };
    const queries = Array.isArray(parsed.queries) ? parsed.queries : [parsed.query];
    return queries.filter((query): query is string => typeof query === 'string');
  } catch {
    return [];
  }
}

/** How to run a background response that was accepted (and stored as queued) earlier. */
export interface RunOptions {
  /**
   * The caller has claimed the response (ResponseStore.claim moved it queued → in_progress, and
   * no other worker can): the run only updates the stored object its caller owns.
   */
  queued?: {
    responseId: string;
    createdAt: number;
    /** The events written when it was accepted (response.created, response.queued) come first. */
    firstSequenceNumber: number;
  };
}

/**
 * The abort reason that ends a response as `failed` (its message saying why) rather than
 * `cancelled`: the server is shutting down, or restarted while the response ran.
 */
export class ResponseInterruption extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResponseInterruption';
  }
}

/** How a run ended: the final Response, and the error a non-streaming client should get, if any. */
export interface RunOutcome {
  response: ResponseObject;
  failure: ApiError | null;
}

/**
 * The agent loop. Yields the Responses stream events, `response.created` through
 * `response.completed` / `response.incomplete` / `response.failed`, each with its
 * `sequence_number`, and returns the outcome. Bad requests throw an ApiError before the first
 * event, so callers can still answer with an HTTP error. Stored state is written when the
 * response starts and when it ends — also when the consumer stops early (client gone), in which
 * case the stored response says `cancelled`.
 */
export async function* runResponse(
  given: CreateResponseRequest,
  context: EngineContext,
  options: RunOptions = {},
): AsyncGenerator<StreamEvent, RunOutcome> {
  // A stored prompt's configuration applies first: everything after reads the merged request.
  const request = await applyPrompt(given, context.prompts, context.owner);
  const prepared = await prepareResponse(request, context, { identity: options.queued });
  const now = context.now ?? Date.now;
  const response = prepared.response;
  const store = request.store;
  const upstreamAbort = new AbortController();
  const onClientAbort = (): void => upstreamAbort.abort(context.signal.reason);
  context.signal.addEventListener('abort', onClientAbort, { once: true });

  const builder = new OutputBuilder({
    offered: prepared.offered,
    includeEncryptedReasoning: request.include.includes('reasoning.encrypted_content'),
    sealer: context.sealer,
    owner: context.owner,
  });
  const usage: ModelUsage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, reasoningTokens: 0 };
  const compactionUsage: ModelUsage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, reasoningTokens: 0 };
  let sawUsage = false;
  let sentItems = prepared.modelItems;
  let sequenceNumber = options.queued?.firstSequenceNumber ?? 0;
  let finished = false;
  const stamp = (payload: EventPayload): StreamEvent => ({ ...payload, sequence_number: sequenceNumber++ });

  /** Each file_search_call's results by item id, stored even when the client did not include them. */
  const keptSearchResults = new Map<string, NonNullable<FileSearchCallItem['results']>>();

  const finish = async (status: ResponseStatus, details: Partial<ResponseObject>): Promise<ResponseObject> => {
    finished = true;
    Object.assign(response, details);
    response.status = status;
    // The builder is done with its items (every one is closed, their events carry copies), so the
    // Response takes them over rather than a copy.
    response.output = [...builder.output];
    response.output_text = builder.outputText;
    if (status === 'completed') response.completed_at = Math.floor(now() / 1000);
    if (!sawUsage) estimateUsage(usage, sentItems, builder);
    addUsage(usage, compactionUsage);
    response.usage = {
      input_tokens: usage.inputTokens,
      input_tokens_details: { cached_tokens: usage.cachedInputTokens, cache_write_tokens: 0 },
      output_tokens: usage.outputTokens,
      output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
      total_tokens: usage.inputTokens + usage.outputTokens,
    };
    const storedOutput = withKeptSearchResults(response.output, keptSearchResults) as unknown as StoredItem[];
    if (store) {
      await context.responses.finish(
        context.owner,
        response.id,
        status,
        { ...response, output: storedOutput },
        storedOutput,
      );
    }
    if (request.conversation && (status === 'completed' || status === 'incomplete')) {
      // One atomic append of this turn's input and output: a failed or cancelled response adds
      // nothing, and two responses racing on a conversation each add a contiguous batch.
      const appended = await context.conversations.appendItems(context.owner, request.conversation, [
        ...prepared.conversationInput,
        ...storedOutput,
      ]);
      if (!appended) context.logError?.(new Error(`conversation ${request.conversation} is gone`), 'turn not appended');
    }
    return response;
  };

  if (options.queued) {
    // A background response was stored as queued when it was accepted and claimed by the worker
    // (now in_progress); the object gets what preparing it added.
    await context.responses.updateStatus(context.owner, response.id, 'in_progress', cloneJson(response));
  } else if (store) {
    await context.responses.create(
      {
        id: response.id,
        owner: context.owner,
        createdAt: response.created_at,
        status: 'in_progress',
        previousResponseId: request.previousResponseId,
        response: cloneJson(response),
      },
      prepared.storedInput,
    );
  }

  /** Runs one file_search call of the model, streaming its `file_search_call` item. */
  const runFileSearchCall = async function* (
    argumentsText: string,
    firstNumber: number,
  ): AsyncGenerator<StreamEvent, { hits: SearchHit[]; output: string }> {
    const queries = readQueries(argumentsText);
    const item: FileSearchCallItem = {
      id: createId('fs'),
      type: 'file_search_call',
      status: 'in_progress',
      queries: [],
      results: null,
    };
    const opened = builder.openItem(item);
    const location = { output_index: opened.outputIndex, item_id: item.id };
    for (const payload of opened.events) yield stamp(payload);
    yield stamp({ type: 'response.file_search_call.in_progress', ...location });
    item.queries = queries;
    item.status = 'searching';
    yield stamp({ type: 'response.file_search_call.searching', ...location });
    let hits: SearchHit[] = [];
    let output: string;
    try {
      hits = await searchFiles(prepared.offered.fileSearch!, queries, {
        vectorStores: context.vectorStores!,
        embedder: context.embedder ?? null,
        owner: context.owner,
        signal: upstreamAbort.signal,
      });
      item.status = 'completed';
      output = formatHitsForModel(hits, firstNumber);
    } catch (error) {
      if (upstreamAbort.signal.aborted) throw error;
      context.logError?.(error, 'file search failed');
      item.status = 'failed';
      output = 'The file search failed; answer without it, and say that the files could not be searched.';
    }
    const results = hits.map((hit) => ({
      file_id: hit.fileId,
      filename: hit.filename,
      score: hit.score,
      attributes: hit.attributes,
      text: hit.text,
    }));
    // Kept with the stored response whatever `include` says, so a later turn's model sees what it
    // found; the client is shown them only when it asked.
    keptSearchResults.set(item.id, results);
    if (request.include.includes('file_search_call.results')) item.results = results;
    if (item.status === 'completed') yield stamp({ type: 'response.file_search_call.completed', ...location });
    for (const payload of builder.closeItem(opened.outputIndex)) yield stamp(payload);
    return { hits, output };
  };

  try {
    if (!options.queued) yield stamp({ type: 'response.created', response: cloneJson(response) });
    yield stamp({ type: 'response.in_progress', response: cloneJson(response) });

    let failure: ApiError | null = null;
    let finishReason: ModelEvent & { type: 'finish' } = { type: 'finish', reason: 'stop' };
    try {
      // Automatic compaction (context_management): past its threshold, the input is summarised
      // first and the compaction item leads the output.
      const compacted = await maybeCompact(prepared, request, context, { signal: upstreamAbort.signal });
      if (compacted.compactionItem) {
        for (const payload of builder.addCompleteItem(compacted.compactionItem)) yield stamp(payload);
        addUsage(compactionUsage, compacted.usage);
      }
      sentItems = compacted.items;
      // The agent loop: built-in tools the model calls (file_search) run here and the model is
      // called again with their results; the response ends when it answers without them.
      const sources: CitableSource[] = [];
      let citations: CitationFilter | null = null;
      const emitText = function* (delta: string): Generator<StreamEvent> {
        if (!citations) {
          for (const payload of builder.accept({ type: 'text-delta', delta })) yield stamp(payload);
          return;
        }
        yield* emitFiltered(citations.push(delta));
      };
      const emitFiltered = function* (filtered: FilteredText): Generator<StreamEvent> {
        let cursor = 0;
        for (const citation of filtered.citations) {
          const before = filtered.text.slice(cursor, citation.offset);
          if (before) for (const payload of builder.accept({ type: 'text-delta', delta: before })) yield stamp(payload);
          for (const payload of builder.addCitation(citation.source.fileId, citation.source.filename))
            yield stamp(payload);
          cursor = citation.offset;
        }
        const rest = filtered.text.slice(cursor);
        if (rest) for (const payload of builder.accept({ type: 'text-delta', delta: rest })) yield stamp(payload);
      };
      for (let step = 0; ; step++) {
        const serverCalls = new Map<number, { callId: string; arguments: string }>();
        let clientCalls = 0;
        // Past the step limit the model must answer with what it has.
        const toolsOff = step >= MAX_SERVER_TOOL_STEPS;
        // A tool_choice that forces a call ('required', a named tool) was met by the calls already
        // run; forcing it again would only make the model search again until the step limit.
        const attempts = modelAttempts(request, prepared, sentItems, context, upstreamAbort.signal, {
          toolsOff,
          choiceMet: step > 0,
        });
        for await (const attemptStep of attempts) {
          if (attemptStep.kind === 'usage') {
            sawUsage = true;
            addUsage(usage, attemptStep.usage);
            continue;
          }
          if (attemptStep.kind === 'finish') {
            finishReason = attemptStep.event;
            continue;
          }
          const event = attemptStep.event;
          if (event.type === 'tool-call-start' && prepared.offered.byModelName.get(event.name)?.serverTool) {
            serverCalls.set(event.index, { callId: event.callId, arguments: '' });
          } else if (event.type === 'tool-call-delta' && serverCalls.has(event.index)) {
            serverCalls.get(event.index)!.arguments += event.delta;
          } else if (event.type === 'text-delta') {
            yield* emitText(event.delta);
          } else {
            if (event.type === 'tool-call-start') clientCalls++;
            for (const payload of builder.accept(event)) yield stamp(payload);
          }
        }
        if (citations) yield* emitFiltered(citations.flush());
        if (serverCalls.size === 0 || finishReason.reason === 'length') break;
        for (const payload of builder.finish('completed')) yield stamp(payload);
        for (const call of serverCalls.values()) {
          const searched = yield* runFileSearchCall(call.arguments, sources.length + 1);
          sources.push(...searched.hits.map((hit) => ({ fileId: hit.fileId, filename: hit.filename })));
          sentItems = [
            ...sentItems,
            { type: 'function_call', callId: call.callId, name: FILE_SEARCH_TOOL_NAME, arguments: call.arguments },
            { type: 'function_call_output', callId: call.callId, output: searched.output },
          ];
        }
        citations = new CitationFilter(sources);
        // Calls for the client to run end the response; the searches above are in its output.
        if (clientCalls > 0) break;
      }
    } catch (error) {
      if (context.signal.aborted) throw error;
      failure = toFailure(error, context);
    }

    if (failure) {
      for (const payload of builder.finish('incomplete')) yield stamp(payload);
      const final = await finish('failed', { error: { code: responseErrorCode(failure), message: failure.message } });
      yield stamp({ type: 'response.failed', response: final });
      return { response: final, failure };
    }
    const incompleteReason =
      finishReason.reason === 'length'
        ? 'max_output_tokens'
        : finishReason.reason === 'content_filter'
          ? 'content_filter'
          : null;
    for (const payload of builder.finish(incompleteReason ? 'incomplete' : 'completed')) yield stamp(payload);
    if (incompleteReason) {
      const final = await finish('incomplete', { incomplete_details: { reason: incompleteReason } });
      yield stamp({ type: 'response.incomplete', response: final });
      return { response: final, failure: null };
    }
    // The final Response is not changed after this event, so the event and the returned outcome
    // share it.
    const final = await finish('completed', {});
    yield stamp({ type: 'response.completed', response: final });
    return { response: final, failure: null };
  } finally {
    context.signal.removeEventListener('abort', onClientAbort);
    if (!finished) {
      // The consumer stopped early (client disconnected), the response was cancelled, or the
      // server is shutting down: stop the upstream and leave the stored response in a final
      // state with the output so far, never in_progress.
      upstreamAbort.abort(new Error('The response was stopped.'));
      builder.finish('incomplete');
      const reason: unknown = context.signal.reason;
      const ending =
        reason instanceof ResponseInterruption
          ? finish('failed', { error: { code: 'server_error', message: reason.message } })
          : finish('cancelled', {});
      await ending.catch((error: unknown) => context.logError?.(error, 'could not store a stopped response'));
    }
  }
}

/** Runs a stream to its end and returns the outcome — what `stream: false` answers with. */
export async function collectResponse(events: AsyncGenerator<StreamEvent, RunOutcome>): Promise<RunOutcome> {
  for (;;) {
    const next = await events.next();
    if (next.done) return next.value;
  }
}

type AttemptStep =
  | { kind: 'event'; event: ModelEvent }
  | { kind: 'usage'; usage: ModelUsage }
  | { kind: 'finish'; event: ModelEvent & { type: 'finish' } };

/** Output that did not hold to its strict schema after every attempt. */
class OutputValidationError extends Error {}

/**
 * Calls the model, holding output to strict schemas. Text streams live unless it must match a
 * strict JSON schema; tool calls are held until their arguments are checked. Output that does
 * not conform is sent back to the model with the reason, a bounded number of times; a retry
 * never re-emits kinds of output an earlier attempt already streamed.
 */
async function* modelAttempts(
  request: CreateResponseRequest,
  prepared: PreparedResponse,
  modelItems: ModelItem[],
  context: EngineContext,
  signal: AbortSignal,
  tooling: { toolsOff: boolean; choiceMet: boolean } = { toolsOff: false, choiceMet: false },
): AsyncGenerator<AttemptStep> {
  const format = request.text.format;
  const textSchema = format.type === 'json_schema' && format.strict === true ? format.schema : null;
  const maxAttempts = 1 + (context.structuredOutputRetries ?? 2);
  const baseRequest = modelRequest(request, prepared, signal);
  if (tooling.toolsOff) Object.assign(baseRequest, { tools: [], toolChoice: 'none' });
  else if (tooling.choiceMet && baseRequest.toolChoice !== 'none') baseRequest.toolChoice = 'auto';
  let items = modelItems;
  const streamed = { text: false, reasoning: false };

  for (let attempt = 1; ; attempt++) {
    const retry = attempt > 1;
    const held: ModelEvent[] = [];
    let finish: ModelEvent & { type: 'finish' } = { type: 'finish', reason: 'stop' };
    for await (const event of prepared.route.adapter.stream({ ...baseRequest, items })) {
      switch (event.type) {
        case 'usage':
          yield { kind: 'usage', usage: event.usage };
          break;
        case 'finish':
          finish = event;
          break;
        case 'text-delta':
        case 'refusal-delta':
          if (textSchema) held.push(event);
          else if (!(retry && streamed.text)) {
            streamed.text = true;
            yield { kind: 'event', event };
          }
          break;
        case 'reasoning-delta':
        case 'reasoning-summary-delta':
          if (!(retry && streamed.reasoning)) {
            streamed.reasoning = true;
            yield { kind: 'event', event };
          }
          break;
        case 'tool-call-start':
        case 'tool-call-delta':
          held.push(event);
          break;
      }
    }
    const violation = finish.reason === 'length' ? null : findViolation(held, textSchema, prepared.offered);
    if (violation === null) {
      for (const event of held) yield { kind: 'event', event };
      yield { kind: 'finish', event: finish };
      return;
    }
    if (attempt >= maxAttempts) {
      throw new OutputValidationError(
        `The model's output did not conform to the required schema after ${attempt} attempts: ${violation.reason}.`,
      );
    }
    items = [...modelItems, ...violation.feedback];
  }
}

interface Violation {
  reason: string;
  /** What the model is told before it tries again. */
  feedback: ModelItem[];
}

function findViolation(
  held: ModelEvent[],
  textSchema: Record<string, unknown> | null,
  offered: OfferedTools,
): Violation | null {
  let text = '';
  const calls = new Map<number, { callId: string; name: string; arguments: string }>();
  for (const event of held) {
    if (event.type === 'text-delta') text += event.delta;
    else if (event.type === 'tool-call-start')
      calls.set(event.index, { callId: event.callId, name: event.name, arguments: '' });
    else if (event.type === 'tool-call-delta') {
      const call = calls.get(event.index);
      if (call) call.arguments += event.delta;
    }
  }
  if (textSchema && text !== '' && calls.size === 0) {
    const reason = checkJsonText(text, textSchema);
    if (reason) {
      return {
        reason,
        feedback: [
          { type: 'message', role: 'assistant', content: [{ type: 'text', text }] },
          {
            type: 'message',
            role: 'user',
            content: [
              {
                type: 'text',
                text: `Your reply did not match the required JSON schema (${reason}). Reply again with only JSON that matches the schema.`,
              },
            ],
          },
        ],
      };
    }
  }
  for (const call of calls.values()) {
    const tool = offered.byModelName.get(call.name);
    const reason = !tool
      ? `the model called '${call.name}', which is not one of the offered tools`
      : tool.strictSchema
        ? checkJsonText(call.arguments, tool.strictSchema)
        : null;
    if (reason) {
      return {
        reason: `tool call '${call.name}': ${reason}`,
        feedback: [
          { type: 'function_call', callId: call.callId, name: call.name, arguments: call.arguments },
          {
            type: 'function_call_output',
            callId: call.callId,
            output: `Error: this call was not run because ${reason}. Call the tool again with arguments that match its schema.`,
          },
        ],
      };
    }
  }
  return null;
}

function modelRequest(
  request: CreateResponseRequest,
  prepared: PreparedResponse,
  signal: AbortSignal,
): Omit<ModelRequest, 'items'> {
  const format = request.text.format;
  return {
    model: prepared.route.upstreamModel,
    tools: request.toolChoice === 'none' ? [] : prepared.offered.tools.map((tool) => tool.tool),
    toolChoice: prepared.offered.toolChoice,
    parallelToolCalls: request.parallelToolCalls,
    textFormat:
      format.type === 'json_schema'
        ? {
            type: 'json_schema',
            name: format.name,
            description: format.description ?? null,
            schema: format.schema,
            strict: format.strict === true,
          }
        : format,
    verbosity: request.text.verbosity,
    reasoning: request.reasoning,
    temperature: request.temperature,
    topP: request.topP,
    maxOutputTokens: request.maxOutputTokens,
    topLogprobs: request.topLogprobs,
    user: request.safetyIdentifier ?? request.user,
    promptCacheKey: request.promptCacheKey,
    signal,
    // Background responses stream their events to followers; foreground ones with stream: false
    // show nothing until they end.
    incremental: request.stream || request.background,
  };
}

function addUsage(total: ModelUsage, usage: ModelUsage): void {
  total.inputTokens += usage.inputTokens;
  total.outputTokens += usage.outputTokens;
  total.cachedInputTokens += usage.cachedInputTokens;
  total.reasoningTokens += usage.reasoningTokens;
}

/** When an upstream reports no usage, estimate it (about four characters a token) rather than report zero. */
function estimateUsage(usage: ModelUsage, items: ModelItem[], builder: OutputBuilder): void {
  usage.inputTokens = Math.ceil(JSON.stringify(items).length / 4);
  usage.outputTokens = Math.ceil(JSON.stringify(builder.output).length / 4);
}

function toFailure(error: unknown, context: EngineContext): ApiError {
  if (error instanceof UpstreamError) return error.toApiError();
  if (error instanceof ApiError) return error;
  if (error instanceof OutputValidationError) return serverError(error.message);
  context.logError?.(error, 'response failed unexpectedly');
  return serverError();
}

/** The `error.code` of a failed Response must be one of the spec's ResponseErrorCode values. */
function responseErrorCode(failure: ApiError): string {
  if (failure.code === 'rate_limit_exceeded') return 'rate_limit_exceeded';
  if (failure.status === 400) return 'invalid_prompt';
  return 'server_error';
}

/** The output as stored: file_search_call items carry their results, asked for or not. */
function withKeptSearchResults(
  output: OutputItem[],
  kept: Map<string, NonNullable<FileSearchCallItem['results']>>,
): OutputItem[] {
  if (kept.size === 0) return output;
  return output.map((item) => {
    const results = item.type === 'file_search_call' ? kept.get(item.id) : undefined;
    return results === undefined ? item : { ...item, results };
  });
}
