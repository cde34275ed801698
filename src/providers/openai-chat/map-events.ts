import { randomUUID } from 'node:crypto';
import { UpstreamError } from '../../errors/upstream-error.ts';
import type { ModelEvent, ModelFinishReason, ModelUsage } from '../model-adapter.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionUsage, ChatToolCallChunk } from './api-schemas.ts';
import { CUSTOM_TOOL_INPUT_PARAMETER } from './convert-input.ts';

/** One tool call of the current completion, as its fragments arrive. */
interface ToolCallState {
  /** Our index: the order in which calls first appeared, 0-based. */
  index: number;
  /** The upstream's `index`, when it sends one. */
  upstreamIndex: number | null;
  callId: string | null;
  name: string | null;
  kind: 'function' | 'custom';
  started: boolean;
  arguments: string;
  /** How much of `arguments` has gone out as tool-call-delta events. */
  emittedLength: number;
}

/**
 * Maps Chat Completions chunks to model events. Stateful, one per upstream call: tool-call
 * fragments are matched up across chunks, and usage and finish are held back so that `finish()`
 * can emit them last, in that order — upstreams send the usage chunk after the finish_reason chunk
 * (OpenAI, vLLM, Ollama) or in the same one (DeepSeek, llama.cpp), and the engine needs finish to
 * be the final event.
 */
export class ChatCompletionEventMapper {
  readonly #customToolNames: ReadonlySet<string>;
  readonly #toolCalls: ToolCallState[] = [];
  #finishReason: string | null = null;
  #usage: ModelUsage | null = null;

  constructor(options: { customToolNames: ReadonlySet<string> }) {
    this.#customToolNames = options.customToolNames;
  }

  /** Whether the upstream has said why it stopped; a stream that ends before that was cut off. */
  get hasFinishReason(): boolean {
    return this.#finishReason !== null;
  }

  /** The events of one parsed chunk. Throws an UpstreamError when the chunk reports a failure. */
  mapChunk(chunk: ChatCompletionChunk): ModelEvent[] {
    if ((chunk.error !== undefined && chunk.error !== null) || chunk.object === 'error') {
      throw upstreamErrorFromPayload(chunk, 'The upstream reported an error mid-stream');
    }
    const events: ModelEvent[] = [];
    // Last one wins: vLLM with continuous usage stats repeats a running total on every chunk.
    if (chunk.usage !== undefined && chunk.usage !== null) this.#usage = convertUsage(chunk.usage);

    // Only choice 0: the adapter never asks for n > 1.
    const choice = chunk.choices?.find((candidate) => (candidate.index ?? 0) === 0);
    if (choice === undefined) return events;
    const delta = choice.delta;
    if (delta !== undefined && delta !== null) {
      // vLLM has sent both fields with the same text during its rename; take one, never both.
      const reasoning = nonEmptyString(delta.reasoning_content) ?? nonEmptyString(delta.reasoning);
      if (reasoning !== null) events.push({ type: 'reasoning-delta', delta: reasoning });
      const content = nonEmptyString(delta.content);
      if (content !== null) events.push({ type: 'text-delta', delta: content });
      const refusal = nonEmptyString(delta.refusal);
      if (refusal !== null) events.push({ type: 'refusal-delta', delta: refusal });
      for (const fragment of delta.tool_calls ?? []) this.#mapToolCallFragment(fragment, events);
    }
    if (choice.finish_reason === 'error') {
      // OpenRouter ends a failed stream this way, usually with an `error` object we caught above.
      throw new UpstreamError({
        message: "The upstream ended the stream with finish_reason 'error'.",
        code: 'upstream_error',
        retryable: true,
      });
    }
    if (typeof choice.finish_reason === 'string' && choice.finish_reason !== '')
      this.#finishReason = choice.finish_reason;
    return events;
  }

