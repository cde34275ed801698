import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { newOwner } from './store-contract-fixtures.ts';
import type {
  AttributeFilter,
  Attributes,
  ChunkToStore,
  ListRequest,
  SearchRequest,
  StoredVectorStore,
  StoredVectorStoreFile,
  VectorStoreStore,
} from './vector-stores.ts';

/**
 * The VectorStoreStore part of the contract, run by describeStoreContract inside its suite (and
 * on PGlite, for the pgvector SQL). `stores` gives the current VectorStoreStore.
 */
export function describeVectorStoreContract(stores: () => VectorStoreStore): void {
  void describe('vector stores', () => {
    void test('create, get, update, touch, delete; another owner sees nothing', async () => {
      const owner = newOwner();
      const store = newStore(owner, { name: 'Docs \u0000 "q"', metadata: { b: '1', a: '2' } });
      await stores().create(store);
      assert.deepEqual(await stores().get(owner, store.id), store);
      assert.equal(await stores().get(newOwner(), store.id), null);
      assert.equal(await stores().update(newOwner(), store.id, { name: 'x' }), null);

      const expiresAfter = { anchor: 'last_active_at' as const, days: 7 };
      const renamed = await stores().update(owner, store.id, { name: null, expiresAfter, expiresAt: 2_000 });
      assert.deepEqual(renamed, { ...store, name: null, expiresAfter, expiresAt: 2_000 });
      const remeta = await stores().update(owner, store.id, { metadata: { c: '3' } });
      assert.deepEqual(remeta, { ...store, name: null, expiresAfter, expiresAt: 2_000, metadata: { c: '3' } });
      await stores().touch(owner, store.id, 1_500, 3_000);
      assert.deepEqual(await stores().get(owner, store.id), {
        ...store,
        name: null,
        expiresAfter,
        expiresAt: 3_000,
        lastActiveAt: 1_500,
        metadata: { c: '3' },
      });

      assert.equal(await stores().delete(newOwner(), store.id), false);
      assert.equal(await stores().delete(owner, store.id), true);
      assert.equal(await stores().get(owner, store.id), null);
      assert.equal(await stores().delete(owner, store.id), false);
      assert.equal(await stores().get(owner, 'vs_\u0000'), null);
    });

    void test('list pages in creation order both ways, with after and before', async () => {
      const owner = newOwner();
      const created: StoredVectorStore[] = [];
      for (let index = 0; index < 5; index += 1) {
        const store = newStore(owner, { createdAt: 1_000 });
        await stores().create(store);
        created.push(store);
      }
      await stores().create(newStore(newOwner()));
      const ids = (items: StoredVectorStore[]): string[] => items.map((store) => store.id);
      const all = ids(created);
      const page = (overrides: Partial<ListRequest>): ListRequest => ({
        after: null,
        before: null,
        limit: 20,
        order: 'desc',
        ...overrides,
      });
      let result = await stores().list(owner, page({ limit: 2 }));
      assert.deepEqual(ids(result.items), [all[4], all[3]]);
      assert.equal(result.hasMore, true);
      result = await stores().list(owner, page({ limit: 2, after: all[3] ?? null }));
      assert.deepEqual(ids(result.items), [all[2], all[1]]);
      result = await stores().list(owner, page({ order: 'asc', after: all[2] ?? null }));
      assert.deepEqual(ids(result.items), [all[3], all[4]]);
      assert.equal(result.hasMore, false);
      result = await stores().list(owner, page({ order: 'asc', limit: 2, before: all[3] ?? null }));
      assert.deepEqual(ids(result.items), [all[1], all[2]]);
      assert.equal(result.hasMore, true);
      await assert.rejects(stores().list(owner, page({ after: 'vs_missing' })));
    });

    void test('files: attach, complete, fail, cancel, remove; counts and usage bytes', async () => {
      const owner = newOwner();
      const store = newStore(owner);
      await stores().create(store);
      const files = ['file-a', 'file-b', 'file-c', 'file-d'].map((fileId) => newFile(store, fileId));
      for (const file of files) await stores().addFile(file);
      await assert.rejects(stores().addFile({ ...newFile(store, 'file-x'), owner: newOwner() }));
      assert.deepEqual(await stores().getFile(owner, store.id, 'file-a'), files[0]);
      assert.equal(await stores().getFile(newOwner(), store.id, 'file-a'), null);
      assert.deepEqual(await stores().fileCounts(owner, store.id), counts({ in_progress: 4 }));

      assert.equal(await stores().completeFile(owner, store.id, 'file-a', chunksOf(['one', 'two']), 6), true);
      assert.equal(await stores().completeFile(owner, store.id, 'file-a', chunksOf(['again']), 5), false);
      const error = { code: 'unsupported_file' as const, message: 'no text' };
      assert.equal(await stores().endFile(owner, store.id, 'file-b', 'failed', error), true);
      assert.equal(await stores().endFile(owner, store.id, 'file-c', 'cancelled', null), true);
      assert.equal(await stores().endFile(owner, store.id, 'file-c', 'failed', error), false);
      assert.equal(await stores().completeFile(owner, store.id, 'file-b', chunksOf(['late']), 4), false);
      assert.equal(await stores().completeFile(newOwner(), store.id, 'file-d', chunksOf(['x']), 1), false);

      assert.deepEqual(await stores().getFile(owner, store.id, 'file-a'), {
        ...files[0],
        status: 'completed',
        usageBytes: 6,
      });
      assert.deepEqual(await stores().getFile(owner, store.id, 'file-b'), {
        ...files[1],
        status: 'failed',
        lastError: error,
      });
      assert.deepEqual(
        await stores().fileCounts(owner, store.id),
        counts({ in_progress: 1, completed: 1, failed: 1, cancelled: 1 }),
      );
      assert.equal(await stores().usageBytes(owner, store.id), 6);
      assert.deepEqual(await stores().fileChunks(owner, store.id, 'file-a'), ['one', 'two']);
      assert.deepEqual(await stores().fileChunks(newOwner(), store.id, 'file-a'), []);
      const inProgress = await stores().listInProgressFiles();
      assert.ok(
        inProgress.some((file) => file.owner === owner && file.vectorStoreId === store.id && file.fileId === 'file-d'),
      );
      assert.ok(!inProgress.some((file) => file.vectorStoreId === store.id && file.fileId !== 'file-d'));

      const updated = await stores().updateFileAttributes(owner, store.id, 'file-a', { team: 'core', year: 2024 });
      assert.deepEqual(updated?.attributes, { team: 'core', year: 2024 });
      assert.equal(await stores().updateFileAttributes(newOwner(), store.id, 'file-a', {}), null);

      // Attaching again starts over: in progress, no chunks.
      await stores().addFile({ ...files[0]!, attributes: { again: true } });
      assert.equal((await stores().getFile(owner, store.id, 'file-a'))?.status, 'in_progress');
      assert.deepEqual(await stores().fileChunks(owner, store.id, 'file-a'), []);

      assert.equal(await stores().removeFile(newOwner(), store.id, 'file-b'), false);
      assert.equal(await stores().removeFile(owner, store.id, 'file-b'), true);
      assert.equal(await stores().removeFile(owner, store.id, 'file-b'), false);
      assert.deepEqual(await stores().fileCounts(owner, store.id), counts({ in_progress: 2, cancelled: 1 }));

      const listed = await stores().listFiles(owner, store.id, firstPage('asc'), {});
      assert.deepEqual(
        listed.items.map((file) => file.fileId),
        ['file-a', 'file-c', 'file-d'],
      );
      const cancelled = await stores().listFiles(owner, store.id, firstPage('asc'), { status: 'cancelled' });
      assert.deepEqual(
        cancelled.items.map((file) => file.fileId),
        ['file-c'],
      );
      const after = await stores().listFiles(owner, store.id, { ...firstPage('desc'), limit: 1, after: 'file-d' }, {});
      assert.deepEqual(
        after.items.map((file) => file.fileId),
        ['file-c'],
      );
      assert.equal(after.hasMore, true);
    });

    void test('batches: create, counts of their files, status; deleting the store takes everything', async () => {
      const owner = newOwner();
      const store = newStore(owner);
      await stores().create(store);
      const batch = {
        id: `vsfb_${randomUUID()}`,
        vectorStoreId: store.id,
        owner,
        createdAt: 1_000,
        status: 'in_progress' as const,
      };
      await stores().createBatch(batch);
      await assert.rejects(stores().createBatch({ ...batch, id: `vsfb_${randomUUID()}`, owner: newOwner() }));
      assert.deepEqual(await stores().getBatch(owner, store.id, batch.id), batch);
      assert.equal(await stores().getBatch(newOwner(), store.id, batch.id), null);
      await stores().addFile({ ...newFile(store, 'file-1'), batchId: batch.id });
      await stores().addFile({ ...newFile(store, 'file-2'), batchId: batch.id });
      await stores().addFile(newFile(store, 'file-3'));
      await stores().completeFile(owner, store.id, 'file-1', chunksOf(['searchable zebra']), 16);
      assert.deepEqual(
        await stores().batchFileCounts(owner, store.id, batch.id),
        counts({ in_progress: 1, completed: 1 }),
      );
      const batchFiles = await stores().listFiles(owner, store.id, firstPage('asc'), { batchId: batch.id });
      assert.deepEqual(
        batchFiles.items.map((file) => file.fileId),
        ['file-1', 'file-2'],
      );
      await stores().setBatchStatus(owner, store.id, batch.id, 'cancelled');
      assert.equal((await stores().getBatch(owner, store.id, batch.id))?.status, 'cancelled');

      assert.equal((await stores().search(owner, [store.id], searchFor('zebra'))).length, 1);
      assert.equal(await stores().delete(owner, store.id), true);
      assert.equal(await stores().getFile(owner, store.id, 'file-1'), null);
      assert.equal(await stores().getBatch(owner, store.id, batch.id), null);
      assert.deepEqual(await stores().fileChunks(owner, store.id, 'file-1'), []);
      assert.deepEqual(await stores().fileCounts(owner, store.id), counts({}));
      assert.deepEqual(await stores().search(owner, [store.id], searchFor('zebra')), []);
    });

    void describe('search', () => {
      // Three topics, each with its own direction in an 8-dimensional space; a paraphrase of a
      // topic shares no word with it but points the same way.
      const corpus: Array<{ fileId: string; text: string; axis: number; attributes: Attributes }> = [
        {
          fileId: 'file-fox',
          text: 'The quick brown fox jumps over the lazy dog.',
          axis: 0,
          attributes: { kind: 'story', year: 2021, public: true },
        },
        {
          fileId: 'file-revenue',
          text: 'Quarterly revenue grew by twelve percent on strong sales.',
          axis: 1,
          attributes: { kind: 'report', year: 2023, public: false },
        },
        {
          fileId: 'file-car',
          text: 'Automobile maintenance schedule: oil changes and tyre rotation.',
          axis: 2,
          attributes: { kind: 'manual', year: 2024, public: true, code: '10' },
        },
        {
          fileId: 'file-revenue-notes',
          text: 'Notes on revenue recognition rules.',
          axis: 1.2,
          attributes: { kind: 'report', year: 2024.5 },
        },
      ];
      const prepare = async (): Promise<{ owner: string; store: StoredVectorStore }> => {
        const owner = newOwner();
        const store = newStore(owner);
        await stores().create(store);
        for (const document of corpus) {
          await stores().addFile({ ...newFile(store, document.fileId), attributes: document.attributes });
          const chunk: ChunkToStore = {
            index: 0,
            text: document.text,
            tokenCount: 10,
            embedding: direction(document.axis),
          };
          assert.ok(await stores().completeFile(owner, store.id, document.fileId, [chunk], document.text.length));
        }
        // In progress and failed files are never searched, even with matching text.
        await stores().addFile(newFile(store, 'file-pending'));
        return { owner, store };
      };
      const fileIds = (hits: Array<{ fileId: string }>): string[] => hits.map((hit) => hit.fileId);

      void test('keyword hits for exact and stemmed terms; query syntax is only words', async () => {
        const { owner, store } = await prepare();
        const hits = await stores().search(owner, [store.id], searchFor('revenue'));
        assert.deepEqual(new Set(fileIds(hits)), new Set(['file-revenue', 'file-revenue-notes']));
        assert.equal(hits[0]?.score, 1);
        assert.equal(hits[0]?.chunkIndex, 0);
        assert.ok(hits.every((hit) => hit.score > 0 && hit.score <= 1));
        assert.deepEqual(fileIds(await stores().search(owner, [store.id], searchFor('jumping foxes'))), ['file-fox']);
        const revenue = hits.find((hit) => hit.fileId === 'file-revenue');
        assert.equal(revenue?.text, corpus[1]?.text);
        assert.equal(revenue?.filename, 'file-revenue.txt');
        assert.deepEqual(revenue?.attributes, corpus[1]?.attributes);
        for (const awkward of ['"unbalanced', 'NEAR(a b)', 'text:fox OR', "o'brien & !(x) | y:*", '***', '']) {
          await stores().search(owner, [store.id], searchFor(awkward));
        }
        assert.deepEqual(await stores().search(owner, [store.id], searchFor('nothing-matches-this')), []);
      });

      void test('vector hits for paraphrases, fused with keyword hits', async (context) => {
        if (!stores().supportsVectors) {
          context.skip('no vector support here');
          return;
        }
        const { owner, store } = await prepare();
        const paraphrase = await stores().search(owner, [store.id], {
          ...searchFor('car upkeep'),
          queryEmbeddings: [direction(2.1)],
        });
        assert.equal(paraphrase[0]?.fileId, 'file-car');
        assert.equal(paraphrase[0]?.score, 1);
        // In both lists, the revenue files outrank the files only the vector list found, which
        // still come back, with lower scores.
        const fused = await stores().search(owner, [store.id], {
          ...searchFor('revenue'),
          queryEmbeddings: [direction(1.1)],
        });
        assert.deepEqual(new Set(fileIds(fused).slice(0, 2)), new Set(['file-revenue', 'file-revenue-notes']));
        assert.deepEqual(new Set(fileIds(fused).slice(2)), new Set(['file-fox', 'file-car']));
        assert.ok((fused[1]?.score ?? 0) > (fused[2]?.score ?? 1));
        // Weights (the file_search tool's hybrid_search): 0 leaves a kind of list out.
        const keywordOnly = await stores().search(owner, [store.id], {
          ...searchFor('revenue'),
          queryEmbeddings: [direction(1.1)],
          weights: { text: 1, embedding: 0 },
        });
        assert.deepEqual(new Set(fileIds(keywordOnly)), new Set(['file-revenue', 'file-revenue-notes']));
        const vectorsOnly = await stores().search(owner, [store.id], {
          ...searchFor('car upkeep revenue'),
          queryEmbeddings: [direction(2.1)],
          weights: { text: 0, embedding: 1 },
        });
        assert.equal(vectorsOnly[0]?.fileId, 'file-car', 'the keyword hits for revenue count for nothing');
        // Chunks of another dimension are skipped, not an error.
        assert.deepEqual(
          fileIds(
            await stores().search(owner, [store.id], {
              ...searchFor('zzz'),
              queryEmbeddings: [new Float32Array([1, 0])],
            }),
          ),
          [],
        );
      });

      void test('filters: every comparison, lists, types kept apart, nested compounds', async () => {
        const { owner, store } = await prepare();
        const matching = async (filters: AttributeFilter): Promise<string[]> =>
          fileIds(
            await stores().search(owner, [store.id], {
              ...searchFor('fox revenue automobile notes'),
              filters,
            }),
          ).sort();
        assert.deepEqual(await matching({ type: 'eq', key: 'kind', value: 'report' }), [
          'file-revenue',
          'file-revenue-notes',
        ]);
        assert.deepEqual(await matching({ type: 'ne', key: 'kind', value: 'report' }), ['file-car', 'file-fox']);
        assert.deepEqual(await matching({ type: 'gt', key: 'year', value: 2023 }), ['file-car', 'file-revenue-notes']);
        assert.deepEqual(await matching({ type: 'gte', key: 'year', value: 2023 }), [
          'file-car',
          'file-revenue',
          'file-revenue-notes',
        ]);
        assert.deepEqual(await matching({ type: 'lt', key: 'year', value: 2023 }), ['file-fox']);
        assert.deepEqual(await matching({ type: 'lte', key: 'year', value: 2024 }), [
          'file-car',
          'file-fox',
          'file-revenue',
        ]);
        assert.deepEqual(await matching({ type: 'in', key: 'kind', value: ['story', 'manual'] }), [
          'file-car',
          'file-fox',
        ]);
        assert.deepEqual(await matching({ type: 'nin', key: 'kind', value: ['story', 'manual'] }), [
          'file-revenue',
          'file-revenue-notes',
        ]);
        assert.deepEqual(await matching({ type: 'in', key: 'year', value: [2021, 2024.5] }), [
          'file-fox',
          'file-revenue-notes',
        ]);
        assert.deepEqual(await matching({ type: 'eq', key: 'public', value: true }), ['file-car', 'file-fox']);
        // A missing key matches only the negations.
        assert.deepEqual(await matching({ type: 'ne', key: 'public', value: true }), [
          'file-revenue',
          'file-revenue-notes',
        ]);
        // Numbers and strings never equal each other; strings order as strings.
        assert.deepEqual(await matching({ type: 'eq', key: 'code', value: 10 }), []);
        assert.deepEqual(await matching({ type: 'eq', key: 'code', value: '10' }), ['file-car']);
        assert.deepEqual(await matching({ type: 'gt', key: 'kind', value: 'r' }), [
          'file-fox',
          'file-revenue',
          'file-revenue-notes',
        ]);
        assert.deepEqual(await matching({ type: 'gt', key: 'year', value: '2000' }), []);
        assert.deepEqual(
          await matching({
            type: 'or',
            filters: [
              {
                type: 'and',
                filters: [
                  { type: 'eq', key: 'kind', value: 'report' },
                  { type: 'gt', key: 'year', value: 2024 },
                ],
              },
              { type: 'eq', key: 'kind', value: 'story' },
            ],
          }),
          ['file-fox', 'file-revenue-notes'],
        );
        assert.deepEqual(await matching({ type: 'and', filters: [] }), [
          'file-car',
          'file-fox',
          'file-revenue',
          'file-revenue-notes',
        ]);
        assert.deepEqual(await matching({ type: 'eq', key: 'k"ey\u0000', value: 'x' }), []);
      });

      void test('score threshold, max results, several queries, only the given stores and owner', async () => {
        const { owner, store } = await prepare();
        const all = await stores().search(owner, [store.id], searchFor('revenue'));
        assert.equal(all.length, 2);
        const lowest = Math.min(...all.map((hit) => hit.score));
        assert.ok(lowest < 1);
        assert.deepEqual(
          fileIds(
            await stores().search(owner, [store.id], { ...searchFor('revenue'), scoreThreshold: (lowest + 1) / 2 }),
          ),
          fileIds(all).slice(0, 1),
        );
        assert.equal((await stores().search(owner, [store.id], { ...searchFor('revenue'), maxResults: 1 })).length, 1);

        const several = await stores().search(owner, [store.id], {
          ...searchFor('fox'),
          queries: ['fox', 'automobile'],
        });
        assert.deepEqual(new Set(fileIds(several)), new Set(['file-fox', 'file-car']));
        // Each is first in one of the two lists and absent from the other: half the best.
        assert.deepEqual(
          several.map((hit) => hit.score),
          [0.5, 0.5],
        );

        const other = newStore(owner);
        await stores().create(other);
        await stores().addFile(newFile(other, 'file-other'));
        await stores().completeFile(owner, other.id, 'file-other', chunksOf(['revenue elsewhere']), 17);
        assert.ok(!fileIds(await stores().search(owner, [store.id], searchFor('revenue'))).includes('file-other'));
        assert.ok(
          fileIds(await stores().search(owner, [store.id, other.id], searchFor('revenue'))).includes('file-other'),
        );
        assert.deepEqual(await stores().search(newOwner(), [store.id], searchFor('revenue')), []);
        assert.deepEqual(await stores().search(owner, [], searchFor('revenue')), []);
        // A file attached again is out of the search until it completes again.
        await stores().addFile(newFile(store, 'file-fox'));
        assert.deepEqual(await stores().search(owner, [store.id], searchFor('fox')), []);
      });
    });
  });
}

