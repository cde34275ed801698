import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError } from '../errors/api-error.ts';
import { parseCreateResponse } from './parse-create-response.ts';

interface Expected {
  param: string | null;
  code?: string | null;
  message?: string | RegExp;
}

function parse(fields: Record<string, unknown>): ReturnType<typeof parseCreateResponse> {
  return parseCreateResponse({ model: 'test-model', ...fields });
}

function rejects(body: unknown, expected: Expected): void {
  assert.throws(
    () => parseCreateResponse(body),
    (error: unknown) => {
      assert.ok(error instanceof ApiError, `expected an ApiError, got ${String(error)}`);
      assert.equal(error.status, 400);
      assert.equal(error.type, 'invalid_request_error');
      assert.equal(error.param, expected.param, error.message);
      if (expected.code !== undefined) assert.equal(error.code, expected.code, error.message);
      if (typeof expected.message === 'string') assert.equal(error.message, expected.message);
      else if (expected.message) assert.match(error.message, expected.message);
      return true;
    },
  );
}

/** A body with the test model and `fields`. */
function body(fields: Record<string, unknown>): Record<string, unknown> {
  return { model: 'test-model', ...fields };
}

const STRICT_PARAMETERS = {
  type: 'object',
  properties: { city: { type: 'string' } },
  required: ['city'],
  additionalProperties: false,
};

describe('parseCreateResponse: the body and model', () => {
  test('applies every default to a minimal body', () => {
    assert.deepEqual(parseCreateResponse({ model: 'test-model' }), {
      model: 'test-model',
      input: [],
      instructions: null,
      tools: [],
      toolChoice: 'auto',
      parallelToolCalls: true,
      maxOutputTokens: null,
      maxToolCalls: null,
      temperature: null,
      topP: null,
      topLogprobs: null,
      metadata: {},
      store: true,
      background: false,
      stream: false,
      streamOptions: null,
      previousResponseId: null,
      conversation: null,
      text: { format: { type: 'text' }, verbosity: 'medium' },
      reasoning: null,
      include: [],
      truncation: 'disabled',
      user: null,
      safetyIdentifier: null,
      promptCacheKey: null,
      promptCacheRetention: null,
      promptCacheOptions: null,
      serviceTier: 'auto',
      prompt: null,
      contextManagement: null,
      moderation: null,
      givenFields: ['model'],
    });
  });

  test('records which fields the body set, null counting as not set, text by part', () => {
    const request = parseCreateResponse({
      model: 'test-model',
      temperature: null,
      parallel_tool_calls: true,
      text: { verbosity: 'low' },
    });
    assert.deepEqual(request.givenFields, ['model', 'parallel_tool_calls', 'text', 'text.verbosity']);
  });

  test('the body must be a JSON object', () => {
    rejects([], { param: null, code: 'invalid_type' });
    rejects('hello', { param: null, code: 'invalid_type' });
    rejects(null, { param: null, code: 'invalid_type' });
  });

  test('model is a required non-empty string', () => {
    rejects(
      { input: 'hi' },
      { param: 'model', code: 'missing_required_parameter', message: "Missing required parameter: 'model'." },
    );
    rejects(body({ model: 7 }), {
      param: 'model',
      code: 'invalid_type',
      message: "Invalid type for 'model': expected a string, but got an integer instead.",
    });
    rejects(body({ model: '' }), { param: 'model', code: 'empty_string' });
    rejects(body({ model: null }), { param: 'model', code: 'invalid_type' });
  });

  test('model may be null or absent only when a prompt is given', () => {
    assert.equal(parseCreateResponse({ model: null, prompt: { id: 'pmpt_1' } }).model, null);
    assert.equal(parseCreateResponse({ prompt: { id: 'pmpt_1' } }).model, null);
  });

  test('unknown top-level fields are accepted and ignored', () => {
    const parsed = parse({ client_metadata: { session: 'x' }, some_future_field: [1, 2] });
    assert.equal(parsed.model, 'test-model');
    assert.ok(!('client_metadata' in parsed));
  });

  test('null counts as not given for optional fields', () => {
    const parsed = parse({
      temperature: null,
      store: null,
      tools: null,
      tool_choice: null,
      text: null,
      include: null,
      user: null,
      service_tier: null,
    });
    assert.equal(parsed.temperature, null);
    assert.equal(parsed.store, true);
    assert.deepEqual(parsed.tools, []);
    assert.equal(parsed.serviceTier, 'auto');
  });
});

