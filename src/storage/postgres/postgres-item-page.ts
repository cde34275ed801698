import type { Pool } from 'pg';
import { CursorNotFoundError } from '../cursor-not-found-error.ts';
import { pageFromRows, planItemPage, resolveCursorPositions } from '../item-page-plan.ts';
import type { ItemPage, PageRequest } from '../stores.ts';
import { canBeStored, itemKey, parseItem } from './postgres-text.ts';

/** A named statement (pg prepares it once per connection). */
interface NamedStatement {
  name: string;
  text: string;
}

/**
 * The statements that page one owner's items of one parent (a response's input items, a
 * conversation's items): the positions of cursor item ids ($1 owner, $2 parent, $3 keys), and the
 * items between two positions each way ($1 parent, $2 owner, $3/$4 exclusive bounds, $5 limit).
 */
export interface ItemPageStatements {
  selectCursorPositions: NamedStatement;
  selectItemsAscending: NamedStatement;
  selectItemsDescending: NamedStatement;
}

/**
 * One page of a parent's items (see planItemPage). A parent that is absent or another owner's has
 * no items; a cursor that is not one of its item ids throws CursorNotFoundError.
 */
export async function postgresItemPage(
  pool: Pool,
  statements: ItemPageStatements,
  owner: string,
  parentId: string,
  page: PageRequest,
): Promise<ItemPage> {
  if (!canBeStored(parentId)) {
    if (page.after !== null) throw new CursorNotFoundError('after', page.after);
    if (page.before !== null) throw new CursorNotFoundError('before', page.before);
    return { items: [], hasMore: false };
  }
  const { afterPosition, beforePosition } = await resolveCursorPositions(page, itemKey, async (keys) => {
    const result = await pool.query<{ item_id: string; position: number }>({
      ...statements.selectCursorPositions,
      values: [owner, parentId, keys],
    });
    return new Map(result.rows.map((row) => [row.item_id, row.position]));
  });
  const plan = planItemPage(page, afterPosition, beforePosition);
  const select = plan.ascending ? statements.selectItemsAscending : statements.selectItemsDescending;
  const result = await pool.query<{ item: string }>({
    ...select,
    values: [parentId, owner, plan.lowerExclusive, plan.upperExclusive, plan.fetchCount],
  });
  return pageFromRows(
    plan,
    result.rows.map((row) => parseItem(row.item)),
  );
}
