import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AppDependencies } from '../../app.ts';
import { invalidRequest, invalidType, invalidValue, missingParameter, notFound } from '../../errors/api-error.ts';
import { createId } from '../../engine/ids.ts';
import { parseMetadata } from '../../engine/parse-create-response.ts';
import { CursorNotFoundError } from '../../storage/cursor-not-found-error.ts';
import type {
  Attributes,
  FileCounts,
  StoredFileBatch,
  StoredVectorStore,
  StoredVectorStoreFile,
  VectorStoreFileStatus,
} from '../../storage/vector-stores.ts';
import {
  attachFiles,
  cancelBatch,
  searchMode,
  searchVectorStore,
  touchVectorStore,
  type FileToAttach,
} from '../../tools/file-search/ingest-file.ts';
import { validateChunkingStrategy } from '../../tools/file-search/chunk-text.ts';
import {
  expiryFrom,
  parseAttributeFilter,
  parseAttributes,
  parseExpiresAfter,
  parseMaxNumResults,
  parseRankingOptions,
  parseStringList,
  SEARCH_RANKERS,
} from '../../tools/file-search/vector-store-params.ts';
import { readBody } from '../read-body.ts';
import { listPage, readPageQuery } from '../pagination.ts';

/** OpenAI's limits: file_ids on create, and file_ids or files on a batch. */
const MAX_FILES_ON_CREATE = 500;
const MAX_FILES_PER_BATCH = 2000;
const FILE_STATUSES: readonly VectorStoreFileStatus[] = ['in_progress', 'completed', 'failed', 'cancelled'];
/**
 * How soon the SDKs' poll helpers (`createAndPoll`, `uploadAndPoll`) should ask again about a
 * file or batch still in progress; they read this header. Local ingestion takes moments, not the
 * SDK's default of a second or more.
 */
const POLL_AFTER_MS = '250';
/** Tells a client whether search here is hybrid (embeddings configured) or keyword only. */
export const SEARCH_MODE_HEADER = 'x-riposte-search-mode';

type StoreParams = { Params: { vector_store_id: string } };
type FileParams = { Params: { vector_store_id: string; file_id: string } };
type BatchParams = { Params: { vector_store_id: string; batch_id: string } };
type JsonObject = Record<string, unknown>;
/** An object of the API, with the id list pages name in first_id / last_id. */
type IdentifiedObject = JsonObject & { id: string };

/**
 * The Vector Stores API: stores, their files (attached, ingested in the background by the
 * ingestion worker), file batches, and search. Every lookup is scoped by the request's owner, so
 * another key's store reads as a 404, exactly like one that never existed.
 */
