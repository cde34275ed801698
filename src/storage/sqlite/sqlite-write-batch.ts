import type { DatabaseSync, StatementSync } from 'node:sqlite';

interface PendingWrite {
  work: () => unknown;
  resolve: (result: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for the SQLite stores' hot writes (a response stored when it starts and when it
 * ends). Work handed to `run` waits for the end of the current turn of the event loop, and all
 * the work queued by then commits in one BEGIN IMMEDIATE … COMMIT. Each piece runs inside a
 * savepoint of its own, so one that throws undoes only its own writes and fails only its own
 * call. A commit's fixed cost — the write lock, the WAL frames of the pages every response
 * touches, the locking system calls — was the largest part of `store: true`'s CPU per request;
 * under load it is now paid once per turn instead of once per write.
 *
 * A call resolves only after its transaction has committed: what a caller is told is stored is
 * stored, as before. The wait is one turn of the event loop, not a timer.
 */
export class SqliteWriteBatch {
  readonly #database: DatabaseSync;
  readonly #begin: StatementSync;
  readonly #commit: StatementSync;
  readonly #rollback: StatementSync;
  readonly #savepoint: StatementSync;
  readonly #release: StatementSync;
  readonly #rollbackToSavepoint: StatementSync;
  #pending: PendingWrite[] = [];
  #scheduled: NodeJS.Immediate | null = null;

  constructor(database: DatabaseSync) {
    this.#database = database;
    this.#begin = database.prepare('BEGIN IMMEDIATE');
    this.#commit = database.prepare('COMMIT');
    this.#rollback = database.prepare('ROLLBACK');
    this.#savepoint = database.prepare('SAVEPOINT batched_write');
    this.#release = database.prepare('RELEASE batched_write');
    this.#rollbackToSavepoint = database.prepare('ROLLBACK TO batched_write');
  }

  /** Runs `work` (synchronous statements) in the next batch; resolves with its result once committed. */
  run<Result>(work: () => Result): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.#pending.push({ work, resolve: resolve as (result: unknown) => void, reject });
      this.#scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Commits what is queued now, without waiting for the turn to end (before closing the database). */
  flush(): void {
    if (this.#scheduled !== null) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length > 0) this.#commitBatch(batch);
  }

  #commitBatch(batch: PendingWrite[]): void {
    const outcomes: Array<{ ok: true; result: unknown } | { ok: false; error: unknown }> = [];
    let began = false;
    try {
      this.#begin.run();
      began = true;
      if (batch.length === 1) {
        outcomes.push(this.#attempt(batch[0]!.work));
      } else {
        for (const write of batch) {
          this.#savepoint.run();
          const outcome = this.#attempt(write.work);
          // Some errors (a full disk, an I/O error) make SQLite roll the whole transaction back
          // by itself: then nothing of this batch is stored, and every call in it fails.
          if (!this.#database.isTransaction) throw outcome.ok ? new Error('The transaction was lost.') : outcome.error;
          if (!outcome.ok) this.#rollbackToSavepoint.run();
          this.#release.run();
          outcomes.push(outcome);
        }
      }
      if (batch.length === 1 && !outcomes[0]!.ok) {
        if (this.#database.isTransaction) this.#rollback.run();
      } else {
        this.#commit.run();
      }
    } catch (error) {
      if (began && this.#database.isTransaction) this.#rollback.run();
      for (const write of batch) write.reject(error);
      return;
    }
    batch.forEach((write, index) => {
      const outcome = outcomes[index]!;
      if (outcome.ok) write.resolve(outcome.result);
      else write.reject(outcome.error);
    });
  }

  #attempt(work: () => unknown): { ok: true; result: unknown } | { ok: false; error: unknown } {
    try {
      return { ok: true, result: work() };
    } catch (error) {
      return { ok: false, error };
    }
  }
}