function newStore(owner: string, overrides: Partial<StoredVectorStore> = {}): StoredVectorStore {
  return {
    id: `vs_${randomUUID().replaceAll('-', '')}`,
    owner,
    name: 'docs',
    createdAt: 1_700_000_000,
    lastActiveAt: 1_700_000_000,
    metadata: {},
    expiresAfter: null,
    expiresAt: null,
    ...overrides,
  };
}

function newFile(store: StoredVectorStore, fileId: string, attributes: Attributes = {}): StoredVectorStoreFile {
  return {
    fileId,
    vectorStoreId: store.id,
    owner: store.owner,
    createdAt: 1_700_000_100,
    status: 'in_progress',
    usageBytes: 0,
    lastError: null,
    chunkingStrategy: { type: 'static', static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 } },
    attributes,
    batchId: null,
    filename: `${fileId}.txt`,
  };
}

function chunksOf(texts: string[]): ChunkToStore[] {
  return texts.map((text, index) => ({ index, text, tokenCount: 1, embedding: null }));
}

function counts(partial: Partial<Record<'in_progress' | 'completed' | 'failed' | 'cancelled', number>>) {
  const full = { in_progress: 0, completed: 0, failed: 0, cancelled: 0, ...partial };
  return { ...full, total: full.in_progress + full.completed + full.failed + full.cancelled };
}

function firstPage(order: 'asc' | 'desc'): ListRequest {
  return { after: null, before: null, limit: 20, order };
}

function searchFor(query: string): SearchRequest {
  return { queries: [query], queryEmbeddings: null, filters: null, maxResults: 10, scoreThreshold: 0 };
}

/** A unit vector at `axis` (fractions lean towards the next axis), 8 dimensions. */
function direction(axis: number): Float32Array {
  const vector = new Float32Array(8);
  const whole = Math.floor(axis);
  const fraction = axis - whole;
  vector[whole] = Math.cos((fraction * Math.PI) / 2);
  vector[(whole + 1) % 8] = Math.sin((fraction * Math.PI) / 2);
  return vector;
}
