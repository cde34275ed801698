import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { BackgroundStore, StoredEvent, UnfinishedBackgroundResponse } from '../stores.ts';
import { readNumber, readText } from './sqlite-rows.ts';
import type { ImmediateTransaction } from './sqlite-transaction.ts';
import { immediateTransaction } from './sqlite-transaction.ts';

/**
 * BackgroundStore on one SQLite connection (see SqliteResponseStore for why one connection and
 * BEGIN IMMEDIATE). The request and each event are JSON.stringify text, given back byte for byte.
 *
 * A request belongs to its response row (saveRequest fails without one) and events to the
 * request (appendEvents fails without one), each ON DELETE CASCADE: deleting the response, or
 * pruning the request, takes everything with it.
 */
export class SqliteBackgroundStore implements BackgroundStore {
  private readonly inTransaction: ImmediateTransaction;
  private readonly statements: {
    insertRequest: StatementSync;
    selectRequest: StatementSync;
    insertEvent: StatementSync;
    touchRequest: StatementSync;
    selectEvents: StatementSync;
    requestCancel: StatementSync;
    selectCancelRequested: StatementSync;
    selectUnfinished: StatementSync;
    pruneEnded: StatementSync;
  };

  constructor(database: DatabaseSync) {
    this.inTransaction = immediateTransaction(database);
    this.statements = {
      // Takes owner and id from the response row, so a request never outlives or escapes it.
      insertRequest: database.prepare(
        `INSERT INTO background_requests (response_id, owner, request, created_at, last_event_at)
         SELECT id, owner, ?3, ?4, ?4 FROM responses WHERE owner = ?1 AND id = ?2`,
      ),
      selectRequest: database.prepare('SELECT request FROM background_requests WHERE owner = ? AND response_id = ?'),
      insertEvent: database.prepare('INSERT INTO background_events (response_id, sequence, event) VALUES (?, ?, ?)'),
      touchRequest: database.prepare('UPDATE background_requests SET last_event_at = ? WHERE response_id = ?'),
      selectEvents: database.prepare(
        `SELECT sequence, event FROM background_events
         WHERE response_id = ? AND sequence > ?
         ORDER BY sequence LIMIT ?`,
      ),
      requestCancel: database.prepare(
        'UPDATE background_requests SET cancel_requested = 1 WHERE owner = ? AND response_id = ?',
      ),
      selectCancelRequested: database.prepare(
        'SELECT 1 FROM background_requests WHERE response_id = ? AND cancel_requested = 1',
      ),
      selectUnfinished: database.prepare(
        `SELECT background.response_id, background.owner, response.status, background.last_event_at
         FROM background_requests AS background JOIN responses AS response ON response.id = background.response_id
         WHERE response.status IN ('queued', 'in_progress')
         ORDER BY response.created_at, background.sequence`,
      ),
      pruneEnded: database.prepare(
        `DELETE FROM background_requests
         WHERE last_event_at < ?
           AND EXISTS (
             SELECT 1 FROM responses
             WHERE id = background_requests.response_id AND status IN ('completed', 'failed', 'incomplete', 'cancelled')
           )`,
      ),
    };
  }

  /** Fails when the response is absent or another owner's, or already has a request. */
  async saveRequest(owner: string, responseId: string, request: Record<string, unknown>): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    const inserted = this.statements.insertRequest.run(owner, responseId, JSON.stringify(request), now);
    if (Number(inserted.changes) === 0)
      throw new Error(`No response ${responseId} of this owner to run in the background.`);
  }

  async getRequest(owner: string, responseId: string): Promise<Record<string, unknown> | null> {
    const row = this.statements.selectRequest.get(owner, responseId);
    return row === undefined ? null : (JSON.parse(readText(row, 'request')) as Record<string, unknown>);
  }

  /**
   * All of them or none: a repeated sequence number (primary key) or a response without a saved
   * request (foreign key) throws, and nothing is written.
   */
  async appendEvents(responseId: string, events: StoredEvent[]): Promise<void> {
    if (events.length === 0) return;
    const statements = this.statements;
    this.inTransaction(() => {
      for (const event of events) {
        statements.insertEvent.run(responseId, event.sequenceNumber, JSON.stringify(event.event));
      }
      statements.touchRequest.run(Math.floor(Date.now() / 1000), responseId);
    });
  }

  async readEvents(responseId: string, afterSequence: number, limit: number): Promise<StoredEvent[]> {
    return this.statements.selectEvents.all(responseId, afterSequence, limit).map((row) => ({
      sequenceNumber: readNumber(row, 'sequence'),
      event: JSON.parse(readText(row, 'event')) as Record<string, unknown>,
    }));
  }

  /** True again for a repeated request, and whatever the response's status. */
  async requestCancel(owner: string, responseId: string): Promise<boolean> {
    return Number(this.statements.requestCancel.run(owner, responseId).changes) > 0;
  }

  async isCancelRequested(responseId: string): Promise<boolean> {
    return this.statements.selectCancelRequested.get(responseId) !== undefined;
  }

  async touch(responseId: string): Promise<void> {
    this.statements.touchRequest.run(Math.floor(Date.now() / 1000), responseId);
  }

  async listUnfinished(): Promise<UnfinishedBackgroundResponse[]> {
    return this.statements.selectUnfinished.all().map((row) => ({
      responseId: readText(row, 'response_id'),
      owner: readText(row, 'owner'),
      status: readText(row, 'status') as 'queued' | 'in_progress',
      lastEventAt: readNumber(row, 'last_event_at'),
    }));
  }

  /**
   * A response has ended when its row's status is final; it ended when its last event was
   * appended (the terminal one comes last), or, with no events, when its request was saved.
   * The response rows stay: only requests and, with them, events go. Returns how many requests.
   */
  async prune(olderThanSeconds: number): Promise<number> {
    const cutoff = Math.floor(Date.now() / 1000) - olderThanSeconds;
    return Number(this.statements.pruneEnded.run(cutoff).changes);
  }
}
