/**
 * The Cranfield 1400 collection in BEIR layout (corpus.jsonl, queries.jsonl, qrels.tsv), and the
 * two measures the search benchmarks report: nDCG@k with graded relevance and recall@k.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the collection is unless `--dataset` says otherwise. */
export const DEFAULT_CRANFIELD_DIRECTORY = '/work/shared/datasets/cranfield';

export interface CranfieldDocument {
  id: string;
  title: string;
  text: string;
}

export interface CranfieldQuery {
  id: string;
  text: string;
}

export interface Cranfield {
  documents: CranfieldDocument[];
  queries: CranfieldQuery[];
  /** query id → (document id → graded relevance, 1–4). */
  judgements: Map<string, Map<string, number>>;
}

function readJsonLines(path: string): Array<Record<string, unknown>> {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export function loadCranfield(directory = DEFAULT_CRANFIELD_DIRECTORY): Cranfield {
  const documents = readJsonLines(join(directory, 'corpus.jsonl')).map((row) => ({
    id: String(row._id),
    title: typeof row.title === 'string' ? row.title : '',
    text: typeof row.text === 'string' ? row.text : '',
  }));
  const queries = readJsonLines(join(directory, 'queries.jsonl')).map((row) => ({
    id: String(row._id),
    text: typeof row.text === 'string' ? row.text : '',
  }));
  const judgements = new Map<string, Map<string, number>>();
  const lines = readFileSync(join(directory, 'qrels.tsv'), 'utf8').split('\n').slice(1);
  for (const line of lines) {
    const [queryId, documentId, score] = line.trim().split('\t');
    if (queryId === undefined || documentId === undefined || score === undefined) continue;
    const grade = Number(score);
    if (!(grade > 0)) continue;
    const forQuery = judgements.get(queryId) ?? new Map<string, number>();
    forQuery.set(documentId, grade);
    judgements.set(queryId, forQuery);
  }
  return { documents, queries, judgements };
}

/**
 * nDCG@k as trec_eval's ndcg_cut and BEIR compute it: gain = the graded relevance, discount
 * log2(rank + 1), normalised by the DCG of the ideal ordering of the judged documents.
 * `ranked` is best first; a document appearing twice counts once (its first place).
 */
export function ndcgAt(k: number, ranked: readonly string[], relevance: ReadonlyMap<string, number>): number {
  const seen = new Set<string>();
  let dcg = 0;
  let rank = 0;
  for (const id of ranked) {
    if (rank >= k) break;
    if (seen.has(id)) continue;
    seen.add(id);
    rank += 1;
    dcg += (relevance.get(id) ?? 0) / Math.log2(rank + 1);
  }
  const ideal = [...relevance.values()].sort((left, right) => right - left).slice(0, k);
  const idealDcg = ideal.reduce((sum, gain, index) => sum + gain / Math.log2(index + 2), 0);
  return idealDcg > 0 ? dcg / idealDcg : 0;
}

/** Share of the relevant (judged > 0) documents found in the first k distinct results. */
export function recallAt(k: number, ranked: readonly string[], relevance: ReadonlyMap<string, number>): number {
  const relevant = [...relevance.entries()].filter(([, grade]) => grade > 0).map(([id]) => id);
  if (relevant.length === 0) return 0;
  const top = new Set([...new Set(ranked)].slice(0, k));
  return relevant.filter((id) => top.has(id)).length / relevant.length;
}
