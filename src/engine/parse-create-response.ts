import {
  checkRange,
  describeJsonType,
  invalidRequest,
  invalidType,
  invalidValue,
  missingParameter,
  type ApiError,
} from '../errors/api-error.ts';
import { checkStrictSchema } from './check-strict-schema.ts';
import type {
  CreateResponseRequest,
  InputItem,
  RequestTool,
  TextFormat,
  ToolChoice,
} from './create-response-request.ts';

/*
 * Validation of a `POST /v1/responses` body against OpenAI's CreateResponse schema
 * (shared/spec/openai-openapi.json), with OpenAI's error messages and `param` paths
 * (`input[2].content[0].image_url`, `tools[0].parameters`, …).
 *
 * Leniency, on purpose: unknown fields — top-level or nested — are accepted and kept or
 * ignored, since clients send fields newer than this server (Codex CLI sends
 * `client_metadata`); and `null` counts as "not given" for every optional field, since SDKs and
 * frameworks send explicit nulls for fields the spec does not mark nullable.
 */

type JsonObject = Record<string, unknown>;

/** Checks one value found at `param` and returns it typed; throws an ApiError otherwise. */
type Check<T> = (value: unknown, param: string) => T;

// ---------------------------------------------------------------------------------------------
// Readers: each builds the param path and throws OpenAI's error for the field.

function joinPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** The field's value, or null when it is absent or null. */
function optional<T>(object: JsonObject, key: string, path: string, check: Check<T>): T | null {
  const value = object[key];
  if (value === undefined || value === null) return null;
  return check(value, joinPath(path, key));
}

/** The field's value; absent is `missing_required_parameter`, null is a type error. */
function required<T>(object: JsonObject, key: string, path: string, check: Check<T>): T {
  const value = object[key];
  const param = joinPath(path, key);
  if (value === undefined) throw missingParameter(param);
  return check(value, param);
}

interface StringRules {
  minLength?: number;
  maxLength?: number;
  pattern?: RegExp;
}

function stringOf(rules: StringRules = {}): Check<string> {
  return (value, param) => {
    if (typeof value !== 'string') throw invalidType(param, 'a string', value);
    if (rules.minLength !== undefined && value.length < rules.minLength) {
      if (value.length === 0) {
        throw invalidRequest(
          param,
          `Invalid '${param}': empty string. Expected a string with minimum length ${rules.minLength}, but got an empty string instead.`,
          'empty_string',
        );
      }
      throw invalidRequest(
        param,
        `Invalid '${param}': string too short. Expected a string with minimum length ${rules.minLength}, but got a string with length ${value.length} instead.`,
        'string_below_min_length',
      );
    }
    if (rules.maxLength !== undefined && value.length > rules.maxLength) {
      throw invalidRequest(
        param,
        `Invalid '${param}': string too long. Expected a string with maximum length ${rules.maxLength}, but got a string with length ${value.length} instead.`,
        'string_above_max_length',
      );
    }
    if (rules.pattern && !rules.pattern.test(value)) {
      throw invalidValue(
        param,
        `Invalid '${param}': string does not match pattern. Expected a string that matches the pattern '${rules.pattern.source}'.`,
      );
    }
    return value;
  };
}

interface RangeRules {
  min?: number;
  max?: number;
}

function numberIn(rules: RangeRules = {}): Check<number> {
  return (value, param) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidType(param, 'a number', value);
    return checkRange(value, param, rules, 'decimal');
  };
}

function integerIn(rules: RangeRules = {}): Check<number> {
  return (value, param) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidType(param, 'an integer', value);
    return checkRange(value, param, rules, 'integer');
  };
}

const booleanValue: Check<boolean> = (value, param) => {
  if (typeof value !== 'boolean') throw invalidType(param, 'a boolean', value);
  return value;
};

/** OpenAI lists choices as "'a'", "'a' or 'b'" (in type errors) and "'a' and 'b'" (in value errors). */
function listValues(values: readonly string[], conjunction: 'and' | 'or'): string {
  const quoted = values.map((value) => `'${value}'`);
  if (quoted.length <= 2) return quoted.join(` ${conjunction} `);
  return `${quoted.slice(0, -1).join(', ')}, ${conjunction} ${quoted.at(-1)}`;
}

function unsupportedValue(param: string, value: unknown, values: readonly string[]): ApiError {
  const shown = typeof value === 'string' ? value : JSON.stringify(value);
  const supported =
    values.length === 1 ? `Value must be '${values[0]}'.` : `Supported values are: ${listValues(values, 'and')}.`;
  return invalidValue(param, `Invalid value: '${shown}'. ${supported}`);
}

function enumOf<T extends string>(values: readonly T[]): Check<T> {
  return (value, param) => {
    if (typeof value !== 'string') throw invalidType(param, `one of ${listValues(values, 'or')}`, value);
    if (!(values as readonly string[]).includes(value)) throw unsupportedValue(param, value, values);
    return value as T;
  };
}

const objectValue: Check<JsonObject> = (value, param) => {
  if (!isObject(value)) throw invalidType(param, 'an object', value);
  return value;
};

