import type { Pool } from 'pg';
import { firstRepeatedItemId, ItemIdConflictError } from '../item-id-conflict-error.ts';
import type { ConversationStore, ItemPage, PageRequest, StoredConversation, StoredItem } from '../stores.ts';
import { postgresItemPage } from './postgres-item-page.ts';
import { canBeStored, itemKey, parseItem } from './postgres-text.ts';

/*
 * Named statements, documents as JSON text and item ids as itemKey (JSON.stringify(id)), for the
 * reasons given in postgres-response-store.ts and migration 2.
 *
 * create and appendItems are each one statement (data-modifying CTEs), so each is atomic by
 * itself. appendItems first raises the conversation's next_position with an UPDATE: the row lock
 * that UPDATE takes makes a racing append on the same conversation wait until this one commits,
 * and then read the raised value (READ COMMITTED re-reads a row that changed while it waited),
 * so the two batches get disjoint, contiguous ranges. A conversation deleted meanwhile has no
 * row to update, and then nothing is inserted.
 */
const statements = {
  createConversation: {
    name: 'riposte_conversations_create',
    text: `WITH inserted AS (
             INSERT INTO conversations (id, owner, created_at, metadata, next_position)
             VALUES ($1, $2, $3, $4, cardinality($5::text[]))
             RETURNING id, owner
           )
           INSERT INTO conversation_items (conversation_id, position, owner, item_id, item)
           SELECT inserted.id, element.ordinality - 1, inserted.owner, element.item_id, element.item
           FROM inserted, unnest($5::text[], $6::text[]) WITH ORDINALITY AS element (item_id, item, ordinality)`,
  },
  selectConversation: {
    name: 'riposte_conversations_get',
    text: 'SELECT id, owner, created_at, metadata FROM conversations WHERE owner = $1 AND id = $2',
  },
  updateMetadata: {
    name: 'riposte_conversations_update_metadata',
    text: `UPDATE conversations SET metadata = $3 WHERE owner = $1 AND id = $2
           RETURNING id, owner, created_at, metadata`,
  },
  deleteConversation: {
    name: 'riposte_conversations_delete',
    text: 'DELETE FROM conversations WHERE owner = $1 AND id = $2',
  },
  // Answers one row when the conversation was there (whether or not items were given).
  appendItems: {
    name: 'riposte_conversation_items_append',
    text: `WITH reserved AS (
             UPDATE conversations SET next_position = next_position + cardinality($3::text[])
             WHERE owner = $1 AND id = $2
             RETURNING id, owner, next_position - cardinality($3::text[]) AS first_position
           ), inserted AS (
             INSERT INTO conversation_items (conversation_id, position, owner, item_id, item)
             SELECT reserved.id, reserved.first_position + element.ordinality - 1, reserved.owner,
                    element.item_id, element.item
             FROM reserved, unnest($3::text[], $4::text[]) WITH ORDINALITY AS element (item_id, item, ordinality)
           )
           SELECT id FROM reserved`,
  },
  selectTakenItemIds: {
    name: 'riposte_conversation_items_taken',
    text: `SELECT item_id FROM conversation_items
           WHERE conversation_id = $1 AND item_id = ANY ($2::text[])`,
  },
  selectCursorPositions: {
    name: 'riposte_conversation_items_cursors',
    text: `SELECT item_id, position FROM conversation_items
           WHERE owner = $1 AND conversation_id = $2 AND item_id = ANY ($3::text[])`,
  },
  selectItemsAscending: {
    name: 'riposte_conversation_items_page_ascending',
    text: `SELECT item FROM conversation_items
           WHERE conversation_id = $1 AND owner = $2 AND position > $3 AND position < $4
           ORDER BY position ASC LIMIT $5`,
  },
  selectItemsDescending: {
    name: 'riposte_conversation_items_page_descending',
    text: `SELECT item FROM conversation_items
           WHERE conversation_id = $1 AND owner = $2 AND position > $3 AND position < $4
           ORDER BY position DESC LIMIT $5`,
  },
  selectAllItems: {
    name: 'riposte_conversation_items_all',
    text: 'SELECT item FROM conversation_items WHERE conversation_id = $1 AND owner = $2 ORDER BY position',
  },
  selectItem: {
    name: 'riposte_conversation_items_get',
    text: 'SELECT item FROM conversation_items WHERE owner = $1 AND conversation_id = $2 AND item_id = $3',
  },
  deleteItem: {
    name: 'riposte_conversation_items_delete',
    text: 'DELETE FROM conversation_items WHERE owner = $1 AND conversation_id = $2 AND item_id = $3',
  },
} as const;

/** The unique index that keeps item ids unique within a conversation (migration 3). */
const itemIdIndex = 'conversation_items_by_item_id';

interface ConversationRow {
  id: string;
  owner: string;
  /** bigint arrives as text from pg. */
  created_at: string;
  metadata: string;
}