describe('parseCreateResponse: sampling and limits', () => {
  const cases: Array<[string, Record<string, unknown>, Expected]> = [
    [
      'temperature above 2',
      { temperature: 2.5 },
      {
        param: 'temperature',
        code: 'decimal_above_max_value',
        message: "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 2.5 instead.",
      },
    ],
    ['temperature below 0', { temperature: -1 }, { param: 'temperature', code: 'decimal_below_min_value' }],
    ['temperature as a string', { temperature: '1' }, { param: 'temperature', code: 'invalid_type' }],
    ['top_p above 1', { top_p: 1.5 }, { param: 'top_p', code: 'decimal_above_max_value' }],
    ['top_logprobs above 20', { top_logprobs: 21 }, { param: 'top_logprobs', code: 'integer_above_max_value' }],
    ['top_logprobs as a decimal', { top_logprobs: 1.5 }, { param: 'top_logprobs', code: 'invalid_type' }],
    [
      'max_output_tokens below 16',
      { max_output_tokens: 8 },
      {
        param: 'max_output_tokens',
        code: 'integer_below_min_value',
        message: "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 8 instead.",
      },
    ],
    [
      'max_output_tokens as a decimal',
      { max_output_tokens: 100.5 },
      { param: 'max_output_tokens', code: 'invalid_type' },
    ],
    ['a negative max_tool_calls', { max_tool_calls: -1 }, { param: 'max_tool_calls', code: 'integer_below_min_value' }],
    [
      'parallel_tool_calls as a string',
      { parallel_tool_calls: 'yes' },
      { param: 'parallel_tool_calls', code: 'invalid_type' },
    ],
    ['store as a number', { store: 1 }, { param: 'store', code: 'invalid_type' }],
    ['background as a string', { background: 'true' }, { param: 'background', code: 'invalid_type' }],
    [
      'an unknown truncation',
      { truncation: 'always' },
      {
        param: 'truncation',
        code: 'invalid_value',
        message: "Invalid value: 'always'. Supported values are: 'auto' and 'disabled'.",
      },
    ],
    ['an unknown service_tier', { service_tier: 'gold' }, { param: 'service_tier', code: 'invalid_value' }],
    [
      'service_tier as an object',
      { service_tier: {} },
      {
        param: 'service_tier',
        code: 'invalid_type',
        message: /expected one of 'auto', 'default', .* or 'ultrafast', but got an object instead/,
      },
    ],
    [
      'an unknown include value',
      { include: ['reasoning.encrypted_content', 'everything'] },
      { param: 'include[1]', code: 'invalid_value' },
    ],
    ['include as a string', { include: 'reasoning.encrypted_content' }, { param: 'include', code: 'invalid_type' }],
    [
      'a safety_identifier over 64 characters',
      { safety_identifier: 'x'.repeat(65) },
      { param: 'safety_identifier', code: 'string_above_max_length' },
    ],
    ['user as an object', { user: { id: 1 } }, { param: 'user', code: 'invalid_type' }],
    [
      'an unknown prompt_cache_retention',
      { prompt_cache_retention: '1h' },
      { param: 'prompt_cache_retention', code: 'invalid_value' },
    ],
    [
      'an unknown prompt_cache_options.ttl',
      { prompt_cache_options: { ttl: '1h' } },
      { param: 'prompt_cache_options.ttl', code: 'invalid_value' },
    ],
    ['instructions as an array', { instructions: ['be brief'] }, { param: 'instructions', code: 'invalid_type' }],
  ];
  for (const [name, fields, expected] of cases) {
    test(`rejects ${name}`, () => rejects(body(fields), expected));
  }

  test('accepts values at the edges of their ranges', () => {
    const parsed = parse({ temperature: 2, top_p: 0, top_logprobs: 20, max_output_tokens: 16, max_tool_calls: 0 });
    assert.equal(parsed.temperature, 2);
    assert.equal(parsed.topP, 0);
    assert.equal(parsed.topLogprobs, 20);
    assert.equal(parsed.maxOutputTokens, 16);
    assert.equal(parsed.maxToolCalls, 0);
  });

  test('keeps the other top-level settings', () => {
    const parsed = parse({
      instructions: 'Be brief.',
      store: false,
      background: true,
      parallel_tool_calls: false,
      truncation: 'auto',
      service_tier: 'flex',
      include: ['reasoning.encrypted_content'],
      user: 'u1',
      safety_identifier: 'hash',
      prompt_cache_key: 'key',
      prompt_cache_retention: '24h',
      prompt_cache_options: { ttl: '30m', mode: 'explicit' },
    });
    assert.equal(parsed.instructions, 'Be brief.');
    assert.equal(parsed.store, false);
    assert.equal(parsed.background, true);
    assert.equal(parsed.parallelToolCalls, false);
    assert.equal(parsed.truncation, 'auto');
    assert.equal(parsed.serviceTier, 'flex');
    assert.deepEqual(parsed.include, ['reasoning.encrypted_content']);
    assert.equal(parsed.user, 'u1');
    assert.equal(parsed.safetyIdentifier, 'hash');
    assert.equal(parsed.promptCacheKey, 'key');
    assert.equal(parsed.promptCacheRetention, '24h');
    assert.deepEqual(parsed.promptCacheOptions, { ttl: '30m', mode: 'explicit' });
  });
});

describe('parseCreateResponse: metadata', () => {
  test('accepts up to 16 string pairs', () => {
    const metadata = Object.fromEntries(Array.from({ length: 16 }, (_, index) => [`k${index}`, 'v']));
    assert.deepEqual(parse({ metadata }).metadata, metadata);
  });

  test('rejects more than 16 pairs', () => {
    const metadata = Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`k${index}`, 'v']));
    rejects(body({ metadata }), {
      param: 'metadata',
      code: 'object_above_max_properties',
      message:
        "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with 17 properties instead.",
    });
  });

  test('rejects a key over 64 characters and a value over 512', () => {
    const key = 'k'.repeat(65);
    rejects(body({ metadata: { [key]: 'v' } }), {
      param: `metadata.${key}`,
      code: 'property_name_above_max_length',
      message: `Invalid property name in 'metadata': '${key}' is too long. Expected a string with maximum length 64, but got a string with length 65 instead.`,
    });
    rejects(body({ metadata: { k: 'v'.repeat(513) } }), {
      param: 'metadata.k',
      code: 'string_above_max_length',
      message:
        "Invalid 'metadata.k': string too long. Expected a string with maximum length 512, but got a string with length 513 instead.",
    });
  });

  test('rejects non-string values and a non-object metadata', () => {
    rejects(body({ metadata: { k: 7 } }), {
      param: 'metadata.k',
      code: 'invalid_type',
      message: "Invalid type for 'metadata.k': expected a string, but got an integer instead.",
    });
    rejects(body({ metadata: 'x' }), { param: 'metadata', code: 'invalid_type' });
  });
});