export function registerVectorStoreRoutes(app: FastifyInstance, dependencies: AppDependencies): void {
  const vectorStores = dependencies.storage.vectorStores;
  const ingestion = {
    vectorStores,
    files: dependencies.storage.files,
    queue: dependencies.ingestion.queue,
    embedder: dependencies.ingestion.embedder,
  };
  const mode = searchMode(ingestion);

  async function findStore(owner: string, id: string): Promise<StoredVectorStore> {
    const store = await vectorStores.get(owner, id);
    if (!store) throw notFound('Vector store', id);
    return store;
  }

  async function findFile(owner: string, storeId: string, fileId: string): Promise<StoredVectorStoreFile> {
    await findStore(owner, storeId);
    const file = await vectorStores.getFile(owner, storeId, fileId);
    if (!file) throw notFound('Vector store file', fileId);
    return file;
  }

  async function findBatch(owner: string, storeId: string, batchId: string): Promise<StoredFileBatch> {
    await findStore(owner, storeId);
    const batch = await vectorStores.getBatch(owner, storeId, batchId);
    if (!batch) throw notFound('Vector store file batch', batchId);
    return batch;
  }

  /** A store that has expired takes no files and answers no searches, as OpenAI's do. */
  function refuseIfExpired(store: StoredVectorStore, now: number): void {
    if (isExpired(store, now)) {
      throw invalidRequest(
        'vector_store_id',
        `Vector store '${store.id}' expired at ${store.expiresAt}; create a new one with the same files.`,
        'invalid_value',
      );
    }
  }

  async function storeObject(store: StoredVectorStore): Promise<IdentifiedObject> {
    const [counts, usageBytes] = await Promise.all([
      vectorStores.fileCounts(store.owner, store.id),
      vectorStores.usageBytes(store.owner, store.id),
    ]);
    return vectorStoreObject(store, counts, usageBytes, Math.floor(Date.now() / 1000));
  }

  async function batchObject(batch: StoredFileBatch): Promise<JsonObject> {
    const counts = await vectorStores.batchFileCounts(batch.owner, batch.vectorStoreId, batch.id);
    return {
      id: batch.id,
      object: 'vector_store.files_batch',
      created_at: batch.createdAt,
      vector_store_id: batch.vectorStoreId,
      status: batch.status,
      file_counts: counts,
    };
  }

  app.addHook('onSend', async (request, reply) => {
    if (request.url.startsWith('/v1/vector_stores')) reply.header(SEARCH_MODE_HEADER, mode);
  });

  app.post('/v1/vector_stores', async (request, reply) => {
    // The SDKs send `{}` for `vectorStores.create()`, but a bare POST is no mistake either.
    const body = readBody(request.body, { optional: true });
    const name = optionalString(body, 'name');
    // Accepted as OpenAI does; the vector store object has no field to show it in.
    optionalString(body, 'description');
    const metadata =
      body.metadata === undefined || body.metadata === null ? {} : parseMetadata(body.metadata, 'metadata');
    const expiresAfter =
      body.expires_after === undefined || body.expires_after === null
        ? null
        : parseExpiresAfter(body.expires_after, 'expires_after');
    const fileIds =
      body.file_ids === undefined
        ? []
        : parseStringList(body.file_ids, 'file_ids', { min: 0, max: MAX_FILES_ON_CREATE });
    const chunkingStrategy = readChunkingStrategy(body.chunking_strategy, 'chunking_strategy');
    const files = await checkFiles(
      request.owner,
      fileIds.map((fileId, index) => ({ fileId, param: `file_ids[${index}]`, attributes: {}, chunkingStrategy })),
    );
    const now = Math.floor(Date.now() / 1000);
    const store: StoredVectorStore = {
      id: createId('vs'),
      owner: request.owner,
      name,
      createdAt: now,
      lastActiveAt: now,
      metadata,
      expiresAfter,
      expiresAt: expiryFrom(expiresAfter, now),
    };
    await vectorStores.create(store);
    await attachFiles(ingestion, store, files, null, now);
    return reply.send(await storeObject(store));
  });

  app.get('/v1/vector_stores', async (request, reply) => {
    const page = readPageQuery(request.query as JsonObject, { order: 'desc', limit: 20 });
    const result = await withCursorCheck(() => vectorStores.list(request.owner, page));
    return reply.send(listPage(await Promise.all(result.items.map(storeObject)), result.hasMore));
  });

  app.get<StoreParams>('/v1/vector_stores/:vector_store_id', async (request, reply) => {
    return reply.send(await storeObject(await findStore(request.owner, request.params.vector_store_id)));
  });

  app.post<StoreParams>('/v1/vector_stores/:vector_store_id', async (request, reply) => {
    const id = request.params.vector_store_id;
    const body = readBody(request.body, { optional: true });
    const store = await findStore(request.owner, id);
    const changes: Parameters<typeof vectorStores.update>[2] = {};
    if (body.name !== undefined) changes.name = body.name === null ? null : requireString(body.name, 'name');
    // Metadata is nullable in UpdateVectorStoreRequest; null clears it.
    if (body.metadata !== undefined)
      changes.metadata = body.metadata === null ? {} : parseMetadata(body.metadata, 'metadata');
    if (body.expires_after !== undefined) {
      const expiresAfter = body.expires_after === null ? null : parseExpiresAfter(body.expires_after, 'expires_after');
      changes.expiresAfter = expiresAfter;
      // The anchor is the last activity, so a new policy counts from then, not from now.
      changes.expiresAt = expiryFrom(expiresAfter, store.lastActiveAt ?? store.createdAt);
    }
    const updated = await vectorStores.update(request.owner, id, changes);
    if (!updated) throw notFound('Vector store', id);
    return reply.send(await storeObject(updated));
  });

  app.delete<StoreParams>('/v1/vector_stores/:vector_store_id', async (request, reply) => {
    const id = request.params.vector_store_id;
    if (!(await vectorStores.delete(request.owner, id))) throw notFound('Vector store', id);
    return reply.send({ id, object: 'vector_store.deleted', deleted: true });
  });

  // ---- files ----------------------------------------------------------------------------------

  app.post<StoreParams>('/v1/vector_stores/:vector_store_id/files', async (request, reply) => {
    const body = readBody(request.body, { optional: false });
    const store = await findStore(request.owner, request.params.vector_store_id);
    const now = Math.floor(Date.now() / 1000);
    refuseIfExpired(store, now);
    const file = readFileEntry(body, null);
    const [checked] = await checkFiles(request.owner, [file]);
    const [attached] = await attachFiles(ingestion, store, [checked!], null, now);
    setPollAfter(reply, attached!.status);
    return reply.send(fileObject(attached!));
  });

  app.get<StoreParams>('/v1/vector_stores/:vector_store_id/files', async (request, reply) => {
    const storeId = request.params.vector_store_id;
    const query = request.query as JsonObject;
    const page = readPageQuery(query, { order: 'desc', limit: 20 });
    const status = readStatusFilter(query);
    await findStore(request.owner, storeId);
    const result = await withCursorCheck(() =>
      vectorStores.listFiles(request.owner, storeId, page, status === undefined ? {} : { status }),
    );
    return reply.send(listPage(result.items.map(fileObject), result.hasMore));
  });

  app.get<FileParams>('/v1/vector_stores/:vector_store_id/files/:file_id', async (request, reply) => {
    const file = await findFile(request.owner, request.params.vector_store_id, request.params.file_id);
    setPollAfter(reply, file.status);
    return reply.send(fileObject(file));
  });

  app.post<FileParams>('/v1/vector_stores/:vector_store_id/files/:file_id', async (request, reply) => {
    const { vector_store_id: storeId, file_id: fileId } = request.params;
    const body = readBody(request.body, { optional: false });
    if (body.attributes === undefined) throw missingParameter('attributes');
    const attributes = parseAttributes(body.attributes, 'attributes');
    await findFile(request.owner, storeId, fileId);
    const updated = await vectorStores.updateFileAttributes(request.owner, storeId, fileId, attributes);
    if (!updated) throw notFound('Vector store file', fileId);
    return reply.send(fileObject(updated));
  });

  app.delete<FileParams>('/v1/vector_stores/:vector_store_id/files/:file_id', async (request, reply) => {
    const { vector_store_id: storeId, file_id: fileId } = request.params;
    await findStore(request.owner, storeId);
    // The File itself stays: only its attachment (and its chunks) go, as with OpenAI.
    if (!(await vectorStores.removeFile(request.owner, storeId, fileId))) throw notFound('Vector store file', fileId);
    return reply.send({ id: fileId, object: 'vector_store.file.deleted', deleted: true });
  });

  app.get<FileParams>('/v1/vector_stores/:vector_store_id/files/:file_id/content', async (request, reply) => {
    const { vector_store_id: storeId, file_id: fileId } = request.params;
    await findFile(request.owner, storeId, fileId);
    const chunks = await vectorStores.fileChunks(request.owner, storeId, fileId);
    return reply.send({
      object: 'vector_store.file_content.page',
      data: chunks.map((text) => ({ type: 'text', text })),
      has_more: false,
      next_page: null,
    });
  });

  // ---- file batches ---------------------------------------------------------------------------

  app.post<StoreParams>('/v1/vector_stores/:vector_store_id/file_batches', async (request, reply) => {
    const body = readBody(request.body, { optional: false });
    const store = await findStore(request.owner, request.params.vector_store_id);
    const now = Math.floor(Date.now() / 1000);
    refuseIfExpired(store, now);
    const entries = readBatchEntries(body);
    const files = await checkFiles(request.owner, entries);
    const batch: StoredFileBatch = {
      id: createId('vsfb'),
      vectorStoreId: store.id,
      owner: request.owner,
      createdAt: now,
      status: 'in_progress',
    };
    await vectorStores.createBatch(batch);
    await attachFiles(ingestion, store, files, batch.id, now);
    // Small files may be done already; the batch object says where they stand right now.
    const current = (await vectorStores.getBatch(request.owner, store.id, batch.id)) ?? batch;
    setPollAfter(reply, current.status);
    return reply.send(await batchObject(current));
  });

  app.get<BatchParams>('/v1/vector_stores/:vector_store_id/file_batches/:batch_id', async (request, reply) => {
    const batch = await findBatch(request.owner, request.params.vector_store_id, request.params.batch_id);
    setPollAfter(reply, batch.status);
    return reply.send(await batchObject(batch));
  });

  app.post<BatchParams>('/v1/vector_stores/:vector_store_id/file_batches/:batch_id/cancel', async (request, reply) => {
    const batch = await findBatch(request.owner, request.params.vector_store_id, request.params.batch_id);
    const cancelled = await cancelBatch(vectorStores, batch);
    return reply.send(await batchObject(cancelled));
  });

  app.get<BatchParams>('/v1/vector_stores/:vector_store_id/file_batches/:batch_id/files', async (request, reply) => {
    const { vector_store_id: storeId, batch_id: batchId } = request.params;
    const query = request.query as JsonObject;
    const page = readPageQuery(query, { order: 'desc', limit: 20 });
    const status = readStatusFilter(query);
    await findBatch(request.owner, storeId, batchId);
    const result = await withCursorCheck(() =>
      vectorStores.listFiles(request.owner, storeId, page, status === undefined ? { batchId } : { batchId, status }),
    );
    return reply.send(listPage(result.items.map(fileObject), result.hasMore));
  });

  // ---- search ---------------------------------------------------------------------------------

  app.post<StoreParams>('/v1/vector_stores/:vector_store_id/search', async (request, reply) => {
    const body = readBody(request.body, { optional: false });
    if (body.query === undefined) throw missingParameter('query');
    const queries =
      typeof body.query === 'string'
        ? [body.query]
        : Array.isArray(body.query)
          ? parseStringList(body.query, 'query', { min: 1, max: 20 })
          : (() => {
              throw invalidType('query', 'a string or an array of strings', body.query);
            })();
    if (queries.every((query) => query.trim() === '')) {
      throw invalidRequest('query', "Invalid 'query': empty string. Expected a non-empty query.", 'empty_string');
    }
    const maxResults = parseMaxNumResults(body.max_num_results, 'max_num_results');
    const filters =
      body.filters === undefined || body.filters === null ? null : parseAttributeFilter(body.filters, 'filters');
    const scoreThreshold = parseRankingOptions(body.ranking_options, 'ranking_options', SEARCH_RANKERS);
    // Rewriting needs a model to do it; accepted, and the query is searched as given.
    if (body.rewrite_query !== undefined && typeof body.rewrite_query !== 'boolean')
      throw invalidType('rewrite_query', 'a boolean', body.rewrite_query);
    const store = await findStore(request.owner, request.params.vector_store_id);
    const now = Math.floor(Date.now() / 1000);
    refuseIfExpired(store, now);
    const hits = await searchVectorStore(
      ingestion,
      store,
      { queries, filters, maxResults, scoreThreshold },
      request.signal,
    );
    await touchVectorStore(vectorStores, store, now);
    return reply.send({
      object: 'vector_store.search_results.page',
      search_query: queries,
      data: hits.map((hit) => ({
        file_id: hit.fileId,
        filename: hit.filename,
        score: Math.min(1, Math.max(0, hit.score)),
        attributes: hit.attributes,
        content: [{ type: 'text', text: hit.text }],
      })),
      has_more: false,
      next_page: null,
    });
  });

  /**
   * Checks that every file exists for this owner before anything is written, so a typo in the
   * tenth id of a batch leaves no half-made batch behind. Repeats collapse onto their first entry.
   */
  async function checkFiles(owner: string, entries: FileEntry[]): Promise<FileToAttach[]> {
    const seen = new Set<string>();
    const checked: FileToAttach[] = [];
    for (const entry of entries) {
      if (seen.has(entry.fileId)) continue;
      seen.add(entry.fileId);
      const file = await dependencies.storage.files.get(owner, entry.fileId);
      if (!file) throw invalidValue(entry.param, `No file with id '${entry.fileId}' was found.`);
      checked.push({
        fileId: file.id,
        filename: file.filename,
        attributes: entry.attributes,
        chunkingStrategy: entry.chunkingStrategy,
      });
    }
    return checked;
  }
}

