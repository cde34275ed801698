/**
 * A `POST /v1/responses` body after validation: every known field checked, defaults applied,
 * `input` normalised to a list of typed items. Produced by parseCreateResponse.
 */

/** An input item as on the wire, `type` always set (messages given without it get `type: "message"`). */
export type InputItem = Record<string, unknown> & { type: string };

/** A tool as given in `tools` (function, custom, namespace, web_search, …), validated. */
export type RequestTool = Record<string, unknown> & { type: string };

export interface TextFormatText {
  type: 'text';
}
export interface TextFormatJsonObject {
  type: 'json_object';
}
export interface TextFormatJsonSchema {
  type: 'json_schema';
  name: string;
  description?: string;
  schema: Record<string, unknown>;
  /** False when the client did not say (the spec's default). */
  strict: boolean;
}
export type TextFormat = TextFormatText | TextFormatJsonObject | TextFormatJsonSchema;

export type ToolChoice =
  | 'none'
  | 'auto'
  | 'required'
  | { type: 'function'; name: string }
  | { type: 'custom'; name: string }
  | { type: 'allowed_tools'; mode: 'auto' | 'required'; tools: Array<Record<string, unknown>> }
  | { type: string; [key: string]: unknown };

export interface CreateResponseRequest {
  /** Null only when a `prompt` supplies the model. */
  model: string | null;
  input: InputItem[];
  instructions: string | InputItem[] | null;
  tools: RequestTool[];
  toolChoice: ToolChoice;
  parallelToolCalls: boolean;
  maxOutputTokens: number | null;
  maxToolCalls: number | null;
  temperature: number | null;
  topP: number | null;
  topLogprobs: number | null;
  metadata: Record<string, string>;
  store: boolean;
  background: boolean;
  stream: boolean;
  streamOptions: { include_obfuscation?: boolean } | null;
  previousResponseId: string | null;
  /** The conversation id, whether given as a string or `{id}`. */
  conversation: string | null;
  text: { format: TextFormat; verbosity: 'low' | 'medium' | 'high' };
  reasoning: { effort: string | null; summary: string | null } | null;
  include: string[];
  truncation: 'auto' | 'disabled';
  user: string | null;
  safetyIdentifier: string | null;
  promptCacheKey: string | null;
  promptCacheRetention: string | null;
  serviceTier: string;
  prompt: { id: string; version: string | null; variables: Record<string, unknown> } | null;
  contextManagement: Array<Record<string, unknown>> | null;
  /** `prompt_cache_options` as given ({ttl, mode}), validated. Optional so hand-built requests need not set it. */
  promptCacheOptions?: Record<string, unknown> | null;
  /** `moderation` as given ({model, policy}), validated. Optional so hand-built requests need not set it. */
  moderation?: Record<string, unknown> | null;
  /**
   * The body fields the client set (present and not null) by wire name, plus `text.format` and
   * `text.verbosity`: a stored `prompt` fills in only the others, since the defaults above hide
   * what was left out. Absent on requests built in code: then a field counts as set when it
   * differs from its default.
   */
  givenFields?: string[];
}
