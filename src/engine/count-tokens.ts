import type { Tiktoken } from 'js-tiktoken/lite';
import {
  modelRequest,
  type ModelContentPart,
  type ModelItem,
  type ModelRequest,
  type ModelTool,
} from '../providers/model-adapter.ts';
import type { ModelRoute } from './model-router.ts';

/*
 * A local estimate of how many tokens a request sends, with OpenAI's tiktoken encodings.
 *
 * Exact for OpenAI's own models (up to the chat-format overheads below, which OpenAI documents
 * only approximately). For other families it is an estimate: Llama 3 and Qwen use byte-level BPE
 * vocabularies close to cl100k and land within about ±10% on English prose; SentencePiece models
 * (Mistral 7B, Gemma, Llama 2) usually need 10–30% *more* tokens than cl100k, and code or
 * non-Latin scripts can differ by more in either direction. That is why an upstream with a
 * tokenize endpoint is asked instead where one is configured (see ModelAdapter.countTokens), and
 * why the output reserve in fit-context.ts leaves headroom.
 */

export type TokenEncodingName = 'o200k_base' | 'cl100k_base';

/**
 * Chat formats wrap every message in a few special tokens (`<|start|>role<|message|>…<|end|>`);
 * OpenAI's cookbook counts 3 per message plus the role, and 3 more to prime the reply.
 */
export const TOKENS_PER_MESSAGE = 3;
export const TOKENS_PER_REPLY = 3;

/**
 * Images have a fixed cost, as OpenAI bills them without the pixels being tokenised: 85 tokens at
 * low detail; at high (and auto) detail 85 plus 170 per 512-px tile, counted here for a
 * 1024×1024 image (4 tiles) because the dimensions are not known without fetching or decoding it.
 */
export const IMAGE_TOKENS_LOW_DETAIL = 85;
export const IMAGE_TOKENS_HIGH_DETAIL = 85 + 170 * 4;

/**
 * Files (PDFs and other documents) are turned into text and page images by the upstream, which
 * cannot be predicted here; their size is the only signal, at about four bytes a token. A remote
 * file whose size is unknown counts as this many tokens.
 */
export const REMOTE_FILE_TOKENS = 1000;
const BYTES_PER_FILE_TOKEN = 4;

/** Counts tokens of items and tools; synchronous once loaded, so truncation can call it freely. */
export interface TokenCounter {
  readonly encoding: TokenEncodingName;
  /** Tokens of plain text, special-token look-alikes counted as ordinary text. */
  countText(text: string): number;
  /** Tokens one item adds to a request, its message overhead included. */
  countItem(item: ModelItem): number;
  /** Tokens of a list of items, plus the reply priming every request has. */
  countItems(items: ModelItem[]): number;
  /** Tokens of the tool definitions, as their JSON. */
  countTools(tools: ModelTool[]): number;
  /** countItems + countTools: the whole input of one request. */
  countRequest(items: ModelItem[], tools: ModelTool[]): number;
}

/**
 * OpenAI's newer families (gpt-4o, gpt-4.1, gpt-4.5, gpt-5, o1/o3/o4, gpt-oss, chatgpt-4o) use
 * o200k_base; everything else gets cl100k_base as the nearest general-purpose estimate. Provider
 * prefixes (`openai/gpt-4o` on OpenRouter) and tags (`gpt-oss:20b` on Ollama) are ignored.
 */
export function encodingForModel(model: string): TokenEncodingName {
  const name = (model.split('/').at(-1) ?? model).toLowerCase();
  return /^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|chatgpt-4o|o[1-9](?:$|[-:.]))/.test(name)
    ? 'o200k_base'
    : 'cl100k_base';
}

/*
 * The rank files are megabytes of JavaScript (o200k_base is 2.3 MB) and building an encoder takes
 * a noticeable moment, so each is imported on first use and kept for the life of the process.
 */
const encoders = new Map<TokenEncodingName, Promise<Tiktoken>>();

async function loadEncoder(encoding: TokenEncodingName): Promise<Tiktoken> {
  const { Tiktoken } = await import('js-tiktoken/lite');
  const ranks =
    encoding === 'o200k_base'
      ? (await import('js-tiktoken/ranks/o200k_base')).default
      : (await import('js-tiktoken/ranks/cl100k_base')).default;
  return new Tiktoken(ranks);
}

function encoderFor(encoding: TokenEncodingName): Promise<Tiktoken> {
  let encoder = encoders.get(encoding);
  if (!encoder) {
    encoder = loadEncoder(encoding);
    // A failed load (it should not happen: the files ship with the package) is retried next time.
    encoder.catch(() => encoders.delete(encoding));
    encoders.set(encoding, encoder);
  }
  return encoder;
}

/**
 * Loads a model's encoder ahead of the first request. Building an encoder blocks the event loop
 * (about half a second for o200k_base on a fast machine, seconds on a slow one), so a server may
 * rather pay that at startup than on a request.
 */
export async function preloadTokenCounter(model: string): Promise<void> {
  await encoderFor(encodingForModel(model));
}

/**
 * A bound no tokenizer exceeds, computed without one: byte-level BPE (tiktoken, Llama 3, Qwen)
 * and SentencePiece with byte fallback (Mistral, Gemma) never make more tokens than the text has
 * UTF-8 bytes. An input under the budget by this bound needs no encoder at all.
 */
