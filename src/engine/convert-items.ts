import { invalidRequest } from '../errors/api-error.ts';
import type { ModelContentPart, ModelItem, ModelRole } from '../providers/model-adapter.ts';
import { qualifiedToolName } from './offered-tools.ts';
import type { ContentSealer } from './sealed-content.ts';

type WireItem = Record<string, unknown> & { type: string };

/** Purpose bound into reasoning `encrypted_content`. */
export const REASONING_PURPOSE = 'reasoning';

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
  return converted;
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