/** Whether the store's expiry has passed (it then reads `expired`). */
function isExpired(store: StoredVectorStore, now: number): boolean {
  return store.expiresAt !== null && store.expiresAt <= now;
}

/** The spec's VectorStoreObject. */
export function vectorStoreObject(
  store: StoredVectorStore,
  counts: FileCounts,
  usageBytes: number,
  now: number,
): IdentifiedObject {
  return {
    id: store.id,
    object: 'vector_store',
    created_at: store.createdAt,
    // The spec types `name` as a string; an unnamed store reads as the empty one.
    name: store.name ?? '',
    usage_bytes: usageBytes,
    file_counts: counts,
    status: isExpired(store, now) ? 'expired' : counts.in_progress > 0 ? 'in_progress' : 'completed',
    // expires_after is optional and not nullable in the spec: absent when there is no policy.
    ...(store.expiresAfter === null ? {} : { expires_after: store.expiresAfter }),
    expires_at: store.expiresAt,
    last_active_at: store.lastActiveAt,
    metadata: store.metadata,
  };
}

/** The spec's VectorStoreFileObject. */
function fileObject(file: StoredVectorStoreFile): IdentifiedObject {
  return {
    id: file.fileId,
    object: 'vector_store.file',
    usage_bytes: file.usageBytes,
    created_at: file.createdAt,
    vector_store_id: file.vectorStoreId,
    status: file.status,
    last_error: file.lastError,
    chunking_strategy: file.chunkingStrategy,
    attributes: file.attributes,
  };
}

