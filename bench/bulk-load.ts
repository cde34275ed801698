/**
 * Vector-store content written straight through the store API, for the search benchmarks: the
 * upload and ingestion path is not what they measure, and going through it would take far longer.
 */
import type { Attributes, ChunkToStore, VectorStoreStore } from '../src/storage/vector-stores.ts';

/** An empty vector store named after its id. */
export async function createBenchStore(vectorStores: VectorStoreStore, owner: string, storeId: string): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  await vectorStores.create({
    id: storeId,
    owner,
    name: storeId,
    createdAt: now,
    lastActiveAt: now,
    metadata: {},
    expiresAfter: null,
    expiresAt: null,
  });
}

/** A file attached and completed with the given chunks, as ingestion would leave it. */
export async function addCompletedFile(
  vectorStores: VectorStoreStore,
  file: {
    owner: string;
    storeId: string;
    fileId: string;
    filename: string;
    attributes: Attributes;
    chunks: ChunkToStore[];
  },
): Promise<void> {
  await vectorStores.addFile({
    fileId: file.fileId,
    vectorStoreId: file.storeId,
    owner: file.owner,
    createdAt: Math.floor(Date.now() / 1000),
    status: 'in_progress',
    usageBytes: 0,
    lastError: null,
    chunkingStrategy: { type: 'static', static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 } },
    attributes: file.attributes,
    batchId: null,
    filename: file.filename,
  });
  // OpenAI's usage_bytes counts what the store keeps: the chunk text.
  const usageBytes = file.chunks.reduce((sum, chunk) => sum + Buffer.byteLength(chunk.text), 0);
  if (!(await vectorStores.completeFile(file.owner, file.storeId, file.fileId, file.chunks, usageBytes))) {
    throw new Error(`completeFile refused ${file.fileId}`);
  }
}
