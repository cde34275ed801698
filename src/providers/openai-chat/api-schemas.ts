/**
 * The Chat Completions wire shapes this adapter sends and reads, checked against
 * CreateChatCompletionRequest / CreateChatCompletionResponse / CreateChatCompletionStreamResponse
 * in shared/spec. Only the fields the adapter uses are typed. Response-side fields are optional and
 * nullable wherever at least one open upstream (vLLM, Ollama, llama.cpp, DeepSeek, OpenRouter)
 * omits them or sends null, because we read what the upstream actually sends, not what the spec
 * promises.
 */

export type ChatTextPart = { type: 'text'; text: string };

export type ChatImagePart = { type: 'image_url'; image_url: { url: string; detail?: 'low' | 'high' | 'auto' } };

export type ChatFilePart = { type: 'file'; file: { filename?: string; file_data?: string } };

export type ChatUserContentPart = ChatTextPart | ChatImagePart | ChatFilePart;

export interface ChatMessageToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type ChatRequestMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string | ChatUserContentPart[] }
  | {
      role: 'assistant';
      content: string | null;
      /**
       * Not in OpenAI's spec: DeepSeek, vLLM, SGLang and Kimi read the model's earlier reasoning
       * from this field (see convert-input.ts for when we send it).
       */
      reasoning_content?: string;
      tool_calls?: ChatMessageToolCall[];
    }
  | { role: 'tool'; tool_call_id: string; content: string };

export interface ChatFunctionTool {
  type: 'function';
  function: {
    name: string;
    description?: string;
    parameters: Record<string, unknown>;
    strict?: boolean;
  };
}

export type ChatToolChoice = 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };

export type ChatResponseFormat =
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      json_schema: { name: string; description?: string; schema: Record<string, unknown>; strict: boolean };
    };

/** The body of POST /chat/completions. Absent fields are left out, never sent as null. */
export interface ChatCompletionRequestBody {
  model: string;
  messages: ChatRequestMessage[];
  tools?: ChatFunctionTool[];
  tool_choice?: ChatToolChoice;
  parallel_tool_calls?: boolean;
  response_format?: ChatResponseFormat;
  reasoning_effort?: string;
  verbosity?: 'low' | 'medium' | 'high';
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  logprobs?: boolean;
  top_logprobs?: number;
  user?: string;
  prompt_cache_key?: string;
  stream: boolean;
  stream_options?: { include_usage: boolean };
}

export type ChatFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

export interface ChatCompletionUsage {
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  total_tokens?: number | null;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
  completion_tokens_details?: { reasoning_tokens?: number | null } | null;
}

/**
 * One tool call fragment of a streamed delta. `index` is required by the spec but some upstreams
 * omit it; `arguments` is a string by the spec, and we tolerate an object (see map-events.ts).
 */
export interface ChatToolCallChunk {
  index?: number | null;
  id?: string | null;
  type?: 'function' | null;
  function?: { name?: string | null; arguments?: unknown } | null;
}

export interface ChatCompletionStreamDelta {
  role?: string | null;
  content?: string | null;
  refusal?: string | null;
  /** DeepSeek, vLLM (older), SGLang, llama.cpp. */
  reasoning_content?: string | null;
  /** Ollama, OpenRouter, vLLM (newer). */
  reasoning?: string | null;
  tool_calls?: ChatToolCallChunk[] | null;
}

/** The error object some upstreams put inside an SSE chunk when they fail mid-stream. */
export interface ChatErrorObject {
  message?: unknown;
  type?: unknown;
  code?: unknown;
}

export interface ChatCompletionChunk {
  id?: string;
  object?: string;
  choices?: {
    index?: number;
    delta?: ChatCompletionStreamDelta | null;
    finish_reason?: string | null;
  }[];
  usage?: ChatCompletionUsage | null;
  /** OpenRouter (and vLLM, llama.cpp on some failures) report a mid-stream failure here. */
  error?: ChatErrorObject | string | null;
  /** vLLM before it wrapped errors in `error`: `{"object": "error", "message", "code"}`. */
  message?: unknown;
  code?: unknown;
}

export interface ChatCompletionMessage {
  role?: string;
  content?: string | null;
  refusal?: string | null;
  reasoning_content?: string | null;
  reasoning?: string | null;
  tool_calls?: ChatToolCallChunk[] | null;
}

/** A non-streamed completion (stream: false). */
export interface ChatCompletion {
  id?: string;
  object?: string;
  choices?: { index?: number; message?: ChatCompletionMessage | null; finish_reason?: string | null }[];
  usage?: ChatCompletionUsage | null;
  error?: ChatErrorObject | string | null;
}
