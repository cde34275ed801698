/**
 * The storage contract for vector stores (OpenAI's Vector Stores API and the file_search tool).
 * SQLite implements search with FTS5 (BM25) and sqlite-vec; PostgreSQL with full-text search and
 * pgvector where the extension is available. Both pass one contract suite.
 */
import type { FusionWeights } from './hybrid-ranking.ts';

export type VectorStoreStatus = 'expired' | 'in_progress' | 'completed';
export type VectorStoreFileStatus = 'in_progress' | 'completed' | 'cancelled' | 'failed';
export type FileBatchStatus = 'in_progress' | 'completed' | 'cancelled' | 'failed';

/** Attribute values as OpenAI allows them on vector-store files: strings, numbers, booleans. */
export type Attributes = Record<string, string | number | boolean>;

export interface StoredVectorStore {
  id: string;
  owner: string;
  name: string | null;
  /** Unix seconds. */
  createdAt: number;
  lastActiveAt: number | null;
  metadata: Record<string, string>;
  /** `{anchor: 'last_active_at', days}` as given, or null. */
  expiresAfter: { anchor: 'last_active_at'; days: number } | null;
  expiresAt: number | null;
}

export interface StoredVectorStoreFile {
  /** The File's id (`file-…`): a vector-store file is keyed by (vector store, file). */
  fileId: string;
  vectorStoreId: string;
  owner: string;
  createdAt: number;
  status: VectorStoreFileStatus;
  usageBytes: number;
  lastError: { code: 'server_error' | 'unsupported_file' | 'invalid_file'; message: string } | null;
  /** As echoed: `{type: 'static', static: {max_chunk_size_tokens, chunk_overlap_tokens}}`. */
  chunkingStrategy: Record<string, unknown>;
  attributes: Attributes;
  /** The batch that attached it, if any. */
  batchId: string | null;
  /** For search results and citations. */
  filename: string;
}

export interface StoredFileBatch {
  id: string;
  vectorStoreId: string;
  owner: string;
  createdAt: number;
  status: FileBatchStatus;
}

export interface FileCounts {
  in_progress: number;
  completed: number;
  failed: number;
  cancelled: number;
  total: number;
}

export interface ChunkToStore {
  index: number;
  text: string;
  tokenCount: number;
  /** Unit-length embedding, or null when no embeddings provider is configured. */
  embedding: Float32Array | null;
}

/** A comparison or compound filter on attributes, as OpenAI's `filters`. */
export type AttributeFilter =
  | { type: 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'nin'; key: string; value: string | number | boolean | Array<string | number> }
  | { type: 'and' | 'or'; filters: AttributeFilter[] };

export interface SearchRequest {
  /** One or more queries; results of several are fused. */
  queries: string[];
  /** Query embeddings (same order as queries), or null for keyword search alone. */
  queryEmbeddings: Float32Array[] | null;
  filters: AttributeFilter | null;
  maxResults: number;
  /** Results scoring below are dropped (0–1 after normalisation). */
  scoreThreshold: number;
  /** How keyword and vector hits count in the fusion; equal when absent. */
  weights?: FusionWeights;
}

export interface SearchHit {
  fileId: string;
  filename: string;
  /** Normalised to 0–1, higher is better. */
  score: number;
  attributes: Attributes;
  /** The chunk text. */
  text: string;
  chunkIndex: number;
}

export interface PageOf<Item> {
  items: Item[];
  hasMore: boolean;
}

export interface ListRequest {
  after: string | null;
  before: string | null;
  limit: number;
  order: 'asc' | 'desc';
}

export interface VectorStoreStore {
  create(store: StoredVectorStore): Promise<void>;
  get(owner: string, id: string): Promise<StoredVectorStore | null>;
  list(owner: string, page: ListRequest): Promise<PageOf<StoredVectorStore>>;
  /** Name, metadata, expires_after (and the expires_at it implies); null when absent. */
  update(owner: string, id: string, changes: { name?: string | null; metadata?: Record<string, string>; expiresAfter?: StoredVectorStore['expiresAfter']; expiresAt?: number | null }): Promise<StoredVectorStore | null>;
  /** Marks the store used now (search, attach), pushing back its expiry. */
  touch(owner: string, id: string, at: number, expiresAt: number | null): Promise<void>;
  /** Deletes the store with its files and chunks (the Files themselves stay). */
  delete(owner: string, id: string): Promise<boolean>;
  fileCounts(owner: string, id: string): Promise<FileCounts>;
  /** Bytes of stored chunk text (OpenAI's usage_bytes). */
  usageBytes(owner: string, id: string): Promise<number>;

  /** Attaches a file (status in_progress); attaching it again replaces the earlier attachment. */
  addFile(file: StoredVectorStoreFile): Promise<void>;
  getFile(owner: string, vectorStoreId: string, fileId: string): Promise<StoredVectorStoreFile | null>;
  listFiles(owner: string, vectorStoreId: string, page: ListRequest, filter: { status?: VectorStoreFileStatus; batchId?: string }): Promise<PageOf<StoredVectorStoreFile>>;
  updateFileAttributes(owner: string, vectorStoreId: string, fileId: string, attributes: Attributes): Promise<StoredVectorStoreFile | null>;
  /** Replaces the file's chunks and marks it completed, atomically. False when the file is gone or not in progress. */
  completeFile(owner: string, vectorStoreId: string, fileId: string, chunks: ChunkToStore[], usageBytes: number): Promise<boolean>;
  /** Ends a file that could not be ingested (failed, with the error) or was cancelled. */
  endFile(owner: string, vectorStoreId: string, fileId: string, status: 'failed' | 'cancelled', lastError: StoredVectorStoreFile['lastError']): Promise<boolean>;
  removeFile(owner: string, vectorStoreId: string, fileId: string): Promise<boolean>;
  /** The chunk texts of one file in order (the `content` endpoint). */
  fileChunks(owner: string, vectorStoreId: string, fileId: string): Promise<string[]>;
  /**
   * Files still in_progress, whoever owns them, oldest first. After a SQLite restart their
   * ingestion jobs (held in the dead process's memory) are gone, so the server enqueues them again
   * (recoverIngestion in src/tools/file-search/ingest-file.ts).
   */
  listInProgressFiles(): Promise<Array<{ owner: string; vectorStoreId: string; fileId: string }>>;

  createBatch(batch: StoredFileBatch): Promise<void>;
  getBatch(owner: string, vectorStoreId: string, batchId: string): Promise<StoredFileBatch | null>;
  /** Sets the batch status (cancelled, or completed/failed when its last file ends). */
  setBatchStatus(owner: string, vectorStoreId: string, batchId: string, status: FileBatchStatus): Promise<void>;
  batchFileCounts(owner: string, vectorStoreId: string, batchId: string): Promise<FileCounts>;

  /** Hybrid search over the completed files of the given stores. */
  search(owner: string, vectorStoreIds: string[], request: SearchRequest): Promise<SearchHit[]>;
  /** Whether this store can do vector similarity (sqlite-vec loaded, pgvector installed). */
  readonly supportsVectors: boolean;
}
