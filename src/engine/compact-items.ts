import { isDeepStrictEqual } from 'node:util';
import { invalidRequest, notFound } from '../errors/api-error.ts';
import { UpstreamError } from '../errors/upstream-error.ts';
import type { ModelItem, ModelRequest, ModelTool, ModelUsage } from '../providers/model-adapter.ts';
import type { StoredItem } from '../storage/stores.ts';
import type { CompactedResponse, CompactionItem, ResponseUsage } from '../wire/response-types.ts';
import { convertItems, expandCompaction, isCompactionSummary, sealCompaction } from './convert-items.ts';
import type { CreateResponseRequest } from './create-response-request.ts';
import type { EngineContext } from './engine-context.ts';
import { createId } from './ids.ts';
import type { ModelRoute } from './model-router.ts';
import { parseCreateResponse } from './parse-create-response.ts';
import { prepareResponse, type PreparedResponse } from './prepare-response.ts';
import type { InputFiles } from './resolve-input-files.ts';

/*
 * Compaction: the conversation so far is summarised by the routed model itself, and the summary,
 * sealed for its owner together with the user, system and developer messages (so that the
 * compaction item alone carries the context, as OpenAI's does), replaces the rest. Served two
 * ways — on demand by POST /v1/responses/compact (compactResponse), and automatically inside a
 * response when `context_management` sets a threshold the input crosses (maybeCompact).
 */

/**
 * What the model is asked, as the last user message after the whole conversation. A user message
 * because it is the turn every chat template lets come last; after the conversation so the
 * upstream's prompt cache still holds the conversation's prefix.
 */
export const SUMMARY_INSTRUCTION = [
  'Context checkpoint: the conversation above is about to be compacted, and your summary will replace it.',
  'Write a concise but complete summary of everything above that is needed to continue the work: the goal and',
  'constraints, decisions made and why, facts learned, names of files, functions, commands and identifiers that',
  'matter, results of tool calls that matter (keep exact values, paths and error messages), what has been done, and',
  'the open tasks and next steps. The user, system and developer messages will be kept word for word, so do not',
  'repeat them; describe what happened in response to them.',
  'Reply with the summary only, in plain text, with no preamble.',
].join(' ');

/** The part of the input a compaction replaced, and what stands for it now. */
export interface Compaction {
  /**
   * What the model sees instead of the compacted items: the instructions, then what the compaction
   * item expands to in a later turn's input (the kept messages, then the summary note).
   */
  modelItems: ModelItem[];
  /** The `compaction` item to return: `{type, id: 'cmp_…', encrypted_content}`. */
  item: CompactionItem;
  /** Tokens the summarising call used (reported by the upstream, or estimated). */
  usage: ModelUsage;
}

export interface CompactOptions {
  route: ModelRoute;
  sealer: EngineContext['sealer'];
  owner: string;
  signal: AbortSignal;
  /**
   * How many items at the head of `items` are the request's `instructions`: the summariser sees
   * them and they stay in front of the compacted items, but they are not sealed into the
   * compaction item — instructions are not carried over, and the next request brings its own.
   */
  instructionCount: number;
  /** Tools of the request, offered with tool_choice none: some upstreams refuse tool calls in history without them, and they keep the prompt prefix cacheable. */
  tools?: ModelTool[];
  user?: string | null;
  promptCacheKey?: string | null;
}

/**
 * Summarises `items` (what the model would be given) with the routed model and returns the
 * compacted items: the instructions, then the system, developer and user messages in order, then
 * the summary. The `compaction` item carries the messages and the summary, sealed with purpose
 * 'compaction' for `owner` (see CompactionPayload in convert-items.ts).
 */
export async function compactModelItems(items: ModelItem[], options: CompactOptions): Promise<Compaction> {
  const request: ModelRequest = {
    model: options.route.upstreamModel,
    items: [...items, { type: 'message', role: 'user', content: [{ type: 'text', text: SUMMARY_INSTRUCTION }] }],
    tools: options.tools ?? [],
    toolChoice: 'none',
    parallelToolCalls: false,
    textFormat: { type: 'text' },
    verbosity: null,
    reasoning: null,
    temperature: null,
    topP: null,
    maxOutputTokens: null,
    topLogprobs: null,
    user: options.user ?? null,
    promptCacheKey: options.promptCacheKey ?? null,
    signal: options.signal,
  };
  let summary = '';
  let usage: ModelUsage | null = null;
  for await (const event of options.route.adapter.stream(request)) {
    // Reasoning and (refused) tool calls are not part of the summary; only the text is.
    if (event.type === 'text-delta') summary += event.delta;
    else if (event.type === 'usage') usage = addUsage(usage, event.usage);
  }
  summary = summary.trim();
  if (summary === '') {
    throw new UpstreamError({
      message: 'The model returned no summary text when asked to compact the conversation.',
      code: 'upstream_error',
      retryable: false,
    });
  }
  const instructions = items.slice(0, options.instructionCount);
  // The items have been through dropCompactedItems, so the messages an earlier compaction carried
  // are among them, in its place: the new compaction carries them on.
  const kept = items.slice(options.instructionCount).filter(isKeptMessage);
  return {
    modelItems: [...instructions, ...expandCompaction({ version: 2, summary, messages: kept })],
    item: {
      type: 'compaction',
      id: createId('cmp'),
      encrypted_content: sealCompaction(options.sealer, options.owner, summary, kept),
    },
    usage: usage ?? {
      inputTokens: estimateTokens(request.items, request.tools),
      outputTokens: Math.ceil(summary.length / CHARACTERS_PER_TOKEN),
      cachedInputTokens: 0,
      reasoningTokens: 0,
    },
  };
}

