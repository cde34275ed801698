import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineContext } from '../engine/engine-context.ts';
import type { ContentSealer } from '../engine/sealed-content.ts';
import { openSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/stores.ts';
import type { VectorStoreStore } from '../storage/vector-stores.ts';
import type { ScriptedModel } from './scripted-model.ts';
import { StaticModelRouter } from './static-model-router.ts';

/*
 * Setup shared by the engine's tests and the contract tests: a throwaway SQLite storage, an
 * EngineContext over it, and a vector store with files ready to search.
 */

export interface TemporaryStorage {
  storage: Storage;
  /** Closes the storage and removes its directory. */
  close: () => Promise<void>;
}

/** A SQLite storage in a fresh temporary directory named `prefix…`. */
export async function openTemporaryStorage(prefix: string): Promise<TemporaryStorage> {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  const storage = await openSqliteStorage({ path: join(directory, 'riposte.sqlite') });
  return {
    storage,
    close: async () => {
      await storage.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** An EngineContext of owner-a over `storage` whose only model, `test-model`, is `model`. */
export function engineContext(
  storage: Storage,
  sealer: ContentSealer,
  model: ScriptedModel,
  overrides: Partial<EngineContext> = {},
): EngineContext {
  return {
    router: new StaticModelRouter({ 'test-model': model }),
    responses: storage.responses,
    conversations: storage.conversations,
    prompts: storage.prompts,
    sealer,
    owner: 'owner-a',
    signal: new AbortController().signal,
    ...overrides,
  };
}

/**
 * Creates vector store `id` of `owner` holding one completed single-chunk file per
 * `[fileId, filename, text]`; each file's `city` attribute is its filename without the extension.
 */
export async function seedVectorStore(
  vectorStores: VectorStoreStore,
  store: { id: string; owner: string; name: string },
  files: ReadonlyArray<readonly [fileId: string, filename: string, text: string]>,
): Promise<void> {
  await vectorStores.create({
    id: store.id,
    owner: store.owner,
    name: store.name,
    createdAt: 1,
    lastActiveAt: null,
    metadata: {},
    expiresAfter: null,
    expiresAt: null,
  });
  for (const [fileId, filename, text] of files) {
    await vectorStores.addFile({
      fileId,
      vectorStoreId: store.id,
      owner: store.owner,
      createdAt: 1,
      status: 'in_progress',
      usageBytes: 0,
      lastError: null,
      chunkingStrategy: { type: 'static', static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 } },
      attributes: { city: filename.split('.')[0]! },
      batchId: null,
      filename,
    });
    await vectorStores.completeFile(
      store.owner,
      store.id,
      fileId,
      [{ index: 0, text, tokenCount: 12, embedding: null }],
      text.length,
    );
  }
}