describe('parseCreateResponse: streaming and conversation state', () => {
  test('stream_options only with stream', () => {
    assert.deepEqual(parse({ stream: true, stream_options: { include_obfuscation: false } }).streamOptions, {
      include_obfuscation: false,
    });
    rejects(body({ stream_options: { include_obfuscation: false } }), {
      param: 'stream_options',
      message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
    });
    rejects(body({ stream: true, stream_options: { include_obfuscation: 'no' } }), {
      param: 'stream_options.include_obfuscation',
      code: 'invalid_type',
    });
    assert.equal(parse({ stream: false, stream_options: null }).streamOptions, null);
  });

  test('conversation as a string or {id}', () => {
    assert.equal(parse({ conversation: 'conv_1' }).conversation, 'conv_1');
    assert.equal(parse({ conversation: { id: 'conv_2' } }).conversation, 'conv_2');
    rejects(body({ conversation: {} }), { param: 'conversation.id', code: 'missing_required_parameter' });
    rejects(body({ conversation: 5 }), { param: 'conversation', code: 'invalid_type' });
  });

  test('previous_response_id and conversation are mutually exclusive', () => {
    assert.equal(parse({ previous_response_id: 'resp_1' }).previousResponseId, 'resp_1');
    rejects(body({ previous_response_id: 'resp_1', conversation: 'conv_1' }), {
      param: 'conversation',
      message:
        "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or 'conversation'.",
    });
    rejects(body({ previous_response_id: 42 }), { param: 'previous_response_id', code: 'invalid_type' });
  });
});

describe('parseCreateResponse: reasoning, prompt, context management, moderation', () => {
  test('reasoning effort and summary, with generate_summary as the old name', () => {
    assert.deepEqual(parse({ reasoning: { effort: 'high', summary: 'auto' } }).reasoning, {
      effort: 'high',
      summary: 'auto',
    });
    assert.deepEqual(parse({ reasoning: { generate_summary: 'concise' } }).reasoning, {
      effort: null,
      summary: 'concise',
    });
    rejects(body({ reasoning: { effort: 'extreme' } }), { param: 'reasoning.effort', code: 'invalid_value' });
    rejects(body({ reasoning: { summary: 'long' } }), { param: 'reasoning.summary', code: 'invalid_value' });
    rejects(body({ reasoning: 'high' }), { param: 'reasoning', code: 'invalid_type' });
  });

  test('prompt with id, version and variables', () => {
    const parsed = parse({
      prompt: {
        id: 'pmpt_1',
        version: '2',
        variables: { city: 'Paris', photo: { type: 'input_image', image_url: 'https://example.com/a.png' } },
      },
    });
    assert.deepEqual(parsed.prompt, {
      id: 'pmpt_1',
      version: '2',
      variables: {
        city: 'Paris',
        photo: { type: 'input_image', image_url: 'https://example.com/a.png', detail: 'auto' },
      },
    });
    rejects(body({ prompt: {} }), { param: 'prompt.id', code: 'missing_required_parameter' });
    rejects(body({ prompt: { id: 'p', variables: { x: 1 } } }), { param: 'prompt.variables.x', code: 'invalid_type' });
    rejects(body({ prompt: { id: 'p', variables: { x: { type: 'audio' } } } }), {
      param: 'prompt.variables.x.type',
      code: 'invalid_value',
    });
  });

  test('context_management entries', () => {
    assert.deepEqual(
      parse({ context_management: [{ type: 'compaction', compact_threshold: 20000 }] }).contextManagement,
      [{ type: 'compaction', compact_threshold: 20000 }],
    );
    rejects(body({ context_management: [] }), { param: 'context_management', code: 'empty_array' });
    rejects(body({ context_management: [{ type: 'compaction', compact_threshold: 10 }] }), {
      param: 'context_management[0].compact_threshold',
      code: 'integer_below_min_value',
    });
    rejects(body({ context_management: [{}] }), {
      param: 'context_management[0].type',
      code: 'missing_required_parameter',
    });
  });

  test('moderation with a model and an optional policy', () => {
    assert.deepEqual(parse({ moderation: { model: 'omni-moderation-latest' } }).moderation, {
      model: 'omni-moderation-latest',
    });
    rejects(body({ moderation: {} }), {
      param: 'moderation.model',
      code: 'missing_required_parameter',
      message: "Missing required parameter: 'moderation.model'.",
    });
    rejects(body({ moderation: { model: 'm', policy: { input: { mode: 'warn' } } } }), {
      param: 'moderation.policy.input.mode',
      code: 'invalid_value',
    });
  });
});

