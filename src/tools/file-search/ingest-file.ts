/**
 * Ingestion: attaching Files to vector stores and turning each into searchable chunks in the
 * background. A route attaches (status `in_progress`) and enqueues one IngestionJob per file; the
 * worker reads the File's bytes, extracts the text, chunks it with the file's strategy, embeds
 * the chunks when an embeddings provider is configured, and stores them. A file that cannot be
 * read fails alone, with a `last_error`; the rest of its batch goes on.
 */
import { buffer } from 'node:stream/consumers';
import type { IngestionJob, JobQueue } from '../../jobs/job-queue.ts';
import type { BlobStore } from '../../storage/blobs/blob-store.ts';
import type { FileStore } from '../../storage/stores.ts';
import type {
  Attributes,
  AttributeFilter,
  ChunkToStore,
  StoredFileBatch,
  StoredVectorStore,
  StoredVectorStoreFile,
  VectorStoreStore,
  SearchHit,
} from '../../storage/vector-stores.ts';
import {
  DEFAULT_CHUNKING_STRATEGY,
  chunkText,
  loadChunkingTokenCounter,
  validateChunkingStrategy,
  type ChunkingStrategy,
} from './chunk-text.ts';
import type { QueryEmbedder } from './file-search-tool.ts';
import { expiryFrom } from './vector-store-params.ts';

/** What attaching and searching need. */
export interface VectorStoreServices {
  vectorStores: VectorStoreStore;
  files: FileStore;
  queue: JobQueue<IngestionJob>;
  /** Null when no embeddings provider is configured: keyword search only. */
  embedder: QueryEmbedder | null;
}

/** What the ingestion worker needs: the services, and the bytes of Files. */
export interface IngestionServices extends VectorStoreServices {
  blobs: BlobStore;
  /** Told about failures no request waits on (a store write that failed, say). */
  logError?: (error: unknown, message: string) => void;
}

/** A File about to be attached, checked to exist. */
export interface FileToAttach {
  fileId: string;
  filename: string;
  attributes: Attributes;
  /** As echoed on the vector-store file: `{type: 'static', static: {…}}`. */
  chunkingStrategy: StoredVectorStoreFile['chunkingStrategy'];
}

/** Ingestion jobs one process runs at once: extraction is CPU-bound, embedding waits on the network. */
export const DEFAULT_INGESTION_CONCURRENCY = 4;

/** `hybrid` when chunks and queries are embedded and the store can compare vectors; else `keyword`. */
export function searchMode(services: Pick<VectorStoreServices, 'embedder' | 'vectorStores'>): 'hybrid' | 'keyword' {
  return services.embedder !== null && services.vectorStores.supportsVectors ? 'hybrid' : 'keyword';
}

/**
 * Attaches checked files to a store (in progress), enqueues their ingestion, and marks the store
 * active. Returns the attachments as stored.
 */
export async function attachFiles(
  services: VectorStoreServices,
  store: StoredVectorStore,
  files: FileToAttach[],
  batchId: string | null,
  now: number,
): Promise<StoredVectorStoreFile[]> {
  const attached: StoredVectorStoreFile[] = [];
  for (const file of files) {
    const record: StoredVectorStoreFile = {
      fileId: file.fileId,
      vectorStoreId: store.id,
      owner: store.owner,
      createdAt: now,
      status: 'in_progress',
      usageBytes: 0,
      lastError: null,
      chunkingStrategy: file.chunkingStrategy,
      attributes: file.attributes,
      batchId,
      filename: file.filename,
    };
    await services.vectorStores.addFile(record);
    attached.push(record);
  }
  // Enqueued once every attachment is written, so a fast worker never finds its batch half made
  // and ends it early.
  for (const file of attached) {
    await services.queue.enqueue({ owner: store.owner, vectorStoreId: store.id, fileId: file.fileId });
  }
  if (files.length > 0) await touchVectorStore(services.vectorStores, store, now);
  return attached;
}

/** Marks the store used now, which pushes back an expiry anchored on last activity. */
export async function touchVectorStore(
  vectorStores: VectorStoreStore,
  store: StoredVectorStore,
  now: number,
): Promise<void> {
  await vectorStores.touch(store.owner, store.id, now, expiryFrom(store.expiresAfter, now));
}

/**
 * Searches one store: hybrid when embeddings are configured and the store can compare vectors,
 * keyword (BM25 / full-text) otherwise.
 */