/** The body fields of POST /v1/responses/compact (spec: CompactResponseMethodPublicBody). */
const COMPACT_BODY_FIELDS = [
  'model',
  'input',
  'previous_response_id',
  'instructions',
  'prompt_cache_key',
  'prompt_cache_retention',
  'prompt_cache_options',
  'service_tier',
] as const;

/**
 * Validates a compact body with the rules and `param` names of POST /v1/responses, whose fields
 * it shares. Fields of CreateResponse the compact endpoint does not take (tools, stream…) are
 * ignored, as unknown fields are elsewhere.
 */
export function parseCompactRequest(body: unknown): CreateResponseRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return parseCreateResponse(body);
  const picked: Record<string, unknown> = {};
  for (const field of COMPACT_BODY_FIELDS) {
    if (field in body) picked[field] = (body as Record<string, unknown>)[field];
  }
  return parseCreateResponse({ ...picked, store: false });
}

/**
 * POST /v1/responses/compact: the request's context (previous_response_id chain, then input)
 * compacted into every user message, verbatim and in order, followed by one compaction item —
 * what OpenAI returns ("a list of all user messages, followed by a single compaction item").
 * Nothing is stored.
 */
export async function compactResponse(
  request: CreateResponseRequest,
  context: EngineContext,
): Promise<CompactedResponse> {
  const prepared = await prepareResponse(request, context);
  const wireItems = [...(await loadChainItems(request.previousResponseId, context)), ...prepared.storedInput];
  if (wireItems.length === 0) {
    throw invalidRequest(
      'input',
      "Nothing to compact: give 'input' or 'previous_response_id'.",
      'missing_required_parameter',
    );
  }
  const compaction = await compactModelItems(prepared.modelItems, {
    route: prepared.route,
    sealer: context.sealer,
    owner: context.owner,
    signal: context.signal,
    instructionCount: countInstructionItems(prepared.modelItems, request, context, prepared.files),
    user: request.safetyIdentifier ?? request.user,
    promptCacheKey: request.promptCacheKey,
  });
  const now = context.now ?? Date.now;
  return {
    id: createId('resp'),
    object: 'response.compaction',
    created_at: Math.floor(now() / 1000),
    output: [...wireItems.filter(isUserMessage), compaction.item],
    usage: toResponseUsage(compaction.usage),
  };
}

/** What maybeCompact hands back to the engine loop. */
export interface MaybeCompacted {
  /** The items to send to the model: compacted, or `prepared.modelItems` unchanged. */
  items: ModelItem[];
  /** The `compaction` output item to emit before the model's output; null when nothing was compacted. */
  compactionItem: CompactionItem | null;
  /** Tokens the summarising call used; zero when nothing was compacted. */
  usage: ModelUsage;
}

export interface MaybeCompactOptions {
  /** Aborts the summarising call; defaults to `context.signal`. */
  signal?: AbortSignal;
  /** Counts the input tokens of a request; defaults to an estimate of four characters a token. */
  countTokens?: (route: ModelRoute, items: ModelItem[], tools: ModelTool[], signal: AbortSignal) => Promise<number>;
}

/**
 * Automatic compaction (`context_management: [{type: 'compaction', compact_threshold}]` on
 * POST /v1/responses): when the input the model would get counts more tokens than the
 * threshold, it is compacted first. Without a threshold, 80% of the route's context window.
 * Throws what the summarising call throws (an UpstreamError), for the engine to fail the response.
 */
export async function maybeCompact(
  prepared: PreparedResponse,
  request: CreateResponseRequest,
  context: EngineContext,
  options: MaybeCompactOptions = {},
): Promise<MaybeCompacted> {
  const unchanged: MaybeCompacted = { items: prepared.modelItems, compactionItem: null, usage: zeroUsage() };
  const threshold = compactThreshold(request, prepared.route);
  if (threshold === null || !hasCompactableItems(prepared.modelItems)) return unchanged;
  const signal = options.signal ?? context.signal;
  const tools = request.toolChoice === 'none' ? [] : prepared.offered.tools.map((tool) => tool.tool);
  const count = options.countTokens ?? estimateInputTokens;
  if ((await count(prepared.route, prepared.modelItems, tools, signal)) <= threshold) return unchanged;
  const compaction = await compactModelItems(prepared.modelItems, {
    route: prepared.route,
    sealer: context.sealer,
    owner: context.owner,
    signal,
    instructionCount: countInstructionItems(prepared.modelItems, request, context, prepared.files),
    tools,
    user: request.safetyIdentifier ?? request.user,
    promptCacheKey: request.promptCacheKey,
  });
  return { items: compaction.modelItems, compactionItem: compaction.item, usage: compaction.usage };
}