interface ArrayRules {
  minItems?: number;
  maxItems?: number;
  /** What OpenAI calls the items in a type error: "an array of objects". */
  of?: string;
}

function arrayOf<T>(check: Check<T>, rules: ArrayRules = {}): Check<T[]> {
  return (value, param) => {
    if (!Array.isArray(value)) throw invalidType(param, rules.of ? `an array of ${rules.of}` : 'an array', value);
    if (rules.minItems !== undefined && value.length < rules.minItems) {
      throw invalidRequest(
        param,
        `Invalid '${param}': empty array. Expected an array with minimum length ${rules.minItems}, but got an empty array instead.`,
        'empty_array',
      );
    }
    if (rules.maxItems !== undefined && value.length > rules.maxItems) {
      throw invalidRequest(
        param,
        `Invalid '${param}': array too long. Expected an array with maximum length ${rules.maxItems}, but got an array with length ${value.length} instead.`,
        'array_above_max_length',
      );
    }
    return value.map((entry, index) => check(entry, `${param}[${index}]`));
  };
}

/** For fields that take one of several JSON types: the message names them all. */
function typeUnion(expected: string): (value: unknown, param: string) => never {
  return (value, param) => {
    throw invalidType(param, `one of ${expected}`, value);
  };
}

/** An object field whose `type` chooses how the rest is read; `type` is checked against `types`. */
function requireType<T extends string>(object: JsonObject, path: string, types: readonly T[]): T {
  return required(object, 'type', path, enumOf(types));
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Enums from the spec.

const ROLES = ['user', 'assistant', 'system', 'developer'] as const;
const ITEM_STATUSES = ['in_progress', 'completed', 'incomplete'] as const;
const MESSAGE_PHASES = ['commentary', 'final_answer'] as const;
const IMAGE_DETAILS = ['low', 'high', 'auto', 'original'] as const;
const FILE_DETAILS = ['auto', 'low', 'high'] as const;
const INCLUDABLE = [
  'file_search_call.results',
  'web_search_call.results',
  'web_search_call.action.sources',
  'message.input_image.image_url',
  'computer_call_output.output.image_url',
  'code_interpreter_call.outputs',
  'reasoning.encrypted_content',
  'message.output_text.logprobs',
] as const;
const SERVICE_TIERS = ['auto', 'default', 'flex', 'scale', 'priority', 'fast', 'ultrafast'] as const;
const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] as const;
const REASONING_SUMMARIES = ['auto', 'concise', 'detailed'] as const;
const REASONING_CONTEXTS = ['auto', 'current_turn', 'all_turns'] as const;
const VERBOSITIES = ['low', 'medium', 'high'] as const;
const TRUNCATIONS = ['auto', 'disabled'] as const;
const PROMPT_CACHE_RETENTIONS = ['in_memory', '24h'] as const;
const PROMPT_CACHE_TTLS = ['30m'] as const;
const PROMPT_CACHE_MODES = ['implicit', 'explicit'] as const;
const MODERATION_MODES = ['score', 'block'] as const;
const TOOL_CALLERS = ['direct', 'programmatic'] as const;

/** Function, custom tool and namespace names: what a model can be told to call. */
const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]+$/;
const TOOL_NAME_MAX_LENGTH = 64;
/** Function tools inside a namespace may have longer names (FunctionToolParam in the spec). */
const NAMESPACED_TOOL_NAME_MAX_LENGTH = 128;
const FORMAT_NAME_RULES: StringRules = { minLength: 1, maxLength: 64, pattern: TOOL_NAME_PATTERN };

const METADATA_MAX_PAIRS = 16;
const METADATA_KEY_MAX_LENGTH = 64;
const METADATA_VALUE_MAX_LENGTH = 512;

// ---------------------------------------------------------------------------------------------
// The body.

/**
 * Validates a `POST /v1/responses` body and returns it normalised: defaults applied, `input`
 * as a list of typed items, function tools with `strict` settled. Throws an ApiError (400)
 * naming the offending `param` for anything OpenAI would refuse.
 */
export function parseCreateResponse(body: unknown): CreateResponseRequest {
  return parseBody(body, 'request');
}

/**
 * The fields a stored prompt's configuration may hold (Riposte's /v1/prompts API): what shapes
 * the model's turn. Per-call fields (input beyond the prompt's messages, stream, store,
 * previous_response_id, conversation, metadata…) belong to the request.
 */
export const PROMPT_CONFIGURATION_FIELDS = [
  'model',
  'instructions',
  'input',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'text',
  'reasoning',
  'temperature',
  'top_p',
  'top_logprobs',
  'max_output_tokens',
  'max_tool_calls',
  'truncation',
  'include',
] as const;

/**
 * Validates a prompt's configuration with the request body's rules and `param` names, so a bad
 * prompt is refused when it is saved rather than each time it is used. Every field is optional
 * (a prompt may leave the model to the request); unknown fields are refused, since here a typo
 * would silently configure nothing; `input` holds messages only.
 */
