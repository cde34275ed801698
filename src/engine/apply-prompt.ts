import { ApiError, invalidRequest, missingParameter, notFound } from '../errors/api-error.ts';
import type { PromptStore } from '../storage/stores.ts';
import type { CreateResponseRequest, InputItem } from './create-response-request.ts';
import { checkToolChoiceAgainstTools, parsePromptConfiguration } from './parse-create-response.ts';

/*
 * Reusable prompts: `prompt: {id, version, variables}` in a request applies a stored prompt's
 * configuration, as OpenAI's dashboard prompts do.
 *
 * - The prompt's developer instructions and messages become the request's `instructions` — a
 *   list of input messages when the prompt has messages — rather than being prepended to
 *   `input`. The model sees the same thing on a single turn; but instructions are neither stored
 *   as input items nor carried along a previous_response_id chain, so a prompt given again on
 *   the next turn is not seen twice, and `input_items` lists what the client sent. OpenAI's
 *   Response likewise echoes a prompt's messages in `instructions`.
 * - Every other field the prompt sets (model, tools, tool_choice, text.format, text.verbosity,
 *   reasoning, sampling, limits, truncation, include) applies unless the request set it itself;
 *   `instructions` in the request replace the prompt's developer instructions, its messages stay.
 * - `{{name}}` in the instructions and message texts is replaced by the variable: a string, or
 *   an input_text / input_image / input_file part. An image or file splits the text part it
 *   sits in. A variable the prompt uses but the request does not give is refused (400), and so
 *   is one the request gives but the prompt does not use — a misspelt name would otherwise
 *   silently leave the placeholder in.
 */

type JsonObject = Record<string, unknown>;
type Variables = Record<string, unknown>;

/** `{{name}}` or `{{ name }}`; the name as OpenAI's dashboard allows it. */
const VARIABLE_PATTERN = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/**
 * The request with `request.prompt` applied (unchanged when there is none): the stored prompt's
 * configuration merged in, its variables substituted, and `prompt.version` set to the version
 * used. Throws ApiErrors naming `prompt.id` (404), `prompt.version`, `prompt.variables.<name>`
 * or `model` (400). Reads the store; writes nothing.
 */
export async function applyPrompt(
  request: CreateResponseRequest,
  prompts: PromptStore,
  owner: string,
): Promise<CreateResponseRequest> {
  if (!request.prompt) return request;
  const { id, version, variables } = request.prompt;
  const stored = await prompts.getVersion(owner, id, version);
  if (!stored) {
    if (version !== null && (await prompts.get(owner, id))) {
      throw invalidRequest('prompt.version', `Prompt '${id}' has no version '${version}'.`, 'invalid_value');
    }
    throw notFound('Prompt', id, 'prompt.id');
  }
  const configuration = readConfiguration(stored.body, id, stored.version);
  checkVariables(configuration, variables);

  const promptInstructions =
    configuration.instructions === null ? null : substituteInText(configuration.instructions as string, variables);
  const promptMessages = configuration.input.map((message) => substituteInMessage(message, variables));

  const requestSet = fieldChecker(request);
  const promptSet = fieldChecker(configuration);
  function pick<K extends keyof CreateResponseRequest>(wireName: string, key: K): CreateResponseRequest[K] {
    if (requestSet(wireName, key)) return request[key];
    return promptSet(wireName, key) ? configuration[key] : request[key];
  }

  const model = request.model ?? configuration.model;
  if (model === null) throw missingParameter('model');
  const tools = pick('tools', 'tools');
  const toolChoice = pick('tool_choice', 'toolChoice');
  checkToolChoiceAgainstTools(toolChoice, tools);
  const developer = requestSet('instructions', 'instructions') ? request.instructions : promptInstructions;

  return {
    ...request,
    model,
    instructions: combineInstructions(developer, promptMessages),
    tools,
    toolChoice,
    parallelToolCalls: pick('parallel_tool_calls', 'parallelToolCalls'),
    text: {
      format:
        requestSet('text.format', 'text') || !promptSet('text.format', 'text')
          ? request.text.format
          : configuration.text.format,
      verbosity:
        requestSet('text.verbosity', 'text') || !promptSet('text.verbosity', 'text')
          ? request.text.verbosity
          : configuration.text.verbosity,
    },
    reasoning: pick('reasoning', 'reasoning'),
    temperature: pick('temperature', 'temperature'),
    topP: pick('top_p', 'topP'),
    topLogprobs: pick('top_logprobs', 'topLogprobs'),
    maxOutputTokens: pick('max_output_tokens', 'maxOutputTokens'),
    maxToolCalls: pick('max_tool_calls', 'maxToolCalls'),
    truncation: pick('truncation', 'truncation'),
    include: pick('include', 'include'),
    prompt: { id, version: stored.version, variables },
  };
}

/**
 * The Response's `prompt` field: `{id, version, variables}` as the spec's Prompt schema has it,
 * or null. Call it on the request applyPrompt returned, so `version` is the one used.
 */
export function promptEcho(
  request: CreateResponseRequest,
): { id: string; version: string | null; variables: Variables | null } | null {
  if (!request.prompt) return null;
  const { id, version, variables } = request.prompt;
  return { id, version, variables: Object.keys(variables).length === 0 ? null : variables };
}

