import { randomUUID } from 'node:crypto';
import type { PageRequest, ResponseStatus, StoredItem, StoredResponse } from './stores.ts';

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

/** A response of `owner` with a fresh id; completed and created now unless overridden. */
export function newResponse(
  owner: string,
  overrides: {
    status?: ResponseStatus;
    createdAt?: number;
    previousResponseId?: string | null;
    response?: Record<string, unknown>;
  } = {},
): StoredResponse {
  const id = `resp_${randomUUID().replaceAll('-', '')}`;
  const createdAt = overrides.createdAt ?? Math.floor(Date.now() / 1000);
  const status = overrides.status ?? 'completed';
  const previousResponseId = overrides.previousResponseId ?? null;
  return {
    id,
    owner,
    createdAt,
    status,
    previousResponseId,
    response: {
      id,
      object: 'response',
      created_at: createdAt,
      status,
      error: null,
      model: 'scripted',
      output: [],
      previous_response_id: previousResponseId,
      ...overrides.response,
    },
  };
}