export function parsePromptConfiguration(body: unknown): CreateResponseRequest {
  if (!isObject(body)) throw invalidType('configuration', 'an object', body);
  for (const key of Object.keys(body)) {
    if (!(PROMPT_CONFIGURATION_FIELDS as readonly string[]).includes(key)) {
      throw invalidRequest(
        key,
        `Unknown parameter: '${key}'. A prompt may set ${listValues(PROMPT_CONFIGURATION_FIELDS, 'and')}.`,
        'unknown_parameter',
      );
    }
  }
  const request = parseBody(body, 'prompt');
  request.input.forEach((item, index) => {
    if (item.type !== 'message') throw unsupportedValue(`input[${index}].type`, item.type, ['message']);
  });
  return request;
}

/**
 * The body fields the client set (present and not null), by wire name, with `text.format` and
 * `text.verbosity` for the parts of `text`: what a stored prompt must not override.
 */
function givenFields(body: JsonObject): string[] {
  const given = Object.keys(body).filter((key) => body[key] !== undefined && body[key] !== null);
  const text = body.text;
  if (isObject(text)) {
    for (const key of ['format', 'verbosity']) {
      if (text[key] !== undefined && text[key] !== null) given.push(`text.${key}`);
    }
  }
  return given;
}

function parseBody(body: unknown, kind: 'request' | 'prompt'): CreateResponseRequest {
  if (!isObject(body)) {
    throw invalidRequest(
      null,
      `Invalid type for the request body: expected an object, but got ${describeJsonType(body)} instead.`,
      'invalid_type',
    );
  }
  const prompt = optional(body, 'prompt', '', parsePrompt);
  // A stored prompt may carry the model, so only then may `model` be left out or null.
  const model =
    (prompt || kind === 'prompt') && (body.model === undefined || body.model === null)
      ? null
      : required(body, 'model', '', stringOf({ minLength: 1 }));

  const stream = optional(body, 'stream', '', booleanValue) ?? false;
  const streamOptions = optional(body, 'stream_options', '', parseStreamOptions);
  if (streamOptions && !stream) {
    throw invalidRequest('stream_options', "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
  }

  const previousResponseId = optional(body, 'previous_response_id', '', stringOf({ minLength: 1 }));
  const conversation = optional(body, 'conversation', '', parseConversation);
  if (previousResponseId !== null && conversation !== null) {
    throw invalidRequest(
      'conversation',
      "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or 'conversation'.",
      'mutually_exclusive_parameters',
    );
  }

  const tools = optional(body, 'tools', '', parseTools) ?? [];
  const toolChoice = optional(body, 'tool_choice', '', parseToolChoice) ?? 'auto';
  // With a stored prompt the choice may name one of the prompt's tools: applyPrompt checks the
  // pair once the prompt's tools are in.
  if (!prompt) checkToolChoiceAgainstTools(toolChoice, tools);

  return {
    model,
    input: optional(body, 'input', '', parseInput) ?? [],
    instructions: optional(body, 'instructions', '', stringOf()),
    tools,
    toolChoice,
    parallelToolCalls: optional(body, 'parallel_tool_calls', '', booleanValue) ?? true,
    maxOutputTokens: optional(body, 'max_output_tokens', '', integerIn({ min: 16 })),
    // The spec sets no minimum; a negative limit has no meaning.
    maxToolCalls: optional(body, 'max_tool_calls', '', integerIn({ min: 0 })),
    temperature: optional(body, 'temperature', '', numberIn({ min: 0, max: 2 })),
    topP: optional(body, 'top_p', '', numberIn({ min: 0, max: 1 })),
    topLogprobs: optional(body, 'top_logprobs', '', integerIn({ min: 0, max: 20 })),
    metadata: optional(body, 'metadata', '', parseMetadata) ?? {},
    store: optional(body, 'store', '', booleanValue) ?? true,
    background: optional(body, 'background', '', booleanValue) ?? false,
    stream,
    streamOptions,
    previousResponseId,
    conversation,
    text: parseText(body.text),
    reasoning: optional(body, 'reasoning', '', parseReasoning),
    include: optional(body, 'include', '', arrayOf(enumOf(INCLUDABLE))) ?? [],
    truncation: optional(body, 'truncation', '', enumOf(TRUNCATIONS)) ?? 'disabled',
    user: optional(body, 'user', '', stringOf()),
    safetyIdentifier: optional(body, 'safety_identifier', '', stringOf({ maxLength: 64 })),
    promptCacheKey: optional(body, 'prompt_cache_key', '', stringOf()),
    promptCacheRetention: optional(body, 'prompt_cache_retention', '', enumOf(PROMPT_CACHE_RETENTIONS)),
    promptCacheOptions: optional(body, 'prompt_cache_options', '', parsePromptCacheOptions),
    serviceTier: optional(body, 'service_tier', '', enumOf(SERVICE_TIERS)) ?? 'auto',
    prompt,
    contextManagement: optional(
      body,
      'context_management',
      '',
      arrayOf(parseContextManagement, { minItems: 1, of: 'objects' }),
    ),
    moderation: optional(body, 'moderation', '', parseModeration),
    givenFields: givenFields(body),
  };
}

function parseStreamOptions(value: unknown, param: string): { include_obfuscation?: boolean } {
  const options = objectValue(value, param);
  const includeObfuscation = optional(options, 'include_obfuscation', param, booleanValue);
  return includeObfuscation === null ? {} : { include_obfuscation: includeObfuscation };
}

function parseConversation(value: unknown, param: string): string {
  if (typeof value === 'string') return stringOf({ minLength: 1 })(value, param);
  if (isObject(value)) return required(value, 'id', param, stringOf({ minLength: 1 }));
  return typeUnion('a string or object')(value, param);
}

/**
 * Validates `metadata` as OpenAI does (at most 16 keys of at most 64 characters, string values of
 * at most 512), naming `param` or `param.key` in the error.
 */
export function parseMetadata(value: unknown, param: string): Record<string, string> {
  const metadata = objectValue(value, param);
  const keys = Object.keys(metadata);
  if (keys.length > METADATA_MAX_PAIRS) {
    throw invalidRequest(
      param,
      `Invalid '${param}': too many properties. Expected an object with at most ${METADATA_MAX_PAIRS} properties, but got an object with ${keys.length} properties instead.`,
      'object_above_max_properties',
    );
  }
  const result: Record<string, string> = {};
  for (const key of keys) {
    const keyParam = `${param}.${key}`;
    if (key.length > METADATA_KEY_MAX_LENGTH) {
      throw invalidRequest(
        keyParam,
        `Invalid property name in '${param}': '${key}' is too long. Expected a string with maximum length ${METADATA_KEY_MAX_LENGTH}, but got a string with length ${key.length} instead.`,
        'property_name_above_max_length',
      );
    }
    result[key] = stringOf({ maxLength: METADATA_VALUE_MAX_LENGTH })(metadata[key], keyParam);
  }
  return result;
}

function parseText(value: unknown): CreateResponseRequest['text'] {
  const defaults: CreateResponseRequest['text'] = { format: { type: 'text' }, verbosity: 'medium' };
  if (value === undefined || value === null) return defaults;
  const text = objectValue(value, 'text');
  return {
    format: optional(text, 'format', 'text', parseTextFormat) ?? defaults.format,
    verbosity: optional(text, 'verbosity', 'text', enumOf(VERBOSITIES)) ?? defaults.verbosity,
  };
}

function parseTextFormat(value: unknown, param: string): TextFormat {
  const format = objectValue(value, param);
  const type = requireType(format, param, ['text', 'json_schema', 'json_object']);
  if (type !== 'json_schema') return { type };
  const name = required(format, 'name', param, stringOf(FORMAT_NAME_RULES));
  const schema = required(format, 'schema', param, objectValue);
  const description = optional(format, 'description', param, stringOf());
  const strict = optional(format, 'strict', param, booleanValue) ?? false;
  if (strict) {
    const problem = checkStrictSchema(schema, `response_format '${name}'`);
    if (problem) throw invalidRequest(`${param}.schema`, problem, 'invalid_json_schema');
  }
  return { type, name, ...(description === null ? {} : { description }), schema, strict };
}

function parseReasoning(value: unknown, param: string): NonNullable<CreateResponseRequest['reasoning']> {
  const reasoning = objectValue(value, param);
  optional(reasoning, 'mode', param, stringOf());
  optional(reasoning, 'context', param, enumOf(REASONING_CONTEXTS));
  // `generate_summary` is the deprecated name of `summary`.
  const generateSummary = optional(reasoning, 'generate_summary', param, enumOf(REASONING_SUMMARIES));
  return {
    effort: optional(reasoning, 'effort', param, enumOf(REASONING_EFFORTS)),
    summary: optional(reasoning, 'summary', param, enumOf(REASONING_SUMMARIES)) ?? generateSummary,
  };
}

function parsePrompt(value: unknown, param: string): NonNullable<CreateResponseRequest['prompt']> {
  const prompt = objectValue(value, param);
  const given = optional(prompt, 'variables', param, objectValue) ?? {};
  const variables: JsonObject = {};
  for (const [name, variable] of Object.entries(given)) {
    const variableParam = `${param}.variables.${name}`;
    if (typeof variable === 'string') variables[name] = variable;
    else if (isObject(variable)) variables[name] = parseInputPart(variable, variableParam);
    else typeUnion('a string or object')(variable, variableParam);
  }
  return {
    id: required(prompt, 'id', param, stringOf({ minLength: 1 })),
    version: optional(prompt, 'version', param, stringOf()),
    variables,
  };
}

function parsePromptCacheOptions(value: unknown, param: string): JsonObject {
  const options = objectValue(value, param);
  optional(options, 'ttl', param, enumOf(PROMPT_CACHE_TTLS));
  optional(options, 'mode', param, enumOf(PROMPT_CACHE_MODES));
  return options;
}

function parseContextManagement(value: unknown, param: string): JsonObject {
  const entry = objectValue(value, param);
  // "Currently only 'compaction' is supported" (the spec); another type would be silently ignored.
  required(entry, 'type', param, enumOf(['compaction']));
  optional(entry, 'compact_threshold', param, integerIn({ min: 1000 }));
  return entry;
}

function parseModeration(value: unknown, param: string): JsonObject {
  const moderation = objectValue(value, param);
  required(moderation, 'model', param, stringOf({ minLength: 1 }));
  const policy = optional(moderation, 'policy', param, objectValue);
  if (policy) {
    const policyParam = `${param}.policy`;
    for (const side of ['input', 'output']) {
      const config = optional(policy, side, policyParam, objectValue);
      if (config) required(config, 'mode', `${policyParam}.${side}`, enumOf(MODERATION_MODES));
    }
  }
  return moderation;
}

// ---------------------------------------------------------------------------------------------
// Input items.

function parseInput(value: unknown, param: string): InputItem[] {
  if (typeof value === 'string')
    return [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: value }] }];
  if (!Array.isArray(value)) return typeUnion('a string or array of input items')(value, param);
  return value.map((item, index) => parseInputItem(item, `${param}[${index}]`));
}