function setPollAfter(reply: FastifyReply, status: string): void {
  if (status === 'in_progress') reply.header('openai-poll-after-ms', POLL_AFTER_MS);
}

interface FileEntry {
  fileId: string;
  /** Where the id was in the request, for the error naming it. */
  param: string;
  attributes: Attributes;
  chunkingStrategy: FileToAttach['chunkingStrategy'];
}

/** One `{file_id, attributes?, chunking_strategy?}`: the body of POST …/files, or an entry of `files`. */
function readFileEntry(
  entry: JsonObject,
  prefix: string | null,
  defaults?: Omit<FileEntry, 'fileId' | 'param'>,
): FileEntry {
  const param = (name: string): string => (prefix === null ? name : `${prefix}.${name}`);
  if (entry.file_id === undefined) throw missingParameter(param('file_id'));
  const fileId = requireString(entry.file_id, param('file_id'));
  const attributes =
    entry.attributes === undefined
      ? (defaults?.attributes ?? {})
      : parseAttributes(entry.attributes, param('attributes'));
  const chunkingStrategy =
    entry.chunking_strategy === undefined && defaults
      ? defaults.chunkingStrategy
      : readChunkingStrategy(entry.chunking_strategy, param('chunking_strategy'));
  return { fileId, param: param('file_id'), attributes, chunkingStrategy };
}

