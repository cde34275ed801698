import { checkRange, invalidRequest, invalidType, invalidValue, missingParameter } from '../../errors/api-error.ts';
import { loadTokenCounter, type TokenCounter } from '../../engine/count-tokens.ts';

/*
 * Splits extracted text into the overlapping, token-bounded chunks that file_search embeds and
 * searches, with OpenAI's chunking_strategy semantics: every chunk at most max_chunk_size_tokens,
 * consecutive chunks sharing about chunk_overlap_tokens.
 */

/** The effective chunking settings of a vector-store file. */
export interface ChunkingStrategy {
  maxChunkSizeTokens: number;
  chunkOverlapTokens: number;
}

/** One chunk; the character offsets (end exclusive) point into the text that was chunked. */
export interface Chunk {
  index: number;
  text: string;
  /** Exact, by the counter chunkText was given; never above maxChunkSizeTokens. */
  tokenCount: number;
  startCharacter: number;
  endCharacter: number;
}

/** The `chunking_strategy` a vector-store file echoes: always `static`, even when `auto` was asked. */
export interface StaticChunkingStrategyObject {
  type: 'static';
  static: { max_chunk_size_tokens: number; chunk_overlap_tokens: number };
}

/** A validated `chunking_strategy` request parameter. */
export interface ParsedChunkingStrategy {
  strategy: ChunkingStrategy;
  /** What the API returns as the file's `chunking_strategy`. */
  responseObject: StaticChunkingStrategyObject;
}

/** OpenAI's `auto` strategy (the AutoChunkingStrategyRequestParam description in the spec). */
export const DEFAULT_MAX_CHUNK_SIZE_TOKENS = 800;
export const DEFAULT_CHUNK_OVERLAP_TOKENS = 400;
/** StaticChunkingStrategy.max_chunk_size_tokens' minimum and maximum in the spec. */
export const MIN_CHUNK_SIZE_TOKENS = 100;
export const MAX_CHUNK_SIZE_TOKENS = 4096;

export const DEFAULT_CHUNKING_STRATEGY: ChunkingStrategy = {
  maxChunkSizeTokens: DEFAULT_MAX_CHUNK_SIZE_TOKENS,
  chunkOverlapTokens: DEFAULT_CHUNK_OVERLAP_TOKENS,
};

/**
 * The token counter chunk sizes are measured with: cl100k_base, the encoding of OpenAI's
 * embedding models (text-embedding-3-small/-large and ada-002 — o200k_base is the chat models'),
 * so a chunk of 800 tokens here is one of 800 tokens at OpenAI. It is also the encoding Riposte
 * already loads for every non-OpenAI chat model, so ingestion usually builds no second encoder.
 * Local embedding models have their own tokenizers; for them any tiktoken count is an estimate.
 */
export function loadChunkingTokenCounter(): Promise<TokenCounter> {
  return loadTokenCounter('text-embedding-3-large');
}

/**
 * Parses a request's `chunking_strategy` (`{type: 'auto'}`, `{type: 'static', static: {...}}`, or
 * absent/null for auto) with the spec's limits, naming the offending param in its ApiError.
 */
export function validateChunkingStrategy(value: unknown, param = 'chunking_strategy'): ParsedChunkingStrategy {
  if (value === undefined || value === null) return parsed(DEFAULT_CHUNKING_STRATEGY);
  if (!isObject(value)) throw invalidType(param, 'an object', value);
  if (value.type === undefined) throw missingParameter(`${param}.type`);
  if (value.type === 'auto') {
    refuseUnknownKeys(value, ['type'], param);
    return parsed(DEFAULT_CHUNKING_STRATEGY);
  }
  if (value.type !== 'static') {
    throw invalidValue(
      `${param}.type`,
      `Invalid value: ${JSON.stringify(value.type)}. Supported values are: 'auto' and 'static'.`,
    );
  }
  refuseUnknownKeys(value, ['type', 'static'], param);
  const settings = value.static;
  const settingsParam = `${param}.static`;
  if (settings === undefined) throw missingParameter(settingsParam);
  if (!isObject(settings)) throw invalidType(settingsParam, 'an object', settings);
  refuseUnknownKeys(settings, ['max_chunk_size_tokens', 'chunk_overlap_tokens'], settingsParam);
  const maxChunkSizeTokens = integerIn(
    settings.max_chunk_size_tokens,
    `${settingsParam}.max_chunk_size_tokens`,
    MIN_CHUNK_SIZE_TOKENS,
    MAX_CHUNK_SIZE_TOKENS,
  );
  const overlapParam = `${settingsParam}.chunk_overlap_tokens`;
  const chunkOverlapTokens = integerIn(settings.chunk_overlap_tokens, overlapParam, 0, undefined);
  if (chunkOverlapTokens * 2 > maxChunkSizeTokens) {
    throw invalidValue(
      overlapParam,
      `Invalid '${overlapParam}': the overlap must not exceed half of max_chunk_size_tokens ` +
        `(${Math.floor(maxChunkSizeTokens / 2)} for ${maxChunkSizeTokens}), but got ${chunkOverlapTokens} instead.`,
    );
  }
  return parsed({ maxChunkSizeTokens, chunkOverlapTokens });
}

