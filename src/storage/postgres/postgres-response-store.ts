import type { Pool, PoolClient } from 'pg';
import type { ItemPage, PageRequest, ResponseStatus, ResponseStore, StoredItem, StoredResponse } from '../stores.ts';
import { postgresItemPage } from './postgres-item-page.ts';
import { canBeStored, itemKey, parseItem } from './postgres-text.ts';

/*
 * Every statement is named, so pg prepares it once per pooled connection. The writes on the hot
 * path (create, finish) are each one statement — data-modifying CTEs — so each is atomic by
 * itself and costs one round trip, with no BEGIN/COMMIT.
 *
 * Documents (the response, each item) are stored as the text JSON.stringify gives, not jsonb:
 * jsonb rejects \u0000 in strings and re-sorts keys, and json's operators fail on \u0000 too, so
 * SQL never looks inside a document (see migration 2). An item's id, which a client may choose,
 * is kept as JSON.stringify(id) (itemKey), since a text value cannot hold NUL. Both are valid
 * UTF-8 without NUL whatever the strings held: JSON.stringify escapes NUL and lone surrogates.
 *
 * Items travel as two text[] parameters, keys and documents, spread with unnest, whose
 * ordinality is the position.
 */
const statements = {
  createResponse: {
    name: 'riposte_responses_create',
    text: `WITH inserted AS (
             INSERT INTO responses (id, owner, created_at, status, previous_response_id, response)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id, owner
           )
           INSERT INTO response_items (response_id, kind, position, owner, item_id, item)
           SELECT inserted.id, 'input', element.ordinality - 1, inserted.owner, element.item_id, element.item
           FROM inserted, unnest($7::text[], $8::text[]) WITH ORDINALITY AS element (item_id, item, ordinality)`,
  },
  // Sub-statements of one query cannot see each other's rows, so a second finish upserts the
  // places it reuses and deletes only those beyond the new output (disjoint rows).
  finishResponse: {
    name: 'riposte_responses_finish',
    text: `WITH updated AS (
             UPDATE responses SET status = $3, response = $4
             WHERE owner = $1 AND id = $2
             RETURNING id, owner
           ), trimmed AS (
             DELETE FROM response_items
             WHERE response_id IN (SELECT id FROM updated) AND kind = 'output' AND position >= cardinality($5::text[])
           )
           INSERT INTO response_items (response_id, kind, position, owner, item_id, item)
           SELECT updated.id, 'output', element.ordinality - 1, updated.owner, element.item_id, element.item
           FROM updated, unnest($5::text[], $6::text[]) WITH ORDINALITY AS element (item_id, item, ordinality)
           ON CONFLICT (response_id, kind, position) DO UPDATE SET item_id = excluded.item_id, item = excluded.item`,
  },
  updateRunningStatus: {
    name: 'riposte_responses_update_status',
    text: `UPDATE responses SET status = $3, response = $4
           WHERE owner = $1 AND id = $2 AND status IN ('queued', 'in_progress')`,
  },
  // The row lock makes a second claim wait for the first, then re-check its status and miss.
  claimQueued: {
    name: 'riposte_responses_claim',
    text: `UPDATE responses SET status = 'in_progress', response = $3
           WHERE owner = $1 AND id = $2 AND status = 'queued'`,
  },
  selectResponse: {
    name: 'riposte_responses_get',
    text: 'SELECT id, owner, created_at, status, previous_response_id, response FROM responses WHERE owner = $1 AND id = $2',
  },
  deleteResponse: {
    name: 'riposte_responses_delete',
    text: 'DELETE FROM responses WHERE owner = $1 AND id = $2',
  },
  selectCursorPositions: {
    name: 'riposte_response_items_cursors',
    text: `SELECT item_id, min(position) AS position FROM response_items
           WHERE owner = $1 AND response_id = $2 AND kind = 'input' AND item_id = ANY ($3::text[])
           GROUP BY item_id`,
  },
  selectItemsAscending: {
    name: 'riposte_response_items_page_ascending',
    text: `SELECT item FROM response_items
           WHERE response_id = $1 AND kind = 'input' AND owner = $2 AND position > $3 AND position < $4
           ORDER BY position ASC LIMIT $5`,
  },
  selectItemsDescending: {
    name: 'riposte_response_items_page_descending',
    text: `SELECT item FROM response_items
           WHERE response_id = $1 AND kind = 'input' AND owner = $2 AND position > $3 AND position < $4
           ORDER BY position DESC LIMIT $5`,
  },
  // The LEFT JOIN tells a response without items (one row, null kind) from no response (no row).
  selectChainLink: {
    name: 'riposte_response_items_chain_link',
    text: `SELECT item.kind, item.item
           FROM responses AS response LEFT JOIN response_items AS item ON item.response_id = response.id
           WHERE response.owner = $1 AND response.id = $2
           ORDER BY item.kind, item.position`,
  },
  selectLatestItem: {
    name: 'riposte_response_items_find',
    text: 'SELECT item FROM response_items WHERE owner = $1 AND item_id = $2 ORDER BY sequence DESC LIMIT 1',
  },
  // failInterrupted edits the documents in JavaScript, in a transaction holding these rows; a row
  // that another transaction changes meanwhile is read again once it commits, and drops out if
  // it has ended. A background response is left to the job runner, which runs it again.
  selectRunning: {
    name: 'riposte_responses_select_interrupted',
    text: `SELECT id, response FROM responses
           WHERE status IN ('queued', 'in_progress') AND created_at < $1
             AND NOT EXISTS (SELECT 1 FROM background_requests WHERE response_id = responses.id)
           FOR UPDATE`,
  },
  failRunning: {
    name: 'riposte_responses_fail_interrupted',
    text: `UPDATE responses SET status = 'failed', response = failed.response
           FROM unnest($1::text[], $2::text[]) AS failed (id, response)
           WHERE responses.id = failed.id`,
  },
} as const;

