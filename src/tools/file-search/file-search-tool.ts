import { invalidRequest } from '../../errors/api-error.ts';
import type { ModelTool } from '../../providers/model-adapter.ts';
import type { AttributeFilter, SearchHit, VectorStoreStore } from '../../storage/vector-stores.ts';
import type { FusionWeights } from '../../storage/hybrid-ranking.ts';
import {
  FILE_SEARCH_TOOL_RANKERS,
  parseAttributeFilter,
  parseHybridSearch,
  parseMaxNumResults,
  parseRankingOptions,
} from './vector-store-params.ts';

/** The name the model calls; the engine runs it server-side and shows a `file_search_call` item. */
export const FILE_SEARCH_TOOL_NAME = 'file_search';

/** Turns queries into embeddings; null when no embeddings provider is configured (keyword search only). */
export interface QueryEmbedder {
  embed(texts: string[], signal: AbortSignal): Promise<Float32Array[]>;
}

/** A `file_search` tool entry of a request, read and checked. */
export interface FileSearchSettings {
  vectorStoreIds: string[];
  maxResults: number;
  filters: AttributeFilter | null;
  scoreThreshold: number;
  /** `ranking_options.hybrid_search`: how keyword and vector hits count. */
  weights: FusionWeights;
}

/** How the model is offered file search: one function taking the queries it wants to run. */
export const fileSearchModelTool: ModelTool = {
  type: 'function',
  name: FILE_SEARCH_TOOL_NAME,
  description:
    "Search the user's uploaded files for passages relevant to the conversation. Pass one or more short, " +
    'self-contained search queries. The results are numbered sources; cite a source you use by writing its ' +
    'number in square brackets right after the statement it supports, like [1].',
  parameters: {
    type: 'object',
    properties: { queries: { type: 'array', items: { type: 'string' }, description: 'Search queries.' } },
    required: ['queries'],
    additionalProperties: false,
  },
  strict: true,
};

/**
 * Reads a request's `file_search` tool, checking every field the search uses, so a bad tool is a
 * 400 naming the param (`tools[i].…`) before the model is called.
 */
export function readFileSearchSettings(tool: Record<string, unknown>, param: string): FileSearchSettings {
  const ids = tool.vector_store_ids;
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => typeof id === 'string')) {
    throw invalidRequest(`${param}.vector_store_ids`, 'file_search needs vector_store_ids: a non-empty list of vector store ids.');
  }
  return {
    vectorStoreIds: ids,
    maxResults: parseMaxNumResults(tool.max_num_results, `${param}.max_num_results`),
    filters: tool.filters === undefined || tool.filters === null ? null : parseAttributeFilter(tool.filters, `${param}.filters`),
    scoreThreshold: parseRankingOptions(tool.ranking_options, `${param}.ranking_options`, FILE_SEARCH_TOOL_RANKERS),
    weights: parseHybridSearch(tool.ranking_options, `${param}.ranking_options`),
  };
}

/** Checks, before anything runs, that every vector store the tool names exists for this owner. */
export async function checkVectorStores(settings: FileSearchSettings, vectorStores: VectorStoreStore, owner: string, param: string): Promise<void> {
  for (const [index, id] of settings.vectorStoreIds.entries()) {
    if (!(await vectorStores.get(owner, id))) {
      throw invalidRequest(`${param}.vector_store_ids[${index}]`, `Vector store with id '${id}' not found.`, 'invalid_value');
    }
  }
}

/** Runs the model's queries over the tool's vector stores: hybrid when embeddings are available. */
export async function searchFiles(
  settings: FileSearchSettings,
  queries: string[],
  dependencies: { vectorStores: VectorStoreStore; embedder: QueryEmbedder | null; owner: string; signal: AbortSignal },
): Promise<SearchHit[]> {
  const cleaned = queries.map((query) => query.trim()).filter(Boolean);
  if (cleaned.length === 0) return [];
  const queryEmbeddings =
    dependencies.embedder && dependencies.vectorStores.supportsVectors ? await dependencies.embedder.embed(cleaned, dependencies.signal) : null;
  return dependencies.vectorStores.search(dependencies.owner, settings.vectorStoreIds, {
    queries: cleaned,
    queryEmbeddings,
    filters: settings.filters,
    maxResults: settings.maxResults,
    scoreThreshold: settings.scoreThreshold,
    weights: settings.weights,
  });
}

/** The tool output the model reads: numbered sources, so it can cite them as [n]. */
export function formatHitsForModel(hits: SearchHit[], firstNumber = 1): string {
  if (hits.length === 0) return 'No results were found in the files for these queries.';
  return hits
    .map((hit, index) => `<source number="${index + firstNumber}" file_id="${hit.fileId}" filename="${escapeAttribute(hit.filename)}">\n${hit.text}\n</source>`)
    .join('\n\n');
}

function escapeAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}