function parsed(strategy: ChunkingStrategy): ParsedChunkingStrategy {
  return {
    strategy: { ...strategy },
    responseObject: {
      type: 'static',
      static: {
        max_chunk_size_tokens: strategy.maxChunkSizeTokens,
        chunk_overlap_tokens: strategy.chunkOverlapTokens,
      },
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The spec closes these objects (additionalProperties: false): a typo must not silently mean auto. */
function refuseUnknownKeys(value: Record<string, unknown>, allowed: string[], param: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw invalidRequest(`${param}.${key}`, `Unknown parameter: '${param}.${key}'.`, 'unknown_parameter');
    }
  }
}

function integerIn(value: unknown, param: string, minimum: number, maximum: number | undefined): number {
  if (value === undefined) throw missingParameter(param);
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidType(param, 'an integer', value);
  return checkRange(value, param, { min: minimum, max: maximum }, 'integer');
}

/* ---------- chunking ---------- */

/**
 * Pieces are whitespace plus a word (the leading-space convention of tiktoken's pre-tokenizer, so
 * their counts add up to nearly the count of their concatenation), ending after CJK full stops
 * because CJK text has no spaces to split at.
 */
const PIECE_PATTERN = /\s*(?:[^\s。！？]+[。！？]*|[。！？]+)/gu;
/**
 * Longer runs (URLs, base64, CJK paragraphs) are cut into slices this long. 32 UTF-16 units are at
 * most 96 UTF-8 bytes, so a slice never has more tokens than the smallest allowed chunk (100).
 */
const MAX_PIECE_CHARACTERS = 32;
/** A chunk may end up to this fraction short of the maximum to end at a better boundary. */
const BOUNDARY_LOOKBACK_FRACTION = 0.25;

/** How good a place to cut the boundary before a piece is; higher is better. */
const BREAK_STRENGTH = { midWord: 0, word: 1, sentence: 2, line: 3, paragraph: 4 } as const;

const SENTENCE_END = /[.!?。！？][)"'\]”’»]*$/u;

interface Pieces {
  /** Start offset of each piece, plus the end of the last one at index `count`. */
  starts: Uint32Array;
  /** Cumulative token estimate: tokens of pieces [0, i) at index i. */
  tokens: Float64Array;
  /** Strength of the boundary before each piece. */
  strengths: Uint8Array;
  count: number;
}

/**
 * Splits text into chunks of at most `maxChunkSizeTokens` tokens, each next chunk starting about
 * `chunkOverlapTokens` tokens before the previous one ended. A chunk ends at the best boundary in
 * the last quarter of its window — paragraph, then line, then sentence, then word — and is
 * trimmed of surrounding whitespace. Empty or blank text gives no chunks; text that fits gives
 * one. Deterministic: the same text, strategy and encoding always give the same chunks.
 */
export function chunkText(text: string, strategy: ChunkingStrategy, counter: TokenCounter): Chunk[] {
  const { maxChunkSizeTokens: maximum, chunkOverlapTokens: overlap } = strategy;
  if (!Number.isInteger(maximum) || maximum < 1)
    throw new RangeError(`maxChunkSizeTokens must be a positive integer, got ${maximum}.`);
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= maximum) {
    throw new RangeError(`chunkOverlapTokens must be an integer from 0 below maxChunkSizeTokens, got ${overlap}.`);
  }
  const pieces = splitPieces(text, counter);
  const chunks: Chunk[] = [];
  const lookback = Math.floor(maximum * BOUNDARY_LOOKBACK_FRACTION);
  let start = 0;
  while (start < pieces.count) {
    let end = Math.max(start + 1, lastEndWithin(pieces, start, pieces.tokens[start]! + maximum));
    if (end < pieces.count) end = preferredEnd(pieces, start, end, pieces.tokens[start]! + maximum - lookback);
    // The piece counts are an estimate of the joined text's count; the exact count decides, and
    // the rare window that merges into more tokens than estimated gives up pieces until it fits.
    let chunk = makeChunk(text, pieces, start, end, counter);
    while (chunk !== null && chunk.tokenCount > maximum && end > start + 1) {
      end -= 1;
      chunk = makeChunk(text, pieces, start, end, counter);
    }
    if (chunk !== null) chunks.push({ ...chunk, index: chunks.length });
    if (end >= pieces.count) break;
    start =
      overlap === 0
        ? end
        : Math.max(start + 1, firstStartWithin(pieces, start + 1, end, pieces.tokens[end]! - overlap));
  }
  return chunks;
}

