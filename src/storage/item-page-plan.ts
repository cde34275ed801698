import { CursorNotFoundError } from './cursor-not-found-error.ts';
import type { PageRequest } from './stores.ts';

/**
 * How to read one page of positioned items, shared by the SQLite and PostgreSQL stores so both
 * page exactly alike.
 *
 * Items are kept by position (0, 1, 2 … in the order they were given); a cursor is an item id that
 * the store has already resolved to its position. The page holds the items strictly between
 * `lowerExclusive` and `upperExclusive`, read from `ascending` order, at most `limit` of them;
 * the store fetches `fetchCount` (one more than the limit) to learn whether more lie beyond.
 */
export interface ItemPagePlan {
  lowerExclusive: number;
  upperExclusive: number;
  /** Scan direction in position order. */
  ascending: boolean;
  /** The scan ran against the listing order (a `before`-only page): reverse the rows read. */
  reverse: boolean;
  limit: number;
  fetchCount: number;
}

/** Sentinels for an open end: positions are non-negative 32-bit integers. */
const belowEveryPosition = -1;
const aboveEveryPosition = 2_147_483_647;

/**
 * Plans a page as OpenAI's lists behave:
 * - `after` is exclusive in the listing order and the page reads onward from it;
 * - `before` is exclusive in the listing order too; with `after` it only bounds the page, but on
 *   its own it asks for the page that precedes it ("fetch the previous page of the list"), so the
 *   page holds the `limit` items nearest to it, still returned in the listing order;
 * - `hasMore` (from `fetchCount`) tells whether more items lie beyond the page in the direction it
 *   was read: towards the end of the list, or towards its start for a `before`-only page.
 */
export function planItemPage(
  page: PageRequest,
  afterPosition: number | null,
  beforePosition: number | null,
): ItemPagePlan {
  const limit = Math.max(0, Math.floor(page.limit));
  const listingAscending = page.order === 'asc';
  // In position order, the cursor that bounds from below is `after` when listing ascending and
  // `before` when listing descending.
  const lowerCursor = listingAscending ? afterPosition : beforePosition;
  const upperCursor = listingAscending ? beforePosition : afterPosition;
  const readBackwards = afterPosition === null && beforePosition !== null;
  return {
    lowerExclusive: lowerCursor ?? belowEveryPosition,
    upperExclusive: upperCursor ?? aboveEveryPosition,
    ascending: readBackwards ? !listingAscending : listingAscending,
    reverse: readBackwards,
    limit,
    fetchCount: limit + 1,
  };
}

/** Cuts the rows read for a plan down to the page, in the listing order. */
export function pageFromRows<Item>(plan: ItemPagePlan, rows: Item[]): { items: Item[]; hasMore: boolean } {
  const items = rows.slice(0, plan.limit);
  if (plan.reverse) items.reverse();
  return { items, hasMore: rows.length > plan.limit };
}

/**
 * The positions of a page's `after` and `before` cursors, looked up in one query: `lookUp` gets
 * the cursors' stored keys and answers key → position. A cursor that is not in the list is a
 * CursorNotFoundError naming it.
 */
export async function resolveCursorPositions(
  page: PageRequest,
  keyOf: (itemId: string) => string,
  lookUp: (keys: string[]) => Promise<Map<string, number>>,
): Promise<{ afterPosition: number | null; beforePosition: number | null }> {
  const cursors = [page.after, page.before].filter((cursor) => cursor !== null);
  if (cursors.length === 0) return { afterPosition: null, beforePosition: null };
  const positions = await lookUp(cursors.map(keyOf));
  const positionOf = (name: 'after' | 'before', cursor: string | null): number | null => {
    if (cursor === null) return null;
    const position = positions.get(keyOf(cursor));
    if (position === undefined) throw new CursorNotFoundError(name, cursor);
    return position;
  };
  return { afterPosition: positionOf('after', page.after), beforePosition: positionOf('before', page.before) };
}