export async function searchVectorStore(
  services: Pick<VectorStoreServices, 'vectorStores' | 'embedder'>,
  store: StoredVectorStore,
  request: { queries: string[]; filters: AttributeFilter | null; maxResults: number; scoreThreshold: number },
  signal: AbortSignal,
): Promise<SearchHit[]> {
  const queries = request.queries.map((query) => query.trim()).filter(Boolean);
  const queryEmbeddings =
    searchMode(services) === 'hybrid' && services.embedder ? await services.embedder.embed(queries, signal) : null;
  return services.vectorStores.search(store.owner, [store.id], {
    queries,
    queryEmbeddings,
    filters: request.filters,
    maxResults: request.maxResults,
    scoreThreshold: request.scoreThreshold,
  });
}

/**
 * Cancels a batch: it reads `cancelled` at once, and its files still waiting or running end
 * `cancelled` (a worker finishing one of them then finds it no longer in progress and stores
 * nothing). Files that already ended keep their status and chunks.
 */
export async function cancelBatch(vectorStores: VectorStoreStore, batch: StoredFileBatch): Promise<StoredFileBatch> {
  if (batch.status !== 'in_progress') return batch;
  // The status first: the last worker to finish must not then end the batch `completed`.
  await vectorStores.setBatchStatus(batch.owner, batch.vectorStoreId, batch.id, 'cancelled');
  for (;;) {
    const page = await vectorStores.listFiles(
      batch.owner,
      batch.vectorStoreId,
      { after: null, before: null, limit: 100, order: 'asc' },
      { status: 'in_progress', batchId: batch.id },
    );
    for (const file of page.items) {
      await vectorStores.endFile(batch.owner, batch.vectorStoreId, file.fileId, 'cancelled', null);
    }
    // Ended files leave the `in_progress` filter, so the first page is always the next one.
    if (!page.hasMore || page.items.length === 0) break;
  }
  return { ...batch, status: 'cancelled' };
}

/**
 * The ingestion job handler. Never throws for a bad file: the file ends failed with a
 * `last_error`, and its batch goes on. When the queue stops (`signal`), it returns leaving the file
 * in progress, so the job runs again (handed back, or re-enqueued at the next start).
 */
export async function ingestFile(job: IngestionJob, services: IngestionServices, signal: AbortSignal): Promise<void> {
  const { owner, vectorStoreId, fileId } = job;
  const { vectorStores } = services;
  const attached = await vectorStores.getFile(owner, vectorStoreId, fileId);
  // Removed, its store deleted, or ended (cancelled) while the job waited: nothing to do.
  if (!attached || attached.status !== 'in_progress') return;
  let outcome:
    { chunks: ChunkToStore[]; usageBytes: number } | { error: NonNullable<StoredVectorStoreFile['lastError']> };
  try {
    outcome = await buildChunks(attached, services, signal);
  } catch (error) {
    if (signal.aborted) return;
    services.logError?.(error, `ingesting ${fileId} into ${vectorStoreId} failed`);
    outcome = { error: { code: 'server_error', message: 'The server failed while processing this file.' } };
  }
  if (signal.aborted) return;
  if ('error' in outcome) {
    await vectorStores.endFile(owner, vectorStoreId, fileId, 'failed', outcome.error);
  } else {
    await vectorStores.completeFile(owner, vectorStoreId, fileId, outcome.chunks, outcome.usageBytes);
  }
  if (attached.batchId !== null) await settleBatch(vectorStores, owner, vectorStoreId, attached.batchId);
}

/** Reads, extracts, chunks and embeds one file; a file that is the problem comes back as an error. */
async function buildChunks(
  attached: StoredVectorStoreFile,
  services: IngestionServices,
  signal: AbortSignal,
): Promise<
  { chunks: ChunkToStore[]; usageBytes: number } | { error: NonNullable<StoredVectorStoreFile['lastError']> }
