/**
 * The contract between the engine and every model upstream. The engine speaks only these
 * provider-neutral shapes; each adapter translates them to and from its own wire format in its
 * convert-input.ts / map-events.ts.
 */

export type ModelRole = 'system' | 'developer' | 'user' | 'assistant';

export type ModelContentPart =
  | { type: 'text'; text: string }
  /** `url` is an http(s) URL or a `data:` URL. */
  | { type: 'image'; url: string; detail: 'low' | 'high' | 'auto' }
  /** `data` is a `data:` URL or plain base64; `url` a remote file. At least one of the two is set. */
  | { type: 'file'; filename: string | null; data: string | null; url: string | null };

export type ModelItem =
  | { type: 'message'; role: ModelRole; content: ModelContentPart[] }
  | { type: 'function_call'; callId: string; name: string; arguments: string }
  | { type: 'function_call_output'; callId: string; output: string | ModelContentPart[] }
  | { type: 'custom_tool_call'; callId: string; name: string; input: string }
  | { type: 'custom_tool_call_output'; callId: string; output: string | ModelContentPart[] }
  /** Earlier reasoning: plain text the model produced (reasoning_content), when the adapter can send it back. */
  | { type: 'reasoning'; text: string };

export type ModelTool =
  | {
      type: 'function';
      name: string;
      description: string | null;
      /** JSON Schema of the arguments object. */
      parameters: Record<string, unknown>;
      strict: boolean;
    }
  | {
      /** A tool whose input is free text (OpenAI's `custom` tools), optionally constrained by a grammar. */
      type: 'custom';
      name: string;
      description: string | null;
      format: Record<string, unknown> | null;
    };

export type ModelToolChoice = 'auto' | 'none' | 'required' | { type: 'tool'; name: string };

export type ModelTextFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; description: string | null; schema: Record<string, unknown>; strict: boolean };

export interface ModelRequest {
  /** The upstream's own model name (after routing). */
  model: string;
  items: ModelItem[];
  tools: ModelTool[];
  toolChoice: ModelToolChoice;
  parallelToolCalls: boolean;
  textFormat: ModelTextFormat;
  verbosity: 'low' | 'medium' | 'high' | null;
  reasoning: { effort: string | null; summary: string | null } | null;
  temperature: number | null;
  topP: number | null;
  maxOutputTokens: number | null;
  topLogprobs: number | null;
  /** End-user identifier, passed on where the upstream takes one. */
  user: string | null;
  promptCacheKey: string | null;
  /** Aborts the upstream call: a client disconnect, a cancel, a shutdown. */
  signal: AbortSignal;
  /**
   * False when nothing reads the output before the call ends (a foreground `stream: false`
   * response), so an adapter may ask for the whole answer at once. Absent: true.
   */
  incremental?: boolean;
}

/**
 * A ModelRequest with what shapes the prompt (model, items, signal) given and everything else at
 * its neutral value: no tools, tool choice auto, plain text, no sampling or output settings.
 * `fields` may set any of those too.
 */
export function modelRequest(
  fields: Pick<ModelRequest, 'model' | 'items' | 'signal'> & Partial<ModelRequest>,
): ModelRequest {
  return {
    tools: [],
    toolChoice: 'auto',
    parallelToolCalls: true,
    textFormat: { type: 'text' },
    verbosity: null,
    reasoning: null,
    temperature: null,
    topP: null,
    maxOutputTokens: null,
    topLogprobs: null,
    user: null,
    promptCacheKey: null,
    ...fields,
  };
}

export interface ModelUsage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  reasoningTokens: number;
}

export type ModelFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export type ModelEvent =
  | { type: 'text-delta'; delta: string }
  | { type: 'refusal-delta'; delta: string }
  /** Reasoning text as the model thinks it (reasoning_content / reasoning). */
  | { type: 'reasoning-delta'; delta: string }
  /** A reasoning summary, for upstreams that produce one. */
  | { type: 'reasoning-summary-delta'; delta: string }
  /** A tool call begins. `index` identifies it among parallel calls of the same turn. */
  | { type: 'tool-call-start'; index: number; callId: string; name: string; kind: 'function' | 'custom' }
  | { type: 'tool-call-delta'; index: number; delta: string }
  | { type: 'usage'; usage: ModelUsage }
  | { type: 'finish'; reason: ModelFinishReason };

export interface ModelCapabilities {
  /** The upstream enforces a strict JSON schema on its output (json_schema response_format). */
  enforcesJsonSchema: boolean;
  /** The upstream enforces strict function-call arguments. */
  enforcesStrictTools: boolean;
}

/**
 * One upstream. `stream` yields model events until `finish`, and throws an `UpstreamError` when the
 * upstream fails (after the adapter's own retries for failures before the first event).
 */
export interface ModelAdapter {
  readonly capabilities: ModelCapabilities;
  stream(request: ModelRequest): AsyncIterable<ModelEvent>;
  /**
   * The exact number of input tokens the upstream would see for `request`, from its own
   * tokenizer and chat template. Optional: only upstreams with a tokenize endpoint have it, and
   * it resolves to null (never throws) when the upstream cannot answer, so the caller falls back
   * to the local estimate in engine/count-tokens.ts.
   */
  countTokens?(request: ModelRequest): Promise<number | null>;
}
