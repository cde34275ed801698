import type { StoredItem } from '../stores.ts';

export { itemKey } from '../item-key.ts';

/*
 * How the PostgreSQL stores keep strings a client chooses. A text value cannot hold NUL, and pg
 * fails on one in a parameter; documents are therefore JSON.stringify text (see migration 2),
 * and ids that SQL must compare are kept as their JSON text too.
 */

/**
 * Whether an id the server assigned (response, conversation, prompt), which reaches the stores
 * straight from a URL or a request body, can be in a table at all.
 */
export function canBeStored(id: string): boolean {
  return !id.includes('\u0000');
}

export function parseItem(text: string): StoredItem {
  return JSON.parse(text) as StoredItem;
}