function splitPieces(text: string, counter: TokenCounter): Pieces {
  const starts: number[] = [];
  const counts: number[] = [];
  const strengths: number[] = [];
  // Words repeat; a count looked up is cheaper than a word encoded.
  const countCache = new Map<string, number>();
  const count = (piece: string): number => {
    let tokens = countCache.get(piece);
    if (tokens === undefined) {
      tokens = counter.countText(piece);
      if (countCache.size < 100_000) countCache.set(piece, tokens);
    }
    return tokens;
  };
  let previousEnd = 0;
  let previousText = '';
  for (const match of text.matchAll(PIECE_PATTERN)) {
    const matchStart = match.index;
    const matched = match[0];
    const leading = /^\s*/u.exec(matched)![0];
    let strength: number = BREAK_STRENGTH.word;
    if (/\n[^\S\n]*\n/.test(leading)) strength = BREAK_STRENGTH.paragraph;
    else if (leading.includes('\n')) strength = BREAK_STRENGTH.line;
    else if (SENTENCE_END.test(previousText) && (leading !== '' || /[。！？]$/u.test(previousText)))
      strength = BREAK_STRENGTH.sentence;
    else if (leading === '') strength = BREAK_STRENGTH.midWord;
    for (let offset = 0; offset < matched.length;) {
      let sliceEnd = Math.min(matched.length, offset + MAX_PIECE_CHARACTERS);
      // Never between the two halves of a surrogate pair: the encoder would see two broken characters.
      if (sliceEnd < matched.length && /[\uD800-\uDBFF]/.test(matched[sliceEnd - 1]!)) sliceEnd -= 1;
      const slice = matched.slice(offset, sliceEnd);
      starts.push(matchStart + offset);
      counts.push(count(slice));
      strengths.push(offset === 0 ? strength : BREAK_STRENGTH.midWord);
      offset = sliceEnd;
    }
    previousEnd = matchStart + matched.length;
    previousText = matched;
  }
  const pieces: Pieces = {
    starts: new Uint32Array(starts.length + 1),
    tokens: new Float64Array(starts.length + 1),
    strengths: Uint8Array.from(strengths),
    count: starts.length,
  };
  pieces.starts.set(starts);
  pieces.starts[starts.length] = previousEnd;
  for (let index = 0; index < counts.length; index += 1) {
    pieces.tokens[index + 1] = pieces.tokens[index]! + counts[index]!;
  }
  return pieces;
}

/** The largest end (exclusive piece index) whose cumulative tokens stay within `limit`. */
function lastEndWithin(pieces: Pieces, start: number, limit: number): number {
  let low = start;
  let high = pieces.count;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (pieces.tokens[middle]! <= limit) low = middle;
    else high = middle - 1;
  }
  return low;
}

/** The smallest start in [from, to] whose cumulative tokens are at least `floor`. */
function firstStartWithin(pieces: Pieces, from: number, to: number, floor: number): number {
  let low = from;
  let high = to;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (pieces.tokens[middle]! >= floor) high = middle;
    else low = middle + 1;
  }
  return low;
}

/** The strongest boundary among the ends whose chunk keeps at least `floor` tokens; the latest on ties. */
function preferredEnd(pieces: Pieces, start: number, end: number, floor: number): number {
  let best = end;
  let bestStrength = pieces.strengths[end]!;
  for (let candidate = end - 1; candidate > start && pieces.tokens[candidate]! >= floor; candidate -= 1) {
    const strength = pieces.strengths[candidate]!;
    if (strength > bestStrength) {
      best = candidate;
      bestStrength = strength;
    }
  }
  return best;
}

function makeChunk(
  text: string,
  pieces: Pieces,
  start: number,
  end: number,
  counter: TokenCounter,
): Omit<Chunk, 'index'> | null {
  const rawStart = pieces.starts[start]!;
  const raw = text.slice(rawStart, pieces.starts[end]);
  const trimmed = raw.trim();
  if (trimmed === '') return null;
  const startCharacter = rawStart + (raw.length - raw.trimStart().length);
  return {
    text: trimmed,
    tokenCount: counter.countText(trimmed),
    startCharacter,
    endCharacter: startCharacter + trimmed.length,
  };
}