/** A batch names its files by `file_ids` (sharing `attributes` and `chunking_strategy`) or by `files`. */
function readBatchEntries(body: JsonObject): FileEntry[] {
  const hasIds = body.file_ids !== undefined;
  const hasFiles = body.files !== undefined;
  if (hasIds && hasFiles) {
    throw invalidRequest('files', "Provide either 'file_ids' or 'files', not both.", 'mutually_exclusive_parameters');
  }
  if (!hasIds && !hasFiles) throw missingParameter('file_ids');
  const shared = {
    attributes: body.attributes === undefined ? {} : parseAttributes(body.attributes, 'attributes'),
    chunkingStrategy: readChunkingStrategy(body.chunking_strategy, 'chunking_strategy'),
  };
  if (hasIds) {
    return parseStringList(body.file_ids, 'file_ids', { min: 1, max: MAX_FILES_PER_BATCH }).map((fileId, index) => ({
      fileId,
      param: `file_ids[${index}]`,
      ...shared,
    }));
  }
  if (!Array.isArray(body.files)) throw invalidType('files', 'an array', body.files);
  if (body.files.length === 0) {
    throw invalidRequest(
      'files',
      "Invalid 'files': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      'empty_array',
    );
  }
  if (body.files.length > MAX_FILES_PER_BATCH) {
    throw invalidRequest(
      'files',
      `Invalid 'files': array too long. Expected an array with maximum length ${MAX_FILES_PER_BATCH}, but got an array with length ${body.files.length} instead.`,
      'array_above_max_length',
    );
  }
  return body.files.map((entry: unknown, index) => {
    const param = `files[${index}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw invalidType(param, 'an object', entry);
    return readFileEntry(entry as JsonObject, param, shared);
  });
}

/** A request's `chunking_strategy` (absent: auto) as the file will echo it. */
function readChunkingStrategy(value: unknown, param: string): FileToAttach['chunkingStrategy'] {
  return { ...validateChunkingStrategy(value, param).responseObject };
}

function readStatusFilter(query: JsonObject): VectorStoreFileStatus | undefined {
  const filter = query.filter;
  if (filter === undefined || filter === '') return undefined;
  const status = FILE_STATUSES.find((candidate) => candidate === filter);
  if (status === undefined) {
    throw invalidValue(
      'filter',
      `Invalid value for 'filter': expected one of ${FILE_STATUSES.map((name) => `'${name}'`).join(', ')}, got ${JSON.stringify(filter)}.`,
    );
  }
  return status;
}

function optionalString(body: JsonObject, name: string): string | null {
  const value = body[name];
  if (value === undefined || value === null) return null;
  return requireString(value, name);
}

function requireString(value: unknown, param: string): string {
  if (typeof value !== 'string') throw invalidType(param, 'a string', value);
  return value;
}

async function withCursorCheck<Result>(read: () => Promise<Result>): Promise<Result> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof CursorNotFoundError) throw invalidRequest(error.param, error.message, 'invalid_value');
    throw error;
  }
}
