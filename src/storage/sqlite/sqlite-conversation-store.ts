import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { CursorNotFoundError } from '../cursor-not-found-error.ts';
import { firstRepeatedItemId, ItemIdConflictError } from '../item-id-conflict-error.ts';
import { itemKey } from '../item-key.ts';
import { pageFromRows, planItemPage } from '../item-page-plan.ts';
import type { ConversationStore, ItemPage, PageRequest, StoredConversation, StoredItem } from '../stores.ts';
import type { Row } from './sqlite-rows.ts';
import { readItem, readNumber, readText } from './sqlite-rows.ts';
import type { ImmediateTransaction } from './sqlite-transaction.ts';
import { immediateTransaction } from './sqlite-transaction.ts';

/**
 * ConversationStore on one SQLite connection (see SqliteResponseStore for why one connection and
 * BEGIN IMMEDIATE). An append reads the conversation's next position and writes its items in one
 * such transaction, so racing appends — in this process or another — queue on the write lock and
 * each batch lands contiguous.
 *
 * Item ids are unique within a conversation: a repeat throws ItemIdConflictError and writes
 * nothing. item_id holds itemKey(id), so ids differing only in a lone surrogate stay distinct.
 * A deleted conversation is really deleted; its items go with it (ON DELETE CASCADE).
 */
export class SqliteConversationStore implements ConversationStore {
  private readonly inTransaction: ImmediateTransaction;
  private readonly statements: {
    insertConversation: StatementSync;
    insertItem: StatementSync;
    selectConversation: StatementSync;
    selectNextPosition: StatementSync;
    advanceNextPosition: StatementSync;
    updateMetadata: StatementSync;
    deleteConversation: StatementSync;
    selectItemPosition: StatementSync;
    selectItemsAscending: StatementSync;
    selectItemsDescending: StatementSync;
    selectAllItems: StatementSync;
    selectItem: StatementSync;
    deleteItem: StatementSync;
  };

  constructor(database: DatabaseSync) {
    this.inTransaction = immediateTransaction(database);
    this.statements = {
      insertConversation: database.prepare(
        'INSERT INTO conversations (id, owner, created_at, metadata, next_position) VALUES (?, ?, ?, ?, ?)',
      ),
      insertItem: database.prepare(
        'INSERT INTO conversation_items (conversation_id, position, owner, item_id, item) VALUES (?, ?, ?, ?, ?)',
      ),
      selectConversation: database.prepare(
        'SELECT id, owner, created_at, metadata FROM conversations WHERE owner = ? AND id = ?',
      ),
      selectNextPosition: database.prepare('SELECT next_position FROM conversations WHERE owner = ? AND id = ?'),
      advanceNextPosition: database.prepare('UPDATE conversations SET next_position = ? WHERE id = ?'),
      updateMetadata: database.prepare(
        'UPDATE conversations SET metadata = ? WHERE owner = ? AND id = ? RETURNING id, owner, created_at, metadata',
      ),
      deleteConversation: database.prepare('DELETE FROM conversations WHERE owner = ? AND id = ?'),
      selectItemPosition: database.prepare(
        'SELECT position FROM conversation_items WHERE owner = ? AND conversation_id = ? AND item_id = ?',
      ),
      selectItemsAscending: database.prepare(
        `SELECT item FROM conversation_items
         WHERE conversation_id = ? AND owner = ? AND position > ? AND position < ?
         ORDER BY position ASC LIMIT ?`,
      ),
      selectItemsDescending: database.prepare(
        `SELECT item FROM conversation_items
         WHERE conversation_id = ? AND owner = ? AND position > ? AND position < ?
         ORDER BY position DESC LIMIT ?`,
      ),
      selectAllItems: database.prepare(
        'SELECT item FROM conversation_items WHERE conversation_id = ? AND owner = ? ORDER BY position',
      ),
      selectItem: database.prepare(
        'SELECT item FROM conversation_items WHERE owner = ? AND conversation_id = ? AND item_id = ?',
      ),
      deleteItem: database.prepare(
        'DELETE FROM conversation_items WHERE owner = ? AND conversation_id = ? AND item_id = ?',
      ),
    };
  }

