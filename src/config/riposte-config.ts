/** The resolved configuration every part of Riposte reads. Built by loadConfig. */
export interface RiposteConfig {
  host: string;
  port: number;
  dataDirectory: string;
  /** PostgreSQL instead of SQLite when set. */
  databaseUrl: string | null;
  /** Largest accepted request body, bytes. */
  bodyLimitBytes: number;
  /** Largest file POST /v1/files takes, bytes (OpenAI's limit, 512 MB, by default). */
  maxFileBytes: number;
  apiKeys: ApiKeyConfig[];
  providers: Map<string, ProviderConfig>;
  models: ModelConfig[];
  /** 32-byte key for encrypted_content; generated into the data dir when not configured. */
  encryptionKey: Buffer | null;
  structuredOutputRetries: number;
  /** Background responses one process runs at once. */
  backgroundConcurrency: number;
  /** How long the event logs and requests of finished background responses are kept. */
  backgroundRetentionSeconds: number;
  /** On SIGTERM, how long running background responses may take before they are interrupted. */
  shutdownGraceMs: number;
  /**
   * PostgreSQL: a background response in progress whose replica has not refreshed its heartbeat
   * for this long is taken to have died with it and is ended as interrupted.
   */
  backgroundStaleSeconds: number;
  /** PostgreSQL: pg-boss's schema (its job tables), beside the store's tables. */
  jobsSchema: string;
  /** The embeddings provider for file_search's hybrid search; null: keyword search only. */
  embeddings: EmbeddingsConfig | null;
  /** Where the bytes of files live: `${dataDirectory}/blobs` by default, or an S3-compatible bucket. */
  blobs: BlobsConfig;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** An OpenAI-compatible `/embeddings` endpoint (OpenAI, vLLM, Ollama, llama.cpp, TEI…). */
export interface EmbeddingsConfig {
  /** Up to and including `/v1`, e.g. `http://127.0.0.1:11434/v1`. */
  baseUrl: string;
  apiKey: string | null;
  model: string;
  /** Asked of models that can shorten their vectors (text-embedding-3-*); null: the model's own size. */
  dimensions: number | null;
}

export type BlobsConfig = { type: 'local' } | S3BlobsConfig;

/** An S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, Ceph…), which several replicas can share. */
export interface S3BlobsConfig {
  type: 's3';
  /** e.g. `https://s3.us-east-1.amazonaws.com`, `http://minio:9000`. */
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Put before every object key, e.g. `riposte/`; '' for none. */
  prefix: string;
  /** Path-style URLs (`endpoint/bucket/key`), which most self-hosted servers need. */
  forcePathStyle: boolean;
}

export interface ApiKeyConfig {
  /** SHA-256 of the key, hex. Keys given in plain text are hashed at load and never kept. */
  sha256: string;
  /** Keys of the same project see the same data; each key is its own project by default. */
  project: string;
}

export interface ProviderConfig {
  name: string;
  type: 'openai-chat';
  baseUrl: string;
  apiKey: string | null;
  headers: Record<string, string>;
  timeoutMs: number;
  maxRetries: number;
  contextWindow: number;
  /** The upstream enforces json_schema response formats itself. */
  enforcesJsonSchema: boolean;
  /** Use streaming Chat Completions calls (default) or plain ones. */
  streaming: boolean;
  /** The upstream's tokenize endpoint for exact input token counts; null: estimate locally. */
  tokenizeEndpoint: 'vllm' | 'llama.cpp' | null;
}

export interface ModelConfig {
  /** A public model name; `*` matches any run of characters. */
  name: string;
  provider: string;
  /** The name sent upstream; null sends the requested name as it is. */
  upstreamModel: string | null;
  contextWindow: number | null;
}

export const DEFAULT_CONTEXT_WINDOW = 128_000;