describe('parseCreateResponse: text format', () => {
  test('text, json_object and json_schema formats', () => {
    assert.deepEqual(parse({ text: { format: { type: 'json_object' } } }).text, {
      format: { type: 'json_object' },
      verbosity: 'medium',
    });
    assert.deepEqual(parse({ text: { verbosity: 'low' } }).text, { format: { type: 'text' }, verbosity: 'low' });
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    assert.deepEqual(
      parse({ text: { format: { type: 'json_schema', name: 'answer', schema, description: 'd' } } }).text.format,
      {
        type: 'json_schema',
        name: 'answer',
        description: 'd',
        schema,
        strict: false,
      },
    );
  });

  test('rejects a bad format type, a missing name or schema, a bad name and a bad verbosity', () => {
    rejects(body({ text: { format: { type: 'xml' } } }), {
      param: 'text.format.type',
      code: 'invalid_value',
      message: "Invalid value: 'xml'. Supported values are: 'text', 'json_schema', and 'json_object'.",
    });
    rejects(body({ text: { format: { type: 'json_schema', schema: {} } } }), {
      param: 'text.format.name',
      code: 'missing_required_parameter',
    });
    rejects(body({ text: { format: { type: 'json_schema', name: 'a' } } }), {
      param: 'text.format.schema',
      code: 'missing_required_parameter',
    });
    rejects(body({ text: { format: { type: 'json_schema', name: 'has space', schema: {} } } }), {
      param: 'text.format.name',
      code: 'invalid_value',
    });
    rejects(body({ text: { format: { type: 'json_schema', name: 'n'.repeat(65), schema: {} } } }), {
      param: 'text.format.name',
      code: 'string_above_max_length',
    });
    rejects(body({ text: { format: { type: 'json_schema', name: 'a', schema: 'x' } } }), {
      param: 'text.format.schema',
      code: 'invalid_type',
    });
    rejects(body({ text: { verbosity: 'loud' } }), { param: 'text.verbosity', code: 'invalid_value' });
    rejects(body({ text: 'json' }), { param: 'text', code: 'invalid_type' });
  });

  test('a strict json_schema must follow the strict-mode rules', () => {
    assert.equal(
      parse({ text: { format: { type: 'json_schema', name: 'answer', schema: STRICT_PARAMETERS, strict: true } } }).text
        .format.type,
      'json_schema',
    );
    rejects(
      body({
        text: {
          format: {
            type: 'json_schema',
            name: 'answer',
            strict: true,
            schema: {
              type: 'object',
              properties: { x: { type: 'object', properties: {} } },
              required: ['x'],
              additionalProperties: false,
            },
          },
        },
      }),
      {
        param: 'text.format.schema',
        code: 'invalid_json_schema',
        message:
          "Invalid schema for response_format 'answer': In context=('properties', 'x'), 'additionalProperties' is required to be supplied and to be false.",
      },
    );
  });
});