  /** Fails if the id exists; throws ItemIdConflictError if an item id repeats. */
  async create(conversation: StoredConversation, items: StoredItem[]): Promise<void> {
    const repeated = firstRepeatedItemId(items);
    if (repeated !== null) throw new ItemIdConflictError(conversation.id, repeated);
    this.inTransaction(() => {
      this.statements.insertConversation.run(
        conversation.id,
        conversation.owner,
        conversation.createdAt,
        JSON.stringify(conversation.metadata),
        items.length,
      );
      this.insertItems(conversation.owner, conversation.id, 0, items);
    });
  }

  async get(owner: string, id: string): Promise<StoredConversation | null> {
    const row = this.statements.selectConversation.get(owner, id);
    return row === undefined ? null : conversationFromRow(row);
  }

  async updateMetadata(
    owner: string,
    id: string,
    metadata: Record<string, string>,
  ): Promise<StoredConversation | null> {
    const row = this.statements.updateMetadata.get(JSON.stringify(metadata), owner, id);
    return row === undefined ? null : conversationFromRow(row);
  }

  async delete(owner: string, id: string): Promise<boolean> {
    return Number(this.statements.deleteConversation.run(owner, id).changes) > 0;
  }

  /** False (nothing written) when the conversation is absent; ItemIdConflictError on a taken id. */
  async appendItems(owner: string, id: string, items: StoredItem[]): Promise<boolean> {
    const repeated = firstRepeatedItemId(items);
    if (repeated !== null) throw new ItemIdConflictError(id, repeated);
    const statements = this.statements;
    return this.inTransaction(() => {
      const row = statements.selectNextPosition.get(owner, id);
      if (row === undefined) return false;
      const first = readNumber(row, 'next_position');
      // Checked here rather than left to the unique index, so the error can name the id.
      for (const item of items) {
        if (statements.selectItemPosition.get(owner, id, itemKey(item.id)) !== undefined) {
          throw new ItemIdConflictError(id, item.id);
        }
      }
      this.insertItems(owner, id, first, items);
      statements.advanceNextPosition.run(first + items.length, id);
      return true;
    });
  }

  /**
   * Pages the items as ResponseStore.listInputItems pages input items (see planItemPage). A
   * conversation that is absent or another owner's has no items; a cursor that is not one of its
   * item ids throws CursorNotFoundError.
   */
  async listItems(owner: string, id: string, page: PageRequest): Promise<ItemPage> {
    const afterPosition = page.after === null ? null : this.cursorPosition(owner, id, 'after', page.after);
    const beforePosition = page.before === null ? null : this.cursorPosition(owner, id, 'before', page.before);
    const plan = planItemPage(page, afterPosition, beforePosition);
    const select = plan.ascending ? this.statements.selectItemsAscending : this.statements.selectItemsDescending;
    const rows = select.all(id, owner, plan.lowerExclusive, plan.upperExclusive, plan.fetchCount);
    return pageFromRows(
      plan,
      rows.map((row) => readItem(row)),
    );
  }

  async allItems(owner: string, id: string): Promise<StoredItem[]> {
    return this.statements.selectAllItems.all(id, owner).map((row) => readItem(row));
  }

  async getItem(owner: string, conversationId: string, itemId: string): Promise<StoredItem | null> {
    const row = this.statements.selectItem.get(owner, conversationId, itemKey(itemId));
    return row === undefined ? null : readItem(row);
  }

  /** The other items keep their positions, so cursors and order stay as they were. */
  async deleteItem(owner: string, conversationId: string, itemId: string): Promise<boolean> {
    return Number(this.statements.deleteItem.run(owner, conversationId, itemKey(itemId)).changes) > 0;
  }

  private insertItems(owner: string, conversationId: string, firstPosition: number, items: StoredItem[]): void {
    const insertItem = this.statements.insertItem;
    items.forEach((item, index) => {
      insertItem.run(conversationId, firstPosition + index, owner, itemKey(item.id), JSON.stringify(item));
    });
  }

  private cursorPosition(owner: string, conversationId: string, param: 'after' | 'before', cursor: string): number {
    const position = this.statements.selectItemPosition.get(owner, conversationId, itemKey(cursor))?.position;
    if (typeof position !== 'number') throw new CursorNotFoundError(param, cursor);
    return position;
  }
}

function conversationFromRow(row: Row): StoredConversation {
  return {
    id: readText(row, 'id'),
    owner: readText(row, 'owner'),
    createdAt: readNumber(row, 'created_at'),
    metadata: JSON.parse(readText(row, 'metadata')) as Record<string, string>,
  };
}
