import { randomUUID } from 'node:crypto';
import type { PageRequest, StoredItem } from './stores.ts';

/*
 * Values the contract suites build their records from. Tests share one store, so each test uses
 * an owner of its own.
 */

export function newOwner(): string {
  return `proj_${randomUUID()}`;
}

export function messageItem(id: string, text: string): StoredItem {
  return { id, type: 'message', role: 'user', content: [{ type: 'input_text', text }] };
}

export function assistantMessage(id: string, text: string): StoredItem {
  return {
    id,
    type: 'message',
    role: 'assistant',
    status: 'completed',
    content: [{ type: 'output_text', text, annotations: [] }],
  };
}

export function firstPage(order: 'asc' | 'desc'): PageRequest {
  return { after: null, before: null, limit: 20, order };
}