describe('parseCreateResponse: input', () => {
  test('a string becomes one user message', () => {
    assert.deepEqual(parse({ input: 'Hello' }).input, [
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hello' }] },
    ]);
  });

  test('messages without type get type message, string content becomes parts by role', () => {
    const parsed = parse({
      input: [
        { role: 'system', content: 'Rules.' },
        { role: 'developer', content: 'More rules.' },
        { role: 'user', content: 'Question?' },
        { role: 'assistant', content: 'Answer.' },
      ],
    });
    assert.deepEqual(parsed.input, [
      { type: 'message', role: 'system', content: [{ type: 'input_text', text: 'Rules.' }] },
      { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'More rules.' }] },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Question?' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Answer.', annotations: [] }] },
    ]);
  });

  test('keeps client ids, status, phase and unknown fields on messages', () => {
    const message = {
      type: 'message',
      id: 'msg_abc',
      role: 'assistant',
      status: 'completed',
      phase: 'final_answer',
      extra: 1,
      content: [{ type: 'output_text', text: 'Hi', annotations: [], logprobs: [] }],
    };
    assert.deepEqual(parse({ input: [message] }).input, [message]);
  });

  test('content parts: text, images (URL, data URL, file id) with detail defaulting to auto, files', () => {
    const parsed = parse({
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'Look' },
            { type: 'input_image', image_url: 'https://example.com/cat.png' },
            { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' },
            { type: 'input_image', file_id: 'file-1', detail: 'low' },
            { type: 'input_file', file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' },
            { type: 'input_file', file_url: 'https://example.com/a.pdf' },
            { type: 'input_file', file_id: 'file-2' },
          ],
        },
      ],
    });
    const content = parsed.input[0]?.content as Array<Record<string, unknown>>;
    assert.equal(content[1]?.detail, 'auto');
    assert.equal(content[2]?.detail, 'high');
    assert.equal(content[3]?.detail, 'low');
    assert.equal(content.length, 7);
  });

  test('assistant content: output_text (annotations default to []) and refusal', () => {
    const parsed = parse({
      input: [
        {
          role: 'assistant',
          content: [
            { type: 'output_text', text: 'Hi' },
            { type: 'refusal', refusal: 'No.' },
          ],
        },
      ],
    });
    assert.deepEqual(parsed.input[0]?.content, [
      { type: 'output_text', text: 'Hi', annotations: [] },
      { type: 'refusal', refusal: 'No.' },
    ]);
  });

  const cases: Array<[string, unknown, Expected]> = [
    ['input as a number', 5, { param: 'input', code: 'invalid_type' }],
    ['an item that is not an object', ['hi'], { param: 'input[0]', code: 'invalid_type' }],
    [
      'an unknown item type',
      [{ type: 'telepathy' }],
      {
        param: 'input[0].type',
        code: 'invalid_value',
        message:
          /^Invalid value: 'telepathy'\. Supported values are: 'message', 'function_call', .*, and 'program_output'\.$/,
      },
    ],
    [
      'a message without role',
      [{ type: 'message', content: 'x' }],
      { param: 'input[0].role', code: 'missing_required_parameter' },
    ],
    [
      'an unknown role',
      [{ role: 'tool', content: 'x' }],
      {
        param: 'input[0].role',
        code: 'invalid_value',
        message: "Invalid value: 'tool'. Supported values are: 'user', 'assistant', 'system', and 'developer'.",
      },
    ],
    [
      'a message without content',
      [{ role: 'user' }],
      { param: 'input[0].content', code: 'missing_required_parameter' },
    ],
    ['content as a number', [{ role: 'user', content: 3 }], { param: 'input[0].content', code: 'invalid_type' }],
    [
      'input_text in an assistant message',
      [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: [{ type: 'input_text', text: 'a' }] },
      ],
      {
        param: 'input[1].content[0].type',
        code: 'invalid_value',
        message: "Invalid value: 'input_text'. Supported values are: 'output_text' and 'refusal'.",
      },
    ],
    [
      'output_text in a user message',
      [{ role: 'user', content: [{ type: 'output_text', text: 'a' }] }],
      {
        param: 'input[0].content[0].type',
        code: 'invalid_value',
        message: "Invalid value: 'output_text'. Supported values are: 'input_text', 'input_image', and 'input_file'.",
      },
    ],
    [
      'a chat-style text part',
      [{ role: 'user', content: [{ type: 'text', text: 'a' }] }],
      { param: 'input[0].content[0].type', code: 'invalid_value' },
    ],
    [
      'input_text without text',
      [{ role: 'user', content: [{ type: 'input_text' }] }],
      { param: 'input[0].content[0].text', code: 'missing_required_parameter' },
    ],
    [
      'an image URL that is not a URL',
      [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'a' },
            { type: 'input_image', image_url: 'not a url' },
          ],
        },
      ],
      {
        param: 'input[0].content[1].image_url',
        code: 'invalid_value',
        message:
          "Invalid 'input[0].content[1].image_url'. Expected a valid URL, but got a value with an invalid format.",
      },
    ],
    [
      'a data URL that is not an image',
      [{ role: 'user', content: [{ type: 'input_image', image_url: 'data:text/plain;base64,aGk=' }] }],
      { param: 'input[0].content[0].image_url', code: 'invalid_value', message: /unsupported MIME type 'text\/plain'/ },
    ],
    [
      'an image as a chat-style object',
      [{ role: 'user', content: [{ type: 'input_image', image_url: { url: 'https://example.com/a.png' } }] }],
      { param: 'input[0].content[0].image_url', code: 'invalid_type' },
    ],
    [
      'an image with neither URL nor file id',
      [{ role: 'user', content: [{ type: 'input_image' }] }],
      { param: 'input[0].content[0].image_url' },
    ],
    [
      'an unknown image detail',
      [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://example.com/a.png', detail: 'max' }] }],
      { param: 'input[0].content[0].detail', code: 'invalid_value' },
    ],
    [
      'a file with no data, URL or id',
      [{ role: 'user', content: [{ type: 'input_file', filename: 'a.pdf' }] }],
      { param: 'input[0].content[0].file_data' },
    ],
    [
      'a file URL that is not a URL',
      [{ role: 'user', content: [{ type: 'input_file', file_url: 'a.pdf' }] }],
      { param: 'input[0].content[0].file_url', code: 'invalid_value' },
    ],
    [
      'a refusal without text',
      [{ role: 'assistant', content: [{ type: 'refusal' }] }],
      { param: 'input[0].content[0].refusal', code: 'missing_required_parameter' },
    ],
    [
      'an unknown message status',
      [{ role: 'user', content: 'x', status: 'done' }],
      { param: 'input[0].status', code: 'invalid_value' },
    ],
  ];
  for (const [name, input, expected] of cases) {
    test(`rejects ${name}`, () => rejects(body({ input }), expected));
  }
});