/**
 * Validates a list of input items given apart from a response — the `items` of the Conversations
 * API — exactly as `input` items are checked, naming `param[i]…` in errors.
 */
export function parseInputItems(value: unknown, param: string, rules: { maxItems?: number } = {}): InputItem[] {
  return arrayOf(parseInputItem, { ...rules, of: 'objects' })(value, param);
}

/** Validates `include` values (from a body or a query string) against the spec's IncludeEnum. */
export function parseInclude(value: unknown, param: string): string[] {
  return arrayOf(enumOf(INCLUDABLE))(value, param);
}

type ItemParser = (item: JsonObject, path: string) => InputItem;

/** Items the engine reads field by field are checked field by field. */
const ITEM_PARSERS: Record<string, ItemParser> = {
  message: parseMessage,
  function_call: parseFunctionCall,
  function_call_output: parseFunctionCallOutput,
  custom_tool_call: parseCustomToolCall,
  custom_tool_call_output: parseCustomToolCallOutput,
  item_reference: parseItemReference,
  reasoning: parseReasoningItem,
  compaction: parseCompaction,
};

/**
 * The other item types of the spec (built-in tool calls and their outputs, MCP items, programs…)
 * are kept as given: the engine decides later what, if anything, it does with them.
 */
const STRUCTURAL_ITEM_TYPES = [
  'file_search_call',
  'computer_call',
  'computer_call_output',
  'web_search_call',
  'tool_search_call',
  'tool_search_output',
  'additional_tools',
  'image_generation_call',
  'code_interpreter_call',
  'local_shell_call',
  'local_shell_call_output',
  'shell_call',
  'shell_call_output',
  'apply_patch_call',
  'apply_patch_call_output',
  'mcp_list_tools',
  'mcp_approval_request',
  'mcp_approval_response',
  'mcp_call',
  'compaction_trigger',
  'program',
  'program_output',
];

