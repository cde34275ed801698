import { contextLengthExceeded } from '../errors/api-error.ts';
import type { ModelItem, ModelTool } from '../providers/model-adapter.ts';
import { countingRequest, loadTokenCounter, upperBoundTokens, type TokenCounter } from './count-tokens.ts';
import type { ModelRoute } from './model-router.ts';
import { truncateItems } from './truncate-items.ts';

/** What of the request decides how much input fits. */
export interface FitContextOptions {
  /** The request's `truncation`: drop the oldest items (`auto`) or refuse (`disabled`). */
  truncation: 'auto' | 'disabled';
  /** The request's `max_output_tokens`; null reserves the default (see outputReserve). */
  maxOutputTokens: number | null;
  /** The tools the model is offered (none when tool_choice is `none`); counted, never dropped. */
  tools: ModelTool[];
  /** Aborts the upstream tokenize call, if one is made. */
  signal?: AbortSignal;
}

export interface FittedContext {
  /** What to send: the items as given, or the newest that fit. */
  items: ModelItem[];
  /**
   * Input tokens of `items` plus tools: the upstream's count when it was asked, else the local
   * estimate; null when the input is so far under the budget that it was not counted at all.
   */
  inputTokens: number | null;
  /** Whether items were dropped. */
  truncated: boolean;
}

/**
 * Below this share of the budget the local estimate is trusted without asking the upstream's
 * tokenize endpoint, which saves a round trip on the usual request; nearer the limit the
 * estimate's error (see count-tokens.ts) could decide the outcome, so the exact count is worth it.
 */
const UPSTREAM_CHECK_SHARE = 0.8;

/**
 * Room kept for the answer: `max_output_tokens` when the request sets it, otherwise
 * min(4096, a quarter of the window) — enough for a typical answer without starving small
 * windows (an 8k model keeps 2k for output). The same margin absorbs most of the local
 * estimate's error on models whose tokenizer is not tiktoken's.
 */
export function outputReserve(contextWindow: number, maxOutputTokens: number | null): number {
  return maxOutputTokens ?? Math.min(4096, Math.floor(contextWindow / 4));
}

/** Input tokens a request may use: the window less the output reserve. */
export function inputBudget(contextWindow: number, maxOutputTokens: number | null): number {
  return contextWindow - outputReserve(contextWindow, maxOutputTokens);
}

/**
 * Makes the input fit `route.contextWindow` before any upstream call: with `truncation: "auto"`
 * the oldest items are dropped (rules in truncate-items.ts); with `"disabled"`, or when even the
 * minimum does not fit, it throws a 400 `context_length_exceeded` (param `input`).
 *
 * Counting is local (tiktoken, `counter` or one loaded for the upstream model); when the estimate
 * comes near the budget and the route's adapter has `countTokens`, the upstream's exact count
 * decides, and truncation scales the local per-item counts to agree with it.
 */
export async function fitContext(
  items: ModelItem[],
  route: ModelRoute,
  options: FitContextOptions,
  counter?: TokenCounter,
): Promise<FittedContext> {
  const reserve = outputReserve(route.contextWindow, options.maxOutputTokens);
  const budget = route.contextWindow - reserve;
  // Most requests are far below the window: a byte count proves it without loading an encoder.
  if (upperBoundTokens(items, options.tools) <= budget * UPSTREAM_CHECK_SHARE) {
    return { items, inputTokens: null, truncated: false };
  }
  const local = counter ?? (await loadTokenCounter(route.upstreamModel));
  const estimate = local.countRequest(items, options.tools);
  if (estimate <= budget * UPSTREAM_CHECK_SHARE) return { items, inputTokens: estimate, truncated: false };

  let inputTokens = estimate;
  if (route.adapter.countTokens) {
    const signal = options.signal ?? new AbortController().signal;
    const exact = await route.adapter.countTokens(countingRequest(route, items, options.tools, signal));
    if (exact !== null) inputTokens = exact;
  }
  if (inputTokens <= budget) return { items, inputTokens, truncated: false };
  if (options.truncation === 'disabled') throw contextLengthExceeded(inputTokens, route.contextWindow, reserve);

  // The local counts, scaled so the whole agrees with the upstream's count when there is one.
  const scale = estimate > 0 ? inputTokens / estimate : 1;
  const scaledCount = (kept: ModelItem[]): number => Math.ceil(local.countRequest(kept, options.tools) * scale);
  const kept = truncateItems(items, budget, scaledCount);
  // Even the instructions and the latest user message alone are too long.
  if (kept === null) throw contextLengthExceeded(inputTokens, route.contextWindow, reserve);
  return { items: kept, inputTokens: scaledCount(kept), truncated: kept !== items };
}