describe('parseCreateResponse: tool call items and other items', () => {
  test('function calls and outputs, with ids kept', () => {
    const input = [
      { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' },
      { type: 'function_call_output', call_id: 'call_1', output: 'Sunny' },
      {
        type: 'function_call_output',
        call_id: 'call_2',
        output: [
          { type: 'input_text', text: 'Rain' },
          { type: 'input_image', image_url: 'https://example.com/r.png' },
        ],
      },
    ];
    const parsed = parse({ input });
    assert.deepEqual(parsed.input[0], input[0]);
    assert.deepEqual(parsed.input[1], input[1]);
    assert.deepEqual(parsed.input[2], {
      ...input[2],
      output: [
        { type: 'input_text', text: 'Rain' },
        { type: 'input_image', image_url: 'https://example.com/r.png', detail: 'auto' },
      ],
    });
  });

  test('custom tool calls and outputs', () => {
    const input = [
      { type: 'custom_tool_call', call_id: 'call_1', name: 'apply_patch', input: '*** Begin Patch' },
      { type: 'custom_tool_call_output', call_id: 'call_1', output: 'Done' },
    ];
    assert.deepEqual(parse({ input }).input, input);
  });

  test('item references, with and without type', () => {
    assert.deepEqual(parse({ input: [{ type: 'item_reference', id: 'msg_1' }, { id: 'fc_2' }] }).input, [
      { type: 'item_reference', id: 'msg_1' },
      { type: 'item_reference', id: 'fc_2' },
    ]);
    rejects(body({ input: [{ type: 'item_reference' }] }), {
      param: 'input[0].id',
      code: 'missing_required_parameter',
    });
  });

  test('reasoning items as Codex CLI sends them (no id, null encrypted_content) and with content', () => {
    const codex = { type: 'reasoning', summary: [{ type: 'summary_text', text: 'Thinking' }], encrypted_content: null };
    const full = {
      type: 'reasoning',
      id: 'rs_1',
      summary: [],
      content: [{ type: 'reasoning_text', text: 'step' }],
      encrypted_content: 'gAAA',
    };
    assert.deepEqual(parse({ input: [codex, full] }).input, [codex, full]);
    rejects(body({ input: [{ type: 'reasoning', id: 'rs_1' }] }), {
      param: 'input[0].summary',
      code: 'missing_required_parameter',
    });
    rejects(body({ input: [{ type: 'reasoning', summary: [{ type: 'text', text: 'x' }] }] }), {
      param: 'input[0].summary[0].type',
      code: 'invalid_value',
    });
  });

  test('compaction items', () => {
    assert.deepEqual(parse({ input: [{ type: 'compaction', encrypted_content: 'opaque' }] }).input, [
      { type: 'compaction', encrypted_content: 'opaque' },
    ]);
    rejects(body({ input: [{ type: 'compaction' }] }), {
      param: 'input[0].encrypted_content',
      code: 'missing_required_parameter',
    });
  });

  test('other item types of the spec are accepted as given', () => {
    const input = [
      { type: 'web_search_call', id: 'ws_1', status: 'completed', action: { type: 'search', query: 'x' } },
      { type: 'local_shell_call', call_id: 'c', status: 'completed', action: { type: 'exec', command: ['ls'] } },
      { type: 'mcp_call', id: 'mcp_1', server_label: 's', name: 'n', arguments: '{}' },
      { type: 'compaction_trigger' },
    ];
    assert.deepEqual(parse({ input }).input, input);
  });

  const cases: Array<[string, unknown, Expected]> = [
    [
      'a function call without call_id',
      [{ type: 'function_call', name: 'f', arguments: '{}' }],
      { param: 'input[0].call_id', code: 'missing_required_parameter' },
    ],
    [
      'a function call without name',
      [{ type: 'function_call', call_id: 'c', arguments: '{}' }],
      { param: 'input[0].name', code: 'missing_required_parameter' },
    ],
    [
      'function call arguments as an object',
      [{ type: 'function_call', call_id: 'c', name: 'f', arguments: {} }],
      { param: 'input[0].arguments', code: 'invalid_type' },
    ],
    [
      'a function call output without output',
      [{ type: 'function_call_output', call_id: 'c' }],
      { param: 'input[0].output', code: 'missing_required_parameter' },
    ],
    [
      'a function call output without call_id',
      [{ type: 'function_call_output', output: 'x' }],
      { param: 'input[0].call_id', code: 'missing_required_parameter' },
    ],
    [
      'a function call output as an object',
      [{ type: 'function_call_output', call_id: 'c', output: { ok: true } }],
      { param: 'input[0].output', code: 'invalid_type' },
    ],
    [
      'an output_text part in a function call output',
      [{ type: 'function_call_output', call_id: 'c', output: [{ type: 'output_text', text: 'x' }] }],
      { param: 'input[0].output[0].type', code: 'invalid_value' },
    ],
    [
      'a custom tool call without input',
      [{ type: 'custom_tool_call', call_id: 'c', name: 'f' }],
      { param: 'input[0].input', code: 'missing_required_parameter' },
    ],
    [
      'a custom tool call output without call_id',
      [{ type: 'custom_tool_call_output', output: 'x' }],
      { param: 'input[0].call_id', code: 'missing_required_parameter' },
    ],
    ['an item type that is not a string', [{ type: 7 }], { param: 'input[0].type', code: 'invalid_type' }],
  ];
  for (const [name, input, expected] of cases) {
    test(`rejects ${name}`, () => rejects(body({ input }), expected));
  }
});

describe('parseCreateResponse: tools', () => {
  test('function tools: strict given is kept; omitted, it follows the schema', () => {
    const parsed = parse({
      tools: [
        { type: 'function', name: 'strict_one', parameters: STRICT_PARAMETERS, strict: true },
        {
          type: 'function',
          name: 'loose_one',
          parameters: { type: 'object', properties: { a: { type: 'string' } } },
          strict: false,
        },
        { type: 'function', name: 'default_strict', parameters: STRICT_PARAMETERS },
        {
          type: 'function',
          name: 'default_loose',
          description: 'd',
          parameters: { type: 'object', properties: { a: { type: 'string' } } },
        },
        { type: 'function', name: 'no_parameters' },
      ],
    });
    assert.deepEqual(
      parsed.tools.map((tool) => [tool.name, tool.strict]),
      [
        ['strict_one', true],
        ['loose_one', false],
        ['default_strict', true],
        ['default_loose', false],
        ['no_parameters', true],
      ],
    );
    assert.equal(parsed.tools[4]?.parameters, null);
  });

  test('a strict function tool must have a strict-mode schema', () => {
    rejects(
      body({
        tools: [
          {
            type: 'function',
            name: 'f',
            strict: true,
            parameters: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false },
          },
        ],
      }),
      {
        param: 'tools[0].parameters',
        code: 'invalid_function_parameters',
        message:
          "Invalid schema for function 'f': In context=(), 'required' is required to be supplied and to be an array including every key in properties. Missing 'a'.",
      },
    );
  });

  test('custom tools with text and grammar formats', () => {
    const tools = [
      { type: 'custom', name: 'free' },
      { type: 'custom', name: 'text_one', format: { type: 'text' } },
      {
        type: 'custom',
        name: 'apply_patch',
        description: 'patch',
        format: { type: 'grammar', syntax: 'lark', definition: 'start: "x"' },
      },
    ];
    assert.deepEqual(parse({ tools }).tools, tools);
  });

  test('namespace tools are validated recursively', () => {
    const parsed = parse({
      tools: [
        {
          type: 'namespace',
          name: 'crm',
          description: 'CRM tools',
          tools: [
            { type: 'function', name: 'lookup', parameters: STRICT_PARAMETERS },
            { type: 'custom', name: 'note' },
          ],
        },
      ],
    });
    const inner = parsed.tools[0]?.tools as Array<Record<string, unknown>>;
    assert.equal(inner[0]?.strict, true);
    assert.equal(inner[1]?.name, 'note');
    rejects(
      body({
        tools: [{ type: 'namespace', name: 'crm', description: 'd', tools: [{ type: 'function', name: 'bad name' }] }],
      }),
      { param: 'tools[0].tools[0].name', code: 'invalid_value' },
    );
    rejects(body({ tools: [{ type: 'namespace', name: 'crm', description: 'd', tools: [{ type: 'web_search' }] }] }), {
      param: 'tools[0].tools[0].type',
      code: 'invalid_value',
    });
    rejects(body({ tools: [{ type: 'namespace', name: 'crm', description: 'd', tools: [] }] }), {
      param: 'tools[0].tools',
      code: 'empty_array',
    });
    rejects(body({ tools: [{ type: 'namespace', name: 'crm', tools: [{ type: 'custom', name: 'n' }] }] }), {
      param: 'tools[0].description',
      code: 'missing_required_parameter',
    });
    rejects(
      body({
        tools: [
          {
            type: 'namespace',
            name: 'crm',
            description: 'd',
            tools: [
              { type: 'custom', name: 'n' },
              { type: 'function', name: 'n' },
            ],
          },
        ],
      }),
      { param: 'tools[0].tools[1].name' },
    );
  });

  test('built-in tools pass by type, with the fields the spec requires', () => {
    const tools = [
      { type: 'web_search', external_web_access: false },
      { type: 'web_search_preview' },
      { type: 'file_search', vector_store_ids: ['vs_1'] },
      { type: 'code_interpreter', container: { type: 'auto' } },
      { type: 'mcp', server_label: 'docs', server_url: 'https://example.com/mcp' },
      { type: 'image_generation' },
      { type: 'local_shell' },
      { type: 'shell' },
      { type: 'apply_patch' },
      { type: 'computer_use_preview', environment: 'browser', display_width: 1024, display_height: 768 },
    ];
    assert.deepEqual(parse({ tools }).tools, tools);
    rejects(body({ tools: [{ type: 'file_search' }] }), {
      param: 'tools[0].vector_store_ids',
      code: 'missing_required_parameter',
    });
    rejects(body({ tools: [{ type: 'mcp' }] }), { param: 'tools[0].server_label', code: 'missing_required_parameter' });
  });

  const cases: Array<[string, Record<string, unknown>, Expected]> = [
    ['tools as an object', { tools: { type: 'function' } }, { param: 'tools', code: 'invalid_type' }],
    ['a tool without type', { tools: [{ name: 'f' }] }, { param: 'tools[0].type', code: 'missing_required_parameter' }],
    [
      'an unknown tool type',
      { tools: [{ type: 'teleport' }] },
      {
        param: 'tools[0].type',
        code: 'invalid_value',
        message:
          /^Invalid value: 'teleport'\. Supported values are: 'function', 'custom', 'namespace', 'file_search', /,
      },
    ],
    [
      'a chat-style function tool',
      { tools: [{ type: 'function', function: { name: 'f' } }] },
      { param: 'tools[0].name', code: 'missing_required_parameter' },
    ],
    [
      'a function name with spaces',
      { tools: [{ type: 'function', name: 'get weather' }] },
      {
        param: 'tools[0].name',
        code: 'invalid_value',
        message:
          "Invalid 'tools[0].name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
      },
    ],
    [
      'a function name over 64 characters',
      { tools: [{ type: 'function', name: 'f'.repeat(65) }] },
      { param: 'tools[0].name', code: 'string_above_max_length' },
    ],
    [
      'an empty function name',
      { tools: [{ type: 'function', name: '' }] },
      { param: 'tools[0].name', code: 'empty_string' },
    ],
    [
      'parameters as a string',
      { tools: [{ type: 'function', name: 'f', parameters: '{}' }] },
      { param: 'tools[0].parameters', code: 'invalid_type' },
    ],
    [
      'strict as a string',
      { tools: [{ type: 'function', name: 'f', strict: 'yes' }] },
      { param: 'tools[0].strict', code: 'invalid_type' },
    ],
    [
      'duplicate function names',
      {
        tools: [
          { type: 'function', name: 'f' },
          { type: 'function', name: 'g' },
          { type: 'function', name: 'f' },
        ],
      },
      { param: 'tools[2].name', message: /Duplicate tool name 'f'/ },
    ],
    [
      'a function and a custom tool with one name',
      {
        tools: [
          { type: 'function', name: 'f' },
          { type: 'custom', name: 'f' },
        ],
      },
      { param: 'tools[1].name' },
    ],
    [
      'an unknown grammar syntax',
      { tools: [{ type: 'custom', name: 'c', format: { type: 'grammar', syntax: 'ebnf', definition: 'x' } }] },
      { param: 'tools[0].format.syntax', code: 'invalid_value' },
    ],
    [
      'a grammar without definition',
      { tools: [{ type: 'custom', name: 'c', format: { type: 'grammar', syntax: 'lark' } }] },
      { param: 'tools[0].format.definition', code: 'missing_required_parameter' },
    ],
    [
      'an unknown custom format',
      { tools: [{ type: 'custom', name: 'c', format: { type: 'json' } }] },
      { param: 'tools[0].format.type', code: 'invalid_value' },
    ],
  ];
  for (const [name, fields, expected] of cases) {
    test(`rejects ${name}`, () => rejects(body(fields), expected));
  }
});

