import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import {
  DEFAULT_CONTEXT_WINDOW,
  type ApiKeyConfig,
  type BlobsConfig,
  type EmbeddingsConfig,
  type ModelConfig,
  type ProviderConfig,
  type RiposteConfig,
} from './riposte-config.ts';

/** A configuration mistake, naming the key at fault. Start-up prints it and stops. */
export class ConfigError extends Error {
  constructor(key: string, problem: string) {
    super(`Invalid configuration: ${key}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/** Values from command-line flags; absent ones fall back to the environment, then the file. */
export interface ConfigFlags {
  host?: string;
  port?: string;
  dataDir?: string;
  config?: string;
  databaseUrl?: string;
  upstreamUrl?: string;
  upstreamApiKey?: string;
  apiKeys?: string[];
  logLevel?: string;
}

type Environment = Record<string, string | undefined>;
type Raw = Record<string, unknown>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const KNOWN_TOP_LEVEL_KEYS = new Set([
  'host',
  'port',
  'data_dir',
  'database_url',
  'body_limit_bytes',
  'max_file_bytes',
  'api_keys',
  'providers',
  'models',
  'encryption_key',
  'structured_output_retries',
  'background_concurrency',
  'background_retention_seconds',
  'shutdown_grace_ms',
  'background_stale_seconds',
  'jobs_schema',
  'embeddings',
  'blobs',
  'log_level',
]);

/**
 * Builds the configuration from flags, then `RIPOSTE_*` environment variables, then the config
 * file (YAML or JSON), then defaults — the first that sets a value wins.
 */
export function loadConfig(flags: ConfigFlags, environment: Environment = process.env): RiposteConfig {
  const configPath = flags.config ?? environment.RIPOSTE_CONFIG;
  const file = configPath ? readConfigFile(configPath) : {};
  for (const key of Object.keys(file)) {
    if (!KNOWN_TOP_LEVEL_KEYS.has(key))
      throw new ConfigError(key, `unknown key (known keys: ${[...KNOWN_TOP_LEVEL_KEYS].join(', ')})`);
  }
  const pick = (flag: string | undefined, variable: string, key: string): unknown =>
    flag ?? environment[variable] ?? file[key];

  const providers = readProviders(file.providers, environment);
  const models = readModels(file.models, providers);
  const upstreamUrl = flags.upstreamUrl ?? environment.RIPOSTE_UPSTREAM_URL;
  if (upstreamUrl !== undefined) {
    // The shortcut: one OpenAI-compatible upstream that serves every model name.
    const apiKey = flags.upstreamApiKey ?? environment.RIPOSTE_UPSTREAM_API_KEY ?? null;
    providers.set(
      'upstream',
      readProvider(
        'upstream',
        { type: 'openai-chat', base_url: upstreamUrl, api_key: apiKey },
        environment,
        '--upstream-url',
      ),
    );
    models.push({ name: '*', provider: 'upstream', upstreamModel: null, contextWindow: null });
  }

  const apiKeys = readApiKeys(file.api_keys);
  const plainKeys = flags.apiKeys?.length
    ? flags.apiKeys
    : (environment.RIPOSTE_API_KEYS?.split(',')
        .map((key) => key.trim())
        .filter(Boolean) ?? []);
  for (const key of plainKeys) apiKeys.push({ sha256: sha256(key), project: `key-${sha256(key).slice(0, 12)}` });

  const logLevel = readString(pick(flags.logLevel, 'RIPOSTE_LOG_LEVEL', 'log_level') ?? 'info', 'log_level');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel))
    throw new ConfigError('log_level', `must be one of ${LOG_LEVELS.join(', ')}`);

  const encryptionKeyText = pick(undefined, 'RIPOSTE_ENCRYPTION_KEY', 'encryption_key');
  return {
    host: readString(pick(flags.host, 'RIPOSTE_HOST', 'host') ?? '127.0.0.1', 'host'),
    port: readInteger(pick(flags.port, 'RIPOSTE_PORT', 'port') ?? 8080, 'port', 0, 65535),
    dataDirectory: readString(pick(flags.dataDir, 'RIPOSTE_DATA_DIR', 'data_dir') ?? './data', 'data_dir'),
    databaseUrl: readDatabaseUrl(pick(flags.databaseUrl, 'RIPOSTE_DATABASE_URL', 'database_url')),
    bodyLimitBytes: readInteger(
      pick(undefined, 'RIPOSTE_BODY_LIMIT_BYTES', 'body_limit_bytes') ?? 50 * 1024 * 1024,
      'body_limit_bytes',
      1024,
      2 ** 31,
    ),
    maxFileBytes: readInteger(
      pick(undefined, 'RIPOSTE_MAX_FILE_BYTES', 'max_file_bytes') ?? 512 * 1024 * 1024,
      'max_file_bytes',
      1,
      2 ** 40,
    ),
    apiKeys,
    providers,
    models,
    encryptionKey: encryptionKeyText === undefined ? null : readEncryptionKey(encryptionKeyText),
    structuredOutputRetries: readInteger(file.structured_output_retries ?? 2, 'structured_output_retries', 0, 10),
    backgroundConcurrency: readInteger(file.background_concurrency ?? 8, 'background_concurrency', 1, 1000),
    backgroundRetentionSeconds: readInteger(
      file.background_retention_seconds ?? 7 * 24 * 3600,
      'background_retention_seconds',
      60,
      10 * 365 * 24 * 3600,
    ),
    shutdownGraceMs: readInteger(file.shutdown_grace_ms ?? 10_000, 'shutdown_grace_ms', 0, 3_600_000),
    backgroundStaleSeconds: readInteger(file.background_stale_seconds ?? 120, 'background_stale_seconds', 2, 86_400),
    jobsSchema: readSchemaName(file.jobs_schema ?? 'riposte_jobs', 'jobs_schema'),
    embeddings: readEmbeddings(file.embeddings, environment),
    blobs: readBlobs(file.blobs, environment),
    logLevel: logLevel as RiposteConfig['logLevel'],
  };
}

const EMBEDDINGS_KEYS = new Set(['base_url', 'api_key', 'api_key_env', 'model', 'dimensions']);

/** `embeddings: {base_url, api_key | api_key_env, model, dimensions?}`; absent or null: none. */
function readEmbeddings(value: unknown, environment: Environment): EmbeddingsConfig | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw new ConfigError('embeddings', 'must be an object with base_url and model');
  rejectUnknownKeys(value, EMBEDDINGS_KEYS, 'embeddings');
  const baseUrl = readString(value.base_url, 'embeddings.base_url');
  if (!/^https?:\/\//.test(baseUrl) || !URL.canParse(baseUrl))
    throw new ConfigError('embeddings.base_url', `'${baseUrl}' is not an http(s) URL`);
  if (value.api_key !== undefined && value.api_key_env !== undefined)
    throw new ConfigError('embeddings.api_key_env', 'give api_key or api_key_env, not both');
  let apiKey: string | null =
    value.api_key === undefined || value.api_key === null ? null : readString(value.api_key, 'embeddings.api_key');
  if (value.api_key_env !== undefined) {
    const variable = readString(value.api_key_env, 'embeddings.api_key_env');
    apiKey = environment[variable] ?? null;
    if (apiKey === null)
      throw new ConfigError('embeddings.api_key_env', `the environment variable ${variable} is not set`);
  }
  const model = readString(value.model, 'embeddings.model');
  return {
    baseUrl: baseUrl.replace(/\/+$/, ''),
    apiKey,
    model,
    dimensions:
      value.dimensions === undefined || value.dimensions === null
        ? null
        : readInteger(value.dimensions, 'embeddings.dimensions', 1, 65_536),
  };
}

const S3_BLOBS_KEYS = new Set([
  'type',
  'endpoint',
  'bucket',
  'region',
  'access_key_id',
  'access_key_id_env',
  'secret_access_key',
  'secret_access_key_env',
  'prefix',
  'force_path_style',
]);

/**
 * `blobs: {type: local}` (the default: `${data_dir}/blobs`) or `blobs: {type: s3, endpoint, bucket,
 * region, access_key_id | access_key_id_env, secret_access_key | secret_access_key_env, prefix?,
 * force_path_style?}`.
 */
function readBlobs(value: unknown, environment: Environment): BlobsConfig {
  if (value === undefined || value === null) return { type: 'local' };
  if (!isObject(value)) throw new ConfigError('blobs', 'must be an object with a type (local or s3)');
  if (value.type === 'local') {
    rejectUnknownKeys(value, new Set(['type']), 'blobs');
    return { type: 'local' };
  }
  if (value.type !== 's3')
    throw new ConfigError('blobs.type', `must be local or s3 (got ${JSON.stringify(value.type)})`);
  rejectUnknownKeys(value, S3_BLOBS_KEYS, 'blobs');
  const endpoint = readString(value.endpoint, 'blobs.endpoint');
  if (!/^https?:\/\//.test(endpoint) || !URL.canParse(endpoint))
    throw new ConfigError('blobs.endpoint', `'${endpoint}' is not an http(s) URL`);
  const bucket = readString(value.bucket, 'blobs.bucket');
  // S3's bucket naming rules, loosely: enough to catch a URL or a path given by mistake.
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    throw new ConfigError('blobs.bucket', 'must be a bucket name (3 to 63 lower-case letters, digits, . and -)');
  const prefix = value.prefix === undefined || value.prefix === null ? '' : readString(value.prefix, 'blobs.prefix');
  if (prefix !== '' && !/^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*\/?$/.test(prefix))
    throw new ConfigError(
      'blobs.prefix',
      'must be segments of letters, digits, ., _, - (not starting with .) separated by /, like riposte/',
    );
  return {
    type: 's3',
    endpoint: endpoint.replace(/\/+$/, ''),
    bucket,
    region: readString(value.region, 'blobs.region'),
    accessKeyId: readSecret(value, 'access_key_id', 'blobs', environment),
    secretAccessKey: readSecret(value, 'secret_access_key', 'blobs', environment),
    prefix,
    forcePathStyle: readBoolean(value.force_path_style ?? false, 'blobs.force_path_style'),
  };
}

/** `field` inline or `${field}_env` naming an environment variable; exactly one of them. */
function readSecret(entry: Raw, field: string, key: string, environment: Environment): string {
  const inline = entry[field];
  const variableKey = `${field}_env`;
  if (inline !== undefined && entry[variableKey] !== undefined)
    throw new ConfigError(`${key}.${variableKey}`, `give ${field} or ${variableKey}, not both`);
  if (entry[variableKey] === undefined) {
    if (inline === undefined) throw new ConfigError(`${key}.${field}`, `is required (or ${variableKey})`);
    return readString(inline, `${key}.${field}`);
  }
  const variable = readString(entry[variableKey], `${key}.${variableKey}`);
  const secret = environment[variable];
  if (secret === undefined || secret === '')
    throw new ConfigError(`${key}.${variableKey}`, `the environment variable ${variable} is not set`);
  return secret;
}

function readConfigFile(path: string): Raw {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError('--config', `cannot read ${path} (${(error as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(
      '--config',
      `${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'} (${(error as Error).message})`,
    );
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isObject(parsed)) throw new ConfigError('--config', `${path} must hold an object at its top level`);
  return parsed;
}

function readProviders(value: unknown, environment: Environment): Map<string, ProviderConfig> {
  const providers = new Map<string, ProviderConfig>();
  if (value === undefined || value === null) return providers;
  if (!isObject(value)) throw new ConfigError('providers', 'must be a map of provider names to settings');
  for (const [name, settings] of Object.entries(value)) {
    providers.set(name, readProvider(name, settings, environment, `providers.${name}`));
  }
  return providers;
}

const PROVIDER_KEYS = new Set([
  'type',
  'base_url',
  'api_key',
  'api_key_env',
  'headers',
  'timeout_ms',
  'max_retries',
  'context_window',
  'enforces_json_schema',
  'streaming',
  'tokenize_endpoint',
]);

function readProvider(name: string, settings: unknown, environment: Environment, key: string): ProviderConfig {
  if (!isObject(settings)) throw new ConfigError(key, 'must be an object');
  for (const field of Object.keys(settings)) {
    if (!PROVIDER_KEYS.has(field))
      throw new ConfigError(`${key}.${field}`, `unknown key (known keys: ${[...PROVIDER_KEYS].join(', ')})`);
  }
  const type = settings.type ?? 'openai-chat';
  if (type !== 'openai-chat')
    throw new ConfigError(`${key}.type`, `unsupported provider type ${JSON.stringify(type)} (supported: openai-chat)`);
  const baseUrl = readString(settings.base_url, `${key}.base_url`);
  if (!/^https?:\/\//.test(baseUrl) || !URL.canParse(baseUrl))
    throw new ConfigError(`${key}.base_url`, `'${baseUrl}' is not an http(s) URL`);
  let apiKey: string | null =
    settings.api_key === undefined || settings.api_key === null ? null : readString(settings.api_key, `${key}.api_key`);
  if (settings.api_key_env !== undefined) {
    const variable = readString(settings.api_key_env, `${key}.api_key_env`);
    apiKey = environment[variable] ?? null;
    if (apiKey === null) throw new ConfigError(`${key}.api_key_env`, `the environment variable ${variable} is not set`);
  }
  const headers: Record<string, string> = {};
  if (settings.headers !== undefined) {
    if (!isObject(settings.headers)) throw new ConfigError(`${key}.headers`, 'must be a map of header names to values');
    for (const [header, headerValue] of Object.entries(settings.headers))
      headers[header] = readString(headerValue, `${key}.headers.${header}`);
  }
  return {
    name,
    type,
    baseUrl: baseUrl.replace(/\/+$/, ''),
    apiKey,
    headers,
    timeoutMs: readInteger(settings.timeout_ms ?? 600_000, `${key}.timeout_ms`, 1, 24 * 3600 * 1000),
    maxRetries: readInteger(settings.max_retries ?? 2, `${key}.max_retries`, 0, 10),
    contextWindow: readInteger(
      settings.context_window ?? DEFAULT_CONTEXT_WINDOW,
      `${key}.context_window`,
      1,
      100_000_000,
    ),
    enforcesJsonSchema: readBoolean(settings.enforces_json_schema ?? true, `${key}.enforces_json_schema`),
    streaming: readBoolean(settings.streaming ?? true, `${key}.streaming`),
    tokenizeEndpoint: readTokenizeEndpoint(settings.tokenize_endpoint ?? null, `${key}.tokenize_endpoint`),
  };
}

const TOKENIZE_ENDPOINTS = ['vllm', 'llama.cpp'] as const;

/** Named explicitly rather than probed: see providers/openai-chat/tokenize.ts. */
function readTokenizeEndpoint(value: unknown, key: string): 'vllm' | 'llama.cpp' | null {
  if (value === null) return null;
  const endpoint = TOKENIZE_ENDPOINTS.find((candidate) => candidate === value);
  if (endpoint === undefined) throw new ConfigError(key, `must be one of ${TOKENIZE_ENDPOINTS.join(', ')} or null`);
  return endpoint;
}

const MODEL_KEYS = new Set(['name', 'provider', 'upstream_model', 'context_window']);
const API_KEY_KEYS = new Set(['key', 'key_sha256', 'project']);

/** A misspelt optional key would otherwise be ignored without a word. */
function rejectUnknownKeys(entry: Raw, known: Set<string>, key: string): void {
  for (const field of Object.keys(entry)) {
    if (!known.has(field))
      throw new ConfigError(`${key}.${field}`, `unknown key (known keys: ${[...known].join(', ')})`);
  }
}

function readModels(value: unknown, providers: Map<string, ProviderConfig>): ModelConfig[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value))
    throw new ConfigError('models', 'must be a list of {name, provider, upstream_model?, context_window?}');
  return value.map((entry: unknown, index) => {
    const key = `models[${index}]`;
    if (!isObject(entry)) throw new ConfigError(key, 'must be an object');
    rejectUnknownKeys(entry, MODEL_KEYS, key);
    const provider = readString(entry.provider, `${key}.provider`);
    if (!providers.has(provider))
      throw new ConfigError(
        `${key}.provider`,
        `no provider named '${provider}' (configured: ${[...providers.keys()].join(', ') || 'none'})`,
      );
    return {
      name: readString(entry.name, `${key}.name`),
      provider,
      upstreamModel:
        entry.upstream_model === undefined ? null : readString(entry.upstream_model, `${key}.upstream_model`),
      contextWindow:
        entry.context_window === undefined
          ? null
          : readInteger(entry.context_window, `${key}.context_window`, 1, 100_000_000),
    };
  });
}

function readApiKeys(value: unknown): ApiKeyConfig[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ConfigError('api_keys', 'must be a list of {key | key_sha256, project?}');
  return value.map((entry: unknown, index) => {
    const key = `api_keys[${index}]`;
    if (!isObject(entry)) throw new ConfigError(key, 'must be an object');
    rejectUnknownKeys(entry, API_KEY_KEYS, key);
    let hash: string;
    if (entry.key_sha256 !== undefined) {
      hash = readString(entry.key_sha256, `${key}.key_sha256`).toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(hash))
        throw new ConfigError(`${key}.key_sha256`, 'must be 64 hex digits (the SHA-256 of the key)');
    } else {
      hash = sha256(readString(entry.key, `${key}.key`));
    }
    const project =
      entry.project === undefined ? `key-${hash.slice(0, 12)}` : readString(entry.project, `${key}.project`);
    return { sha256: hash, project };
  });
}

function readDatabaseUrl(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  const url = readString(value, 'database_url');
  if (!/^postgres(ql)?:\/\//.test(url))
    throw new ConfigError('database_url', 'must be a postgres:// or postgresql:// URL');
  return url;
}

/**
 * pg-boss puts the name into its SQL unquoted, so only a plain lower-case identifier is safe
 * (and it must be one PostgreSQL folds to itself).
 */
function readSchemaName(value: unknown, key: string): string {
  const name = readString(value, key);
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
    throw new ConfigError(key, 'must be a lower-case SQL identifier (letters, digits, _; at most 63)');
  return name;
}

function readEncryptionKey(value: unknown): Buffer {
  const text = readString(value, 'encryption_key');
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32) throw new ConfigError('encryption_key', 'must be 32 bytes, as 64 hex digits or base64');
  return key;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function isObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readString(value: unknown, key: string): string {
  if (typeof value !== 'string' || value === '')
    throw new ConfigError(key, value === undefined ? 'is required' : 'must be a non-empty string');
  return value;
}

function readInteger(value: unknown, key: string, min: number, max: number): number {
  // Strings (flags, environment) must be plain decimal: Number() would also take '0x50' or '1e3'.
  const number = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    throw new ConfigError(key, `must be an integer from ${min} to ${max} (got ${JSON.stringify(value)})`);
  }
  return number;
}

function readBoolean(value: unknown, key: string): boolean {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new ConfigError(key, 'must be true or false');
}