const ITEM_TYPES = [...Object.keys(ITEM_PARSERS), ...STRUCTURAL_ITEM_TYPES];

function parseInputItem(value: unknown, path: string): InputItem {
  const item = objectValue(value, path);
  let type = item.type;
  if (type === undefined || type === null) {
    // Messages may leave out `type`; so may item references, which are then just `{id}`.
    type = item.role === undefined && item.id !== undefined ? 'item_reference' : 'message';
  }
  if (typeof type !== 'string') throw invalidType(`${path}.type`, 'a string', type);
  const parser = ITEM_PARSERS[type];
  if (parser) return parser(item, path);
  if (STRUCTURAL_ITEM_TYPES.includes(type)) return { ...item, type };
  throw unsupportedValue(`${path}.type`, type, ITEM_TYPES);
}

const INPUT_PART_TYPES = ['input_text', 'input_image', 'input_file'] as const;
const ASSISTANT_PART_TYPES = ['output_text', 'refusal'] as const;

function parseMessage(item: JsonObject, path: string): InputItem {
  const role = required(item, 'role', path, enumOf(ROLES));
  optional(item, 'id', path, stringOf());
  optional(item, 'status', path, enumOf(ITEM_STATUSES));
  optional(item, 'phase', path, enumOf(MESSAGE_PHASES));
  const contentParam = `${path}.content`;
  const content = item.content;
  let parts: JsonObject[];
  if (content === undefined) throw missingParameter(contentParam);
  if (typeof content === 'string') {
    parts = [
      role === 'assistant'
        ? { type: 'output_text', text: content, annotations: [] }
        : { type: 'input_text', text: content },
    ];
  } else if (Array.isArray(content)) {
    const parsePart = role === 'assistant' ? parseAssistantPart : parseInputPart;
    parts = content.map((part, index) => parsePart(part, `${contentParam}[${index}]`));
  } else {
    return typeUnion('a string or array of objects')(content, contentParam);
  }
  return { ...item, type: 'message', role, content: parts };
}