  /**
   * The closing events, once the upstream is done: the held-back custom tool inputs, usage (only
   * when the upstream reported it — otherwise the engine estimates), and finish.
   */
  finish(): ModelEvent[] {
    const events: ModelEvent[] = [];
    for (const call of this.#toolCalls) {
      // A fragment that never got a name cannot be dispatched; there is nothing useful to report.
      if (!call.started) continue;
      if (call.kind === 'custom') {
        events.push({ type: 'tool-call-delta', index: call.index, delta: decodeCustomToolInput(call.arguments) });
      } else if (call.arguments === '') {
        // Ollama and llama.cpp send no arguments at all for a call without parameters; the
        // Responses API says "{}" there and clients JSON.parse it.
        events.push({ type: 'tool-call-delta', index: call.index, delta: '{}' });
      }
    }
    if (this.#usage !== null) events.push({ type: 'usage', usage: this.#usage });
    events.push({ type: 'finish', reason: this.#mapFinishReason() });
    return events;
  }

  #mapFinishReason(): ModelFinishReason {
    switch (this.#finishReason) {
      case 'length':
        return 'length';
      case 'content_filter':
        return 'content_filter';
      case 'tool_calls':
      case 'function_call':
        return 'tool_calls';
      default:
        // 'stop', a non-standard reason ('eos'), or none after [DONE]. Older Ollama and some vLLM
        // tool parsers say 'stop' after emitting tool calls; the calls are what matters.
        return this.#toolCalls.some((call) => call.started) ? 'tool_calls' : 'stop';
    }
  }

  #mapToolCallFragment(fragment: ChatToolCallChunk, events: ModelEvent[]): void {
    const call = this.#findToolCall(fragment);
    const callId = nonEmptyString(fragment.id);
    if (callId !== null && call.callId === null) call.callId = callId;
    const name = nonEmptyString(fragment.function?.name);
    if (name !== null && call.name === null) {
      call.name = name;
      call.kind = this.#customToolNames.has(name) ? 'custom' : 'function';
    }
    const argumentsDelta = fragment.function?.arguments;
    // The spec says string; a few servers have sent the arguments as a JSON object.
    if (typeof argumentsDelta === 'string') call.arguments += argumentsDelta;
    else if (argumentsDelta !== undefined && argumentsDelta !== null) call.arguments += JSON.stringify(argumentsDelta);

    if (!call.started && call.name !== null) {
      call.started = true;
      call.callId ??= `call_${randomUUID().replaceAll('-', '')}`;
      events.push({
        type: 'tool-call-start',
        index: call.index,
        callId: call.callId,
        name: call.name,
        kind: call.kind,
      });
    }
    // A custom tool's deltas must be its raw input, but the upstream streams the JSON-encoded
    // {"input": "..."} of our wrapper function, and decoding a JSON string prefix by prefix is not
    // worth its bugs. So a custom tool's arguments are held back and finish() emits the decoded
    // input as one delta; its tool-call-start still goes out at once.
    if (call.started && call.kind === 'function' && call.emittedLength < call.arguments.length) {
      events.push({ type: 'tool-call-delta', index: call.index, delta: call.arguments.slice(call.emittedLength) });
      call.emittedLength = call.arguments.length;
    }
  }

  /**
   * Which call a fragment belongs to. By the spec, `index` says so and only the first fragment
   * carries the id. In practice: Ollama and older llama.cpp send each call whole in one fragment;
   * some upstreams omit `index` (then the id, or else the latest call, decides); some number every
   * call 0 (then a new id at a used index is a new call).
   */
  #findToolCall(fragment: ChatToolCallChunk): ToolCallState {
    const callId = nonEmptyString(fragment.id);
    const upstreamIndex = typeof fragment.index === 'number' ? fragment.index : null;
    const latest = this.#toolCalls.at(-1);
    if (upstreamIndex !== null) {
      const existing = this.#toolCalls.findLast((call) => call.upstreamIndex === upstreamIndex);
      if (existing !== undefined && (callId === null || existing.callId === null || existing.callId === callId))
        return existing;
    } else if (callId !== null) {
      const existing = this.#toolCalls.find((call) => call.callId === callId);
      if (existing !== undefined) return existing;
    } else if (latest !== undefined) {
      return latest;
    }
    const call: ToolCallState = {
      index: this.#toolCalls.length,
      upstreamIndex,
      callId: null,
      name: null,
      kind: 'function',
      started: false,
      arguments: '',
      emittedLength: 0,
    };
    this.#toolCalls.push(call);
    return call;
  }
}

/** Maps a non-streamed completion (stream: false) to the same events a stream would give. */
export function mapCompletion(
  completion: ChatCompletion,
  options: { customToolNames: ReadonlySet<string> },
): ModelEvent[] {
  if ((completion.error !== undefined && completion.error !== null) || completion.object === 'error') {
    throw upstreamErrorFromPayload(completion, 'The upstream reported an error');
  }
  const choice = completion.choices?.find((candidate) => (candidate.index ?? 0) === 0);
  if (choice === undefined) {
    throw new UpstreamError({
      message: 'The upstream returned a completion without choices.',
      code: 'upstream_error',
      retryable: true,
    });
  }
  const message = choice.message ?? {};
  const mapper = new ChatCompletionEventMapper(options);
  const events = mapper.mapChunk({
    choices: [
      {
        index: 0,
        delta: {
          content: message.content ?? null,
          refusal: message.refusal ?? null,
          reasoning_content: message.reasoning_content ?? null,
          reasoning: message.reasoning ?? null,
          // A message's calls carry no index; their position is it.
          tool_calls: message.tool_calls?.map((call, position) => ({ ...call, index: call.index ?? position })) ?? null,
        },
        finish_reason: choice.finish_reason ?? null,
      },
    ],
    usage: completion.usage ?? null,
  });
  return [...events, ...mapper.finish()];
}

