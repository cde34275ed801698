import { invalidRequest } from '../errors/api-error.ts';
import type { ModelContentPart, ModelItem, ModelRole } from '../providers/model-adapter.ts';
import type { Attributes } from '../storage/vector-stores.ts';
import { FILE_SEARCH_TOOL_NAME, formatHitsForModel } from '../tools/file-search/file-search-tool.ts';
import { qualifiedToolName } from './offered-tools.ts';
import type { InputFile, InputFiles } from './resolve-input-files.ts';
import type { ContentSealer } from './sealed-content.ts';

type WireItem = Record<string, unknown> & { type: string };

/** Purpose bound into reasoning `encrypted_content`. */
export const REASONING_PURPOSE = 'reasoning';

/** Purpose bound into compaction `encrypted_content`: what stands for compacted context (CompactionPayload). */
export const COMPACTION_PURPOSE = 'compaction';

export interface ConvertOptions {
  sealer: ContentSealer;
  owner: string;
  /** Files named by file_id, read beforehand (resolveInputFiles); none when absent. */
  files?: InputFiles;
}

/**
 * Wire items (request input, or stored items of an earlier response) to the provider-neutral
 * items the model adapters take. `paramPrefix` names where the items came from, for errors.
 */
export function convertItems(items: WireItem[], options: ConvertOptions, paramPrefix: string): ModelItem[] {
  const converted: ModelItem[] = [];
  items.forEach((item, index) => {
    const param = `${paramPrefix}[${index}]`;
    // A compaction item stands for several model items: the messages it carries, then its summary.
    if (item.type === 'compaction') {
      converted.push(...expandCompaction(convertCompaction(item, options, param)));
      return;
    }
    // A file search the server ran is, for the model, its own call and the results it read.
    if (item.type === 'file_search_call') {
      converted.push(...convertFileSearchCall(item));
      return;
    }
    const modelItem = convertItem(item, options, param);
    if (modelItem) converted.push(modelItem);
  });
  return dropCompactedItems(converted);
}

type MessageItem = Extract<ModelItem, { type: 'message' }>;

/**
 * What a compaction item's `encrypted_content` holds, opened. Version 2 blobs are JSON
 * (`{"v": 2, "summary", "messages"}`) and carry the user, system and developer messages the
 * compaction kept, so a client may drop every item before the compaction item, as OpenAI allows,
 * without the model losing the user's own words. Version 1 blobs, sealed before that, are the
 * summary as plain text and carry no messages: the client's copies of them are kept instead.
 */
export interface CompactionPayload {
  version: 1 | 2;
  summary: string;
  /** In their order; empty in version 1. */
  messages: MessageItem[];
}

const COMPACTION_PAYLOAD_VERSION = 2;

/** `encrypted_content` for a compaction item carrying `summary` and the kept `messages`. */
export function sealCompaction(sealer: ContentSealer, owner: string, summary: string, messages: MessageItem[]): string {
  const payload = {
    v: COMPACTION_PAYLOAD_VERSION,
    summary,
    messages: messages.map((message) => ({ type: 'message', role: message.role, content: message.content })),
  };
  return sealer.seal(COMPACTION_PURPOSE, owner, JSON.stringify(payload));
}

/** The payload of a compaction blob, or null when it cannot be verified (or is not one). */
export function openCompaction(sealer: ContentSealer, owner: string, sealed: string): CompactionPayload | null {
  const plaintext = sealer.open(COMPACTION_PURPOSE, owner, sealed);
  if (plaintext === null) return null;
  return parseVersion2(plaintext) ?? { version: 1, summary: plaintext, messages: [] };
}

/**
 * A version 2 payload, or null for a version 1 blob. A version 1 summary is whatever text a model
 * wrote, which may well be JSON; only an object with `v: 2` and the version 2 fields is taken as one.
 */
function parseVersion2(plaintext: string): CompactionPayload | null {
  if (!plaintext.startsWith('{')) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { v, summary, messages } = parsed as Record<string, unknown>;
  if (v !== COMPACTION_PAYLOAD_VERSION || typeof summary !== 'string' || !Array.isArray(messages)) return null;
  return { version: 2, summary, messages: messages as MessageItem[] };
}

/** What a compaction stands for, kept on its summary note so dropCompactedItems can read it. */
interface Expansion {
  version: 1 | 2;
  /** The carried messages as they sit in the model items, just before the note. */
  messages: ModelItem[];
}

/** Summary notes made from compaction items, so dropCompactedItems can find the latest one. */
const expansions = new WeakMap<ModelItem, Expansion>();

/**
 * What the model is given for a compaction: the messages it carries, in their order, then the
 * summary note. The same for a compaction item in input and for automatic compaction, so the turn
 * that compacted and the turns after it show the model the same thing.
 */