/** A part of a user, system or developer message, of a tool output, or a prompt variable. */
function parseInputPart(value: unknown, path: string): JsonObject {
  const part = objectValue(value, path);
  const type = requireType(part, path, INPUT_PART_TYPES);
  switch (type) {
    case 'input_text':
      required(part, 'text', path, stringOf());
      return part;
    case 'input_image': {
      const imageUrl = optional(part, 'image_url', path, imageUrlValue);
      const fileId = optional(part, 'file_id', path, stringOf({ minLength: 1 }));
      if (imageUrl === null && fileId === null) {
        throw invalidRequest(
          `${path}.image_url`,
          `Invalid '${path}': one of 'image_url' or 'file_id' must be provided.`,
          'missing_required_parameter',
        );
      }
      const detail = optional(part, 'detail', path, enumOf(IMAGE_DETAILS)) ?? 'auto';
      return { ...part, detail };
    }
    case 'input_file': {
      const fileId = optional(part, 'file_id', path, stringOf({ minLength: 1 }));
      const fileUrl = optional(part, 'file_url', path, urlValue);
      const fileData = optional(part, 'file_data', path, stringOf({ minLength: 1 }));
      optional(part, 'filename', path, stringOf());
      optional(part, 'detail', path, enumOf(FILE_DETAILS));
      if (fileId === null && fileUrl === null && fileData === null) {
        throw invalidRequest(
          `${path}.file_data`,
          `Invalid '${path}': one of 'file_id', 'file_url' or 'file_data' must be provided.`,
          'missing_required_parameter',
        );
      }
      return part;
    }
  }
}

function parseAssistantPart(value: unknown, path: string): JsonObject {
  const part = objectValue(value, path);
  const type = requireType(part, path, ASSISTANT_PART_TYPES);
  if (type === 'refusal') {
    required(part, 'refusal', path, stringOf());
    return part;
  }
  required(part, 'text', path, stringOf());
  const annotations = optional(part, 'annotations', path, arrayOf(objectValue, { of: 'objects' })) ?? [];
  optional(part, 'logprobs', path, arrayOf(objectValue, { of: 'objects' }));
  return { ...part, annotations };
}

function imageUrlValue(value: unknown, param: string): string {
  const url = stringOf()(value, param);
  if (url.startsWith('data:')) {
    const mimeType = /^data:([^;,]*)/.exec(url)?.[1] ?? '';
    if (!mimeType.startsWith('image/')) {
      throw invalidValue(
        param,
        `Invalid '${param}'. Expected a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got unsupported MIME type '${mimeType}'.`,
      );
    }
    return url;
  }
  return urlValue(url, param);
}

function urlValue(value: unknown, param: string): string {
  const url = stringOf()(value, param);
  if (!URL.canParse(url) || !/^(https?|data):/i.test(url)) {
    throw invalidValue(param, `Invalid '${param}'. Expected a valid URL, but got a value with an invalid format.`);
  }
  return url;
}

function parseFunctionCall(item: JsonObject, path: string): InputItem {
  optional(item, 'id', path, stringOf());
  required(item, 'call_id', path, stringOf({ minLength: 1 }));
  required(item, 'name', path, stringOf({ minLength: 1 }));
  required(item, 'arguments', path, stringOf());
  optional(item, 'namespace', path, stringOf());
  optional(item, 'status', path, enumOf(ITEM_STATUSES));
  return { ...item, type: 'function_call' };
}

function parseFunctionCallOutput(item: JsonObject, path: string): InputItem {
  optional(item, 'id', path, stringOf());
  // The spec now lets `call_id` be absent (for programmatic callers); the engine pairs outputs
  // with calls by it, so it stays required here, as OpenAI has always required it.
  required(item, 'call_id', path, stringOf({ minLength: 1, maxLength: 64 }));
  const output = required(item, 'output', path, toolOutputValue);
  optional(item, 'status', path, enumOf(ITEM_STATUSES));
  return { ...item, type: 'function_call_output', output };
}

function parseCustomToolCall(item: JsonObject, path: string): InputItem {
  optional(item, 'id', path, stringOf());
  required(item, 'call_id', path, stringOf({ minLength: 1 }));
  required(item, 'name', path, stringOf({ minLength: 1 }));
  required(item, 'input', path, stringOf());
  optional(item, 'namespace', path, stringOf());
  return { ...item, type: 'custom_tool_call' };
}

function parseCustomToolCallOutput(item: JsonObject, path: string): InputItem {
  optional(item, 'id', path, stringOf());
  required(item, 'call_id', path, stringOf({ minLength: 1 }));
  const output = required(item, 'output', path, toolOutputValue);
  return { ...item, type: 'custom_tool_call_output', output };
}

function toolOutputValue(value: unknown, param: string): string | JsonObject[] {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((part, index) => parseInputPart(part, `${param}[${index}]`));
  return typeUnion('a string or array of objects')(value, param);
}

function parseItemReference(item: JsonObject, path: string): InputItem {
  required(item, 'id', path, stringOf({ minLength: 1 }));
  return { ...item, type: 'item_reference' };
}

const REASONING_PART_TYPES = ['reasoning_text', 'text'] as const;

