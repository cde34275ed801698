import type { DatabaseSync } from 'node:sqlite';

/** Runs `work` in one transaction and returns what it returns; rolls back when it throws. */
export type ImmediateTransaction = <Result>(work: () => Result) => Result;

/**
 * Transactions for the SQLite stores. BEGIN IMMEDIATE takes the write lock up front, so a second
 * process waits (busy_timeout) instead of failing half-way; `work` is synchronous, as node:sqlite
 * is, so nothing else on this connection can run inside the transaction.
 */
export function immediateTransaction(database: DatabaseSync): ImmediateTransaction {
  const begin = database.prepare('BEGIN IMMEDIATE');
  const commit = database.prepare('COMMIT');
  const rollback = database.prepare('ROLLBACK');
  return <Result>(work: () => Result): Result => {
    begin.run();
    try {
      const result = work();
      commit.run();
      return result;
    } catch (error) {
      // The transaction may already be gone (SQLite rolls back on some errors by itself).
      if (database.isTransaction) rollback.run();
      throw error;
    }
  };
}