/** The stored configuration, parsed as at save time; rules tightened since then name the prompt. */
function readConfiguration(body: JsonObject, id: string, version: string): CreateResponseRequest {
  try {
    return parsePromptConfiguration(body);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    throw invalidRequest(
      'prompt',
      `Prompt '${id}' version '${version}' is not valid on this server any more (${error.param ?? 'configuration'}): ${error.message} Save a corrected version.`,
      'invalid_value',
    );
  }
}

/**
 * Whether a field was set: by the body's own account when the request was parsed from one,
 * otherwise (a request built in code) when it differs from what parseCreateResponse defaults to.
 */
function fieldChecker(request: CreateResponseRequest): (wireName: string, key: keyof CreateResponseRequest) => boolean {
  const given = request.givenFields ? new Set(request.givenFields) : null;
  return (wireName, key) => {
    if (given) return given.has(wireName);
    const value = request[key];
    switch (wireName) {
      case 'tools':
      case 'include':
        return (value as unknown[]).length > 0;
      case 'tool_choice':
        return value !== 'auto';
      case 'parallel_tool_calls':
        return value !== true;
      case 'truncation':
        return value !== 'disabled';
      case 'text.format':
        return request.text.format.type !== 'text';
      case 'text.verbosity':
        return request.text.verbosity !== 'medium';
      default:
        return value !== null && value !== undefined;
    }
  };
}

/** Every variable the prompt uses must be given, and every one given must be used. */
function checkVariables(configuration: CreateResponseRequest, variables: Variables): void {
  const used = new Set<string>();
  const texts: string[] = [];
  if (typeof configuration.instructions === 'string') texts.push(configuration.instructions);
  for (const message of configuration.input) {
    for (const part of message.content as JsonObject[]) {
      if (typeof part.text === 'string') texts.push(part.text);
    }
  }
  for (const text of texts) {
    for (const match of text.matchAll(VARIABLE_PATTERN)) used.add(match[1] as string);
  }
  for (const name of used) {
    if (!Object.hasOwn(variables, name)) throw missingParameter(`prompt.variables.${name}`);
  }
  for (const name of Object.keys(variables)) {
    if (!used.has(name)) {
      const known = used.size === 0 ? 'none' : [...used].map((each) => `'${each}'`).join(', ');
      throw invalidRequest(
        `prompt.variables.${name}`,
        `Unknown prompt variable '${name}': the prompt uses ${known}.`,
        'unknown_parameter',
      );
    }
  }
}

/** Text with its variables replaced; image and file variables have no place in plain text. */
function substituteInText(text: string, variables: Variables): string {
  return text.replace(VARIABLE_PATTERN, (_placeholder, name: string) => {
    const value = variables[name];
    if (typeof value === 'string') return value;
    const part = value as JsonObject;
    if (part.type === 'input_text') return part.text as string;
    throw invalidRequest(
      `prompt.variables.${name}`,
      `Prompt variable '${name}' is an ${String(part.type)} part, but the prompt uses it where only text fits (its instructions or an assistant message).`,
      'invalid_value',
    );
  });
}

/** A prompt message with its variables replaced; image and file variables become their own parts. */
function substituteInMessage(message: InputItem, variables: Variables): InputItem {
  const parts = message.content as JsonObject[];
  const content: JsonObject[] = [];
  for (const part of parts) {
    if (typeof part.text !== 'string') {
      content.push(part);
    } else if (message.role === 'assistant' || part.type !== 'input_text') {
      content.push({ ...part, text: substituteInText(part.text, variables) });
    } else {
      content.push(...splitText(part, part.text, variables));
    }
  }
  // A lone text part is given as a string: the Response echoes these messages in
  // `instructions`, and the spec's InputItem matches a text message exactly once only in that
  // form (an assistant one with output_text parts not at all). New objects throughout: what the
  // store returned is never changed in place.
  const only = content.length === 1 ? content[0] : undefined;
  if (only && (only.type === 'input_text' || only.type === 'output_text')) return { ...message, content: only.text };
  return { ...message, content };
}

/** An input_text part split around image and file variables, text variables inlined. */
function splitText(part: JsonObject, text: string, variables: Variables): JsonObject[] {
  const pieces: JsonObject[] = [];
  let pending = '';
  let last = 0;
  for (const match of text.matchAll(VARIABLE_PATTERN)) {
    pending += text.slice(last, match.index);
    last = match.index + match[0].length;
    const value = variables[match[1] as string];
    if (typeof value === 'string') pending += value;
    else if ((value as JsonObject).type === 'input_text') pending += (value as JsonObject).text as string;
    else {
      if (pending !== '') pieces.push({ ...part, text: pending });
      pending = '';
      pieces.push({ ...(value as JsonObject) });
    }
  }
  pending += text.slice(last);
  // An input_text emptied by the split is left out; a prompt text that was empty stays as it was.
  if (pending !== '' || pieces.length === 0) pieces.push({ ...part, text: pending });
  return pieces;
}

/** The developer instructions alone, or as the first of the prompt's messages. */
function combineInstructions(
  developer: CreateResponseRequest['instructions'],
  promptMessages: InputItem[],
): CreateResponseRequest['instructions'] {
  if (promptMessages.length === 0) return developer;
  const leading: InputItem[] =
    typeof developer === 'string'
      ? developer === ''
        ? []
        : [{ type: 'message', role: 'developer', content: developer }]
      : (developer ?? []);
  return [...leading, ...promptMessages];
}
