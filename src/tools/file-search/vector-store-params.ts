/**
 * Validation of the parameters the Vector Stores API shares with the file_search tool: file
 * attributes, attribute filters and expiry policies. Each failure is a 400 naming the offending
 * param, worded like OpenAI's.
 */
import {
  checkRange,
  describeJsonType,
  invalidRequest,
  invalidType,
  invalidValue,
  missingParameter,
} from '../../errors/api-error.ts';
import { EQUAL_WEIGHTS, type FusionWeights } from '../../storage/hybrid-ranking.ts';
import type { Attributes, AttributeFilter, StoredVectorStore } from '../../storage/vector-stores.ts';

/** OpenAI's limits on vector-store file attributes. */
export const ATTRIBUTES_MAX_KEYS = 16;
export const ATTRIBUTE_KEY_MAX_LENGTH = 64;
export const ATTRIBUTE_STRING_MAX_LENGTH = 512;

const COMPARISON_TYPES = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin'] as const;
const COMPOUND_TYPES = ['and', 'or'] as const;
/** Deeper nesting is no real filter, and a bound keeps a hostile body from exhausting the stack. */
const FILTER_MAX_DEPTH = 16;

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `attributes`: up to 16 keys of at most 64 characters; strings (≤512), numbers or booleans. Null reads as none. */
export function parseAttributes(value: unknown, param: string): Attributes {
  if (value === null) return {};
  if (!isObject(value)) throw invalidType(param, 'an object', value);
  const keys = Object.keys(value);
  if (keys.length > ATTRIBUTES_MAX_KEYS) {
    throw invalidRequest(
      param,
      `Invalid '${param}': too many properties. Expected an object with at most ${ATTRIBUTES_MAX_KEYS} properties, but got an object with ${keys.length} properties instead.`,
      'object_above_max_properties',
    );
  }
  const attributes: Attributes = {};
  for (const key of keys) {
    const keyParam = `${param}.${key}`;
    if (key.length > ATTRIBUTE_KEY_MAX_LENGTH) {
      throw invalidRequest(
        keyParam,
        `Invalid property name in '${param}': '${key}' is too long. Expected a string with maximum length ${ATTRIBUTE_KEY_MAX_LENGTH}, but got a string with length ${key.length} instead.`,
        'property_name_above_max_length',
      );
    }
    const entry = value[key];
    if (typeof entry === 'string') {
      if (entry.length > ATTRIBUTE_STRING_MAX_LENGTH) {
        throw invalidRequest(
          keyParam,
          `Invalid '${keyParam}': string too long. Expected a string with maximum length ${ATTRIBUTE_STRING_MAX_LENGTH}, but got a string with length ${entry.length} instead.`,
          'string_above_max_length',
        );
      }
    } else if (!(typeof entry === 'boolean' || (typeof entry === 'number' && Number.isFinite(entry)))) {
      throw invalidType(keyParam, 'a string, a number or a boolean', entry);
    }
    attributes[key] = entry;
  }
  return attributes;
}

/** `filters`: a comparison `{type, key, value}` or a compound `{type: 'and'|'or', filters}`, nested. */
export function parseAttributeFilter(value: unknown, param: string, depth = 0): AttributeFilter {
  if (!isObject(value)) throw invalidType(param, 'an object', value);
  if (depth > FILTER_MAX_DEPTH)
    throw invalidValue(param, `Invalid '${param}': filters may be nested at most ${FILTER_MAX_DEPTH} deep.`);
  const type = value.type;
  if ((COMPOUND_TYPES as readonly unknown[]).includes(type)) {
    const filters = value.filters;
    if (!Array.isArray(filters)) throw invalidType(`${param}.filters`, 'an array', filters);
    return {
      type: type as (typeof COMPOUND_TYPES)[number],
      filters: filters.map((filter, index) => parseAttributeFilter(filter, `${param}.filters[${index}]`, depth + 1)),
    };
  }
  if (!(COMPARISON_TYPES as readonly unknown[]).includes(type)) {
    throw invalidValue(
      `${param}.type`,
      `Invalid value for '${param}.type': expected one of ${[...COMPARISON_TYPES, ...COMPOUND_TYPES].map((name) => `'${name}'`).join(', ')}, got ${JSON.stringify(type)}.`,
    );
  }
  const comparison = type as (typeof COMPARISON_TYPES)[number];
  if (typeof value.key !== 'string') throw invalidType(`${param}.key`, 'a string', value.key);
  const operand = value.value;
  const valueParam = `${param}.value`;
  if (comparison === 'in' || comparison === 'nin') {
    if (!Array.isArray(operand)) throw invalidType(valueParam, 'an array', operand);
    for (const [index, entry] of operand.entries()) {
      if (typeof entry !== 'string' && !(typeof entry === 'number' && Number.isFinite(entry)))
        throw invalidType(`${valueParam}[${index}]`, 'a string or a number', entry);
    }
    return { type: comparison, key: value.key, value: operand as Array<string | number> };
  }
  if (
    typeof operand !== 'string' &&
    typeof operand !== 'boolean' &&
    !(typeof operand === 'number' && Number.isFinite(operand))
  ) {
    throw invalidType(valueParam, 'a string, a number or a boolean', operand);
  }
  return { type: comparison, key: value.key, value: operand };
}