interface ResponseRow {
  id: string;
  owner: string;
  /** bigint arrives as text from pg. */
  created_at: string;
  status: ResponseStatus;
  previous_response_id: string | null;
  response: string;
}

/**
 * ResponseStore on a PostgreSQL pool. A deleted response is really deleted; its items go with it
 * (ON DELETE CASCADE).
 */
export class PostgresResponseStore implements ResponseStore {
  private readonly pool: Pool;

  constructor(pool: Pool) {
    this.pool = pool;
  }

  async create(record: StoredResponse, inputItems: StoredItem[]): Promise<void> {
    await this.pool.query({
      ...statements.createResponse,
      values: [
        record.id,
        record.owner,
        record.createdAt,
        record.status,
        record.previousResponseId,
        JSON.stringify(record.response),
        inputItems.map((item) => itemKey(item.id)),
        inputItems.map((item) => JSON.stringify(item)),
      ],
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
    if (!canBeStored(id)) return;
    await this.pool.query({
      ...statements.finishResponse,
      values: [
        owner,
        id,
        status,
        JSON.stringify(response),
        outputItems.map((item) => itemKey(item.id)),
        outputItems.map((item) => JSON.stringify(item)),
      ],
    });
  }

  /** Changes nothing once the response has ended (e.g. failed by failInterrupted, or finished). */
  async updateStatus(
    owner: string,
    id: string,
    status: ResponseStatus,
    response: Record<string, unknown>,
  ): Promise<void> {
    if (!canBeStored(id)) return;
    await this.pool.query({ ...statements.updateRunningStatus, values: [owner, id, status, JSON.stringify(response)] });
  }

  async claim(owner: string, id: string, response: Record<string, unknown>): Promise<boolean> {
    if (!canBeStored(id)) return false;
    const result = await this.pool.query({ ...statements.claimQueued, values: [owner, id, JSON.stringify(response)] });
    return result.rowCount === 1;
  }

  async get(owner: string, id: string): Promise<StoredResponse | null> {
    if (!canBeStored(id)) return null;
    const result = await this.pool.query<ResponseRow>({ ...statements.selectResponse, values: [owner, id] });
    const row = result.rows[0];
    if (row === undefined) return null;
    return {
      id: row.id,
      owner: row.owner,
      createdAt: Number(row.created_at),
      status: row.status,
      previousResponseId: row.previous_response_id,
      response: JSON.parse(row.response) as Record<string, unknown>,
    };
  }

  async delete(owner: string, id: string): Promise<boolean> {
    if (!canBeStored(id)) return false;
    const result = await this.pool.query({ ...statements.deleteResponse, values: [owner, id] });
    return (result.rowCount ?? 0) > 0;
  }

  /**
   * Pages the input items (see planItemPage). A response that is absent or another owner's has
   * no items; a cursor that is not one of its input item ids throws CursorNotFoundError.
   */
  async listInputItems(owner: string, responseId: string, page: PageRequest): Promise<ItemPage> {
    return postgresItemPage(this.pool, statements, owner, responseId, page);
  }

  async chainLink(owner: string, responseId: string): Promise<{ input: StoredItem[]; output: StoredItem[] } | null> {
    if (!canBeStored(responseId)) return null;
    const result = await this.pool.query<{ kind: 'input' | 'output' | null; item: string | null }>({
      ...statements.selectChainLink,
      values: [owner, responseId],
    });
    if (result.rows.length === 0) return null;
    const link: { input: StoredItem[]; output: StoredItem[] } = { input: [], output: [] };
    for (const row of result.rows) {
      if (row.kind !== null && row.item !== null) link[row.kind].push(parseItem(row.item));
    }
    return link;
  }

  /** The most recently recorded item with this id: ids are client-suppliable and may repeat. */
  async findItem(owner: string, itemId: string): Promise<StoredItem | null> {
    const result = await this.pool.query<{ item: string }>({
      ...statements.selectLatestItem,
      values: [owner, itemKey(itemId)],
    });
    const row = result.rows[0];
    return row === undefined ? null : parseItem(row.item);
  }

  /**
   * Sets status and error as SQLite's json_set does: keys already there keep their place, so
   * the object keeps its key order.
   */
  async failInterrupted(message: string, olderThanSeconds: number): Promise<number> {
    const cutoff = Math.floor(Date.now() / 1000) - olderThanSeconds;
    return this.inTransaction(async (client) => {
      const running = await client.query<{ id: string; response: string }>({
        ...statements.selectRunning,
        values: [cutoff],
      });
      if (running.rows.length === 0) return 0;
      const failed = running.rows.map((row) =>
        JSON.stringify({
          ...(JSON.parse(row.response) as Record<string, unknown>),
          status: 'failed',
          error: { code: 'server_error', message },
        }),
      );
      const result = await client.query({
        ...statements.failRunning,
        values: [running.rows.map((row) => row.id), failed],
      });
      return result.rowCount ?? 0;
    });
  }

  private async inTransaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      // The first error is the one worth reporting; a connection that broke cannot roll back,
      // and is not given back to the pool.
      const rolledBack = await client.query('ROLLBACK').then(
        () => true,
        () => false,
      );
      client.release(!rolledBack);
      throw error;
    }
  }
}
