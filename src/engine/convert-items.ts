import { invalidRequest } from '../errors/api-error.ts';
import type { ModelContentPart, ModelItem, ModelRole } from '../providers/model-adapter.ts';
import { qualifiedToolName } from './offered-tools.ts';
import type { ContentSealer } from './sealed-content.ts';

type WireItem = Record<string, unknown> & { type: string };

/** Purpose bound into reasoning `encrypted_content`. */
export const REASONING_PURPOSE = 'reasoning';

/** Purpose bound into compaction `encrypted_content`: the summary that stands for compacted context. */
export const COMPACTION_PURPOSE = 'compaction';

export interface ConvertOptions {
  sealer: ContentSealer;
  owner: string;
}

/**
 * Wire items (request input, or stored items of an earlier response) to the provider-neutral
 * items the model adapters take. `paramPrefix` names where the items came from, for errors.
 */
export function convertItems(items: WireItem[], options: ConvertOptions, paramPrefix: string): ModelItem[] {
  const converted: ModelItem[] = [];
  items.forEach((item, index) => {
    const modelItem = convertItem(item, options, `${paramPrefix}[${index}]`);
    if (modelItem) converted.push(modelItem);
  });
  return dropCompactedItems(converted);
}

/** Summary messages made from compaction items, so dropCompactedItems can find the latest one. */
const compactionSummaries = new WeakSet<ModelItem>();

/**
 * What the model is given for a compaction item. A user message, not a developer one: most
 * Chat Completions templates (Qwen, Mistral, Gemma…) refuse or misplace a system message that is
 * not the first, and a compaction item sits in the middle of the conversation. The wording keeps
 * the model from answering the note itself.
 */
export function compactionSummaryMessage(summary: string): ModelItem {
  const message: ModelItem = {
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
  compactionSummaries.add(message);
  return message;
}

export function isCompactionSummary(item: ModelItem): boolean {
  return compactionSummaries.has(item);
}

/**
 * The latest compaction summary stands for everything before it except the messages compaction
 * keeps: user messages (returned verbatim by /v1/responses/compact) and system or developer
 * instructions. Clients may leave the compacted items in their input, as OpenAI allows ("you can
 * drop items that came before the most recent compaction item"); they are not sent twice.
 */
export function dropCompactedItems(items: ModelItem[]): ModelItem[] {
  const latest = items.findLastIndex(isCompactionSummary);
  if (latest <= 0) return items;
  return items.filter(
    (item, index) =>
      index >= latest || (item.type === 'message' && item.role !== 'assistant' && !isCompactionSummary(item)),
  );
}

function convertItem(item: WireItem, options: ConvertOptions, param: string): ModelItem | null {
  switch (item.type) {
    case 'message':
      return {
        type: 'message',
        role: item.role as ModelRole,
        content: convertContent(item.content, `${param}.content`),
      };
    case 'function_call':
      return {
        type: 'function_call',
        callId: item.call_id as string,
        name: qualifiedToolName(item.namespace as string | undefined, item.name as string),
        arguments: item.arguments as string,
      };
    case 'function_call_output':
      return {
        type: 'function_call_output',
        callId: item.call_id as string,
        output: convertOutput(item.output, `${param}.output`),
      };
    case 'custom_tool_call':
      return {
        type: 'custom_tool_call',
        callId: item.call_id as string,
        name: qualifiedToolName(item.namespace as string | undefined, item.name as string),
        input: item.input as string,
      };
    case 'custom_tool_call_output':
      return {
        type: 'custom_tool_call_output',
        callId: item.call_id as string,
        output: convertOutput(item.output, `${param}.output`),
      };
    case 'reasoning':
      return convertReasoning(item, options, param);
    case 'compaction':
      return convertCompaction(item, options, param);
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

function convertCompaction(item: WireItem, options: ConvertOptions, param: string): ModelItem {
  const sealed = item.encrypted_content;
  const summary = typeof sealed === 'string' ? options.sealer.open(COMPACTION_PURPOSE, options.owner, sealed) : null;
  if (summary === null) {
    throw invalidRequest(
      `${param}.encrypted_content`,
      'The encrypted content of this compaction item could not be verified: it was not produced by this server for this API key, or it was altered.',
      'invalid_encrypted_content',
    );
  }
  return compactionSummaryMessage(summary);
}

function convertOutput(output: unknown, param: string): string | ModelContentPart[] {
  return typeof output === 'string' ? output : convertContent(output, param);
}

function convertContent(content: unknown, param: string): ModelContentPart[] {
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
        if (typeof part.image_url !== 'string') {
          throw invalidRequest(
            `${partParam}.file_id`,
            'Images by file_id need the Files API, which this server does not serve yet; send image_url (a URL or a data URL).',
            'unsupported_parameter',
          );
        }
        const detail = part.detail === 'low' || part.detail === 'high' ? part.detail : 'auto';
        parts.push({ type: 'image', url: part.image_url, detail });
        return;
      }
      case 'input_file': {
        const data = typeof part.file_data === 'string' ? part.file_data : null;
        const url = typeof part.file_url === 'string' ? part.file_url : null;
        if (data === null && url === null) {
          throw invalidRequest(
            `${partParam}.file_id`,
            'Files by file_id need the Files API, which this server does not serve yet; send file_data or file_url.',
            'unsupported_parameter',
          );
        }
        parts.push({ type: 'file', filename: typeof part.filename === 'string' ? part.filename : null, data, url });
        return;
      }
      default:
        throw invalidRequest(`${partParam}.type`, `Unsupported content type '${String(part.type)}'.`, 'invalid_value');
    }
  });
  return parts;
}