export function expandCompaction(payload: CompactionPayload): ModelItem[] {
  const messages: ModelItem[] = payload.messages.map((message) => ({
    type: 'message',
    role: message.role,
    content: message.content,
  }));
  const note = compactionSummaryMessage(payload.summary);
  expansions.set(note, { version: payload.version, messages });
  return [...messages, note];
}

/**
 * The summary note. A user message, not a developer one: most Chat Completions templates (Qwen,
 * Mistral, Gemma…) refuse or misplace a system message that is not the first, and a compaction
 * item sits in the middle of the conversation. The wording keeps the model from answering the
 * note itself.
 */
function compactionSummaryMessage(summary: string): ModelItem {
  return {
    type: 'message',
    role: 'user',
    content: [
      {
        type: 'text',
        text:
          'The earlier part of this conversation was compacted to save context. This is a summary of it, ' +
          'covering everything up to this point. Use it as context and continue where the conversation ' +
          'left off; do not reply to this note itself.\n\n<conversation_summary>\n' +
          summary +
          '\n</conversation_summary>',
      },
    ],
  };
}

export function isCompactionSummary(item: ModelItem): boolean {
  return expansions.has(item);
}

/**
 * The latest compaction stands for everything before it: clients may leave the compacted items
 * in their input, as OpenAI allows ("you can drop items that came before the most recent
 * compaction item"), and they are not sent twice.
 *
 * A version 2 compaction carries the kept messages itself, so everything before it goes, except
 * the system and developer messages at the head that it does not carry: the request's
 * `instructions`, which come first and which a compaction never seals (they are not carried over).
 * One that does carry them (a developer message the client put first in its input) is dropped
 * there and comes back in the compaction's place.
 *
 * A version 1 compaction carries only its summary, so the messages compaction keeps stay: user
 * messages (returned verbatim by /v1/responses/compact) and system or developer instructions.
 */
export function dropCompactedItems(items: ModelItem[]): ModelItem[] {
  const latest = items.findLastIndex(isCompactionSummary);
  if (latest <= 0) return items;
  const expansion = expansions.get(items[latest]!)!;
  if (expansion.version === 1) {
    return items.filter(
      (item, index) =>
        index >= latest || (item.type === 'message' && item.role !== 'assistant' && !isCompactionSummary(item)),
    );
  }
  const carried = new Set(expansion.messages);
  const carriedContent = new Set(expansion.messages.map(messageKey));
  const headLength = items.findIndex((item) => !isInstructionMessage(item));
  const head = headLength === -1 ? items.length : headLength;
  return items.filter(
    (item, index) => index >= latest || carried.has(item) || (index < head && !carriedContent.has(messageKey(item))),
  );
}

function isInstructionMessage(item: ModelItem): boolean {
  return item.type === 'message' && (item.role === 'system' || item.role === 'developer');
}

function messageKey(item: ModelItem): string {
  return item.type === 'message' ? JSON.stringify([item.role, item.content]) : '';
}

function convertItem(item: WireItem, options: ConvertOptions, param: string): ModelItem | null {
  switch (item.type) {
    case 'message':
      return {
        type: 'message',
        role: item.role as ModelRole,
        content: convertContent(item.content, `${param}.content`, options),
      };
    case 'function_call':
      return {
        type: 'function_call',
        callId: item.call_id as string,
        name: qualifiedToolName(item.namespace as string | undefined, item.name as string),
        arguments: item.arguments as string,
      };
    case 'custom_tool_call':
      return {
        type: 'custom_tool_call',
        callId: item.call_id as string,
        name: qualifiedToolName(item.namespace as string | undefined, item.name as string),
        input: item.input as string,
      };
    case 'function_call_output':
    case 'custom_tool_call_output':
      return {
        type: item.type,
        callId: item.call_id as string,
        output: convertOutput(item.output, `${param}.output`, options),
      };
    case 'reasoning':
      return convertReasoning(item, options, param);
    default:
      // Items of built-in tools this server does not run (web_search_call, …) carry nothing a
      // model upstream here can take; they stay in the stored history but are not sent.
      return null;
  }
}

function convertReasoning(item: WireItem, options: ConvertOptions, param: string): ModelItem | null {
  const texts: string[] = [];
  for (const part of (item.content as Array<{ text?: unknown }> | undefined) ?? []) {
    if (typeof part.text === 'string') texts.push(part.text);
  }
  if (texts.length === 0 && typeof item.encrypted_content === 'string') {
    const opened = options.sealer.open(REASONING_PURPOSE, options.owner, item.encrypted_content);
    if (opened === null) {
      throw invalidRequest(
        `${param}.encrypted_content`,
        'The encrypted content of this reasoning item could not be verified: it was not produced by this server for this API key, or it was altered.',
        'invalid_encrypted_content',
      );
    }
    texts.push(opened);
  }
  if (texts.length === 0) {
    for (const part of (item.summary as Array<{ text?: unknown }> | undefined) ?? []) {
      if (typeof part.text === 'string') texts.push(part.text);
    }
  }
  return texts.length > 0 ? { type: 'reasoning', text: texts.join('\n') } : null;
}