describe('parseCreateResponse: tool_choice', () => {
  const tools = [
    { type: 'function', name: 'weather' },
    { type: 'custom', name: 'patch' },
    { type: 'namespace', name: 'crm', description: 'd', tools: [{ type: 'function', name: 'lookup' }] },
    { type: 'file_search', vector_store_ids: ['vs_1'] },
    { type: 'web_search' },
    { type: 'mcp', server_label: 'docs' },
  ];

  test('accepts the string modes and every object form naming a tool that is there', () => {
    for (const mode of ['none', 'auto', 'required']) assert.equal(parse({ tools, tool_choice: mode }).toolChoice, mode);
    const choices = [
      { type: 'function', name: 'weather' },
      { type: 'function', name: 'lookup', namespace: 'crm' },
      { type: 'custom', name: 'patch' },
      {
        type: 'allowed_tools',
        mode: 'required',
        tools: [{ type: 'function', name: 'weather' }, { type: 'file_search' }],
      },
      { type: 'file_search' },
      { type: 'web_search' },
      { type: 'mcp', server_label: 'docs', name: 'search' },
    ];
    for (const choice of choices) assert.deepEqual(parse({ tools, tool_choice: choice }).toolChoice, choice);
  });

  const cases: Array<[string, unknown, Expected]> = [
    [
      'an unknown mode',
      'sometimes',
      {
        param: 'tool_choice',
        code: 'invalid_value',
        message: "Invalid value: 'sometimes'. Supported values are: 'none', 'auto', and 'required'.",
      },
    ],
    ['a number', 1, { param: 'tool_choice', code: 'invalid_type' }],
    [
      'a function that is not in tools',
      { type: 'function', name: 'stocks' },
      { param: 'tool_choice', message: "Tool choice 'function' not found in 'tools' parameter." },
    ],
    ['a namespaced function without its namespace', { type: 'function', name: 'lookup' }, { param: 'tool_choice' }],
    ['a custom tool named as a function', { type: 'function', name: 'patch' }, { param: 'tool_choice' }],
    [
      'a hosted tool that is not in tools',
      { type: 'image_generation' },
      { param: 'tool_choice', message: "Tool choice 'image_generation' not found in 'tools' parameter." },
    ],
    ['an mcp server that is not in tools', { type: 'mcp', server_label: 'other' }, { param: 'tool_choice' }],
    [
      'a function without name',
      { type: 'function' },
      { param: 'tool_choice.name', code: 'missing_required_parameter' },
    ],
    ['an unknown type', { type: 'telepathy' }, { param: 'tool_choice.type', code: 'invalid_value' }],
    [
      'allowed_tools with a bad mode',
      { type: 'allowed_tools', mode: 'none', tools: [] },
      { param: 'tool_choice.mode', code: 'invalid_value' },
    ],
    [
      'allowed_tools without tools',
      { type: 'allowed_tools', mode: 'auto' },
      { param: 'tool_choice.tools', code: 'missing_required_parameter' },
    ],
    [
      'an allowed function without name',
      { type: 'allowed_tools', mode: 'auto', tools: [{ type: 'function' }] },
      { param: 'tool_choice.tools[0].name', code: 'missing_required_parameter' },
    ],
  ];
  for (const [name, toolChoice, expected] of cases) {
    test(`rejects ${name}`, () => rejects(body({ tools, tool_choice: toolChoice }), expected));
  }
});