/**
 * ConversationStore on a PostgreSQL pool. Item ids are unique within a conversation: a repeat
 * throws ItemIdConflictError and writes nothing. A deleted conversation is really deleted; its
 * items go with it (ON DELETE CASCADE).
 */
export class PostgresConversationStore implements ConversationStore {
  private readonly pool: Pool;

  constructor(pool: Pool) {
    this.pool = pool;
  }

  /** Fails if the id exists; throws ItemIdConflictError if an item id repeats. */
  async create(conversation: StoredConversation, items: StoredItem[]): Promise<void> {
    const repeated = firstRepeatedItemId(items);
    if (repeated !== null) throw new ItemIdConflictError(conversation.id, repeated);
    await this.pool.query({
      ...statements.createConversation,
      values: [
        conversation.id,
        conversation.owner,
        conversation.createdAt,
        JSON.stringify(conversation.metadata),
        items.map((item) => itemKey(item.id)),
        items.map((item) => JSON.stringify(item)),
      ],
    });
  }

  async get(owner: string, id: string): Promise<StoredConversation | null> {
    if (!canBeStored(id)) return null;
    const result = await this.pool.query<ConversationRow>({ ...statements.selectConversation, values: [owner, id] });
    const row = result.rows[0];
    return row === undefined ? null : conversationFromRow(row);
  }

  async updateMetadata(
    owner: string,
    id: string,
    metadata: Record<string, string>,
  ): Promise<StoredConversation | null> {
    if (!canBeStored(id)) return null;
    const result = await this.pool.query<ConversationRow>({
      ...statements.updateMetadata,
      values: [owner, id, JSON.stringify(metadata)],
    });
    const row = result.rows[0];
    return row === undefined ? null : conversationFromRow(row);
  }

  async delete(owner: string, id: string): Promise<boolean> {
    if (!canBeStored(id)) return false;
    const result = await this.pool.query({ ...statements.deleteConversation, values: [owner, id] });
    return (result.rowCount ?? 0) > 0;
  }

  /** False (nothing written) when the conversation is absent; ItemIdConflictError on a taken id. */
  async appendItems(owner: string, id: string, items: StoredItem[]): Promise<boolean> {
    if (!canBeStored(id)) return false;
    const repeated = firstRepeatedItemId(items);
    if (repeated !== null) throw new ItemIdConflictError(id, repeated);
    const keys = items.map((item) => itemKey(item.id));
    try {
      const result = await this.pool.query({
        ...statements.appendItems,
        values: [owner, id, keys, items.map((item) => JSON.stringify(item))],
      });
      return (result.rowCount ?? 0) > 0;
    } catch (error) {
      if (!isUniqueViolationOf(error, itemIdIndex)) throw error;
      // The statement was undone as a whole; look up which id was taken, to name it.
      const taken = await this.pool.query<{ item_id: string }>({
        ...statements.selectTakenItemIds,
        values: [id, keys],
      });
      const takenKeys = new Set(taken.rows.map((row) => row.item_id));
      const conflicting = items.find((item) => takenKeys.has(itemKey(item.id))) ?? items[0];
      throw new ItemIdConflictError(id, conflicting?.id ?? '');
    }
  }

  /**
   * Pages the items as ResponseStore.listInputItems pages input items (see planItemPage). A
   * conversation that is absent or another owner's has no items; a cursor that is not one of its
   * item ids throws CursorNotFoundError.
   */
  async listItems(owner: string, id: string, page: PageRequest): Promise<ItemPage> {
    return postgresItemPage(this.pool, statements, owner, id, page);
  }

  async allItems(owner: string, id: string): Promise<StoredItem[]> {
    if (!canBeStored(id)) return [];
    const result = await this.pool.query<{ item: string }>({ ...statements.selectAllItems, values: [id, owner] });
    return result.rows.map((row) => parseItem(row.item));
  }

  async getItem(owner: string, conversationId: string, itemId: string): Promise<StoredItem | null> {
    if (!canBeStored(conversationId)) return null;
    const result = await this.pool.query<{ item: string }>({
      ...statements.selectItem,
      values: [owner, conversationId, itemKey(itemId)],
    });
    const row = result.rows[0];
    return row === undefined ? null : parseItem(row.item);
  }

  /** The other items keep their positions, so cursors and order stay as they were. */
  async deleteItem(owner: string, conversationId: string, itemId: string): Promise<boolean> {
    if (!canBeStored(conversationId)) return false;
    const result = await this.pool.query({
      ...statements.deleteItem,
      values: [owner, conversationId, itemKey(itemId)],
    });
    return (result.rowCount ?? 0) > 0;
  }
}

function conversationFromRow(row: ConversationRow): StoredConversation {
  return {
    id: row.id,
    owner: row.owner,
    createdAt: Number(row.created_at),
    metadata: JSON.parse(row.metadata) as Record<string, string>,
  };
}

/** Whether a PostgreSQL error is a unique violation (23505) of the named index. */
function isUniqueViolationOf(error: unknown, index: string): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    error.code === '23505' &&
    'constraint' in error &&
    error.constraint === index
  );
}
