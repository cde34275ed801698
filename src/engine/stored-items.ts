import { invalidRequest } from '../errors/api-error.ts';
import type { StoredItem } from '../storage/stores.ts';
import { REASONING_PURPOSE } from './convert-items.ts';
import type { InputItem } from './create-response-request.ts';
import { createId, type IdPrefix } from './ids.ts';
import type { ContentSealer } from './sealed-content.ts';

/*
 * Items as Riposte stores and lists them — a response's input items and a conversation's items
 * alike — so both look like the spec's ItemResource / ConversationItem, whichever API added them.
 */

const ID_PREFIX_BY_TYPE: Record<string, string> = {
  message: 'msg',
  function_call: 'fc',
  function_call_output: 'fco',
  custom_tool_call: 'ctc',
  custom_tool_call_output: 'ctco',
  reasoning: 'rs',
};

/** Tool call items and their outputs, which the spec's ItemResource lists with a `status`. */
const TOOL_ITEM_TYPES = new Set([
  'function_call',
  'function_call_output',
  'custom_tool_call',
  'custom_tool_call_output',
]);

/** Finds a stored item by id for an `item_reference`; null when this owner has none. */
export type ItemLookup = (itemId: string) => Promise<StoredItem | null>;

/** A fresh id for an item of `type`, with OpenAI's prefix for it (`msg_`, `fc_`, … else `item_`). */
export function createItemId(type: string): string {
  return createId((ID_PREFIX_BY_TYPE[type] ?? 'item') as IdPrefix);
}

/**
 * Validated input items made ready to store: item references replaced by the items they name
 * (looked up with `findItem`; an unknown id is a 400 naming `${param}[i].id`), every item given
 * an id, messages and tool items given the fields listed items carry.
 */
export async function toStoredItems(items: InputItem[], findItem: ItemLookup, param: string): Promise<StoredItem[]> {
  const stored: StoredItem[] = [];
  for (const [index, item] of items.entries()) {
    if (item.type === 'item_reference') {
      const id = item.id as string;
      const found = await findItem(id);
      if (!found) throw invalidRequest(`${param}[${index}].id`, `Item with id '${id}' not found.`, 'invalid_value');
      stored.push(found);
      continue;
    }
    stored.push(toStoredItem(item));
  }
  return stored;
}

/** One item (not a reference) made ready to store: an id when it has none, listing fields filled in. */
export function toStoredItem(item: InputItem): StoredItem {
  const stored = { ...item } as StoredItem;
  if (typeof stored.id !== 'string' || stored.id === '') stored.id = createItemId(item.type);
  if (stored.type === 'message') normaliseStoredMessage(stored);
  else if (TOOL_ITEM_TYPES.has(stored.type)) stored.status ??= 'completed';
  return stored;
}

/**
 * Listed messages have a status, and assistant ones are output messages whose text parts carry
 * `annotations` and `logprobs`, as the spec's ItemResource and ConversationItem require.
 */
function normaliseStoredMessage(message: StoredItem): void {
  message.status ??= 'completed';
  if (message.role !== 'assistant' || !Array.isArray(message.content)) return;
  message.content = (message.content as Array<Record<string, unknown>>).map((part) =>
    part.type === 'output_text'
      ? { ...part, annotations: part.annotations ?? [], logprobs: part.logprobs ?? [] }
      : part,
  );
}

/**
 * Copies of `items` where reasoning items carry `encrypted_content` sealed for `owner` — what
 * `include: ["reasoning.encrypted_content"]` asks for, so a client can replay them statelessly.
 * Items are copied because the stored ones must not gain a blob sealed for one request.
 */
export function withSealedReasoning<Item extends Record<string, unknown>>(
  items: Item[],
  sealer: ContentSealer,
  owner: string,
): Item[] {
  return items.map((item) => {
    if (item.type !== 'reasoning' || typeof item.encrypted_content === 'string') return item;
    const texts = ((item.content ?? item.summary) as Array<{ text: string }> | undefined) ?? [];
    const sealed = sealer.seal(REASONING_PURPOSE, owner, texts.map((part) => part.text).join('\n'));
    return { ...item, encrypted_content: sealed };
  });
}

/**
 * Stored items as a client sees them, given its `include`: a file_search_call's results (always
 * stored, for later turns) only with `file_search_call.results`; reasoning sealed into
 * `encrypted_content` only with `reasoning.encrypted_content`. Items that change are copied.
 */
export function presentItems<Item extends Record<string, unknown>>(
  items: Item[],
  include: readonly string[],
  sealer: ContentSealer,
  owner: string,
): Item[] {
  const shown = include.includes('file_search_call.results')
    ? items
    : items.map((item) =>
        item.type === 'file_search_call' && item.results != null ? { ...item, results: null } : item,
      );
  return include.includes('reasoning.encrypted_content') ? withSealedReasoning(shown, sealer, owner) : shown;
}
