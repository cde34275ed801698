import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UpstreamError } from '../../errors/upstream-error.ts';
import type { ModelEvent } from '../model-adapter.ts';
import type { ChatCompletionChunk, ChatCompletionStreamDelta } from './api-schemas.ts';
import {
  ChatCompletionEventMapper,
  mapCompletion,
  upstreamErrorForStatus,
  upstreamErrorMessage,
} from './map-events.ts';

function run(chunks: ChatCompletionChunk[], customToolNames: string[] = []): ModelEvent[] {
  const mapper = new ChatCompletionEventMapper({ customToolNames: new Set(customToolNames) });
  return [...chunks.flatMap((chunk) => mapper.mapChunk(chunk)), ...mapper.finish()];
}

const delta = (value: ChatCompletionStreamDelta, finishReason: string | null = null): ChatCompletionChunk => ({
  choices: [{ index: 0, delta: value, finish_reason: finishReason }],
});

describe('ChatCompletionEventMapper', () => {
  it('maps content, refusal and both spellings of reasoning, skipping empty strings', () => {
    assert.deepEqual(
      run([
        delta({ role: 'assistant', content: '' }),
        delta({ reasoning_content: 'Hmm', reasoning: 'Hmm' }),
        delta({ reasoning: ' ok' }),
        delta({ content: 'Hello' }),
        delta({ refusal: 'I cannot' }),
        delta({ content: null }, 'stop'),
      ]),
      [
        { type: 'reasoning-delta', delta: 'Hmm' },
        { type: 'reasoning-delta', delta: ' ok' },
        { type: 'text-delta', delta: 'Hello' },
        { type: 'refusal-delta', delta: 'I cannot' },
        { type: 'finish', reason: 'stop' },
      ],
    );
  });

  it('holds usage back and puts it just before finish, whichever chunk brought it', () => {
    assert.deepEqual(
      run([
        delta({ content: 'Hi' }, 'length'),
        {
          choices: [],
          usage: {
            prompt_tokens: 10,
            completion_tokens: 5,
            total_tokens: 15,
            prompt_tokens_details: { cached_tokens: 8 },
            completion_tokens_details: { reasoning_tokens: 3 },
          },
        },
      ]),
      [
        { type: 'text-delta', delta: 'Hi' },
        { type: 'usage', usage: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 8, reasoningTokens: 3 } },
        { type: 'finish', reason: 'length' },
      ],
    );
  });

  it('matches interleaved parallel tool-call fragments by index', () => {
    assert.deepEqual(
      run([
        delta({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'f', arguments: '' } }] }),
        delta({
          tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'g', arguments: '{"y"' } }],
        }),
        delta({ tool_calls: [{ index: 0, function: { arguments: '{"x":1}' } }] }),
        delta({ tool_calls: [{ index: 1, function: { arguments: ':2}' } }] }),
        delta({}, 'tool_calls'),
      ]),
      [
        { type: 'tool-call-start', index: 0, callId: 'call_a', name: 'f', kind: 'function' },
        { type: 'tool-call-start', index: 1, callId: 'call_b', name: 'g', kind: 'function' },
        { type: 'tool-call-delta', index: 1, delta: '{"y"' },
        { type: 'tool-call-delta', index: 0, delta: '{"x":1}' },
        { type: 'tool-call-delta', index: 1, delta: ':2}' },
        { type: 'finish', reason: 'tool_calls' },
      ],
    );
  });

  it('treats a new id at a used index as a new call, and tolerates object arguments and late names', () => {
    const events = run([
      delta({ tool_calls: [{ index: 0, id: 'call_a', function: { name: 'f', arguments: { x: 1 } } }] }),
      delta({ tool_calls: [{ index: 0, id: 'call_b', function: { name: 'g', arguments: '{}' } }] }),
      // A fragment with arguments before any name: held until the name comes.
      delta({ tool_calls: [{ index: 2, function: { arguments: '{"z"' } }] }),
      delta({ tool_calls: [{ index: 2, id: 'call_c', function: { name: 'h', arguments: ':3}' } }] }),
      delta({}, 'stop'),
    ]);
    assert.deepEqual(events, [
      { type: 'tool-call-start', index: 0, callId: 'call_a', name: 'f', kind: 'function' },
      { type: 'tool-call-delta', index: 0, delta: '{"x":1}' },
      { type: 'tool-call-start', index: 1, callId: 'call_b', name: 'g', kind: 'function' },
      { type: 'tool-call-delta', index: 1, delta: '{}' },
      { type: 'tool-call-start', index: 2, callId: 'call_c', name: 'h', kind: 'function' },
      { type: 'tool-call-delta', index: 2, delta: '{"z":3}' },
      // 'stop' after tool calls (older Ollama, some vLLM parsers) still means the calls are to run.
      { type: 'finish', reason: 'tool_calls' },
    ]);
  });

  it('makes up a call id when the upstream sends none', () => {
    const [start] = run([delta({ tool_calls: [{ index: 0, function: { name: 'f', arguments: '{}' } }] })]);
    assert.equal(start?.type, 'tool-call-start');
    assert.match(start.type === 'tool-call-start' ? start.callId : '', /^call_[0-9a-f]{32}$/);
  });

  it('emits a custom tool input decoded, in one delta at the end, and raw text when the model skipped the wrapper', () => {
    assert.deepEqual(
      run(
        [
          delta({
            tool_calls: [
              { index: 0, id: 'call_p', function: { name: 'apply_patch', arguments: '{"input":"*** Begin' } },
            ],
          }),
          delta({ tool_calls: [{ index: 0, function: { arguments: ' Patch\\n"}' } }] }),
          delta({ tool_calls: [{ index: 1, id: 'call_q', function: { name: 'apply_patch', arguments: 'raw text' } }] }),
          delta({}, 'tool_calls'),
          { choices: [], usage: { prompt_tokens: 1, completion_tokens: 2 } },
        ],
        ['apply_patch'],
      ),
      [
        { type: 'tool-call-start', index: 0, callId: 'call_p', name: 'apply_patch', kind: 'custom' },
        { type: 'tool-call-start', index: 1, callId: 'call_q', name: 'apply_patch', kind: 'custom' },
        { type: 'tool-call-delta', index: 0, delta: '*** Begin Patch\n' },
        { type: 'tool-call-delta', index: 1, delta: 'raw text' },
        { type: 'usage', usage: { inputTokens: 1, outputTokens: 2, cachedInputTokens: 0, reasoningTokens: 0 } },
        { type: 'finish', reason: 'tool_calls' },
      ],
    );
  });

  it('throws an UpstreamError for an error chunk, with the status it names', () => {
    const mapper = new ChatCompletionEventMapper({ customToolNames: new Set() });
    assert.throws(
      () => mapper.mapChunk({ error: { code: 429, message: 'Rate limit exceeded: free-models-per-min' } }),
      (error: unknown) =>
        error instanceof UpstreamError &&
        error.code === 'rate_limit_exceeded' &&
        /free-models-per-min/.test(error.message),
    );
    assert.throws(
      () => mapper.mapChunk({ object: 'error', message: 'Engine loop died', code: 'internal' }),
      (error: unknown) =>
        error instanceof UpstreamError && error.code === 'upstream_error' && /Engine loop died/.test(error.message),
    );
  });
});