/** OpenAI's bounds on `max_num_results` (vector store search and the file_search tool). */
export const MAX_NUM_RESULTS = 50;
export const DEFAULT_NUM_RESULTS = 10;
/** The rankers of a vector store search (VectorStoreSearchRequest) and of the file_search tool (RankerVersionType). */
export const SEARCH_RANKERS = ['none', 'auto', 'default-2024-11-15'] as const;
export const FILE_SEARCH_TOOL_RANKERS = ['auto', 'default-2024-11-15'] as const;

/** `max_num_results`: an integer 1–50; absent or null reads as the default, 10. */
export function parseMaxNumResults(value: unknown, param: string): number {
  if (value === undefined || value === null) return DEFAULT_NUM_RESULTS;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidType(param, 'an integer', value);
  return checkRange(value, param, { min: 1, max: MAX_NUM_RESULTS }, 'integer');
}

/**
 * `ranking_options: {ranker, score_threshold, hybrid_search}` → the score threshold (0–1; absent:
 * 0). The ranker must be one of `rankers` but changes nothing: search is always the same hybrid.
 */
export function parseRankingOptions(value: unknown, param: string, rankers: readonly string[]): number {
  if (value === undefined || value === null) return 0;
  if (!isObject(value)) throw invalidType(param, 'an object', value);
  if (value.ranker !== undefined && !rankers.includes(value.ranker as string)) {
    throw invalidValue(
      `${param}.ranker`,
      `Invalid value for '${param}.ranker': expected one of ${rankers.map((name) => `'${name}'`).join(', ')}, got ${JSON.stringify(value.ranker)}.`,
    );
  }
  const thresholdParam = `${param}.score_threshold`;
  const threshold = value.score_threshold;
  if (threshold === undefined || threshold === null) return 0;
  if (typeof threshold !== 'number' || !Number.isFinite(threshold))
    throw invalidType(thresholdParam, 'a number', threshold);
  return checkRange(threshold, thresholdParam, { min: 0, max: 1 }, 'decimal', 'number');
}

/**
 * The file_search tool's `ranking_options.hybrid_search: {embedding_weight, text_weight}`: both
 * required, finite and not negative, and not both 0. Absent: equal weights.
 */
export function parseHybridSearch(rankingOptions: unknown, param: string): FusionWeights {
  if (
    !isObject(rankingOptions) ||
    rankingOptions.hybrid_search === undefined ||
    rankingOptions.hybrid_search === null
  ) {
    return EQUAL_WEIGHTS;
  }
  const hybrid = rankingOptions.hybrid_search;
  const hybridParam = `${param}.hybrid_search`;
  if (!isObject(hybrid)) throw invalidType(hybridParam, 'an object', hybrid);
  const weight = (name: 'embedding_weight' | 'text_weight'): number => {
    const value = hybrid[name];
    const weightParam = `${hybridParam}.${name}`;
    if (value === undefined || value === null) throw missingParameter(weightParam);
    if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidType(weightParam, 'a number', value);
    return checkRange(value, weightParam, { min: 0 }, 'decimal', 'number');
  };
  const weights = { embedding: weight('embedding_weight'), text: weight('text_weight') };
  if (weights.embedding === 0 && weights.text === 0) {
    throw invalidRequest(
      hybridParam,
      `Invalid '${hybridParam}': embedding_weight and text_weight cannot both be 0.`,
      'invalid_value',
    );
  }
  return weights;
}

/** `expires_after: {anchor: 'last_active_at', days: 1–365}`. */
export function parseExpiresAfter(value: unknown, param: string): NonNullable<StoredVectorStore['expiresAfter']> {
  if (!isObject(value)) throw invalidType(param, 'an object', value);
  if (value.anchor !== 'last_active_at') {
    throw invalidValue(
      `${param}.anchor`,
      `Invalid value for '${param}.anchor': expected 'last_active_at', got ${JSON.stringify(value.anchor)}.`,
    );
  }
  const days = value.days;
  if (typeof days !== 'number' || !Number.isInteger(days)) throw invalidType(`${param}.days`, 'an integer', days);
  checkRange(days, `${param}.days`, { min: 1, max: 365 }, 'integer');
  return { anchor: 'last_active_at', days };
}

/** When a store with this policy, last active at `activeAt`, expires (unix seconds); null: never. */
export function expiryFrom(expiresAfter: StoredVectorStore['expiresAfter'], activeAt: number): number | null {
  return expiresAfter === null ? null : activeAt + expiresAfter.days * 86_400;
}

/** A list of strings (ids, queries): each a non-empty string. */
export function parseStringList(value: unknown, param: string, limits: { min: number; max: number }): string[] {
  if (!Array.isArray(value)) throw invalidType(param, 'an array', value);
  if (value.length < limits.min) {
    throw invalidRequest(
      param,
      `Invalid '${param}': empty array. Expected an array with minimum length ${limits.min}, but got an empty array instead.`,
      'empty_array',
    );
  }
  if (value.length > limits.max) {
    throw invalidRequest(
      param,
      `Invalid '${param}': array too long. Expected an array with maximum length ${limits.max}, but got an array with length ${value.length} instead.`,
      'array_above_max_length',
    );
  }
  return value.map((entry, index) => {
    if (typeof entry !== 'string')
      throw invalidRequest(
        `${param}[${index}]`,
        `Invalid type for '${param}[${index}]': expected a string, but got ${describeJsonType(entry)} instead.`,
        'invalid_type',
      );
    if (entry.length === 0)
      throw invalidRequest(
        `${param}[${index}]`,
        `Invalid '${param}[${index}]': empty string. Expected a non-empty string.`,
        'empty_string',
      );
    return entry;
  });
}
