import type { FastifyInstance } from 'fastify';
import type { AppDependencies } from '../../app.ts';
import { abortOnDisconnect, engineContextFor } from '../engine-context-for.ts';
import { countInputTokens } from '../../engine/count-tokens.ts';
import { fitContext } from '../../engine/fit-context.ts';
import { parseCreateResponse } from '../../engine/parse-create-response.ts';
import { prepareResponse } from '../../engine/prepare-response.ts';
import type { ModelRoute } from '../../engine/model-router.ts';
import { ApiError, describeJsonType, invalidRequest, invalidType } from '../../errors/api-error.ts';
import type { ModelItem, ModelTool } from '../../providers/model-adapter.ts';

/**
 * The fields of the spec's TokenCountsBody, a subset of CreateResponse (plus `personality`, which
 * Riposte accepts and ignores: it shapes the model's style, not the input's size). Anything else
 * — `stream`, `store`, `max_output_tokens` — is not part of a count and is left out rather than
 * refused, as parseCreateResponse does with unknown fields.
 */
const COUNTED_FIELDS = [
  'model',
  'input',
  'instructions',
  'tools',
  'tool_choice',
  'previous_response_id',
  'conversation',
  'text',
  'reasoning',
  'truncation',
  'parallel_tool_calls',
] as const;

/**
 * `POST /v1/responses/input_tokens`: the input tokens a `POST /v1/responses` with this body would
 * send, counted after the same preparation (instructions, the previous_response_id chain or
 * conversation, item references, tools) and, with `truncation: "auto"`, the same truncation.
 */
export function registerInputTokenRoutes(app: FastifyInstance, dependencies: AppDependencies): void {
  app.post('/v1/responses/input_tokens', async (request, reply) => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw invalidRequest(
        null,
        `Invalid type for the request body: expected an object, but got ${describeJsonType(body)} instead.`,
        'invalid_type',
      );
    }
    const fields = body as Record<string, unknown>;
    if (fields.personality !== undefined && fields.personality !== null && typeof fields.personality !== 'string') {
      throw invalidType('personality', 'a string', fields.personality);
    }
    const counted: Record<string, unknown> = {};
    for (const field of COUNTED_FIELDS) if (field in fields) counted[field] = fields[field];
    const parsed = parseCreateResponse(counted);

    const abort = abortOnDisconnect(reply);
    const context = engineContextFor(dependencies, request, abort.signal);
    // Counting is useful even for input that would not fit, so prepare without the context check.
    const prepared = await prepareResponse(parsed, context, { fitToContext: false });
    // The tools exactly as a response would offer them: none at all under tool_choice "none".
    const tools = parsed.toolChoice === 'none' ? [] : prepared.offered.tools.map((tool) => tool.tool);
    const items =
      parsed.truncation === 'auto'
        ? await truncatedOrAll(prepared.modelItems, prepared.route, tools, abort.signal)
        : prepared.modelItems;
    const inputTokens = await countInputTokens(prepared.route, items, tools, abort.signal);
    return reply.send({ object: 'response.input_tokens', input_tokens: inputTokens });
  });
}

/**
 * What a response with `truncation: "auto"` would send. When even the minimum does not fit, the
 * response would fail; a count is still useful then, so the whole input is counted.
 */
async function truncatedOrAll(
  items: ModelItem[],
  route: ModelRoute,
  tools: ModelTool[],
  signal: AbortSignal,
): Promise<ModelItem[]> {
  try {
    return (await fitContext(items, route, { truncation: 'auto', maxOutputTokens: null, tools, signal })).items;
  } catch (error) {
    if (error instanceof ApiError && error.code === 'context_length_exceeded') return items;
    throw error;
  }
}
