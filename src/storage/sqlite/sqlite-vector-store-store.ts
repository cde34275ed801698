import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import { planComparison } from '../attribute-filter-plan.ts';
import { CursorNotFoundError } from '../cursor-not-found-error.ts';
import { candidatesPerList, chunkText, fts5Query, fuseRankings, topFused, type RankedList } from '../hybrid-ranking.ts';
import { nameText, parseNameText } from '../item-key.ts';
import { pageFromRows, planItemPage } from '../item-page-plan.ts';
import type {
  AttributeFilter,
  Attributes,
  ChunkToStore,
  FileBatchStatus,
  FileCounts,
  ListRequest,
  PageOf,
  SearchHit,
  SearchRequest,
  StoredFileBatch,
  StoredVectorStore,
  StoredVectorStoreFile,
  VectorStoreFileStatus,
  VectorStoreStore,
} from '../vector-stores.ts';
import { chunkIndexMatch, ownerChunkIndex, SqliteChunkIndexStatements } from './sqlite-chunk-index.ts';
import type { Row } from './sqlite-rows.ts';
import { readNullableText, readNumber, readText } from './sqlite-rows.ts';
import type { ImmediateTransaction } from './sqlite-transaction.ts';
import { immediateTransaction } from './sqlite-transaction.ts';

const storeColumns = 'sequence, id, owner, name, created_at, last_active_at, metadata, expires_after, expires_at';
const fileColumns =
  'sequence, vector_store_id, file_id, owner, created_at, status, usage_bytes, last_error, chunking_strategy, attributes, batch_id, filename';
const countColumns = `count(*) FILTER (WHERE status = 'in_progress') AS in_progress,
  count(*) FILTER (WHERE status = 'completed') AS completed,
  count(*) FILTER (WHERE status = 'failed') AS failed,
  count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
  count(*) AS total`;

/**
 * How many candidates a ranked list takes before the scope (owner, completed file, attribute
 * filter) is checked on them: when fewer than candidatesPerList of them pass, and there were
 * more, the list is ranked again with the scope checked on every match, as before.
 */
const overFetch = 4 * candidatesPerList;

/**
 * VectorStoreStore on one SQLite connection. Keyword search is FTS5 with BM25 over the owner's
 * index (sqlite-chunk-index.ts); vector search (when sqlite-vec loaded) scores every embedded
 * chunk of the searched stores with vec_distance_cosine — exact, but linear: bench/ measures it.
 * Both lists rank their best candidates first and check the scope on those alone; both are
 * fused by hybrid-ranking.ts.
 */
export class SqliteVectorStoreStore implements VectorStoreStore {
  readonly supportsVectors: boolean;
  private readonly database: DatabaseSync;
  private readonly inTransaction: ImmediateTransaction;
  private readonly index: SqliteChunkIndexStatements;
  private readonly statements: Record<
    | 'insertStore'
    | 'selectStore'
    | 'selectStoreSequence'
    | 'selectStoresAscending'
    | 'selectStoresDescending'
    | 'updateStore'
    | 'touchStore'
    | 'deleteStore'
    | 'storeFileCounts'
    | 'storeUsageBytes'
    | 'upsertFile'
    | 'deleteFileChunks'
    | 'selectFile'
    | 'selectFileSequence'
    | 'updateFileAttributes'
    | 'completeFile'
    | 'insertChunk'
    | 'endFile'
    | 'deleteFile'
    | 'selectChunks'
    | 'insertBatch'
    | 'selectBatch'
    | 'updateBatchStatus'
    | 'batchFileCounts'
    | 'searchableStores',
    StatementSync
  >;
  /** Null without sqlite-vec, whose function it calls. */
  private readonly vectorCandidates: StatementSync | null;