/** Share of the context window that triggers compaction when `compact_threshold` is not given. */
const DEFAULT_THRESHOLD_SHARE = 0.8;

/** The token threshold of the request's compaction entry, or null when it asks for none. */
export function compactThreshold(request: CreateResponseRequest, route: ModelRoute): number | null {
  const entry = request.contextManagement?.find((candidate) => candidate.type === 'compaction');
  if (!entry) return null;
  return typeof entry.compact_threshold === 'number'
    ? entry.compact_threshold
    : Math.floor(route.contextWindow * DEFAULT_THRESHOLD_SHARE);
}

/** Only assistant turns, tool calls and outputs, reasoning and older summaries can be compacted. */
function hasCompactableItems(items: ModelItem[]): boolean {
  return items.some((item) => item.type !== 'message' || item.role === 'assistant' || isCompactionSummary(item));
}

const CHARACTERS_PER_TOKEN = 4;

/** Roughly four characters a token; images and files at a flat cost rather than their bytes. */
export function estimateTokens(items: ModelItem[], tools: ModelTool[]): number {
  let characters = JSON.stringify(tools).length;
  let flatTokens = 0;
  for (const item of items) {
    const parts =
      item.type === 'message'
        ? item.content
        : (item.type === 'function_call_output' || item.type === 'custom_tool_call_output') &&
            typeof item.output !== 'string'
          ? item.output
          : null;
    if (parts === null) {
      characters += JSON.stringify(item).length;
      continue;
    }
    for (const part of parts) {
      if (part.type === 'text') characters += part.text.length;
      else flatTokens += FLAT_PART_TOKENS;
    }
  }
  return Math.ceil(characters / CHARACTERS_PER_TOKEN) + flatTokens;
}

/** An image or file, whose bytes say little about its tokens. */
const FLAT_PART_TOKENS = 1000;

async function estimateInputTokens(_route: ModelRoute, items: ModelItem[], tools: ModelTool[]): Promise<number> {
  return estimateTokens(items, tools);
}

/** A message compaction keeps word for word: user, system and developer ones, but not a summary note. */
function isKeptMessage(item: ModelItem): item is Extract<ModelItem, { type: 'message' }> {
  return item.type === 'message' && item.role !== 'assistant' && !isCompactionSummary(item);
}

/**
 * How many of `items` (prepared model items) are the request's `instructions`: prepareResponse
 * puts them first. Matched by content rather than counted, since dropCompactedItems drops an
 * instruction at the head when a compaction carries the same message (it then comes back in the
 * compaction's place, and is a conversation message to seal again).
 */
function countInstructionItems(
  items: ModelItem[],
  request: CreateResponseRequest,
  context: EngineContext,
  files: InputFiles,
): number {
  let instructions: ModelItem[] = [];
  if (typeof request.instructions === 'string' && request.instructions !== '') {
    instructions = [{ type: 'message', role: 'developer', content: [{ type: 'text', text: request.instructions }] }];
  } else if (Array.isArray(request.instructions)) {
    instructions = convertItems(
      request.instructions,
      { sealer: context.sealer, owner: context.owner, files },
      'instructions',
    );
  }
  let count = 0;
  while (count < instructions.length && isDeepStrictEqual(items[count], instructions[count])) count += 1;
  return count;
}

function isUserMessage(item: StoredItem): boolean {
  return item.type === 'message' && item.role === 'user';
}

/**
 * The stored items of a previous_response_id chain, oldest first, as they were sent and returned:
 * the compacted output repeats the chain's user messages verbatim, ids included.
 * prepareResponse has already checked the chain exists and is finished.
 */
async function loadChainItems(previousResponseId: string | null, context: EngineContext): Promise<StoredItem[]> {
  const links: StoredItem[][] = [];
  let responseId = previousResponseId;
  while (responseId !== null) {
    const link = await context.responses.chainLink(context.owner, responseId);
    const stored = await context.responses.get(context.owner, responseId);
    if (!link || !stored) {
      if (links.length === 0) throw notFound('Previous response', responseId, 'previous_response_id');
      break;
    }
    links.push([...link.input, ...link.output]);
    responseId = stored.previousResponseId;
  }
  return links.reverse().flat();
}

function addUsage(total: ModelUsage | null, usage: ModelUsage): ModelUsage {
  return {
    inputTokens: (total?.inputTokens ?? 0) + usage.inputTokens,
    outputTokens: (total?.outputTokens ?? 0) + usage.outputTokens,
    cachedInputTokens: (total?.cachedInputTokens ?? 0) + usage.cachedInputTokens,
    reasoningTokens: (total?.reasoningTokens ?? 0) + usage.reasoningTokens,
  };
}

function zeroUsage(): ModelUsage {
  return { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, reasoningTokens: 0 };
}

function toResponseUsage(usage: ModelUsage): ResponseUsage {
  return {
    input_tokens: usage.inputTokens,
    input_tokens_details: { cached_tokens: usage.cachedInputTokens, cache_write_tokens: 0 },
    output_tokens: usage.outputTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}
