/**
 * OpenAI Responses API shapes as they travel on the wire (snake_case, exactly as in
 * shared/spec/openai-openapi.json). Only the parts Riposte builds are typed closely.
 */

export interface OutputTextContent {
  type: 'output_text';
  text: string;
  annotations: unknown[];
  logprobs: unknown[];
}

export interface RefusalContent {
  type: 'refusal';
  refusal: string;
}

export interface OutputMessageItem {
  type: 'message';
  id: string;
  status: ItemStatus;
  role: 'assistant';
  content: Array<OutputTextContent | RefusalContent>;
}

export interface FunctionCallItem {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: ItemStatus;
  /** Set when the function belongs to a `namespace` tool. */
  namespace?: string;
}

export interface CustomToolCallItem {
  type: 'custom_tool_call';
  id: string;
  call_id: string;
  name: string;
  input: string;
  status?: ItemStatus;
  namespace?: string;
}

export interface ReasoningItem {
  type: 'reasoning';
  id: string;
  summary: Array<{ type: 'summary_text'; text: string }>;
  content?: Array<{ type: 'reasoning_text'; text: string }>;
  encrypted_content?: string | null;
  status?: ItemStatus;
}

/** Earlier context compacted into one opaque, sealed summary (spec: CompactionBody). */
export interface CompactionItem {
  type: 'compaction';
  id: string;
  encrypted_content: string;
}

export interface FileSearchCallItem {
  type: 'file_search_call';
  id: string;
  status: 'in_progress' | 'searching' | 'completed' | 'incomplete' | 'failed';
  queries: string[];
  results: Array<{ file_id: string; filename: string; score: number; attributes: Record<string, unknown>; text: string }> | null;
}

export type ItemStatus = 'in_progress' | 'completed' | 'incomplete';

export type OutputItem = OutputMessageItem | FunctionCallItem | CustomToolCallItem | ReasoningItem | CompactionItem | FileSearchCallItem;

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface ResponseErrorBody {
  code: string;
  message: string;
}

export type ResponseStatus = 'queued' | 'in_progress' | 'completed' | 'failed' | 'incomplete' | 'cancelled';

/** The Response object; every key the spec lists is present (null where unset). */
export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponseStatus;
  background: boolean;
  completed_at: number | null;
  error: ResponseErrorBody | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  instructions: string | unknown[] | null;
  max_output_tokens: number | null;
  max_tool_calls: number | null;
  model: string;
  output: OutputItem[];
  output_text: string;
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  prompt: unknown;
  prompt_cache_key: string | null;
  prompt_cache_retention: string | null;
  reasoning: { effort: string | null; summary: string | null } | null;
  safety_identifier: string | null;
  service_tier: string;
  store: boolean;
  temperature: number;
  text: { format: Record<string, unknown>; verbosity: string };
  tool_choice: unknown;
  tools: unknown[];
  top_logprobs: number;
  top_p: number;
  truncation: 'auto' | 'disabled';
  usage: ResponseUsage | null;
  user: string | null;
  metadata: Record<string, string>;
  conversation: { id: string } | null;
  [key: string]: unknown;
}

/** What `POST /v1/responses/compact` answers (spec: CompactResource). */
export interface CompactedResponse {
  id: string;
  object: 'response.compaction';
  created_at: number;
  /** Every user message of the compacted context, verbatim and in order, then one compaction item. */
  output: Array<Record<string, unknown> | CompactionItem>;
  usage: ResponseUsage;
}

/** One Responses stream event. `sequence_number` is set by the engine as it yields. */
export interface StreamEvent {
  type: string;
  sequence_number: number;
  [key: string]: unknown;
}