  constructor(database: DatabaseSync, supportsVectors: boolean) {
    this.database = database;
    this.supportsVectors = supportsVectors;
    this.inTransaction = immediateTransaction(database);
    this.index = new SqliteChunkIndexStatements(database);
    this.statements = {
      insertStore: database.prepare(
        `INSERT INTO vector_stores (id, owner, name, created_at, last_active_at, metadata, expires_after, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      selectStore: database.prepare(`SELECT ${storeColumns} FROM vector_stores WHERE owner = ? AND id = ?`),
      selectStoreSequence: database.prepare('SELECT sequence FROM vector_stores WHERE owner = ? AND id = ?'),
      selectStoresAscending: database.prepare(
        `SELECT ${storeColumns} FROM vector_stores WHERE owner = ? AND sequence > ? AND sequence < ?
         ORDER BY sequence LIMIT ?`,
      ),
      selectStoresDescending: database.prepare(
        `SELECT ${storeColumns} FROM vector_stores WHERE owner = ? AND sequence > ? AND sequence < ?
         ORDER BY sequence DESC LIMIT ?`,
      ),
      // Each change comes with a flag saying whether it was given, so one statement serves all.
      updateStore: database.prepare(
        `UPDATE vector_stores SET
           name = CASE WHEN ? THEN ? ELSE name END,
           metadata = CASE WHEN ? THEN ? ELSE metadata END,
           expires_after = CASE WHEN ? THEN ? ELSE expires_after END,
           expires_at = CASE WHEN ? THEN ? ELSE expires_at END
         WHERE owner = ? AND id = ?
         RETURNING ${storeColumns}`,
      ),
      touchStore: database.prepare(
        'UPDATE vector_stores SET last_active_at = ?, expires_at = ? WHERE owner = ? AND id = ?',
      ),
      deleteStore: database.prepare('DELETE FROM vector_stores WHERE owner = ? AND id = ?'),
      storeFileCounts: database.prepare(
        `SELECT ${countColumns} FROM vector_store_files WHERE owner = ? AND vector_store_id = ?`,
      ),
      storeUsageBytes: database.prepare(
        `SELECT coalesce(sum(usage_bytes), 0) AS usage_bytes FROM vector_store_files
         WHERE owner = ? AND vector_store_id = ? AND status = 'completed'`,
      ),
      // Only into a store of the same owner; attaching again resets the attachment in place.
      upsertFile: database.prepare(
        `INSERT INTO vector_store_files
           (vector_store_id, file_id, owner, created_at, status, usage_bytes, last_error, chunking_strategy, attributes, batch_id, filename)
         SELECT id, ?, owner, ?, ?, ?, ?, ?, ?, ?, ? FROM vector_stores WHERE owner = ? AND id = ?
         ON CONFLICT (vector_store_id, file_id) DO UPDATE SET
           created_at = excluded.created_at, status = excluded.status, usage_bytes = excluded.usage_bytes,
           last_error = excluded.last_error, chunking_strategy = excluded.chunking_strategy,
           attributes = excluded.attributes, batch_id = excluded.batch_id, filename = excluded.filename`,
      ),
      deleteFileChunks: database.prepare('DELETE FROM vector_store_chunks WHERE vector_store_id = ? AND file_id = ?'),
      selectFile: database.prepare(
        `SELECT ${fileColumns} FROM vector_store_files WHERE owner = ? AND vector_store_id = ? AND file_id = ?`,
      ),
      selectFileSequence: database.prepare(
        'SELECT sequence FROM vector_store_files WHERE owner = ? AND vector_store_id = ? AND file_id = ?',
      ),
      updateFileAttributes: database.prepare(
        `UPDATE vector_store_files SET attributes = ? WHERE owner = ? AND vector_store_id = ? AND file_id = ?
         RETURNING ${fileColumns}`,
      ),
      completeFile: database.prepare(
        `UPDATE vector_store_files SET status = 'completed', usage_bytes = ?, last_error = NULL
         WHERE owner = ? AND vector_store_id = ? AND file_id = ? AND status = 'in_progress'`,
      ),
      insertChunk: database.prepare(
        `INSERT INTO vector_store_chunks (vector_store_id, file_id, chunk_index, text, token_count, embedding)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      endFile: database.prepare(
        `UPDATE vector_store_files SET status = ?, last_error = ?
         WHERE owner = ? AND vector_store_id = ? AND file_id = ? AND status = 'in_progress'`,
      ),
      deleteFile: database.prepare(
        'DELETE FROM vector_store_files WHERE owner = ? AND vector_store_id = ? AND file_id = ?',
      ),
      selectChunks: database.prepare(
        `SELECT chunk.text FROM vector_store_chunks AS chunk
         JOIN vector_store_files AS file ON file.vector_store_id = chunk.vector_store_id AND file.file_id = chunk.file_id
         WHERE file.owner = ? AND chunk.vector_store_id = ? AND chunk.file_id = ?
         ORDER BY chunk.chunk_index`,
      ),
      insertBatch: database.prepare(
        `INSERT INTO vector_store_file_batches (id, vector_store_id, owner, created_at, status)
         SELECT ?, id, owner, ?, ? FROM vector_stores WHERE owner = ? AND id = ?`,
      ),
      selectBatch: database.prepare(
        `SELECT id, vector_store_id, owner, created_at, status FROM vector_store_file_batches
         WHERE owner = ? AND vector_store_id = ? AND id = ?`,
      ),
      updateBatchStatus: database.prepare(
        'UPDATE vector_store_file_batches SET status = ? WHERE owner = ? AND vector_store_id = ? AND id = ?',
      ),
      batchFileCounts: database.prepare(
        `SELECT ${countColumns} FROM vector_store_files WHERE owner = ? AND vector_store_id = ? AND batch_id = ?`,
      ),
      // Lists are passed as one JSON array, so each statement is prepared once. The stores are
      // found by id (`+owner` keeps the planner off the owner index, which would read every
      // store of the owner) and then checked for the owner.
      searchableStores: database.prepare(
        `SELECT sequence, id FROM vector_stores WHERE id IN (SELECT value FROM json_each(?)) AND +owner = ?
         ORDER BY sequence`,
      ),
    };
    // Chunks embedded by a model of another dimension cannot be compared (and would make
    // vec_distance_cosine fail), so they are left out by their byte length.
    this.vectorCandidates = supportsVectors
      ? database.prepare(
          `SELECT id FROM vector_store_chunks
           WHERE vector_store_id IN (SELECT value FROM json_each(?)) AND embedding IS NOT NULL AND length(embedding) = ?
           ORDER BY vec_distance_cosine(embedding, ?), id LIMIT ?`,
        )
      : null;
  }

  async create(store: StoredVectorStore): Promise<void> {
    this.statements.insertStore.run(
      store.id,
      store.owner,
      nameText(store.name),
      store.createdAt,
      store.lastActiveAt,
      JSON.stringify(store.metadata),
      store.expiresAfter === null ? null : JSON.stringify(store.expiresAfter),
      store.expiresAt,
    );
  }

  async get(owner: string, id: string): Promise<StoredVectorStore | null> {
    const row = this.statements.selectStore.get(owner, id);
    return row === undefined ? null : storeFromRow(row);
  }

  async list(owner: string, page: ListRequest): Promise<PageOf<StoredVectorStore>> {
    const sequenceOf = (param: 'after' | 'before', cursor: string): number => {
      const row = this.statements.selectStoreSequence.get(owner, cursor);
      if (row === undefined) throw new CursorNotFoundError(param, cursor);
      return readNumber(row, 'sequence');
    };
    const plan = planItemPage(
      page,
      page.after === null ? null : sequenceOf('after', page.after),
      page.before === null ? null : sequenceOf('before', page.before),
    );
    const select = plan.ascending ? this.statements.selectStoresAscending : this.statements.selectStoresDescending;
    const rows = select.all(owner, plan.lowerExclusive, plan.upperExclusive, plan.fetchCount);
    return pageFromRows(
      plan,
      rows.map((row) => storeFromRow(row)),
    );
  }

  async update(
    owner: string,
    id: string,
    changes: {
      name?: string | null;
      metadata?: Record<string, string>;
      expiresAfter?: StoredVectorStore['expiresAfter'];
      expiresAt?: number | null;
    },
  ): Promise<StoredVectorStore | null> {
    const row = this.statements.updateStore.get(
      changes.name !== undefined ? 1 : 0,
      changes.name === undefined ? null : nameText(changes.name),
      changes.metadata !== undefined ? 1 : 0,
      changes.metadata === undefined ? null : JSON.stringify(changes.metadata),
      changes.expiresAfter !== undefined ? 1 : 0,
      changes.expiresAfter === undefined || changes.expiresAfter === null ? null : JSON.stringify(changes.expiresAfter),
      changes.expiresAt !== undefined ? 1 : 0,
      changes.expiresAt ?? null,
      owner,
      id,
    );
    return row === undefined ? null : storeFromRow(row);
  }

  async touch(owner: string, id: string, at: number, expiresAt: number | null): Promise<void> {
    this.statements.touchStore.run(at, expiresAt, owner, id);
  }

  async delete(owner: string, id: string): Promise<boolean> {
    return this.inTransaction(() => {
      const table = ownerChunkIndex(this.database, owner, false);
      if (table !== null && this.statements.selectStoreSequence.get(owner, id) !== undefined) {
        this.index.removeStore(table).run(id);
      }
      return Number(this.statements.deleteStore.run(owner, id).changes) > 0;
    });
  }

  async fileCounts(owner: string, id: string): Promise<FileCounts> {
    return countsFromRow(this.statements.storeFileCounts.get(owner, id));
  }

  async usageBytes(owner: string, id: string): Promise<number> {
    const row = this.statements.storeUsageBytes.get(owner, id);
    return row === undefined ? 0 : readNumber(row, 'usage_bytes');
  }

  /** Throws when the store is absent or another owner's: the route checks it first. */
  async addFile(file: StoredVectorStoreFile): Promise<void> {
    this.inTransaction(() => {
      const changes = this.statements.upsertFile.run(
        file.fileId,
        file.createdAt,
        file.status,
        file.usageBytes,
        file.lastError === null ? null : JSON.stringify(file.lastError),
        JSON.stringify(file.chunkingStrategy),
        JSON.stringify(file.attributes),
        file.batchId,
        JSON.stringify(file.filename),
        file.owner,
        file.vectorStoreId,
      ).changes;
      if (Number(changes) === 0) throw new Error(`No vector store ${file.vectorStoreId} of this owner.`);
      // The earlier attachment's chunks go with it.
      this.deleteChunks(file.owner, file.vectorStoreId, file.fileId);
    });
  }

  async getFile(owner: string, vectorStoreId: string, fileId: string): Promise<StoredVectorStoreFile | null> {
    const row = this.statements.selectFile.get(owner, vectorStoreId, fileId);
    return row === undefined ? null : fileFromRow(row);
  }

  async listFiles(
    owner: string,
    vectorStoreId: string,
    page: ListRequest,
    filter: { status?: VectorStoreFileStatus; batchId?: string },
  ): Promise<PageOf<StoredVectorStoreFile>> {
    const sequenceOf = (param: 'after' | 'before', cursor: string): number => {
      const row = this.statements.selectFileSequence.get(owner, vectorStoreId, cursor);
      if (row === undefined) throw new CursorNotFoundError(param, cursor);
      return readNumber(row, 'sequence');
    };
    const plan = planItemPage(
      page,
      page.after === null ? null : sequenceOf('after', page.after),
      page.before === null ? null : sequenceOf('before', page.before),
    );
    const rows = this.database
      .prepare(
        `SELECT ${fileColumns} FROM vector_store_files
         WHERE owner = ? AND vector_store_id = ? AND sequence > ? AND sequence < ?
           AND (? IS NULL OR status = ?) AND (? IS NULL OR batch_id = ?)
         ORDER BY sequence ${plan.ascending ? 'ASC' : 'DESC'} LIMIT ?`,
      )
      .all(
        owner,
        vectorStoreId,
        plan.lowerExclusive,
        plan.upperExclusive,
        filter.status ?? null,
        filter.status ?? null,
        filter.batchId ?? null,
        filter.batchId ?? null,
        plan.fetchCount,
      );
    return pageFromRows(
      plan,
      rows.map((row) => fileFromRow(row)),
    );
  }

  async updateFileAttributes(
    owner: string,
    vectorStoreId: string,
    fileId: string,
    attributes: Attributes,
  ): Promise<StoredVectorStoreFile | null> {
    const row = this.statements.updateFileAttributes.get(JSON.stringify(attributes), owner, vectorStoreId, fileId);
    return row === undefined ? null : fileFromRow(row);
  }

  async completeFile(
    owner: string,
    vectorStoreId: string,
    fileId: string,
    chunks: ChunkToStore[],
    usageBytes: number,
  ): Promise<boolean> {
    return this.inTransaction(() => {
      const changes = this.statements.completeFile.run(usageBytes, owner, vectorStoreId, fileId).changes;
      if (Number(changes) === 0) return false;
      this.deleteChunks(owner, vectorStoreId, fileId);
      for (const chunk of chunks) {
        this.statements.insertChunk.run(
          vectorStoreId,
          fileId,
          chunk.index,
          chunkText(chunk.text),
          chunk.tokenCount,
          chunk.embedding === null ? null : embeddingBlob(chunk.embedding),
        );
      }
      const store = this.statements.selectStoreSequence.get(owner, vectorStoreId);
      if (chunks.length > 0 && store !== undefined) {
        const table = ownerChunkIndex(this.database, owner, true);
        if (table !== null) this.index.addFile(table).run(readNumber(store, 'sequence'), vectorStoreId, fileId);
      }
      return true;
    });
  }

  /** A file's chunks, out of the owner's full-text index first (it holds no text to match by). */
  private deleteChunks(owner: string, vectorStoreId: string, fileId: string): void {
    const table = ownerChunkIndex(this.database, owner, false);
    if (table !== null) this.index.removeFile(table).run(vectorStoreId, fileId);
    this.statements.deleteFileChunks.run(vectorStoreId, fileId);
  }

  async endFile(
    owner: string,
    vectorStoreId: string,
    fileId: string,
    status: 'failed' | 'cancelled',
    lastError: StoredVectorStoreFile['lastError'],
  ): Promise<boolean> {
    const error = lastError === null ? null : JSON.stringify(lastError);
    return Number(this.statements.endFile.run(status, error, owner, vectorStoreId, fileId).changes) > 0;
  }

  async removeFile(owner: string, vectorStoreId: string, fileId: string): Promise<boolean> {
    return this.inTransaction(() => {
      if (this.statements.selectFileSequence.get(owner, vectorStoreId, fileId) === undefined) return false;
      this.deleteChunks(owner, vectorStoreId, fileId);
      return Number(this.statements.deleteFile.run(owner, vectorStoreId, fileId).changes) > 0;
    });
  }

  async fileChunks(owner: string, vectorStoreId: string, fileId: string): Promise<string[]> {
    return this.statements.selectChunks.all(owner, vectorStoreId, fileId).map((row) => readText(row, 'text'));
  }

  async listInProgressFiles(): Promise<Array<{ owner: string; vectorStoreId: string; fileId: string }>> {
    return this.database
      .prepare(
        `SELECT owner, vector_store_id, file_id FROM vector_store_files WHERE status = 'in_progress'
         ORDER BY created_at, sequence`,
      )
      .all()
      .map((row) => ({
        owner: readText(row, 'owner'),
        vectorStoreId: readText(row, 'vector_store_id'),
        fileId: readText(row, 'file_id'),
      }));
  }

  /** Throws when the store is absent or another owner's. */
  async createBatch(batch: StoredFileBatch): Promise<void> {
    const changes = this.statements.insertBatch.run(
      batch.id,
      batch.createdAt,
      batch.status,
      batch.owner,
      batch.vectorStoreId,
    ).changes;
    if (Number(changes) === 0) throw new Error(`No vector store ${batch.vectorStoreId} of this owner.`);
  }

  async getBatch(owner: string, vectorStoreId: string, batchId: string): Promise<StoredFileBatch | null> {
    const row = this.statements.selectBatch.get(owner, vectorStoreId, batchId);
    if (row === undefined) return null;
    return {
      id: readText(row, 'id'),
      vectorStoreId: readText(row, 'vector_store_id'),
      owner: readText(row, 'owner'),
      createdAt: readNumber(row, 'created_at'),
      status: readText(row, 'status') as FileBatchStatus,
    };
  }

  async setBatchStatus(owner: string, vectorStoreId: string, batchId: string, status: FileBatchStatus): Promise<void> {
    this.statements.updateBatchStatus.run(status, owner, vectorStoreId, batchId);
  }

  async batchFileCounts(owner: string, vectorStoreId: string, batchId: string): Promise<FileCounts> {
    return countsFromRow(this.statements.batchFileCounts.get(owner, vectorStoreId, batchId));
  }

  async search(owner: string, vectorStoreIds: string[], request: SearchRequest): Promise<SearchHit[]> {
    if (vectorStoreIds.length === 0 || request.queries.length === 0 || request.maxResults <= 0) return [];
    const stores = this.statements.searchableStores.all(JSON.stringify(vectorStoreIds), owner);
    if (stores.length === 0) return [];
    const storeIds = stores.map((row) => readText(row, 'id'));
    const storeSequences = stores.map((row) => readNumber(row, 'sequence'));
    // The chunks a search may see: the owner's, in the given stores, of completed files that
    // pass the filter. Every ranked list reads through the same conditions.
    const scopeParameters: SQLInputValue[] = [owner, JSON.stringify(storeIds)];
    const scope = `file.owner = ? AND chunk.vector_store_id IN (SELECT value FROM json_each(?))
      AND file.status = 'completed'
      AND ${request.filters === null ? '1' : sqliteFilter(request.filters, scopeParameters)}`;
    const joinFiles =
      'JOIN vector_store_files AS file ON file.vector_store_id = chunk.vector_store_id AND file.file_id = chunk.file_id';
    const fromChunks = `vector_store_chunks AS chunk ${joinFiles}`;
    let inScope: StatementSync | null = null;
    /**
     * The first candidatesPerList of `candidates` (best first, at most overFetch) that are in
     * scope — the same as ranking every match in scope, unless fewer pass and there were more
     * candidates, when `everyMatch` ranks them all with the scope checked on each.
     */
    const rankInScope = (candidates: number[], everyMatch: () => number[]): number[] => {
      if (candidates.length === 0) return [];
      inScope ??= this.database.prepare(
        `SELECT chunk.id FROM ${fromChunks} WHERE chunk.id IN (SELECT value FROM json_each(?)) AND ${scope}`,
      );
      const passed = new Set(
        inScope.all(JSON.stringify(candidates), ...scopeParameters).map((row) => readNumber(row, 'id')),
      );
      const kept = candidates.filter((id) => passed.has(id));
      if (kept.length >= candidatesPerList || candidates.length < overFetch) return kept.slice(0, candidatesPerList);
      return everyMatch();
    };

    const table = ownerChunkIndex(this.database, owner, false);
    const lists: Array<RankedList<number>> = [];
    request.queries.forEach((query, queryIndex) => {
      const words = fts5Query(query);
      if (words !== null && table !== null) {
        // The store restriction is part of the MATCH, so FTS5 ranks only the searched stores'
        // chunks, and only the best overFetch are joined to their rows.
        const match = chunkIndexMatch(storeSequences, words);
        const candidates = this.index.ranked(table).all(match, overFetch);
        lists.push({
          kind: 'text',
          ids: rankInScope(ids(candidates), () =>
            ids(
              this.database
                .prepare(
                  `SELECT chunk.id FROM ${table} AS fts
                   JOIN vector_store_chunks AS chunk ON chunk.id = fts.rowid ${joinFiles}
                   WHERE ${table} MATCH ? AND ${scope}
                   ORDER BY bm25(${table}, 1, 0), chunk.id LIMIT ${candidatesPerList}`,
                )
                .all(match, ...scopeParameters),
            ),
          ),
        });
      }
      const embedding = request.queryEmbeddings?.[queryIndex];
      if (this.vectorCandidates !== null && embedding !== undefined) {
        const candidates = this.vectorCandidates.all(
          JSON.stringify(storeIds),
          embedding.byteLength,
          embeddingBlob(embedding),
          overFetch,
        );
        lists.push({
          kind: 'embedding',
          ids: rankInScope(ids(candidates), () =>
            ids(
              this.database
                .prepare(
                  `SELECT chunk.id FROM ${fromChunks}
                   WHERE chunk.embedding IS NOT NULL AND length(chunk.embedding) = ? AND ${scope}
                   ORDER BY vec_distance_cosine(chunk.embedding, ?), chunk.id LIMIT ${candidatesPerList}`,
                )
                .all(embedding.byteLength, ...scopeParameters, embeddingBlob(embedding)),
            ),
          ),
        });
      }
    });

    const top = topFused(fuseRankings(lists, request.weights), request.scoreThreshold, request.maxResults);
    if (top.length === 0) return [];
    const rows = this.database
      .prepare(
        `SELECT chunk.id, chunk.file_id, chunk.chunk_index, chunk.text, file.filename, file.attributes
         FROM ${fromChunks} WHERE chunk.id IN (${top.map(() => '?').join(', ')})`,
      )
      .all(...top.map((hit) => hit.id));
    const byId = new Map(rows.map((row) => [readNumber(row, 'id'), row]));
    return top.flatMap(({ id, score }) => {
      const row = byId.get(id);
      if (row === undefined) return [];
      return [
        {
          fileId: readText(row, 'file_id'),
          filename: JSON.parse(readText(row, 'filename')) as string,
          score,
          attributes: JSON.parse(readText(row, 'attributes')) as Attributes,
          text: readText(row, 'text'),
          chunkIndex: readNumber(row, 'chunk_index'),
        },
      ];
    });
  }
}

/**
 * The filter as SQL over `file.attributes` (JSON text), appending its parameters. json_each
 * gives each attribute's JSON type beside its value, so a string never equals a number and
 * numbers compare numerically (see attribute-filter-plan.ts for the semantics).
 */
function sqliteFilter(filter: AttributeFilter, parameters: SQLInputValue[]): string {
  if ('filters' in filter) {
    if (filter.filters.length === 0) return filter.type === 'and' ? '1' : '0';
    const joiner = filter.type === 'and' ? ' AND ' : ' OR ';
    return `(${filter.filters.map((inner) => sqliteFilter(inner, parameters)).join(joiner)})`;
  }
  const plan = planComparison(filter);
  if (plan.kind === 'never') return '0';
  const attribute = (condition: string): string =>
    `EXISTS (SELECT 1 FROM json_each(file.attributes) AS attribute WHERE attribute.key = ? AND (${condition}))`;
  if (plan.kind === 'order') {
    const type = typeof plan.value === 'number' ? `attribute.type IN ('integer', 'real')` : `attribute.type = 'text'`;
    parameters.push(plan.key, plan.value);
    return attribute(`${type} AND attribute.value ${plan.operator} ?`);
  }
  const alternatives: string[] = [];
  const values: SQLInputValue[] = [];
  if (plan.numbers.length > 0) {
    alternatives.push(
      `attribute.type IN ('integer', 'real') AND attribute.value IN (${plan.numbers.map(() => '?').join(', ')})`,
    );
    values.push(...plan.numbers);
  }
  if (plan.strings.length > 0) {
    alternatives.push(`attribute.type = 'text' AND attribute.value IN (${plan.strings.map(() => '?').join(', ')})`);
    values.push(...plan.strings);
  }
  if (plan.booleans.length > 0) {
    alternatives.push(`attribute.type IN (${plan.booleans.map(() => '?').join(', ')})`);
    values.push(...plan.booleans.map((value) => (value ? 'true' : 'false')));
  }
  if (alternatives.length === 0) return plan.negated ? '1' : '0';
  parameters.push(plan.key, ...values);
  const member = attribute(alternatives.map((alternative) => `(${alternative})`).join(' OR '));
  return plan.negated ? `NOT ${member}` : member;
}

function ids(rows: Row[]): number[] {
  return rows.map((row) => readNumber(row, 'id'));
}

/** The float32 bytes sqlite-vec reads as a vector. */
function embeddingBlob(embedding: Float32Array): Uint8Array {
  return new Uint8Array(embedding.buffer, embedding.byteOffset, embedding.byteLength);
}

function countsFromRow(row: Row | undefined): FileCounts {
  if (row === undefined) return { in_progress: 0, completed: 0, failed: 0, cancelled: 0, total: 0 };
  return {
    in_progress: readNumber(row, 'in_progress'),
    completed: readNumber(row, 'completed'),
    failed: readNumber(row, 'failed'),
    cancelled: readNumber(row, 'cancelled'),
    total: readNumber(row, 'total'),
  };
}

function storeFromRow(row: Row): StoredVectorStore {
  const expiresAfter = readNullableText(row, 'expires_after');
  const lastActiveAt = row.last_active_at;
  const expiresAt = row.expires_at;
  return {
    id: readText(row, 'id'),
    owner: readText(row, 'owner'),
    name: parseNameText(readNullableText(row, 'name')),
    createdAt: readNumber(row, 'created_at'),
    lastActiveAt: lastActiveAt === null || lastActiveAt === undefined ? null : readNumber(row, 'last_active_at'),
    metadata: JSON.parse(readText(row, 'metadata')) as Record<string, string>,
    expiresAfter: expiresAfter === null ? null : (JSON.parse(expiresAfter) as StoredVectorStore['expiresAfter']),
    expiresAt: expiresAt === null || expiresAt === undefined ? null : readNumber(row, 'expires_at'),
  };
}

function fileFromRow(row: Row): StoredVectorStoreFile {
  const lastError = readNullableText(row, 'last_error');
  return {
    fileId: readText(row, 'file_id'),
    vectorStoreId: readText(row, 'vector_store_id'),
    owner: readText(row, 'owner'),
    createdAt: readNumber(row, 'created_at'),
    status: readText(row, 'status') as VectorStoreFileStatus,
    usageBytes: readNumber(row, 'usage_bytes'),
    lastError: lastError === null ? null : (JSON.parse(lastError) as StoredVectorStoreFile['lastError']),
    chunkingStrategy: JSON.parse(readText(row, 'chunking_strategy')) as Record<string, unknown>,
    attributes: JSON.parse(readText(row, 'attributes')) as Attributes,
    batchId: readNullableText(row, 'batch_id'),
    filename: JSON.parse(readText(row, 'filename')) as string,
  };
}