> {
  const file = await services.files.get(attached.owner, attached.fileId);
  if (!file) return { error: { code: 'invalid_file', message: 'The file was deleted before it could be processed.' } };
  const stream = await services.blobs.get(file.blobKey);
  if (!stream) return { error: { code: 'server_error', message: "The file's contents are missing from storage." } };
  const bytes = await buffer(stream);
  // Loaded on first use: the PDF, DOCX and HTML readers take most of a second to import, which
  // every start-up (and `riposte --help`) would otherwise pay.
  const { ExtractionError, extractText } = await import('./extract-text.ts');
  let text: string;
  try {
    text = (await extractText(bytes, file.filename, file.mimeType)).text;
  } catch (error) {
    if (error instanceof ExtractionError) return { error: error.toLastError() };
    throw error;
  }
  if (text.trim() === '') return { error: { code: 'invalid_file', message: 'The file contains no text to search.' } };
  const pieces = chunkText(text, strategyOf(attached), await loadChunkingTokenCounter());
  const embeddings =
    searchMode(services) === 'hybrid' && services.embedder !== null
      ? await services.embedder.embed(
          pieces.map((piece) => piece.text),
          signal,
        )
      : null;
  const chunks = pieces.map((piece, index) => ({
    index,
    text: piece.text,
    tokenCount: piece.tokenCount,
    embedding: embeddings?.[index] ?? null,
  }));
  // OpenAI's usage_bytes counts what the store keeps: the chunk text.
  const usageBytes = chunks.reduce((total, chunk) => total + Buffer.byteLength(chunk.text), 0);
  return { chunks, usageBytes };
}

/** The stored `chunking_strategy` (as echoed) back as settings; `other` (never written here) means auto. */
function strategyOf(attached: StoredVectorStoreFile): ChunkingStrategy {
  return attached.chunkingStrategy.type === 'static'
    ? validateChunkingStrategy(attached.chunkingStrategy).strategy
    : DEFAULT_CHUNKING_STRATEGY;
}

/**
 * Ends a batch whose last file has ended: `failed` when every file failed, `completed` otherwise
 * (file_counts says how many failed). Each worker checks after its own write, so whichever ends
 * the last file sees none left in progress.
 */
export async function settleBatch(
  vectorStores: VectorStoreStore,
  owner: string,
  vectorStoreId: string,
  batchId: string,
): Promise<void> {
  const batch = await vectorStores.getBatch(owner, vectorStoreId, batchId);
  if (!batch || batch.status !== 'in_progress') return;
  const counts = await vectorStores.batchFileCounts(owner, vectorStoreId, batchId);
  if (counts.in_progress > 0) return;
  const status = counts.completed === 0 && counts.failed > 0 ? 'failed' : 'completed';
  await vectorStores.setBatchStatus(owner, vectorStoreId, batchId, status);
}

/**
 * After a restart (SQLite, one process): files left in progress are ingested again — their jobs
 * lived in the dead process's memory. Ingestion is idempotent (completeFile replaces the chunks),
 * so a file that was half done simply starts over.
 */
export async function recoverIngestion(services: Pick<VectorStoreServices, 'vectorStores' | 'queue'>): Promise<number> {
  const unfinished = await services.vectorStores.listInProgressFiles();
  for (const file of unfinished) {
    await services.queue.enqueue({ owner: file.owner, vectorStoreId: file.vectorStoreId, fileId: file.fileId });
  }
  return unfinished.length;
}

/** Told on a file whose ingestion was given up: every attempt failed without ending it. */
export const ABANDONED_INGESTION_ERROR = {
  code: 'server_error',
  message: 'The server could not finish processing this file after several attempts.',
} as const;

/**
 * The handler for ingestion jobs that failed on every attempt (PostgreSQL's dead-letter queue): a
 * store write kept failing, or each replica that took the job died. The file, if still in
 * progress, ends failed with a server_error, and its batch settles, so a client polling it sees
 * an end instead of waiting for ever. A file that ended meanwhile is left as it is.
 */
export async function abandonIngestion(
  job: IngestionJob,
  services: Pick<VectorStoreServices, 'vectorStores'>,
): Promise<void> {
  const { owner, vectorStoreId, fileId } = job;
  const attached = await services.vectorStores.getFile(owner, vectorStoreId, fileId);
  if (!attached || attached.status !== 'in_progress') return;
  await services.vectorStores.endFile(owner, vectorStoreId, fileId, 'failed', { ...ABANDONED_INGESTION_ERROR });
  if (attached.batchId !== null) await settleBatch(services.vectorStores, owner, vectorStoreId, attached.batchId);
}

/** Starts taking ingestion jobs from the queue. */
export async function startIngestionWorker(
  services: IngestionServices,
  concurrency = DEFAULT_INGESTION_CONCURRENCY,
): Promise<void> {
  await services.queue.start(async (job, signal) => {
    try {
      await ingestFile(job, services, signal);
    } catch (error) {
      // A store write failed: the file stays in progress. Rethrown so that pg-boss retries the
      // job; on SQLite it runs again at the next start.
      services.logError?.(error, `ingestion job for ${job.fileId} failed`);
      throw error;
    }
  }, concurrency);
}