describe('mapCompletion', () => {
  it('maps a non-streamed completion to the events a stream would give', () => {
    assert.deepEqual(
      mapCompletion(
        {
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: 'Hi there', reasoning: 'Greet back.' },
              finish_reason: 'stop',
            },
          ],
          usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
        },
        { customToolNames: new Set() },
      ),
      [
        { type: 'reasoning-delta', delta: 'Greet back.' },
        { type: 'text-delta', delta: 'Hi there' },
        { type: 'usage', usage: { inputTokens: 3, outputTokens: 4, cachedInputTokens: 0, reasoningTokens: 0 } },
        { type: 'finish', reason: 'stop' },
      ],
    );
  });

  it('throws when there is no choice', () => {
    assert.throws(() => mapCompletion({ choices: [] }, { customToolNames: new Set() }), UpstreamError);
  });
});

describe('upstream errors', () => {
  it('finds the message in every dialect', () => {
    assert.equal(upstreamErrorMessage({ error: { message: 'bad', type: 'invalid_request_error' } }), 'bad');
    assert.equal(upstreamErrorMessage({ object: 'error', message: 'vllm says', code: 400 }), 'vllm says');
    assert.equal(
      upstreamErrorMessage({ error: 'model "x" not found, try pulling it first' }),
      'model "x" not found, try pulling it first',
    );
    assert.equal(
      upstreamErrorMessage({ detail: [{ loc: ['body', 'messages'], msg: 'Field required' }] }),
      '[{"loc":["body","messages"],"msg":"Field required"}]',
    );
    assert.equal(
      upstreamErrorMessage({
        error: {
          message: 'Provider returned error',
          code: 400,
          metadata: { raw: '{"message":"invalid image"}', provider_name: 'Groq' },
        },
      }),
      'Provider returned error: {"message":"invalid image"}',
    );
    assert.equal(upstreamErrorMessage('<html>502 Bad Gateway</html>\n'), '<html>502 Bad Gateway</html>');
    assert.equal(upstreamErrorMessage(''), null);
  });

  it('maps statuses to codes and retryability', () => {
    const cases: [number, unknown, string, boolean][] = [
      [
        400,
        { error: { message: 'Input length 9000 exceeds maximum context length of 8192 tokens' } },
        'context_length_exceeded',
        false,
      ],
      [400, { error: { message: 'bad', code: 'context_length_exceeded' } }, 'context_length_exceeded', false],
      [400, { error: { message: 'tools[0].function.name is invalid' } }, 'upstream_bad_request', false],
      [422, { detail: 'Unprocessable' }, 'upstream_bad_request', false],
      [401, { error: { message: 'Invalid API key' } }, 'upstream_authentication_error', false],
      [403, 'Forbidden', 'upstream_authentication_error', false],
      [404, { error: { message: 'model "llama9" not found' } }, 'model_not_found', false],
      [429, { error: { message: 'slow down' } }, 'rate_limit_exceeded', true],
      [500, 'Internal Server Error', 'upstream_error', true],
      [501, 'Not Implemented', 'upstream_error', false],
      [503, { error: { message: 'overloaded' } }, 'upstream_error', true],
    ];
    for (const [status, payload, code, retryable] of cases) {
      const error = upstreamErrorForStatus(status, payload);
      assert.equal(error.code, code, `HTTP ${status}`);
      assert.equal(error.retryable, retryable, `HTTP ${status}`);
      assert.equal(error.upstreamStatus, status);
      assert.match(error.message, new RegExp(`^The upstream answered HTTP ${status}: .+`));
    }
  });
});
