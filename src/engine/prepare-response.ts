import { invalidRequest, modelNotFound, notFound } from '../errors/api-error.ts';
import type { ModelItem } from '../providers/model-adapter.ts';
import type { StoredItem } from '../storage/stores.ts';
import type { ResponseObject } from '../wire/response-types.ts';
import { promptEcho } from './apply-prompt.ts';
import { convertItems, dropCompactedItems } from './convert-items.ts';
import type { CreateResponseRequest } from './create-response-request.ts';
import type { EngineContext } from './engine-context.ts';
import { fitContext } from './fit-context.ts';
import { createId } from './ids.ts';
import { resolveInputFiles, type InputFiles } from './resolve-input-files.ts';
import { toStoredItems } from './stored-items.ts';
import type { ModelRoute } from './model-router.ts';
import { checkVectorStores } from '../tools/file-search/file-search-tool.ts';
import { offerTools, type OfferedTools } from './offered-tools.ts';

const MAX_CHAIN_DEPTH = 10_000;

/** A request made ready to run: routed, tools offered, everything the model will see gathered. */
export interface PreparedResponse {
  route: ModelRoute;
  offered: OfferedTools;
  modelItems: ModelItem[];
  storedInput: StoredItem[];
  /** The input items a conversation gains when this response ends (referenced ones are already in it). */
  conversationInput: StoredItem[];
  /** The Files the items name by file_id, read once. */
  files: InputFiles;
  response: ResponseObject;
}

/**
 * Everything that can fail because of the request, done before the first event: routing, tools,
 * the previous_response_id chain, item references, fitting the context window (unless
 * `fitToContext` is false, for counting). Throws ApiErrors; stores nothing.
 */
