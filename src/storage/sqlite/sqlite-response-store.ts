import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { CursorNotFoundError } from '../cursor-not-found-error.ts';
import { pageFromRows, planItemPage } from '../item-page-plan.ts';
import type { ItemPage, PageRequest, ResponseStatus, ResponseStore, StoredItem, StoredResponse } from '../stores.ts';
import { readItem, readNullableText, readNumber, readText } from './sqlite-rows.ts';
import { SqliteWriteBatch } from './sqlite-write-batch.ts';

/**
 * ResponseStore on one SQLite connection. Every statement is prepared once here; node:sqlite runs
 * them synchronously, so a method's transaction can never interleave with another's on this
 * connection, and BEGIN IMMEDIATE takes the write lock up front so a second process waits
 * (busy_timeout) instead of failing half-way.
 *
 * A response's two writes on the hot path — stored when it starts, and when it ends — go through
 * the connection's SqliteWriteBatch, committed together with those of other responses that start
 * or end in the same turn of the event loop.
 *
 * A deleted response is really deleted; its items go with it (ON DELETE CASCADE).
 */
export class SqliteResponseStore implements ResponseStore {
  private readonly writes: SqliteWriteBatch;
  private readonly statements: {
    insertResponse: StatementSync;
    insertItem: StatementSync;
    finishResponse: StatementSync;
    trimOutputItems: StatementSync;
    updateRunningStatus: StatementSync;
    claimQueued: StatementSync;
    selectResponse: StatementSync;
    deleteResponse: StatementSync;
    selectCursorPosition: StatementSync;
    selectItemsAscending: StatementSync;
    selectItemsDescending: StatementSync;
    selectChainLink: StatementSync;
    selectLatestItem: StatementSync;
    failRunning: StatementSync;
  };

