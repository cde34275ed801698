import type { Pool } from 'pg';
import type { BackgroundStore, StoredEvent, UnfinishedBackgroundResponse } from '../stores.ts';
import { canBeStored } from './postgres-text.ts';

/*
 * Named statements; the request and each event are JSON text (see migration 2), given back byte
 * for byte. Every method is one statement, so each is atomic by itself.
 *
 * appendEvents spreads the events with unnest over two arrays, sequence numbers and documents,
 * and moves the request's last_event_at in the same statement. A repeated sequence number (the
 * primary key) or a response without a saved request (the foreign key) fails the whole
 * statement, so nothing is written.
 */
const statements = {
  // Takes owner and id from the response row, so a request never outlives or escapes it.
  insertRequest: {
    name: 'riposte_background_requests_save',
    text: `INSERT INTO background_requests (response_id, owner, request, created_at, last_event_at)
           SELECT id, owner, $3, $4, $4 FROM responses WHERE owner = $1 AND id = $2`,
  },
  selectRequest: {
    name: 'riposte_background_requests_get',
    text: 'SELECT request FROM background_requests WHERE owner = $1 AND response_id = $2',
  },
  appendEvents: {
    name: 'riposte_background_events_append',
    text: `WITH appended AS (
             INSERT INTO background_events (response_id, sequence, event)
             SELECT $1, element.sequence, element.event
             FROM unnest($2::integer[], $3::text[]) AS element (sequence, event)
           )
           UPDATE background_requests SET last_event_at = $4 WHERE response_id = $1`,
  },
  selectEvents: {
    name: 'riposte_background_events_read',
    text: `SELECT sequence, event FROM background_events
           WHERE response_id = $1 AND sequence > $2
           ORDER BY sequence LIMIT $3`,
  },
  touchRequest: {
    name: 'riposte_background_requests_touch',
    text: 'UPDATE background_requests SET last_event_at = $2 WHERE response_id = $1',
  },
  requestCancel: {
    name: 'riposte_background_requests_cancel',
    text: 'UPDATE background_requests SET cancel_requested = true WHERE owner = $1 AND response_id = $2',
  },
  selectCancelRequested: {
    name: 'riposte_background_requests_cancel_requested',
    text: 'SELECT 1 FROM background_requests WHERE response_id = $1 AND cancel_requested',
  },
  selectUnfinished: {
    name: 'riposte_background_requests_unfinished',
    text: `SELECT background.response_id, background.owner, response.status, background.last_event_at
           FROM background_requests AS background JOIN responses AS response ON response.id = background.response_id
           WHERE response.status IN ('queued', 'in_progress')
           ORDER BY response.created_at, background.sequence`,
  },
  pruneEnded: {
    name: 'riposte_background_requests_prune',
    text: `DELETE FROM background_requests AS background
           USING responses AS response
           WHERE response.id = background.response_id
             AND response.status IN ('completed', 'failed', 'incomplete', 'cancelled')
             AND background.last_event_at < $1`,
  },
} as const;

/**
 * BackgroundStore on a PostgreSQL pool. A request belongs to its response row (saveRequest fails
 * without one) and events to the request (appendEvents fails without one), each ON DELETE
 * CASCADE: deleting the response, or pruning the request, takes everything with it.
 */
export class PostgresBackgroundStore implements BackgroundStore {
  private readonly pool: Pool;

  constructor(pool: Pool) {
    this.pool = pool;
  }

  /** Fails when the response is absent or another owner's, or already has a request. */
  async saveRequest(owner: string, responseId: string, request: Record<string, unknown>): Promise<void> {
    const inserted = canBeStored(responseId)
      ? await this.pool.query({
          ...statements.insertRequest,
          values: [owner, responseId, JSON.stringify(request), Math.floor(Date.now() / 1000)],
        })
      : null;
    if ((inserted?.rowCount ?? 0) === 0) {
      throw new Error(`No response ${responseId} of this owner to run in the background.`);
    }
  }

  async getRequest(owner: string, responseId: string): Promise<Record<string, unknown> | null> {
    if (!canBeStored(responseId)) return null;
    const result = await this.pool.query<{ request: string }>({
      ...statements.selectRequest,
      values: [owner, responseId],
    });
    const row = result.rows[0];
    return row === undefined ? null : (JSON.parse(row.request) as Record<string, unknown>);
  }

  /** All of them or none (see above). */
  async appendEvents(responseId: string, events: StoredEvent[]): Promise<void> {
    if (events.length === 0) return;
    if (!canBeStored(responseId)) throw new Error(`No background request for response ${responseId}.`);
    await this.pool.query({
      ...statements.appendEvents,
      values: [
        responseId,
        events.map((event) => event.sequenceNumber),
        events.map((event) => JSON.stringify(event.event)),
        Math.floor(Date.now() / 1000),
      ],
    });
  }

  async readEvents(responseId: string, afterSequence: number, limit: number): Promise<StoredEvent[]> {
    if (!canBeStored(responseId)) return [];
    const result = await this.pool.query<{ sequence: number; event: string }>({
      ...statements.selectEvents,
      values: [responseId, afterSequence, limit],
    });
    return result.rows.map((row) => ({
      sequenceNumber: row.sequence,
      event: JSON.parse(row.event) as Record<string, unknown>,
    }));
  }

  /** True again for a repeated request, and whatever the response's status. */
  async requestCancel(owner: string, responseId: string): Promise<boolean> {
    if (!canBeStored(responseId)) return false;
    const result = await this.pool.query({ ...statements.requestCancel, values: [owner, responseId] });
    return (result.rowCount ?? 0) > 0;
  }

  async isCancelRequested(responseId: string): Promise<boolean> {
    if (!canBeStored(responseId)) return false;
    const result = await this.pool.query({ ...statements.selectCancelRequested, values: [responseId] });
    return result.rows.length > 0;
  }

  async touch(responseId: string): Promise<void> {
    if (!canBeStored(responseId)) return;
    await this.pool.query({ ...statements.touchRequest, values: [responseId, Math.floor(Date.now() / 1000)] });
  }

  async listUnfinished(): Promise<UnfinishedBackgroundResponse[]> {
    const result = await this.pool.query<{
      response_id: string;
      owner: string;
      status: 'queued' | 'in_progress';
      last_event_at: string | number;
    }>(statements.selectUnfinished);
    return result.rows.map((row) => ({
      responseId: row.response_id,
      owner: row.owner,
      status: row.status,
      // A bigint column comes back as text from pg.
      lastEventAt: Number(row.last_event_at),
    }));
  }

  /**
   * A response has ended when its row's status is final; it ended when its last event was
   * appended (the terminal one comes last), or, with no events, when its request was saved.
   * The response rows stay: only requests and, with them, events go. Returns how many requests.
   */
  async prune(olderThanSeconds: number): Promise<number> {
    const cutoff = Math.floor(Date.now() / 1000) - olderThanSeconds;
    const result = await this.pool.query({ ...statements.pruneEnded, values: [cutoff] });
    return result.rowCount ?? 0;
  }
}
