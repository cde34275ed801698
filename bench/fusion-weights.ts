/**
 * `node bench/fusion-weights.ts [--weights 1:0,0:1,1:1,2:1,3:1,5:1]`
 *
 * How the file_search tool's `ranking_options.hybrid_search` weights (text : embedding) change
 * quality on Cranfield, with the GloVe word-vector embeddings of word-vector-embeddings.ts (the
 * only embedding model that runs offline here; weak, see there). The vector-store search
 * endpoint has no weights (OpenAI's has none), so this searches in-process: the Cranfield
 * abstracts go into a SQLite store through the store API (one chunk each, as ingestion makes
 * them), and each query is searched with the store's `search` — the call the tool makes — once per
 * weighting. `1:0` is keyword only, `0:1` vectors only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSqliteStorage } from '../src/storage/sqlite/sqlite-storage.ts';
import { addCompletedFile, createBenchStore } from './bulk-load.ts';
import { loadCranfield, ndcgAt, recallAt } from './cranfield.ts';
import { embedText, ensureWordVectors, loadWordVectors } from './word-vector-embeddings.ts';

const OWNER = 'bench-owner';
const STORE = 'vs_cranfield';

const { values } = parseArgs({ options: { weights: { type: 'string', default: '1:0,0:1,1:1,2:1,3:1,5:1' } } });
const weightings = values.weights.split(',').map((pair) => {
  const [text, embedding] = pair.split(':').map(Number);
  return { text: text!, embedding: embedding! };
});

const model = loadWordVectors(ensureWordVectors());
const { documents, queries, judgements } = loadCranfield();
const directory = mkdtempSync(join(tmpdir(), 'riposte-bench-fusion-'));
const storage = await openSqliteStorage({ path: join(directory, 'riposte.sqlite') });
try {
  const vectorStores = storage.vectorStores;
  await createBenchStore(vectorStores, OWNER, STORE);
  for (const document of documents) {
    // The two empty abstracts fail ingestion (invalid_file); they are left out here alike.
    if (document.text.trim() === '') continue;
    const embedding = Float32Array.from(embedText(document.text, model));
    await addCompletedFile(vectorStores, {
      owner: OWNER,
      storeId: STORE,
      fileId: `file-cranfield-${document.id}`,
      filename: `cranfield-${document.id}.txt`,
      attributes: { doc_id: document.id },
      chunks: [{ index: 0, text: document.text, tokenCount: document.text.split(/\s+/).length, embedding }],
    });
  }
  process.stdout.write('text : embedding   nDCG@10   recall@10\n');
  for (const weights of weightings) {
    let ndcg = 0;
    let recall = 0;
    let judged = 0;
    for (const query of queries) {
      const relevance = judgements.get(query.id);
      if (relevance === undefined || relevance.size === 0) continue;
      const hits = await vectorStores.search(OWNER, [STORE], {
        queries: [query.text],
        queryEmbeddings: [Float32Array.from(embedText(query.text, model))],
        filters: null,
        maxResults: 10,
        scoreThreshold: 0,
        weights,
      });
      const ranked = hits.map((hit) => String(hit.attributes.doc_id));
      ndcg += ndcgAt(10, ranked, relevance);
      recall += recallAt(10, ranked, relevance);
      judged += 1;
    }
    const label = `${weights.text} : ${weights.embedding}`.padEnd(16);
    process.stdout.write(`${label}  ${(ndcg / judged).toFixed(4)}    ${(recall / judged).toFixed(4)}\n`);
  }
} finally {
  await storage.close();
  rmSync(directory, { recursive: true, force: true });
}