  constructor(database: DatabaseSync, writes: SqliteWriteBatch = new SqliteWriteBatch(database)) {
    this.writes = writes;
    this.statements = {
      insertResponse: database.prepare(
        'INSERT INTO responses (id, owner, created_at, status, previous_response_id, response) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      // An upsert, so finishing twice replaces the output instead of failing on its place.
      insertItem: database.prepare(
        `INSERT INTO response_items (response_id, kind, position, owner, item_id, item) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (response_id, kind, position) DO UPDATE SET item_id = excluded.item_id, item = excluded.item`,
      ),
      finishResponse: database.prepare('UPDATE responses SET status = ?, response = ? WHERE owner = ? AND id = ?'),
      trimOutputItems: database.prepare(
        "DELETE FROM response_items WHERE response_id = ? AND kind = 'output' AND position >= ?",
      ),
      updateRunningStatus: database.prepare(
        "UPDATE responses SET status = ?, response = ? WHERE owner = ? AND id = ? AND status IN ('queued', 'in_progress')",
      ),
      claimQueued: database.prepare(
        "UPDATE responses SET status = 'in_progress', response = ? WHERE owner = ? AND id = ? AND status = 'queued'",
      ),
      selectResponse: database.prepare(
        'SELECT id, owner, created_at, status, previous_response_id, response FROM responses WHERE owner = ? AND id = ?',
      ),
      deleteResponse: database.prepare('DELETE FROM responses WHERE owner = ? AND id = ?'),
      selectCursorPosition: database.prepare(
        "SELECT min(position) AS position FROM response_items WHERE owner = ? AND item_id = ? AND response_id = ? AND kind = 'input'",
      ),
      selectItemsAscending: database.prepare(
        `SELECT item FROM response_items
         WHERE response_id = ? AND kind = 'input' AND owner = ? AND position > ? AND position < ?
         ORDER BY position ASC LIMIT ?`,
      ),
      selectItemsDescending: database.prepare(
        `SELECT item FROM response_items
         WHERE response_id = ? AND kind = 'input' AND owner = ? AND position > ? AND position < ?
         ORDER BY position DESC LIMIT ?`,
      ),
      // The LEFT JOIN tells a response without items (one row, null kind) from no response (no row).
      selectChainLink: database.prepare(
        `SELECT item.kind AS kind, item.item AS item
         FROM responses AS response LEFT JOIN response_items AS item ON item.response_id = response.id
         WHERE response.owner = ? AND response.id = ?
         ORDER BY item.kind, item.position`,
      ),
      selectLatestItem: database.prepare(
        'SELECT item FROM response_items WHERE owner = ? AND item_id = ? ORDER BY sequence DESC LIMIT 1',
      ),
      // A background response is left to the job runner, which runs it again.
      failRunning: database.prepare(
        `UPDATE responses
         SET status = 'failed', response = json_set(response, '$.status', 'failed', '$.error', json(?))
         WHERE status IN ('queued', 'in_progress') AND created_at < ?
           AND NOT EXISTS (SELECT 1 FROM background_requests WHERE response_id = responses.id)`,
      ),
    };
  }

  async create(record: StoredResponse, inputItems: StoredItem[]): Promise<void> {
    const statements = this.statements;
    // Serialised now: the batch runs later, and the caller's objects are theirs again on return.
    const response = JSON.stringify(record.response);
    const items = serialiseItems(inputItems);
    await this.writes.run(() => {
      statements.insertResponse.run(
        record.id,
        record.owner,
        record.createdAt,
        record.status,
        record.previousResponseId,
        response,
      );
      this.insertItems(record.owner, record.id, 'input', items);
    });
  }

  /** A response deleted meanwhile stays deleted: nothing is written. */
  async finish(
    owner: string,
    id: string,
    status: ResponseStatus,
    response: Record<string, unknown>,
    outputItems: StoredItem[],
  ): Promise<void> {
    const statements = this.statements;
    const serialised = JSON.stringify(response);
    const items = serialiseItems(outputItems);
    await this.writes.run(() => {
      const updated = statements.finishResponse.run(status, serialised, owner, id);
      if (Number(updated.changes) === 0) return;
      statements.trimOutputItems.run(id, items.length);
      this.insertItems(owner, id, 'output', items);
    });
  }

  /** Changes nothing once the response has ended (e.g. failed by failInterrupted, or finished). */
  async updateStatus(
    owner: string,
    id: string,
    status: ResponseStatus,
    response: Record<string, unknown>,
  ): Promise<void> {
    this.statements.updateRunningStatus.run(status, JSON.stringify(response), owner, id);
  }

  /** One statement: the status test and the write are one step, so only one claim changes the row. */
  async claim(owner: string, id: string, response: Record<string, unknown>): Promise<boolean> {
    return Number(this.statements.claimQueued.run(JSON.stringify(response), owner, id).changes) === 1;
  }

  async get(owner: string, id: string): Promise<StoredResponse | null> {
    const row = this.statements.selectResponse.get(owner, id);
    if (row === undefined) return null;
    return {
      id: readText(row, 'id'),
      owner: readText(row, 'owner'),
      createdAt: readNumber(row, 'created_at'),
      status: readText(row, 'status') as ResponseStatus,
      previousResponseId: readNullableText(row, 'previous_response_id'),
      response: JSON.parse(readText(row, 'response')) as Record<string, unknown>,
    };
  }

  async delete(owner: string, id: string): Promise<boolean> {
    return Number(this.statements.deleteResponse.run(owner, id).changes) > 0;
  }

  /**
   * Pages the input items (see planItemPage). A response that is absent or another owner's has
   * no items; a cursor that is not one of its input item ids throws CursorNotFoundError.
   */
  async listInputItems(owner: string, responseId: string, page: PageRequest): Promise<ItemPage> {
    const afterPosition = page.after === null ? null : this.cursorPosition(owner, responseId, 'after', page.after);
    const beforePosition = page.before === null ? null : this.cursorPosition(owner, responseId, 'before', page.before);
    const plan = planItemPage(page, afterPosition, beforePosition);
    const select = plan.ascending ? this.statements.selectItemsAscending : this.statements.selectItemsDescending;
    const rows = select.all(responseId, owner, plan.lowerExclusive, plan.upperExclusive, plan.fetchCount);
    return pageFromRows(
      plan,
      rows.map((row) => readItem(row)),
    );
  }

  async chainLink(owner: string, responseId: string): Promise<{ input: StoredItem[]; output: StoredItem[] } | null> {
    const rows = this.statements.selectChainLink.all(owner, responseId);
    if (rows.length === 0) return null;
    const link: { input: StoredItem[]; output: StoredItem[] } = { input: [], output: [] };
    for (const row of rows) {
      const kind = row.kind;
      if (kind === 'input' || kind === 'output') link[kind].push(readItem(row));
    }
    return link;
  }

  /** The most recently recorded item with this id: ids are client-suppliable and may repeat. */
  async findItem(owner: string, itemId: string): Promise<StoredItem | null> {
    const row = this.statements.selectLatestItem.get(owner, itemId);
    return row === undefined ? null : readItem(row);
  }

  async failInterrupted(message: string, olderThanSeconds: number): Promise<number> {
    const cutoff = Math.floor(Date.now() / 1000) - olderThanSeconds;
    const error = JSON.stringify({ code: 'server_error', message });
    return Number(this.statements.failRunning.run(error, cutoff).changes);
  }

  private insertItems(
    owner: string,
    responseId: string,
    kind: 'input' | 'output',
    items: Array<{ id: string; json: string }>,
  ): void {
    const insertItem = this.statements.insertItem;
    items.forEach((item, position) => {
      insertItem.run(responseId, kind, position, owner, item.id, item.json);
    });
  }

  private cursorPosition(owner: string, responseId: string, param: 'after' | 'before', cursor: string): number {
    const row = this.statements.selectCursorPosition.get(owner, cursor, responseId);
    const position = row?.position;
    if (typeof position !== 'number') throw new CursorNotFoundError(param, cursor);
    return position;
  }
}

function serialiseItems(items: StoredItem[]): Array<{ id: string; json: string }> {
  return items.map((item) => ({ id: item.id, json: JSON.stringify(item) }));
}
