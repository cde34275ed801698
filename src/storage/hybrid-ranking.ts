/*
 * The dialect-free half of vector-store search, shared by the SQLite and PostgreSQL stores so
 * both rank exactly alike: how a user's query becomes keyword terms, how ranked lists are fused
 * (Reciprocal Rank Fusion) and how the fused score becomes 0–1.
 */

/** How many hits each ranked list (one query's keyword hits, or its vector hits) contributes. */
export const candidatesPerList = 50;

/** RRF's constant: 60 as in Cormack et al. (2009), the value Elasticsearch and OpenSearch use. */
export const reciprocalRankConstant = 60;

/**
 * BM25's term-frequency saturation (k1) and length normalisation (b): the usual values, and the
 * ones SQLite's FTS5 bm25() has built in, which the PostgreSQL store's BM25 uses too.
 */
export const bm25K1 = 1.2;
export const bm25B = 0.75;

/** More terms than this add nothing a user meant and only slow the full-text query down. */
const maximumTerms = 64;

/**
 * The words of a query, for an OR of terms. Query syntax (FTS5's NEAR, quotes, column filters,
 * `*`; tsquery's `&|!:`) is never passed through: the words are cut out of the text and quoted by
 * the store, so a user's query can only ever be words.
 */
export function keywordTerms(query: string): string[] {
  const words = query.toLowerCase().match(/[\p{L}\p{N}\p{M}]+/gu) ?? [];
  return [...new Set(words)].slice(0, maximumTerms);
}

/**
 * English stop words: the Snowball list that PostgreSQL's `english` configuration drops (its
 * english.stop), so the SQLite store leaves out the same words the PostgreSQL one does.
 */
export const englishStopWords: ReadonlySet<string> = new Set(
  `i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she
  her hers herself it its itself they them their theirs themselves what which who whom this that
  these those am is are was were be been being have has had having do does did doing a an the and
  but if or because as until while of at by for with about against between into through during
  before after above below to from up down in out on off over under again further then once here
  there when where why how all any both each few more most other some such no nor not only own
  same so than too very s t can will just don should now`.split(/\s+/),
);

/**
 * An FTS5 MATCH expression: each word a quoted string, ORed; null when there is no word. Stop
 * words are left out — in an OR they match nearly every chunk, so BM25 has to score the whole
 * index for words whose IDF is about nil — unless the query has nothing else ("to be or not").
 */
export function fts5Query(query: string): string | null {
  const words = keywordTerms(query);
  const meaningful = words.filter((word) => !englishStopWords.has(word));
  const terms = meaningful.length > 0 ? meaningful : words;
  if (terms.length === 0) return null;
  return terms.map((term) => `"${term.replaceAll('"', '""')}"`).join(' OR ');
}

/** How much each kind of ranked list counts in the fusion (the file_search tool's `hybrid_search`). */
export interface FusionWeights {
  /** Keyword (BM25) lists: `text_weight`. */
  text: number;
  /** Vector-similarity lists: `embedding_weight`. */
  embedding: number;
}

export const EQUAL_WEIGHTS: FusionWeights = { text: 1, embedding: 1 };

/** One query's keyword hits or its vector hits, best first. */
export interface RankedList<Id> {
  kind: keyof FusionWeights;
  ids: readonly Id[];
}

/**
 * Fuses ranked lists of chunk ids with weighted Reciprocal Rank Fusion and returns each chunk's
 * score normalised to 0–1: the weighted RRF sum divided by the best sum possible over the lists
 * that found anything (first in every one of them). Lists that found nothing do not count, so a
 * keyword-only search (no embeddings) still gives its best hit 1, and a query with no keyword in
 * the corpus is judged by its vector hits alone. A weight of 0 leaves its kind of list out —
 * unless that leaves nothing (text_weight 0 on a server without embeddings), when every list
 * counts alike rather than the search finding nothing. Ranks, not raw scores, are fused because
 * BM25 and cosine distance live on unrelated scales.
 */
export function fuseRankings<Id>(
  lists: ReadonlyArray<RankedList<Id>>,
  weights: FusionWeights = EQUAL_WEIGHTS,
): Map<Id, number> {
  const found = lists.filter((list) => list.ids.length > 0);
  const weighted = found.filter((list) => weights[list.kind] > 0);
  const counted = weighted.length > 0 ? weighted : found;
  const weightOf = (list: RankedList<Id>): number => (weighted.length > 0 ? weights[list.kind] : 1);
  const sums = new Map<Id, number>();
  let best = 0;
  for (const list of counted) {
    const weight = weightOf(list);
    best += weight / (reciprocalRankConstant + 1);
    list.ids.forEach((id, index) => {
      sums.set(id, (sums.get(id) ?? 0) + weight / (reciprocalRankConstant + index + 1));
    });
  }
  const scores = new Map<Id, number>();
  for (const [id, sum] of sums) scores.set(id, Math.min(1, sum / best));
  return scores;
}

/**
 * The ids to return: score at least `threshold`, best first (ties by id, so results are stable),
 * at most `limit`.
 */
export function topFused<Id extends number | string>(
  scores: Map<Id, number>,
  threshold: number,
  limit: number,
): Array<{ id: Id; score: number }> {
  return [...scores]
    .filter(([, score]) => score >= threshold)
    .map(([id, score]) => ({ id, score }))
    .sort((left, right) => right.score - left.score || compareIds(left.id, right.id))
    .slice(0, Math.max(0, limit));
}

function compareIds(left: number | string, right: number | string): number {
  if (left === right) return 0;
  return left < right ? -1 : 1;
}

/**
 * Chunk text as the stores keep it: PostgreSQL text cannot hold NUL nor a lone surrogate, so
 * both stores drop NUL and make the text well-formed (the File itself keeps its bytes; chunks
 * are derived, searchable text).
 */
export function chunkText(text: string): string {
  return text.replaceAll('\u0000', '').toWellFormed();
}
