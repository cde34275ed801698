import assert, { AssertionError } from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  KNOWN_SPEC_DEVIATIONS,
  assertErrorBody,
  assertHasEverySpecKey,
  assertListPage,
  assertMatchesSchema,
  assertStreamEvent,
  createSpecValidator,
  responseStreamEventTypes,
  schemaKeys,
  streamEventSchemaName,
} from './spec-validator.ts';

/** A completed Response as Riposte sends it: every key the spec lists, null where unset. */
function validResponse(): Record<string, unknown> {
  return {
    id: 'resp_0123456789abcdef',
    object: 'response',
    created_at: 1741476542,
    status: 'completed',
    background: false,
    completed_at: 1741476543,
    conversation: null,
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    max_tool_calls: null,
    metadata: {},
    model: 'llama3.1:8b',
    moderation: null,
    output: [
      {
        type: 'message',
        id: 'msg_0123456789abcdef',
        status: 'completed',
        role: 'assistant',
        phase: null,
        content: [{ type: 'output_text', text: 'Hello!', annotations: [], logprobs: [] }],
      },
    ],
    parallel_tool_calls: true,
    previous_response_id: null,
    prompt: null,
    prompt_cache_key: null,
    prompt_cache_options: { ttl: '30m', mode: 'implicit' },
    prompt_cache_retention: null,
    reasoning: { effort: null, summary: null },
    safety_identifier: null,
    service_tier: 'default',
    // `store` is not in the Response schema at all; OpenAI sends it and the schema is open.
    store: true,
    temperature: 1,
    text: { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: 'auto',
    tools: [],
    top_logprobs: 0,
    top_p: 1,
    truncation: 'disabled',
    usage: {
      input_tokens: 36,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: 87,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 123,
    },
    user: null,
  };
}

/** A stream event as it arrives on the wire. */
type WireEvent = { type: string } & Record<string, unknown>;

function textDelta(): WireEvent {
  return {
    type: 'response.output_text.delta',
    item_id: 'msg_0123456789abcdef',
    output_index: 0,
    content_index: 0,
    delta: 'Hel',
    logprobs: [],
    sequence_number: 4,
  };
}

function rejects(action: () => void, pattern: RegExp): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof AssertionError, `expected an AssertionError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
}

void describe('assertMatchesSchema', () => {
  void it('accepts a complete Response', () => {
    assertMatchesSchema('Response', validResponse());
  });

  void it('accepts a Response carrying the SDK-only output_text', () => {
    assertMatchesSchema('Response', { ...validResponse(), output_text: 'Hello!' });
  });

  void it('accepts any model name, since ModelIdsShared allows any string', () => {
    assertMatchesSchema('Response', { ...validResponse(), model: 'anthropic/claude-sonnet' });
  });

  void it('rejects a Response missing a required key and names it', () => {
    const { created_at: _createdAt, ...response } = validResponse();
    rejects(
      () => assertMatchesSchema('Response', response, 'GET /v1/responses/x'),
      /GET \/v1\/responses\/x: .*\n.*must have required property 'created_at'/,
    );
  });

  void it('reports the error inside the output item whose type matches, not one per union branch', () => {
    const response = validResponse();
    response.output = [
      {
        type: 'message',
        id: 'msg_1',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: 'Hi', annotations: [] }],
      },
    ];
    assert.throws(
      () => assertMatchesSchema('Response', response),
      (error: Error) => {
        assert.match(error.message, /\/output\/0\/content\/0: must have required property 'logprobs'/);
        const reported = error.message.split('\n').filter((line) => line.startsWith('  '));
        assert.equal(reported.length, 1, error.message);
        return true;
      },
    );
  });

  void it('names an unknown output item type', () => {
    const response = validResponse();
    response.output = [{ type: 'mesage', id: 'msg_1' }];
    rejects(
      () => assertMatchesSchema('Response', response),
      /\/output\/0: type "mesage" is not one of the union's types/,
    );
  });

  void it('rejects a millisecond timestamp where the spec says unixtime', () => {
    rejects(
      () => assertMatchesSchema('Response', { ...validResponse(), created_at: 1741476542000 }),
      /\/created_at: must match format "unixtime"/,
    );
  });

  void it('fails clearly on a schema name the spec does not have', () => {
    assert.throws(() => assertMatchesSchema('ResponseObject', {}), /no schema named "ResponseObject"/);
  });

  void it('finds out that Response is an open schema (additionalProperties unset): unknown keys pass', () => {
    assertMatchesSchema('Response', { ...validResponse(), riposte_extension: 1 });
  });
});

void describe('assertStreamEvent', () => {
  void it('accepts a response.output_text.delta event', () => {
    assertStreamEvent(textDelta());
  });

  void it('accepts lifecycle events carrying an in-progress Response with usage null', () => {
    const response = { ...validResponse(), status: 'in_progress', completed_at: null, output: [], usage: null };
    assertStreamEvent({ type: 'response.created', response, sequence_number: 0 });
  });

  void it('rejects an event without sequence_number', () => {
    const { sequence_number: _sequenceNumber, ...event } = textDelta();
    rejects(() => assertStreamEvent(event), /must have required property 'sequence_number'/);
  });

  void it('rejects a delta that is not a string', () => {
    rejects(() => assertStreamEvent({ ...textDelta(), delta: 42 }), /\/delta: must be string \(got 42\)/);
  });

  void it('rejects an event type the spec does not know', () => {
    rejects(
      () => assertStreamEvent({ type: 'response.output_text.delta.v2' }),
      /"response.output_text.delta.v2" is not a ResponseStreamEvent type/,
    );
    rejects(() => assertStreamEvent({}), /undefined is not a ResponseStreamEvent type/);
  });

  void it('maps every member of ResponseStreamEvent by its type', () => {
    const types = responseStreamEventTypes();
    assert.ok(types.length >= 50, `only ${types.length} types`);
    for (const type of [
      'response.created',
      'response.in_progress',
      'response.completed',
      'response.failed',
      'response.incomplete',
      'response.queued',
      'response.output_item.added',
      'response.output_item.done',
      'response.content_part.added',
      'response.content_part.done',
      'response.output_text.delta',
      'response.output_text.done',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'error',
    ]) {
      assert.ok(types.includes(type), `missing ${type}`);
    }
    assert.equal(streamEventSchemaName('response.output_text.delta'), 'ResponseTextDeltaEvent');
    assert.equal(streamEventSchemaName('error'), 'ResponseErrorEvent');
  });

  void it('validates thousands of events quickly once compiled', () => {
    const event = textDelta();
    for (let index = 0; index < 5000; index += 1) assertStreamEvent(event);
  });
});

void describe('assertErrorBody', () => {
  void it('accepts the error body OpenAI sends', () => {
    assertErrorBody({
      error: {
        message: "Missing required parameter: 'model'.",
        type: 'invalid_request_error',
        param: 'model',
        code: 'missing_required_parameter',
      },
    });
    assertErrorBody({
      error: { message: 'No response found.', type: 'invalid_request_error', param: null, code: null },
    });
  });

  void it('rejects an error body without message, or with the fields unwrapped', () => {
    rejects(
      () => assertErrorBody({ error: { type: 'invalid_request_error', param: null, code: null } }),
      /\/error: must have required property 'message'/,
    );
    rejects(
      () => assertErrorBody({ message: 'x', type: 'server_error', param: null, code: null }),
      /must have required property 'error'/,
    );
  });

  void it('requires param and code as keys, null when there is none', () => {
    rejects(
      () => assertErrorBody({ error: { message: 'x', type: 'server_error' } }),
      /must have required property 'param'/,
    );
  });
});

void describe('assertListPage', () => {
  const item = {
    type: 'message',
    id: 'msg_1',
    status: 'completed',
    role: 'user',
    content: [{ type: 'input_text', text: 'Hi' }],
  };

  void it('accepts a ResponseItemList page', () => {
    assertListPage('ResponseItemList', {
      object: 'list',
      data: [item],
      first_id: 'msg_1',
      last_id: 'msg_1',
      has_more: false,
    });
  });

  void it('rejects a page whose first_id does not name the first item', () => {
    rejects(
      () =>
        assertListPage('ResponseItemList', {
          object: 'list',
          data: [item],
          first_id: 'msg_0',
          last_id: 'msg_1',
          has_more: false,
        }),
      /first_id is "msg_0" but data\[0\].id is "msg_1"/,
    );
  });

  void it('rejects a page missing has_more', () => {
    rejects(
      () => assertListPage('ResponseItemList', { object: 'list', data: [], first_id: 'x', last_id: 'x' }),
      /has_more/,
    );
  });

  void it('refuses a schema that is not a list', () => {
    assert.throws(() => assertListPage('Response', {}), /not a list schema/);
  });
});

void describe('assertHasEverySpecKey', () => {
  void it('accepts a Response with every key the spec lists (output_text is SDK-only and not demanded)', () => {
    assertHasEverySpecKey('Response', validResponse());
  });

  void it('names the keys that are missing', () => {
    const { max_tool_calls: _maxToolCalls, safety_identifier: _safetyIdentifier, ...response } = validResponse();
    rejects(
      () => assertHasEverySpecKey('Response', response),
      /Response is missing keys the spec lists: safety_identifier, max_tool_calls$/,
    );
  });

  void it('collects keys through allOf', () => {
    const { properties, required } = schemaKeys('Response');
    assert.ok(properties.includes('temperature'), 'from ModelResponseProperties');
    assert.ok(properties.includes('tools'), 'from ResponseProperties');
    assert.ok(properties.includes('output'), 'from the inline member');
    assert.ok(required.includes('top_p'));
  });
});

void describe('createSpecValidator', () => {
  void it('fails with a clear message when the spec file is missing', () => {
    const validator = createSpecValidator({ specUrl: new URL('file:///nonexistent/shared/spec/openai-openapi.json') });
    assert.throws(
      () => validator.assertMatchesSchema('Response', {}),
      /cannot read OpenAI's spec at \/nonexistent\/shared\/spec\/openai-openapi.json/,
    );
  });
});

void describe('deviations from the published spec', () => {
  const published = createSpecValidator({ deviations: false });

  void it('lists each one with a reason', () => {
    for (const deviation of KNOWN_SPEC_DEVIATIONS)
      assert.ok(deviation.reason.length > 40, `${deviation.schema}.${deviation.property}`);
  });

  void it('Response.user: OpenAI sends null, which the published schema rejects', () => {
    assert.throws(
      () => published.assertMatchesSchema('Response', validResponse()),
      /\/user: must be string \(got null\)/,
    );
    assertMatchesSchema('Response', validResponse());
    assertMatchesSchema('Response', { ...validResponse(), user: 'user-1234' });
  });

  void it('Response.usage: OpenAI sends null until the response ends, which the published schema rejects', () => {
    const inProgress = { ...validResponse(), status: 'in_progress', usage: null };
    assert.throws(() => published.assertMatchesSchema('Response', inProgress), /\/usage: must be object \(got null\)/);
    assertMatchesSchema('Response', inProgress);
  });
});
