import type { ConversationStore, PromptStore, ResponseStore } from '../storage/stores.ts';
import type { VectorStoreStore } from '../storage/vector-stores.ts';
import type { QueryEmbedder } from '../tools/file-search/file-search-tool.ts';
import type { ModelRouter } from './model-router.ts';
import type { FileSource } from './resolve-input-files.ts';
import type { ContentSealer } from './sealed-content.ts';

/** What the engine needs from the process around it. */
export interface EngineContext {
  router: ModelRouter;
  responses: ResponseStore;
  conversations: ConversationStore;
  prompts: PromptStore;
  sealer: ContentSealer;
  /** For the file_search tool; absent where vector stores are not available. */
  vectorStores?: VectorStoreStore;
  /** Uploaded Files, for input parts that name one by file_id; absent: such parts are a 400. */
  files?: FileSource;
  /** Embeds search queries; null or absent: keyword search only. */
  embedder?: QueryEmbedder | null;
  /** The project of the API key making the request; every stored read and write is scoped by it. */
  owner: string;
  /** Aborted when the client goes away (or the server shuts down). */
  signal: AbortSignal;
  /** Extra model calls allowed when output does not match a strict schema. Default 2. */
  structuredOutputRetries?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** Where unexpected failures are reported. */
  logError?: (error: unknown, message: string) => void;
}