function parseReasoningItem(item: JsonObject, path: string): InputItem {
  // The spec requires `id`, but OpenAI accepts reasoning without it (Codex CLI sends none).
  optional(item, 'id', path, stringOf());
  required(item, 'summary', path, arrayOf(textPart(['summary_text']), { of: 'objects' }));
  optional(item, 'content', path, arrayOf(textPart(REASONING_PART_TYPES), { of: 'objects' }));
  optional(item, 'encrypted_content', path, stringOf());
  optional(item, 'status', path, enumOf(ITEM_STATUSES));
  return { ...item, type: 'reasoning' };
}

function textPart(types: readonly string[]): Check<JsonObject> {
  return (value, param) => {
    const part = objectValue(value, param);
    requireType(part, param, types);
    required(part, 'text', param, stringOf());
    return part;
  };
}

function parseCompaction(item: JsonObject, path: string): InputItem {
  optional(item, 'id', path, stringOf());
  required(item, 'encrypted_content', path, stringOf({ minLength: 1 }));
  return { ...item, type: 'compaction' };
}

// ---------------------------------------------------------------------------------------------
// Tools.

/** Built-in tools: accepted by type (with the fields the spec requires); run or refused later. */
const BUILT_IN_TOOL_REQUIRED_FIELDS: Record<string, readonly string[]> = {
  file_search: ['vector_store_ids'],
  computer: [],
  computer_use_preview: ['environment', 'display_width', 'display_height'],
  web_search: [],
  web_search_2025_08_26: [],
  web_search_preview: [],
  web_search_preview_2025_03_11: [],
  mcp: ['server_label'],
  code_interpreter: ['container'],
  programmatic_tool_calling: [],
  image_generation: [],
  local_shell: [],
  shell: [],
  tool_search: [],
  apply_patch: [],
};

const TOOL_TYPES = ['function', 'custom', 'namespace', ...Object.keys(BUILT_IN_TOOL_REQUIRED_FIELDS)];

function parseTools(value: unknown, param: string): RequestTool[] {
  const tools = arrayOf(parseTool, { of: 'objects' })(value, param);
  checkUniqueNames(tools, param);
  return tools;
}

function parseTool(value: unknown, path: string): RequestTool {
  const tool = objectValue(value, path);
  const type = required(tool, 'type', path, stringOf());
  switch (type) {
    case 'function':
      return parseFunctionTool(tool, path, TOOL_NAME_MAX_LENGTH);
    case 'custom':
      return parseCustomTool(tool, path);
    case 'namespace':
      return parseNamespaceTool(tool, path);
  }
  const requiredFields = BUILT_IN_TOOL_REQUIRED_FIELDS[type];
  if (!requiredFields) throw unsupportedValue(`${path}.type`, type, TOOL_TYPES);
  for (const field of requiredFields) {
    if (tool[field] === undefined || tool[field] === null) throw missingParameter(`${path}.${field}`);
  }
  return { ...tool, type };
}

function toolNameRules(maxLength: number): StringRules {
  return { minLength: 1, maxLength, pattern: TOOL_NAME_PATTERN };
}

function parseFunctionTool(tool: JsonObject, path: string, maxNameLength: number): RequestTool {
  const name = required(tool, 'name', path, stringOf(toolNameRules(maxNameLength)));
  optional(tool, 'description', path, stringOf());
  const parameters = optional(tool, 'parameters', path, objectValue);
  optional(tool, 'output_schema', path, objectValue);
  optional(tool, 'defer_loading', path, booleanValue);
  optional(tool, 'allowed_callers', path, arrayOf(enumOf(TOOL_CALLERS)));
  const requestedStrict = optional(tool, 'strict', path, booleanValue);
  const problem = parameters ? checkStrictSchema(parameters, `function '${name}'`) : null;
  if (requestedStrict === true && problem)
    throw invalidRequest(`${path}.parameters`, problem, 'invalid_function_parameters');
  // Function tools are strict by default in the Responses API. When the client does not say,
  // a schema strict mode cannot take makes the tool non-strict rather than failing the request.
  const strict = requestedStrict ?? problem === null;
  return { ...tool, type: 'function', name, parameters, strict };
}

function parseCustomTool(tool: JsonObject, path: string): RequestTool {
  const name = required(tool, 'name', path, stringOf(toolNameRules(TOOL_NAME_MAX_LENGTH)));
  optional(tool, 'description', path, stringOf());
  optional(tool, 'defer_loading', path, booleanValue);
  optional(tool, 'allowed_callers', path, arrayOf(enumOf(TOOL_CALLERS)));
  const format = optional(tool, 'format', path, objectValue);
  if (format) {
    const formatPath = `${path}.format`;
    const formatType = requireType(format, formatPath, ['text', 'grammar']);
    if (formatType === 'grammar') {
      required(format, 'syntax', formatPath, enumOf(['lark', 'regex']));
      required(format, 'definition', formatPath, stringOf({ minLength: 1 }));
    }
  }
  return { ...tool, type: 'custom', name };
}