function convertCompaction(item: WireItem, options: ConvertOptions, param: string): CompactionPayload {
  const sealed = item.encrypted_content;
  const payload = typeof sealed === 'string' ? openCompaction(options.sealer, options.owner, sealed) : null;
  if (payload === null) {
    throw invalidRequest(
      `${param}.encrypted_content`,
      'The encrypted content of this compaction item could not be verified: it was not produced by this server for this API key, or it was altered.',
      'invalid_encrypted_content',
    );
  }
  return payload;
}

function convertOutput(output: unknown, param: string, options: ConvertOptions): string | ModelContentPart[] {
  return typeof output === 'string' ? output : convertContent(output, param, options);
}

/** What the model reads in place of a File an earlier turn sent and that has been deleted since. */
function missingFileNote(fileId: string): ModelContentPart {
  return { type: 'text', text: `[File ${fileId} was attached here; it has since been deleted.]` };
}

function convertContent(content: unknown, param: string, options: ConvertOptions): ModelContentPart[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  const parts: ModelContentPart[] = [];
  ((content as Array<Record<string, unknown>> | undefined) ?? []).forEach((part, index) => {
    const partParam = `${param}[${index}]`;
    switch (part.type) {
      case 'input_text':
      case 'output_text':
      case 'text':
        parts.push({ type: 'text', text: part.text as string });
        return;
      case 'refusal':
        parts.push({ type: 'text', text: part.refusal as string });
        return;
      case 'input_image': {
        const detail = part.detail === 'low' || part.detail === 'high' ? part.detail : 'auto';
        if (typeof part.image_url === 'string') {
          parts.push({ type: 'image', url: part.image_url, detail });
          return;
        }
        const file = fileFor(part, partParam, options);
        parts.push(
          file === null ? missingFileNote(String(part.file_id)) : { type: 'image', url: file.dataUrl, detail },
        );
        return;
      }
      case 'input_file': {
        const data = typeof part.file_data === 'string' ? part.file_data : null;
        const url = typeof part.file_url === 'string' ? part.file_url : null;
        const filename = typeof part.filename === 'string' ? part.filename : null;
        if (data !== null || url !== null) {
          parts.push({ type: 'file', filename, data, url });
          return;
        }
        const file = fileFor(part, partParam, options);
        parts.push(
          file === null
            ? missingFileNote(String(part.file_id))
            : { type: 'file', filename: filename ?? file.filename, data: file.dataUrl, url: null },
        );
        return;
      }
      default:
        throw invalidRequest(`${partParam}.type`, `Unsupported content type '${String(part.type)}'.`, 'invalid_value');
    }
  });
  return parts;
}

/**
 * The File a part names by file_id, read beforehand; null for one of an earlier turn that has
 * been deleted since. A part with no source at all is a 400.
 */
function fileFor(part: Record<string, unknown>, partParam: string, options: ConvertOptions): InputFile | null {
  if (typeof part.file_id !== 'string' || part.file_id === '') {
    const source = part.type === 'input_image' ? 'image_url or file_id' : 'file_data, file_url or file_id';
    throw invalidRequest(
      `${partParam}.file_id`,
      `Give the ${String(part.type)} one of ${source}.`,
      'missing_required_parameter',
    );
  }
  return options.files?.get(part.file_id) ?? null;
}

function convertFileSearchCall(item: WireItem): ModelItem[] {
  const callId = String(item.id);
  const queries = Array.isArray(item.queries) ? item.queries : [];
  const results = Array.isArray(item.results) ? (item.results as Array<Record<string, unknown>>) : null;
  const output =
    results === null
      ? 'The search ran; its results were not kept (ask for include: ["file_search_call.results"] to keep them).'
      : formatHitsForModel(
          results.map((result, index) => ({
            fileId: String(result.file_id),
            filename: String(result.filename),
            score: Number(result.score ?? 0),
            attributes: (result.attributes ?? {}) as Attributes,
            text: typeof result.text === 'string' ? result.text : '',
            chunkIndex: index,
          })),
        );
  return [
    { type: 'function_call', callId, name: FILE_SEARCH_TOOL_NAME, arguments: JSON.stringify({ queries }) },
    { type: 'function_call_output', callId, output },
  ];
}