export function upperBoundTokens(items: ModelItem[], tools: ModelTool[]): number {
  let total = TOKENS_PER_REPLY;
  const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');
  const partsBound = (parts: ModelContentPart[]): number => {
    let sum = 0;
    for (const part of parts) {
      if (part.type === 'text') sum += bytes(part.text);
      else if (part.type === 'image') sum += part.detail === 'low' ? IMAGE_TOKENS_LOW_DETAIL : IMAGE_TOKENS_HIGH_DETAIL;
      else sum += (part.filename === null ? 0 : bytes(part.filename)) + fileTokens(part.data);
    }
    return sum;
  };
  for (const item of items) {
    total += TOKENS_PER_MESSAGE;
    switch (item.type) {
      case 'message':
        total += 1 + partsBound(item.content);
        break;
      case 'function_call':
        total += bytes(item.name) + bytes(item.arguments);
        break;
      case 'custom_tool_call':
        total += bytes(item.name) + bytes(item.input);
        break;
      case 'function_call_output':
      case 'custom_tool_call_output':
        total += typeof item.output === 'string' ? bytes(item.output) : partsBound(item.output);
        break;
      case 'reasoning':
        total += bytes(item.text);
        break;
    }
  }
  for (const tool of tools) total += bytes(JSON.stringify(tool));
  return total;
}

/** The local counter for a model name (the upstream's name is the better guess of its tokenizer). */
export async function loadTokenCounter(model: string): Promise<TokenCounter> {
  const encoding = encodingForModel(model);
  return new TiktokenCounter(encoding, await encoderFor(encoding));
}

class TiktokenCounter implements TokenCounter {
  readonly encoding: TokenEncodingName;
  readonly #encoder: Tiktoken;
  /**
   * Truncation counts the same items over and over as it drops older ones; items are never
   * mutated once prepared, so their counts are kept by identity.
   */
  readonly #itemCounts = new WeakMap<ModelItem, number>();

  constructor(encoding: TokenEncodingName, encoder: Tiktoken) {
    this.encoding = encoding;
    this.#encoder = encoder;
  }

  countText(text: string): number {
    if (text === '') return 0;
    // No special tokens allowed or disallowed: a user typing `<|endoftext|>` is just text (and
    // the default would throw on it).
    return this.#encoder.encode(text, [], []).length;
  }

  countItem(item: ModelItem): number {
    const cached = this.#itemCounts.get(item);
    if (cached !== undefined) return cached;
    const count = TOKENS_PER_MESSAGE + this.#countItemContent(item);
    this.#itemCounts.set(item, count);
    return count;
  }

  countItems(items: ModelItem[]): number {
    let total = TOKENS_PER_REPLY;
    for (const item of items) total += this.countItem(item);
    return total;
  }

  countTools(tools: ModelTool[]): number {
    let total = 0;
    for (const tool of tools) total += this.countText(JSON.stringify(tool));
    return total;
  }

  countRequest(items: ModelItem[], tools: ModelTool[]): number {
    return this.countItems(items) + this.countTools(tools);
  }

  #countItemContent(item: ModelItem): number {
    switch (item.type) {
      case 'message':
        return 1 + this.#countParts(item.content);
      case 'function_call':
        return this.countText(item.name) + this.countText(item.arguments);
      case 'custom_tool_call':
        return this.countText(item.name) + this.countText(item.input);
      case 'function_call_output':
      case 'custom_tool_call_output':
        return typeof item.output === 'string' ? this.countText(item.output) : this.#countParts(item.output);
      case 'reasoning':
        return this.countText(item.text);
    }
  }

  #countParts(parts: ModelContentPart[]): number {
    let total = 0;
    for (const part of parts) {
      switch (part.type) {
        case 'text':
          total += this.countText(part.text);
          break;
        case 'image':
          total += part.detail === 'low' ? IMAGE_TOKENS_LOW_DETAIL : IMAGE_TOKENS_HIGH_DETAIL;
          break;
        case 'file':
          total += (part.filename === null ? 0 : this.countText(part.filename)) + fileTokens(part.data);
          break;
      }
    }
    return total;
  }
}

function fileTokens(data: string | null): number {
  if (data === null) return REMOTE_FILE_TOKENS;
  const base64 = data.startsWith('data:') ? data.slice(data.indexOf(',') + 1) : data;
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  const bytes = Math.floor((base64.length * 3) / 4) - padding;
  return Math.ceil(bytes / BYTES_PER_FILE_TOKEN);
}

/**
 * The input tokens of a request as it would be sent: the upstream's own count when its adapter
 * has a tokenize endpoint and it answers, otherwise the local estimate.
 */
export async function countInputTokens(
  route: ModelRoute,
  items: ModelItem[],
  tools: ModelTool[],
  signal: AbortSignal,
): Promise<number> {
  if (route.adapter.countTokens) {
    const counted = await route.adapter.countTokens(countingRequest(route, items, tools, signal));
    if (counted !== null) return counted;
  }
  return (await loadTokenCounter(route.upstreamModel)).countRequest(items, tools);
}

/**
 * A ModelRequest for counting only: what shapes the prompt (model, items, tools) is real; the
 * sampling settings do not change the token count and are left at their neutral values.
 */
export function countingRequest(
  route: ModelRoute,
  items: ModelItem[],
  tools: ModelTool[],
  signal: AbortSignal,
): ModelRequest {
  return modelRequest({ model: route.upstreamModel, items, tools, signal });
}