function parseNamespaceTool(tool: JsonObject, path: string): RequestTool {
  const name = required(tool, 'name', path, stringOf(toolNameRules(TOOL_NAME_MAX_LENGTH)));
  required(tool, 'description', path, stringOf());
  const innerTools = required(
    tool,
    'tools',
    path,
    arrayOf(
      (value, innerPath) => {
        const inner = objectValue(value, innerPath);
        const type = requireType(inner, innerPath, ['function', 'custom']);
        return type === 'function'
          ? parseFunctionTool(inner, innerPath, NAMESPACED_TOOL_NAME_MAX_LENGTH)
          : parseCustomTool(inner, innerPath);
      },
      { minItems: 1, of: 'objects' },
    ),
  );
  checkUniqueNames(innerTools, `${path}.tools`);
  return { ...tool, type: 'namespace', name, tools: innerTools };
}

/** Function, custom and namespace tools share one space of names: what the model calls. */
function checkUniqueNames(tools: RequestTool[], param: string): void {
  const seen = new Map<string, number>();
  tools.forEach((tool, index) => {
    if (tool.type !== 'function' && tool.type !== 'custom' && tool.type !== 'namespace') return;
    const name = tool.name as string;
    const first = seen.get(name);
    if (first !== undefined) {
      throw invalidRequest(
        `${param}[${index}].name`,
        `Duplicate tool name '${name}' in '${param}': ${param}[${first}] and ${param}[${index}] both use it. Tool names must be unique.`,
        'invalid_value',
      );
    }
    seen.set(name, index);
  });
}

// ---------------------------------------------------------------------------------------------
// Tool choice.

/** Hosted-tool choices and the tool types in `tools` each one selects. */
const HOSTED_TOOL_CHOICES: Record<string, readonly string[]> = {
  file_search: ['file_search'],
  web_search_preview: ['web_search_preview', 'web_search_preview_2025_03_11'],
  web_search_preview_2025_03_11: ['web_search_preview', 'web_search_preview_2025_03_11'],
  // Not in the spec's ToolChoiceTypes, but OpenAI takes it when a web_search tool is given.
  web_search: ['web_search', 'web_search_2025_08_26'],
  web_search_2025_08_26: ['web_search', 'web_search_2025_08_26'],
  computer: ['computer'],
  computer_use: ['computer'],
  computer_use_preview: ['computer_use_preview'],
  image_generation: ['image_generation'],
  code_interpreter: ['code_interpreter'],
  programmatic_tool_calling: ['programmatic_tool_calling'],
  apply_patch: ['apply_patch'],
  shell: ['shell'],
};

const TOOL_CHOICE_TYPES = ['function', 'custom', 'allowed_tools', 'mcp', ...Object.keys(HOSTED_TOOL_CHOICES)];

function parseToolChoice(value: unknown, param: string): ToolChoice {
  if (typeof value === 'string') return enumOf(['none', 'auto', 'required'])(value, param);
  if (!isObject(value)) return typeUnion("'none', 'auto', 'required', or an object")(value, param);
  const type = required(value, 'type', param, stringOf());
  switch (type) {
    case 'function':
    case 'custom': {
      const name = required(value, 'name', param, stringOf({ minLength: 1 }));
      optional(value, 'namespace', param, stringOf());
      return { ...value, type, name };
    }
    case 'allowed_tools': {
      const mode = required(value, 'mode', param, enumOf(['auto', 'required']));
      const tools = required(value, 'tools', param, arrayOf(parseAllowedTool, { of: 'objects' }));
      return { type, mode, tools };
    }
    case 'mcp':
      required(value, 'server_label', param, stringOf({ minLength: 1 }));
      optional(value, 'name', param, stringOf());
      return { ...value, type };
  }
  if (!HOSTED_TOOL_CHOICES[type]) throw unsupportedValue(`${param}.type`, type, TOOL_CHOICE_TYPES);
  return { ...value, type };
}

function parseAllowedTool(value: unknown, param: string): JsonObject {
  const entry = objectValue(value, param);
  const type = required(entry, 'type', param, stringOf());
  if (type === 'function' || type === 'custom') required(entry, 'name', param, stringOf({ minLength: 1 }));
  if (type === 'mcp') required(entry, 'server_label', param, stringOf({ minLength: 1 }));
  return entry;
}

/** A choice that names a tool must name one in `tools`. */
export function checkToolChoiceAgainstTools(toolChoice: ToolChoice, tools: RequestTool[]): void {
  if (typeof toolChoice === 'string' || toolChoice.type === 'allowed_tools') return;
  const choice = toolChoice as JsonObject & { type: string };
  let found: boolean;
  if (choice.type === 'function' || choice.type === 'custom') {
    const namespace = typeof choice.namespace === 'string' ? choice.namespace : null;
    const candidates =
      namespace === null
        ? tools
        : tools
            .filter((tool) => tool.type === 'namespace' && tool.name === namespace)
            .flatMap((tool) => tool.tools as RequestTool[]);
    found = candidates.some((tool) => tool.type === choice.type && tool.name === choice.name);
  } else if (choice.type === 'mcp') {
    found = tools.some((tool) => tool.type === 'mcp' && tool.server_label === choice.server_label);
  } else {
    const types = HOSTED_TOOL_CHOICES[choice.type] ?? [];
    found = tools.some((tool) => types.includes(tool.type));
  }
  if (!found) throw invalidRequest('tool_choice', `Tool choice '${choice.type}' not found in 'tools' parameter.`);
}
