import { planComparison } from '../attribute-filter-plan.ts';
import { CursorNotFoundError } from '../cursor-not-found-error.ts';
import {
  bm25B,
  bm25K1,
  candidatesPerList,
  chunkText,
  fuseRankings,
  type RankedList,
  keywordTerms,
  topFused,
} from '../hybrid-ranking.ts';
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
import { canBeStored } from './postgres-text.ts';

/**
 * What the store needs of a connection: one query with positional parameters. A pg Pool and a
 * PGlite instance both satisfy it, so the pgvector SQL is tested on PGlite (which ships the
 * extension) while the real server lacks it. Every write is a single statement, so no
 * transaction has to span calls.
 */
export interface PostgresQueryable {
  query(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * Makes pgvector available when it can: creates the extension (needs the package on the server
 * and the right to create it; an existing one is enough) and adds the `embedding` column. False
 * when it cannot, and vector stores then search by keyword alone. Idempotent, and safe for
 * replicas starting together (a lost CREATE EXTENSION race still finds the extension).
 */
export async function enablePgvector(database: PostgresQueryable): Promise<boolean> {
  try {
    await database.query('CREATE EXTENSION IF NOT EXISTS vector', []);
  } catch {
    // Not installed, or not ours to create: checked below either way.
  }
  const installed = await database.query(`SELECT 1 FROM pg_extension WHERE extname = 'vector'`, []);
  if (installed.rows.length === 0) return false;
  try {
    // No fixed dimension: each store's chunks carry whatever its embedding model gives.
    await database.query('ALTER TABLE vector_store_chunks ADD COLUMN IF NOT EXISTS embedding vector', []);
    return true;
  } catch {
    // The extension lives in a schema outside the search_path: keyword search still works.
    return false;
  }
}

const storeColumns = 'id, owner, name, created_at, last_active_at, metadata, expires_after, expires_at';
const fileColumns =
  'vector_store_id, file_id, owner, created_at, status, usage_bytes, last_error, chunking_strategy, attributes, batch_id, filename';
const countColumns = `count(*) FILTER (WHERE status = 'in_progress')::integer AS in_progress,
  count(*) FILTER (WHERE status = 'completed')::integer AS completed,
  count(*) FILTER (WHERE status = 'failed')::integer AS failed,
  count(*) FILTER (WHERE status = 'cancelled')::integer AS cancelled,
  count(*)::integer AS total`;

interface StoreRow {
  id: string;
  owner: string;
  name: string | null;
  /** bigint arrives as text from pg (and as a number or bigint from PGlite). */
  created_at: string | number | bigint;
  last_active_at: string | number | bigint | null;
  metadata: string;
  expires_after: string | null;
  expires_at: string | number | bigint | null;
}

interface FileRow {
  vector_store_id: string;
  file_id: string;
  owner: string;
  created_at: string | number | bigint;
  status: VectorStoreFileStatus;
  usage_bytes: string | number | bigint;
  last_error: string | null;
  chunking_strategy: string;
  attributes: string;
  batch_id: string | null;
  filename: string;
}

type CountsRow = Record<keyof FileCounts, number>;

/**
 * VectorStoreStore on PostgreSQL. Keyword search is BM25 over postings that triggers keep in step
 * with the chunks (english stemming and stop words; postgres-keyword-index-migration.ts); vector search, with pgvector, is exact cosine distance over
 * the searched stores' chunks (no ANN index: an HNSW index needs one fixed dimension). Both lists
 * are fused by hybrid-ranking.ts, as on SQLite.
 */
export class PostgresVectorStoreStore implements VectorStoreStore {
  readonly supportsVectors: boolean;
  private readonly database: PostgresQueryable;

  constructor(database: PostgresQueryable, supportsVectors: boolean) {
    this.database = database;
    this.supportsVectors = supportsVectors;
  }

  private async rows<Row>(text: string, values: unknown[]): Promise<Row[]> {
    return (await this.database.query(text, values)).rows as Row[];
  }

  async create(store: StoredVectorStore): Promise<void> {
    await this.database.query(
      `INSERT INTO vector_stores (id, owner, name, created_at, last_active_at, metadata, expires_after, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        store.id,
        store.owner,
        nameText(store.name),
        store.createdAt,
        store.lastActiveAt,
        JSON.stringify(store.metadata),
        store.expiresAfter === null ? null : JSON.stringify(store.expiresAfter),
        store.expiresAt,
      ],
    );
  }

  async get(owner: string, id: string): Promise<StoredVectorStore | null> {
    if (!canBeStored(id)) return null;
    const [row] = await this.rows<StoreRow>(`SELECT ${storeColumns} FROM vector_stores WHERE owner = $1 AND id = $2`, [
      owner,
      id,
    ]);
    return row === undefined ? null : storeFromRow(row);
  }

  async list(owner: string, page: ListRequest): Promise<PageOf<StoredVectorStore>> {
    const sequenceOf = async (param: 'after' | 'before', cursor: string): Promise<number> => {
      const [row] = canBeStored(cursor)
        ? await this.rows<{ sequence: string }>('SELECT sequence FROM vector_stores WHERE owner = $1 AND id = $2', [
            owner,
            cursor,
          ])
        : [];
      if (row === undefined) throw new CursorNotFoundError(param, cursor);
      return Number(row.sequence);
    };
    const plan = planItemPage(
      page,
      page.after === null ? null : await sequenceOf('after', page.after),
      page.before === null ? null : await sequenceOf('before', page.before),
    );
    const rows = await this.rows<StoreRow>(
      `SELECT ${storeColumns} FROM vector_stores WHERE owner = $1 AND sequence > $2 AND sequence < $3
       ORDER BY sequence ${plan.ascending ? 'ASC' : 'DESC'} LIMIT $4`,
      [owner, plan.lowerExclusive, plan.upperExclusive, plan.fetchCount],
    );
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
    if (!canBeStored(id)) return null;
    // Each change comes with a flag saying whether it was given, so one statement serves all.
    const [row] = await this.rows<StoreRow>(
      `UPDATE vector_stores SET
         name = CASE WHEN $3 THEN $4 ELSE name END,
         metadata = CASE WHEN $5 THEN $6 ELSE metadata END,
         expires_after = CASE WHEN $7 THEN $8 ELSE expires_after END,
         expires_at = CASE WHEN $9 THEN $10::bigint ELSE expires_at END
       WHERE owner = $1 AND id = $2
       RETURNING ${storeColumns}`,
      [
        owner,
        id,
        changes.name !== undefined,
        changes.name === undefined ? null : nameText(changes.name),
        changes.metadata !== undefined,
        changes.metadata === undefined ? null : JSON.stringify(changes.metadata),
        changes.expiresAfter !== undefined,
        changes.expiresAfter === undefined || changes.expiresAfter === null
          ? null
          : JSON.stringify(changes.expiresAfter),
        changes.expiresAt !== undefined,
        changes.expiresAt ?? null,
      ],
    );
    return row === undefined ? null : storeFromRow(row);
  }

  async touch(owner: string, id: string, at: number, expiresAt: number | null): Promise<void> {
    if (!canBeStored(id)) return;
    await this.database.query(
      'UPDATE vector_stores SET last_active_at = $3, expires_at = $4 WHERE owner = $1 AND id = $2',
      [owner, id, at, expiresAt],
    );
  }

  async delete(owner: string, id: string): Promise<boolean> {
    if (!canBeStored(id)) return false;
    const rows = await this.rows('DELETE FROM vector_stores WHERE owner = $1 AND id = $2 RETURNING 1', [owner, id]);
    return rows.length > 0;
  }

  async fileCounts(owner: string, id: string): Promise<FileCounts> {
    if (!canBeStored(id)) return emptyCounts();
    const [row] = await this.rows<CountsRow>(
      `SELECT ${countColumns} FROM vector_store_files WHERE owner = $1 AND vector_store_id = $2`,
      [owner, id],
    );
    return row === undefined ? emptyCounts() : countsFromRow(row);
  }

  async usageBytes(owner: string, id: string): Promise<number> {
    if (!canBeStored(id)) return 0;
    const [row] = await this.rows<{ usage_bytes: string | number }>(
      `SELECT coalesce(sum(usage_bytes), 0)::bigint AS usage_bytes FROM vector_store_files
       WHERE owner = $1 AND vector_store_id = $2 AND status = 'completed'`,
      [owner, id],
    );
    return Number(row?.usage_bytes ?? 0);
  }

  /**
   * Throws when the store is absent or another owner's: the route checks it first. One
   * statement attaches (or re-attaches in place) and drops the earlier attachment's chunks.
   */
  async addFile(file: StoredVectorStoreFile): Promise<void> {
    const [row] = await this.rows<{ attached: number }>(
      `WITH attached AS (
         INSERT INTO vector_store_files (vector_store_id, file_id, owner, created_at, status, usage_bytes, last_error,
           chunking_strategy, attributes, filter_attributes, batch_id, filename)
         SELECT id, $3, owner, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12 FROM vector_stores WHERE owner = $1 AND id = $2
         ON CONFLICT (vector_store_id, file_id) DO UPDATE SET
           created_at = excluded.created_at, status = excluded.status, usage_bytes = excluded.usage_bytes,
           last_error = excluded.last_error, chunking_strategy = excluded.chunking_strategy,
           attributes = excluded.attributes, filter_attributes = excluded.filter_attributes,
           batch_id = excluded.batch_id, filename = excluded.filename
         RETURNING vector_store_id, file_id
       ), cleared AS (
         DELETE FROM vector_store_chunks WHERE (vector_store_id, file_id) IN (SELECT vector_store_id, file_id FROM attached)
       )
       SELECT count(*)::integer AS attached FROM attached`,
      [
        file.owner,
        file.vectorStoreId,
        file.fileId,
        file.createdAt,
        file.status,
        file.usageBytes,
        file.lastError === null ? null : JSON.stringify(file.lastError),
        JSON.stringify(file.chunkingStrategy),
        JSON.stringify(file.attributes),
        JSON.stringify(filterableAttributes(file.attributes)),
        file.batchId,
        JSON.stringify(file.filename),
      ],
    );
    if (row?.attached !== 1) throw new Error(`No vector store ${file.vectorStoreId} of this owner.`);
  }

  async getFile(owner: string, vectorStoreId: string, fileId: string): Promise<StoredVectorStoreFile | null> {
    if (!canBeStored(vectorStoreId) || !canBeStored(fileId)) return null;
    const [row] = await this.rows<FileRow>(
      `SELECT ${fileColumns} FROM vector_store_files WHERE owner = $1 AND vector_store_id = $2 AND file_id = $3`,
      [owner, vectorStoreId, fileId],
    );
    return row === undefined ? null : fileFromRow(row);
  }

  async listFiles(
    owner: string,
    vectorStoreId: string,
    page: ListRequest,
    filter: { status?: VectorStoreFileStatus; batchId?: string },
  ): Promise<PageOf<StoredVectorStoreFile>> {
    const sequenceOf = async (param: 'after' | 'before', cursor: string): Promise<number> => {
      const [row] =
        canBeStored(cursor) && canBeStored(vectorStoreId)
          ? await this.rows<{ sequence: string }>(
              'SELECT sequence FROM vector_store_files WHERE owner = $1 AND vector_store_id = $2 AND file_id = $3',
              [owner, vectorStoreId, cursor],
            )
          : [];
      if (row === undefined) throw new CursorNotFoundError(param, cursor);
      return Number(row.sequence);
    };
    const plan = planItemPage(
      page,
      page.after === null ? null : await sequenceOf('after', page.after),
      page.before === null ? null : await sequenceOf('before', page.before),
    );
    if (!canBeStored(vectorStoreId) || (filter.batchId !== undefined && !canBeStored(filter.batchId))) {
      return { items: [], hasMore: false };
    }
    const rows = await this.rows<FileRow>(
      `SELECT ${fileColumns} FROM vector_store_files
       WHERE owner = $1 AND vector_store_id = $2 AND sequence > $3 AND sequence < $4
         AND ($5::text IS NULL OR status = $5) AND ($6::text IS NULL OR batch_id = $6)
       ORDER BY sequence ${plan.ascending ? 'ASC' : 'DESC'} LIMIT $7`,
      [
        owner,
        vectorStoreId,
        plan.lowerExclusive,
        plan.upperExclusive,
        filter.status ?? null,
        filter.batchId ?? null,
        plan.fetchCount,
      ],
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
    if (!canBeStored(vectorStoreId) || !canBeStored(fileId)) return null;
    const [row] = await this.rows<FileRow>(
      `UPDATE vector_store_files SET attributes = $4, filter_attributes = $5::jsonb
       WHERE owner = $1 AND vector_store_id = $2 AND file_id = $3
       RETURNING ${fileColumns}`,
      [owner, vectorStoreId, fileId, JSON.stringify(attributes), JSON.stringify(filterableAttributes(attributes))],
    );
    return row === undefined ? null : fileFromRow(row);
  }

  /**
   * One statement: the status change (only from in_progress, whose row lock makes a racing
   * call wait and then find it completed) and the chunks land together or not at all.
   */
  async completeFile(
    owner: string,
    vectorStoreId: string,
    fileId: string,
    chunks: ChunkToStore[],
    usageBytes: number,
  ): Promise<boolean> {
    if (!canBeStored(vectorStoreId) || !canBeStored(fileId)) return false;
    const rows = chunks.map((chunk) => ({
      chunk_index: chunk.index,
      text: chunkText(chunk.text),
      token_count: chunk.tokenCount,
      embedding: chunk.embedding === null ? null : vectorLiteral(chunk.embedding),
    }));
    const embedding = this.supportsVectors ? ', embedding' : '';
    const embeddingValue = this.supportsVectors ? ', chunk.embedding::vector' : '';
    const [row] = await this.rows<{ completed: number }>(
      `WITH completed AS (
         UPDATE vector_store_files SET status = 'completed', usage_bytes = $4, last_error = NULL
         WHERE owner = $1 AND vector_store_id = $2 AND file_id = $3 AND status = 'in_progress'
         RETURNING vector_store_id, file_id
       ), cleared AS (
         DELETE FROM vector_store_chunks WHERE (vector_store_id, file_id) IN (SELECT vector_store_id, file_id FROM completed)
       ), inserted AS (
         INSERT INTO vector_store_chunks (vector_store_id, file_id, chunk_index, text, token_count${embedding})
         SELECT completed.vector_store_id, completed.file_id, chunk.chunk_index, chunk.text, chunk.token_count${embeddingValue}
         FROM completed, json_to_recordset($5::json) AS chunk (chunk_index integer, text text, token_count integer, embedding text)
       )
       SELECT count(*)::integer AS completed FROM completed`,
      [owner, vectorStoreId, fileId, usageBytes, JSON.stringify(rows)],
    );
    return row?.completed === 1;
  }

  async endFile(
    owner: string,
    vectorStoreId: string,
    fileId: string,
    status: 'failed' | 'cancelled',
    lastError: StoredVectorStoreFile['lastError'],
  ): Promise<boolean> {
    if (!canBeStored(vectorStoreId) || !canBeStored(fileId)) return false;
    const rows = await this.rows(
      `UPDATE vector_store_files SET status = $4, last_error = $5
       WHERE owner = $1 AND vector_store_id = $2 AND file_id = $3 AND status = 'in_progress'
       RETURNING 1`,
      [owner, vectorStoreId, fileId, status, lastError === null ? null : JSON.stringify(lastError)],
    );
    return rows.length > 0;
  }

  async removeFile(owner: string, vectorStoreId: string, fileId: string): Promise<boolean> {
    if (!canBeStored(vectorStoreId) || !canBeStored(fileId)) return false;
    const rows = await this.rows(
      'DELETE FROM vector_store_files WHERE owner = $1 AND vector_store_id = $2 AND file_id = $3 RETURNING 1',
      [owner, vectorStoreId, fileId],
    );
    return rows.length > 0;
  }

  async fileChunks(owner: string, vectorStoreId: string, fileId: string): Promise<string[]> {
    if (!canBeStored(vectorStoreId) || !canBeStored(fileId)) return [];
    const rows = await this.rows<{ text: string }>(
      `SELECT chunk.text FROM vector_store_chunks AS chunk
       JOIN vector_store_files AS file ON file.vector_store_id = chunk.vector_store_id AND file.file_id = chunk.file_id
       WHERE file.owner = $1 AND chunk.vector_store_id = $2 AND chunk.file_id = $3
       ORDER BY chunk.chunk_index`,
      [owner, vectorStoreId, fileId],
    );
    return rows.map((row) => row.text);
  }

  async listInProgressFiles(): Promise<Array<{ owner: string; vectorStoreId: string; fileId: string }>> {
    const rows = await this.rows<{ owner: string; vector_store_id: string; file_id: string }>(
      `SELECT owner, vector_store_id, file_id FROM vector_store_files WHERE status = 'in_progress'
       ORDER BY created_at, sequence`,
      [],
    );
    return rows.map((row) => ({ owner: row.owner, vectorStoreId: row.vector_store_id, fileId: row.file_id }));
  }

  /** Throws when the store is absent or another owner's. */
  async createBatch(batch: StoredFileBatch): Promise<void> {
    const rows = await this.rows(
      `INSERT INTO vector_store_file_batches (id, vector_store_id, owner, created_at, status)
       SELECT $3, id, owner, $4, $5 FROM vector_stores WHERE owner = $1 AND id = $2
       RETURNING 1`,
      [batch.owner, batch.vectorStoreId, batch.id, batch.createdAt, batch.status],
    );
    if (rows.length === 0) throw new Error(`No vector store ${batch.vectorStoreId} of this owner.`);
  }

  async getBatch(owner: string, vectorStoreId: string, batchId: string): Promise<StoredFileBatch | null> {
    if (!canBeStored(vectorStoreId) || !canBeStored(batchId)) return null;
    const [row] = await this.rows<{
      id: string;
      vector_store_id: string;
      owner: string;
      created_at: string | number;
      status: FileBatchStatus;
    }>(
      `SELECT id, vector_store_id, owner, created_at, status FROM vector_store_file_batches
       WHERE owner = $1 AND vector_store_id = $2 AND id = $3`,
      [owner, vectorStoreId, batchId],
    );
    if (row === undefined) return null;
    return {
      id: row.id,
      vectorStoreId: row.vector_store_id,
      owner: row.owner,
      createdAt: Number(row.created_at),
      status: row.status,
    };
  }

  async setBatchStatus(owner: string, vectorStoreId: string, batchId: string, status: FileBatchStatus): Promise<void> {
    if (!canBeStored(vectorStoreId) || !canBeStored(batchId)) return;
    await this.database.query(
      'UPDATE vector_store_file_batches SET status = $4 WHERE owner = $1 AND vector_store_id = $2 AND id = $3',
      [owner, vectorStoreId, batchId, status],
    );
  }

  async batchFileCounts(owner: string, vectorStoreId: string, batchId: string): Promise<FileCounts> {
    if (!canBeStored(vectorStoreId) || !canBeStored(batchId)) return emptyCounts();
    const [row] = await this.rows<CountsRow>(
      `SELECT ${countColumns} FROM vector_store_files WHERE owner = $1 AND vector_store_id = $2 AND batch_id = $3`,
      [owner, vectorStoreId, batchId],
    );
    return row === undefined ? emptyCounts() : countsFromRow(row);
  }

  async search(owner: string, vectorStoreIds: string[], request: SearchRequest): Promise<SearchHit[]> {
    const storeIds = vectorStoreIds.filter((id) => canBeStored(id));
    if (storeIds.length === 0 || request.queries.length === 0 || request.maxResults <= 0) return [];
    // The chunks a search may see: the owner's, in the given stores, of completed files that
    // pass the filter. Every ranked list reads through the same conditions ($1, $2, then the
    // filter's parameters); each list's own parameters follow.
    const scopeParameters: unknown[] = [owner, JSON.stringify(storeIds)];
    const scope = `file.owner = $1 AND file.vector_store_id IN (SELECT json_array_elements_text($2::json))
      AND file.status = 'completed'
      AND ${request.filters === null ? 'true' : postgresFilter(request.filters, scopeParameters)}`;
    const fromChunks = `vector_store_chunks AS chunk
      JOIN vector_store_files AS file ON file.vector_store_id = chunk.vector_store_id AND file.file_id = chunk.file_id`;
    const next = scopeParameters.length + 1;

    const lists: Array<RankedList<number>> = [];
    for (const [queryIndex, query] of request.queries.entries()) {
      const terms = keywordTerms(query);
      if (terms.length > 0) {
        // BM25 over the postings (see postgres-keyword-index-migration.ts) of the query's
        // lexemes: to_tsvector stems the words and drops stop words as the chunks' vectors did,
        // and a chunk needs only some of the words. Each chunk is scored with its own store's
        // statistics (N, average length, df), so searching several stores together ranks each
        // store's chunks as searching it alone would, and one store's data never moves another's
        // ranking; scores from stores of very different sizes are then not strictly comparable,
        // which fusion by rank absorbs. df counts every chunk of the store, whatever the filter.
        //
        // Per posting, BM25 is weight × tf / (tf + k1(1 − b) + (k1·b / average length) × length),
        // weight = idf × (k1 + 1): the factors that do not vary within a (store, lexeme) are worked
        // out once, in float8 (a bare decimal literal would make the sum numeric, several times
        // slower). The CTEs are materialized so that the files in scope are read once into a
        // hash, whatever the planner guesses of tables that were never analyzed.
        const rows = await this.rows<{ id: string | number }>(
          `WITH statistics AS MATERIALIZED (
             SELECT vector_store_id, chunk_count::float8 AS chunk_count,
               total_length::float8 / chunk_count AS average_length
             FROM vector_store_keyword_stats
             WHERE vector_store_id IN (SELECT json_array_elements_text($2::json))
               AND chunk_count > 0 AND total_length > 0
           ), scoped AS MATERIALIZED (
             SELECT file.vector_store_id, file.file_id FROM vector_store_files AS file WHERE ${scope}
           ), matched AS MATERIALIZED (
             SELECT posting.* FROM vector_store_postings AS posting
             JOIN statistics ON statistics.vector_store_id = posting.vector_store_id
             WHERE posting.lexeme IN (SELECT lexeme FROM unnest(to_tsvector('english', $${next})))
           ), weights AS MATERIALIZED (
             SELECT frequency.vector_store_id, frequency.lexeme,
               ln(1 + (statistics.chunk_count - frequency.df + 0.5) / (frequency.df + 0.5))
                 * ${bm25K1 + 1}::float8 AS weight,
               ${bm25K1 * (1 - bm25B)}::float8 AS length_constant,
               ${bm25K1 * bm25B}::float8 / statistics.average_length AS length_factor
             FROM (
               SELECT vector_store_id, lexeme, sum(cardinality(chunk_ids))::float8 AS df FROM matched
               GROUP BY vector_store_id, lexeme
             ) AS frequency
             JOIN statistics ON statistics.vector_store_id = frequency.vector_store_id
           )
           SELECT posting.chunk_id AS id
           FROM matched
           JOIN scoped ON scoped.vector_store_id = matched.vector_store_id AND scoped.file_id = matched.file_id
           JOIN weights ON weights.vector_store_id = matched.vector_store_id AND weights.lexeme = matched.lexeme
           CROSS JOIN LATERAL unnest(matched.chunk_ids, matched.term_frequencies, matched.chunk_lengths)
             AS posting (chunk_id, term_frequency, chunk_length)
           GROUP BY posting.chunk_id
           ORDER BY sum(weights.weight * posting.term_frequency / (posting.term_frequency
             + weights.length_constant + weights.length_factor * posting.chunk_length)) DESC,
             posting.chunk_id
           LIMIT ${candidatesPerList}`,
          [...scopeParameters, terms.join(' ')],
        );
        lists.push({ kind: 'text', ids: rows.map((row) => Number(row.id)) });
      }
      const embedding = request.queryEmbeddings?.[queryIndex];
      if (this.supportsVectors && embedding !== undefined) {
        // Chunks embedded by a model of another dimension cannot be compared (pgvector would
        // fail on them), so they are left out.
        const rows = await this.rows<{ id: string | number }>(
          `SELECT chunk.id FROM ${fromChunks}
           WHERE chunk.embedding IS NOT NULL AND vector_dims(chunk.embedding) = $${next} AND ${scope}
           ORDER BY chunk.embedding <=> $${next + 1}::vector, chunk.id
           LIMIT ${candidatesPerList}`,
          [...scopeParameters, embedding.length, vectorLiteral(embedding)],
        );
        lists.push({ kind: 'embedding', ids: rows.map((row) => Number(row.id)) });
      }
    }

    const top = topFused(fuseRankings(lists, request.weights), request.scoreThreshold, request.maxResults);
    if (top.length === 0) return [];
    const rows = await this.rows<{
      id: string | number;
      file_id: string;
      chunk_index: number;
      text: string;
      filename: string;
      attributes: string;
    }>(
      `SELECT chunk.id, chunk.file_id, chunk.chunk_index, chunk.text, file.filename, file.attributes
       FROM ${fromChunks} WHERE chunk.id IN (SELECT json_array_elements_text($1::json)::bigint)`,
      [JSON.stringify(top.map((hit) => hit.id))],
    );
    const byId = new Map(rows.map((row) => [Number(row.id), row]));
    return top.flatMap(({ id, score }) => {
      const row = byId.get(id);
      if (row === undefined) return [];
      return [
        {
          fileId: row.file_id,
          filename: JSON.parse(row.filename) as string,
          score,
          attributes: JSON.parse(row.attributes) as Attributes,
          text: row.text,
          chunkIndex: row.chunk_index,
        },
      ];
    });
  }
}

/**
 * The filter as SQL over `file.filter_attributes` (jsonb), appending its parameters. jsonb keeps
 * each value's JSON type, so a string never equals a number and numbers compare numerically
 * (see attribute-filter-plan.ts for the semantics). CASE guards each cast, since PostgreSQL
 * does not promise to test AND's operands in order.
 */
function postgresFilter(filter: AttributeFilter, parameters: unknown[]): string {
  if ('filters' in filter) {
    if (filter.filters.length === 0) return filter.type === 'and' ? 'true' : 'false';
    const joiner = filter.type === 'and' ? ' AND ' : ' OR ';
    return `(${filter.filters.map((inner) => postgresFilter(inner, parameters)).join(joiner)})`;
  }
  const plan = planComparison(filter);
  if (plan.kind === 'never') return 'false';
  const parameter = (value: unknown): string => {
    parameters.push(value);
    return `$${parameters.length}`;
  };
  const value = `(file.filter_attributes -> ${parameter(jsonbSafe(plan.key))}::text)`;
  if (plan.kind === 'order') {
    if (typeof plan.value === 'number') {
      return `CASE WHEN jsonb_typeof(${value}) = 'number' THEN (${value} #>> '{}')::numeric ${plan.operator} ${parameter(String(plan.value))}::numeric ELSE false END`;
    }
    // "C" compares code points, as SQLite's BINARY does, whatever the database's collation.
    return `CASE WHEN jsonb_typeof(${value}) = 'string' THEN (${value} #>> '{}') COLLATE "C" ${plan.operator} ${parameter(jsonbSafe(plan.value))}::text ELSE false END`;
  }
  // A jsonb array contains a scalar when one of its elements equals it: 1 = 1.0, "1" ≠ 1.
  const members = [...plan.numbers, ...plan.strings.map((text) => jsonbSafe(text)), ...plan.booleans];
  if (members.length === 0) return plan.negated ? 'true' : 'false';
  const member = `coalesce(${parameter(JSON.stringify(members))}::jsonb @> ${value}, false)`;
  return plan.negated ? `NOT ${member}` : member;
}

/** jsonb holds no NUL and no lone surrogate; both the stored copy and the filters map them alike. */
function jsonbSafe(text: string): string {
  return text.replaceAll('\u0000', '\ufffd').toWellFormed();
}

function filterableAttributes(attributes: Attributes): Attributes {
  return Object.fromEntries(
    Object.entries(attributes).map(([key, value]) => [
      jsonbSafe(key),
      typeof value === 'string' ? jsonbSafe(value) : value,
    ]),
  );
}

/** pgvector's text form, `[x,y,…]`. */
function vectorLiteral(embedding: Float32Array): string {
  return `[${Array.from(embedding).join(',')}]`;
}

function emptyCounts(): FileCounts {
  return { in_progress: 0, completed: 0, failed: 0, cancelled: 0, total: 0 };
}

function countsFromRow(row: CountsRow): FileCounts {
  return {
    in_progress: Number(row.in_progress),
    completed: Number(row.completed),
    failed: Number(row.failed),
    cancelled: Number(row.cancelled),
    total: Number(row.total),
  };
}

function nullableNumber(value: string | number | bigint | null): number | null {
  return value === null ? null : Number(value);
}

function storeFromRow(row: StoreRow): StoredVectorStore {
  return {
    id: row.id,
    owner: row.owner,
    name: parseNameText(row.name),
    createdAt: Number(row.created_at),
    lastActiveAt: nullableNumber(row.last_active_at),
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    expiresAfter:
      row.expires_after === null ? null : (JSON.parse(row.expires_after) as StoredVectorStore['expiresAfter']),
    expiresAt: nullableNumber(row.expires_at),
  };
}

function fileFromRow(row: FileRow): StoredVectorStoreFile {
  return {
    fileId: row.file_id,
    vectorStoreId: row.vector_store_id,
    owner: row.owner,
    createdAt: Number(row.created_at),
    status: row.status,
    usageBytes: Number(row.usage_bytes),
    lastError: row.last_error === null ? null : (JSON.parse(row.last_error) as StoredVectorStoreFile['lastError']),
    chunkingStrategy: JSON.parse(row.chunking_strategy) as Record<string, unknown>,
    attributes: JSON.parse(row.attributes) as Attributes,
    batchId: row.batch_id,
    filename: JSON.parse(row.filename) as string,
  };
}
