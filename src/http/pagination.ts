import { invalidRequest, invalidValue } from '../errors/api-error.ts';
import type { PageRequest } from '../storage/stores.ts';

/** Reads `after`, `before`, `limit` (1–100) and `order` as OpenAI's list endpoints take them. */
export function readPageQuery(
  query: Record<string, unknown>,
  defaults: { order: 'asc' | 'desc'; limit: number },
): PageRequest {
  const limitText = query.limit;
  let limit = defaults.limit;
  if (limitText !== undefined) {
    limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw invalidValue(
        'limit',
        `Invalid 'limit': integer between 1 and 100 expected, got ${JSON.stringify(limitText)}.`,
      );
    }
  }
  const order = query.order ?? defaults.order;
  if (order !== 'asc' && order !== 'desc') {
    throw invalidValue(
      'order',
      `Invalid value for 'order': expected one of 'asc' or 'desc', got ${JSON.stringify(order)}.`,
    );
  }
  return { after: readCursor(query, 'after'), before: readCursor(query, 'before'), limit, order };
}

function readCursor(query: Record<string, unknown>, name: 'after' | 'before'): string | null {
  const value = query[name];
  if (value === undefined || value === '') return null;
  if (typeof value !== 'string') throw invalidRequest(name, `Invalid '${name}': expected a single id.`, 'invalid_type');
  return value;
}

/** OpenAI's list page: `{object: "list", data, first_id, last_id, has_more}`. */
export function listPage<T extends { id: string }>(
  data: T[],
  hasMore: boolean,
): { object: 'list'; data: T[]; first_id: string | null; last_id: string | null; has_more: boolean } {
  return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: hasMore };
}

/** Reads `include` / `include[]` query parameters into a list. */
export function readIncludeQuery(query: Record<string, unknown>): string[] {
  const value = query['include[]'] ?? query.include;
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}
