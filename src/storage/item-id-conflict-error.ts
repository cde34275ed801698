/**
 * Thrown by `ConversationStore.create` and `appendItems` when an item's id is already the id of
 * an item in that conversation (or repeats within the items given). Item ids in a conversation
 * are unique, as OpenAI's are — `getItem`, `deleteItem` and the paging cursors name an item by
 * its id — and a client may choose them, so a repeat is the client's mistake: the route answers
 * it with a 400 `invalid_request_error`. Nothing of the failed call is written.
 */
export class ItemIdConflictError extends Error {
  readonly conversationId: string;
  /** The id that is already taken. */
  readonly itemId: string;

  constructor(conversationId: string, itemId: string) {
    super(`An item with id '${itemId}' is already in conversation '${conversationId}'.`);
    this.name = 'ItemIdConflictError';
    this.conversationId = conversationId;
    this.itemId = itemId;
  }
}

/** The first id that repeats within `items`, or null: such a batch can never be stored. */
export function firstRepeatedItemId(items: readonly { id: string }[]): string | null {
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.id)) return item.id;
    seen.add(item.id);
  }
  return null;
}