function convertUsage(usage: ChatCompletionUsage): ModelUsage {
  return {
    inputTokens: usage.prompt_tokens ?? 0,
    outputTokens: usage.completion_tokens ?? 0,
    cachedInputTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
    reasoningTokens: usage.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}

/**
 * The raw input of a custom tool from our wrapper function's arguments. A model that ignored the
 * wrapper and wrote the input itself gets it passed through as is.
 */
function decodeCustomToolInput(argumentsText: string): string {
  try {
    const parsed: unknown = JSON.parse(argumentsText);
    if (isRecord(parsed) && typeof parsed[CUSTOM_TOOL_INPUT_PARAMETER] === 'string')
      return parsed[CUSTOM_TOOL_INPUT_PARAMETER];
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return argumentsText;
}

function nonEmptyString(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const maximumMessageLength = 2000;

/**
 * The human-readable message in an upstream error body, whatever its dialect: OpenAI, vLLM,
 * llama.cpp and Ollama `{"error": {"message"}}`, older vLLM `{"object": "error", "message"}`,
 * FastAPI `{"detail"}`, `{"error": "..."}`, or plain text (an HTML page from a proxy). OpenRouter's
 * "Provider returned error" says nothing by itself, so the provider's raw message is appended.
 */
export function upstreamErrorMessage(payload: unknown): string | null {
  let message: string | null = null;
  if (typeof payload === 'string') {
    message = payload.trim();
  } else if (isRecord(payload)) {
    const error = payload.error;
    if (typeof error === 'string') {
      message = error;
    } else if (isRecord(error)) {
      message = typeof error.message === 'string' ? error.message : JSON.stringify(error);
      const metadata = error.metadata;
      if (isRecord(metadata) && typeof metadata.raw === 'string' && metadata.raw !== '') message += `: ${metadata.raw}`;
    } else if (typeof payload.message === 'string') {
      message = payload.message;
    } else if (payload.detail !== undefined) {
      message = typeof payload.detail === 'string' ? payload.detail : JSON.stringify(payload.detail);
    }
  }
  if (message === null || message === '') return null;
  return message.length > maximumMessageLength ? `${message.slice(0, maximumMessageLength)}…` : message;
}

/** Upstream codes and types that name a context overflow outright (OpenAI, llama.cpp). */
const contextLengthCodes = new Set(['context_length_exceeded', 'exceed_context_size_error']);

/**
 * Phrases of context overflows: vLLM, DeepSeek and OpenRouter "maximum context length is …",
 * llama.cpp "exceeds the available context size", others "too many tokens", "prompt is too long".
 */
const contextLengthPattern =
  /context[ _-]?(?:length|window|size)|maximum context|too many tokens|prompt is too long|maximum model length/i;

function namesContextOverflow(payload: unknown, message: string): boolean {
  if (contextLengthPattern.test(message)) return true;
  const error = isRecord(payload) && isRecord(payload.error) ? payload.error : payload;
  if (!isRecord(error)) return false;
  return [error.code, error.type].some((value) => typeof value === 'string' && contextLengthCodes.has(value));
}

/**
 * The UpstreamError for an HTTP status (or the status an error payload names). Retryable: 408,
 * 429, 500, 502, 503, 504 — overload and transient gateway failures; everything else would fail
 * again the same way.
 */
export function upstreamErrorForStatus(
  status: number,
  payload: unknown,
  options: { retryAfterSeconds?: number | undefined; prefix?: string } = {},
): UpstreamError {
  const upstreamMessage = upstreamErrorMessage(payload) ?? 'no error message';
  const message = `${options.prefix ?? `The upstream answered HTTP ${status}`}: ${upstreamMessage}`;
  const base = { message, upstreamStatus: status, retryAfterSeconds: options.retryAfterSeconds };
  if ((status === 400 || status === 413 || status === 422) && namesContextOverflow(payload, upstreamMessage)) {
    return new UpstreamError({ ...base, code: 'context_length_exceeded', retryable: false });
  }
  if (status === 401 || status === 403)
    return new UpstreamError({ ...base, code: 'upstream_authentication_error', retryable: false });
  if (status === 404) return new UpstreamError({ ...base, code: 'model_not_found', retryable: false });
  if (status === 408) return new UpstreamError({ ...base, code: 'upstream_timeout', retryable: true });
  if (status === 429) return new UpstreamError({ ...base, code: 'rate_limit_exceeded', retryable: true });
  if (status >= 500)
    return new UpstreamError({ ...base, code: 'upstream_error', retryable: [500, 502, 503, 504].includes(status) });
  return new UpstreamError({ ...base, code: 'upstream_bad_request', retryable: false });
}

/** The UpstreamError for an error reported inside a 200 body (an SSE chunk or a completion). */
export function upstreamErrorFromPayload(payload: unknown, prefix: string): UpstreamError {
  const error = isRecord(payload) && isRecord(payload.error) ? payload.error : payload;
  const code: unknown = isRecord(error) ? error.code : undefined;
  const status =
    typeof code === 'number' ? code : typeof code === 'string' && /^\d{3}$/.test(code) ? Number(code) : null;
  if (status !== null && status >= 400 && status <= 599) return upstreamErrorForStatus(status, payload, { prefix });
  const message = `${prefix}: ${upstreamErrorMessage(payload) ?? 'no error message'}`;
  if (namesContextOverflow(payload, message))
    return new UpstreamError({ message, code: 'context_length_exceeded', retryable: false });
  return new UpstreamError({ message, code: 'upstream_error', retryable: true });
}