export async function prepareResponse(
  request: CreateResponseRequest,
  context: EngineContext,
  options: { fitToContext?: boolean; identity?: { responseId: string; createdAt: number } | undefined } = {},
): Promise<PreparedResponse> {
  const model = request.model as string;
  const route = context.router.resolve(model);
  if (!route) throw modelNotFound(model);
  const offered = offerTools(request.tools, request.toolChoice);
  if (offered.fileSearch) {
    const param = `tools[${request.tools.findIndex((tool) => tool.type === 'file_search')}]`;
    if (!context.vectorStores)
      throw invalidRequest(`${param}.type`, 'file_search is not available on this server.', 'unsupported_tool');
    await checkVectorStores(offered.fileSearch, context.vectorStores, context.owner, param);
  }

  const chain = request.previousResponseId ? await loadChain(request.previousResponseId, context) : [];
  let history: StoredItem[] = [];
  if (request.conversation) {
    const conversation = await context.conversations.get(context.owner, request.conversation);
    if (!conversation) throw notFound('Conversation', request.conversation, 'conversation');
    history = await context.conversations.allItems(context.owner, request.conversation);
  }
  const conversationItemIds = new Set(history.map((item) => item.id));
  const storedInput = await toStoredItems(
    request.input,
    (id) => context.responses.findItem(context.owner, id),
    'input',
  );
  // This turn's input is appended to the conversation when it ends; an id the conversation
  // already holds would make that append fail after the model ran, so refuse it now.
  storedInput.forEach((item, index) => {
    if (conversationItemIds.has(item.id) && request.input[index]?.type !== 'item_reference') {
      throw invalidRequest(
        `input[${index}].id`,
        `Item with id '${item.id}' is already in conversation '${request.conversation}'.`,
        'invalid_value',
      );
    }
  });
  const chainItems = chain.map((link) => [...link.input, ...link.output]);
  const files = await resolveInputFiles(
    [
      { items: Array.isArray(request.instructions) ? request.instructions : [], param: 'instructions', required: true },
      { items: storedInput, param: 'input', required: true },
      { items: chainItems.flat(), param: 'previous_response_id', required: false },
      { items: history, param: 'conversation', required: false },
    ],
    context.files,
    context.owner,
  );

  const convertOptions = { sealer: context.sealer, owner: context.owner, files };
  const modelItems: ModelItem[] = [];
  if (typeof request.instructions === 'string' && request.instructions !== '') {
    modelItems.push({ type: 'message', role: 'developer', content: [{ type: 'text', text: request.instructions }] });
  } else if (Array.isArray(request.instructions)) {
    modelItems.push(...convertItems(request.instructions, convertOptions, 'instructions'));
  }
  for (const items of chainItems) modelItems.push(...convertItems(items, convertOptions, 'previous_response_id'));
  modelItems.push(...convertItems(history, convertOptions, 'conversation'));
  modelItems.push(...convertItems(storedInput, convertOptions, 'input'));

  const now = context.now ?? Date.now;
  const response: ResponseObject = {
    id: options.identity?.responseId ?? createId('resp'),
    object: 'response',
    created_at: options.identity?.createdAt ?? Math.floor(now() / 1000),
    status: 'in_progress',
    background: request.background,
    completed_at: null,
    error: null,
    incomplete_details: null,
    instructions: request.instructions,
    max_output_tokens: request.maxOutputTokens,
    max_tool_calls: request.maxToolCalls,
    model,
    output: [],
    output_text: '',
    parallel_tool_calls: request.parallelToolCalls,
    previous_response_id: request.previousResponseId,
    prompt: promptEcho(request),
    prompt_cache_key: request.promptCacheKey,
    prompt_cache_retention: request.promptCacheRetention,
    reasoning: request.reasoning ?? { effort: null, summary: null },
    safety_identifier: request.safetyIdentifier,
    service_tier: request.serviceTier === 'auto' ? 'default' : request.serviceTier,
    store: request.store,
    temperature: request.temperature ?? 1,
    text: { format: request.text.format as unknown as Record<string, unknown>, verbosity: request.text.verbosity },
    tool_choice: request.toolChoice,
    tools: request.tools,
    top_logprobs: request.topLogprobs ?? 0,
    top_p: request.topP ?? 1,
    truncation: request.truncation,
    usage: null,
    user: request.user,
    metadata: request.metadata,
    conversation: request.conversation ? { id: request.conversation } : null,
    moderation: null,
    // prompt_cache_options is left out: the spec does not allow null there, and Riposte applies
    // no prompt-cache options it could truthfully report.
  };
  const conversationInput = storedInput.filter((item) => !conversationItemIds.has(item.id));
  // Items before the latest compaction (anywhere in chain, conversation or input) are not sent twice.
  // Then the input must fit the context window: truncated ("auto") or refused ("disabled") here,
  // before any upstream call.
  const uncompacted = dropCompactedItems(modelItems);
  const fitted =
    options.fitToContext === false
      ? uncompacted
      : (
          await fitContext(uncompacted, route, {
            truncation: request.truncation,
            maxOutputTokens: request.maxOutputTokens,
            tools: request.toolChoice === 'none' ? [] : offered.tools.map((tool) => tool.tool),
            signal: context.signal,
          })
        ).items;
  return { route, offered, modelItems: fitted, storedInput, conversationInput, files, response };
}

/** The earlier turns of a `previous_response_id` chain, oldest first. */
async function loadChain(
  previousResponseId: string,
  context: EngineContext,
): Promise<Array<{ input: StoredItem[]; output: StoredItem[] }>> {
  const previous = await context.responses.get(context.owner, previousResponseId);
  if (!previous) throw notFound('Previous response', previousResponseId, 'previous_response_id');
  if (previous.status === 'in_progress' || previous.status === 'queued') {
    throw invalidRequest(
      'previous_response_id',
      `Previous response with id '${previousResponseId}' is still ${previous.status}; wait for it to finish before continuing from it.`,
    );
  }
  const links: Array<{ input: StoredItem[]; output: StoredItem[] }> = [];
  let current: typeof previous | null = previous;
  while (current && links.length < MAX_CHAIN_DEPTH) {
    const link = await context.responses.chainLink(context.owner, current.id);
    if (!link) break;
    links.push(link);
    current = current.previousResponseId
      ? await context.responses.get(context.owner, current.previousResponseId)
      : null;
  }
  return links.reverse();
}
