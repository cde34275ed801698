import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError } from '../../errors/api-error.ts';
import { formatHitsForModel, readFileSearchSettings } from './file-search-tool.ts';

const PARAM = 'tools[1]';

function rejects(tool: Record<string, unknown>, expected: { param: string; code: string | null }): void {
  assert.throws(
    () => readFileSearchSettings({ type: 'file_search', vector_store_ids: ['vs_1'], ...tool }, PARAM),
    (error: unknown) => {
      assert.ok(error instanceof ApiError, String(error));
      assert.equal(error.status, 400);
      assert.equal(error.param, expected.param, error.message);
      assert.equal(error.code, expected.code, error.message);
      return true;
    },
  );
}

describe('readFileSearchSettings', () => {
  test('defaults: ten results, no filters, no score threshold', () => {
    assert.deepEqual(readFileSearchSettings({ type: 'file_search', vector_store_ids: ['vs_1'] }, PARAM), {
      vectorStoreIds: ['vs_1'],
      maxResults: 10,
      filters: null,
      scoreThreshold: 0,
      weights: { text: 1, embedding: 1 },
    });
    assert.deepEqual(
      readFileSearchSettings(
        {
          type: 'file_search',
          vector_store_ids: ['vs_1'],
          filters: null,
          ranking_options: null,
          max_num_results: null,
        },
        PARAM,
      ).filters,
      null,
    );
  });

  test('reads max_num_results, nested filters and ranking_options', () => {
    const settings = readFileSearchSettings(
      {
        type: 'file_search',
        vector_store_ids: ['vs_1', 'vs_2'],
        max_num_results: 50,
        filters: {
          type: 'and',
          filters: [
            { type: 'eq', key: 'department', value: 'people' },
            {
              type: 'or',
              filters: [
                { type: 'gte', key: 'year', value: 2024 },
                { type: 'in', key: 'tag', value: ['a', 1] },
              ],
            },
          ],
        },
        ranking_options: {
          ranker: 'default-2024-11-15',
          score_threshold: 0.25,
          hybrid_search: { embedding_weight: 0.5, text_weight: 2 },
        },
      },
      PARAM,
    );
    assert.equal(settings.maxResults, 50);
    assert.deepEqual(settings.weights, { text: 2, embedding: 0.5 });
    assert.equal(settings.scoreThreshold, 0.25);
    assert.deepEqual(settings.filters, {
      type: 'and',
      filters: [
        { type: 'eq', key: 'department', value: 'people' },
        {
          type: 'or',
          filters: [
            { type: 'gte', key: 'year', value: 2024 },
            { type: 'in', key: 'tag', value: ['a', 1] },
          ],
        },
      ],
    });
    assert.equal(
      readFileSearchSettings({ type: 'file_search', vector_store_ids: ['vs_1'], max_num_results: 1 }, PARAM).maxResults,
      1,
    );
    assert.equal(
      readFileSearchSettings(
        { type: 'file_search', vector_store_ids: ['vs_1'], ranking_options: { ranker: 'auto', score_threshold: 1 } },
        PARAM,
      ).scoreThreshold,
      1,
    );
  });

  test('a bad vector_store_ids or max_num_results is a 400 naming the param', () => {
    rejects({ vector_store_ids: [] }, { param: 'tools[1].vector_store_ids', code: null });
    rejects({ max_num_results: 0 }, { param: 'tools[1].max_num_results', code: 'integer_below_min_value' });
    rejects({ max_num_results: 51 }, { param: 'tools[1].max_num_results', code: 'integer_above_max_value' });
    rejects({ max_num_results: 2.5 }, { param: 'tools[1].max_num_results', code: 'invalid_type' });
    rejects({ max_num_results: '5' }, { param: 'tools[1].max_num_results', code: 'invalid_type' });
  });

  test('bad filters are a 400 naming the param inside tools[i].filters', () => {
    rejects({ filters: 'department = people' }, { param: 'tools[1].filters', code: 'invalid_type' });
    rejects(
      { filters: { type: 'like', key: 'a', value: 'b' } },
      { param: 'tools[1].filters.type', code: 'invalid_value' },
    );
    rejects({ filters: { type: 'eq', value: 'b' } }, { param: 'tools[1].filters.key', code: 'invalid_type' });
    rejects(
      { filters: { type: 'eq', key: 'a', value: { nested: true } } },
      { param: 'tools[1].filters.value', code: 'invalid_type' },
    );
    rejects(
      { filters: { type: 'in', key: 'a', value: 'b' } },
      { param: 'tools[1].filters.value', code: 'invalid_type' },
    );
    rejects(
      {
        filters: {
          type: 'or',
          filters: [
            { type: 'eq', key: 'a', value: 1 },
            { type: 'nin', key: 'b', value: [true] },
          ],
        },
      },
      { param: 'tools[1].filters.filters[1].value[0]', code: 'invalid_type' },
    );
    rejects({ filters: { type: 'and', filters: {} } }, { param: 'tools[1].filters.filters', code: 'invalid_type' });
  });

  test("bad ranking_options are a 400: the ranker is one of the spec's RankerVersionType, the threshold 0–1", () => {
    rejects({ ranking_options: 'auto' }, { param: 'tools[1].ranking_options', code: 'invalid_type' });
    // 'none' is a ranker of vector store search, not of the file_search tool.
    rejects(
      { ranking_options: { ranker: 'none' } },
      { param: 'tools[1].ranking_options.ranker', code: 'invalid_value' },
    );
    rejects(
      { ranking_options: { ranker: 'best' } },
      { param: 'tools[1].ranking_options.ranker', code: 'invalid_value' },
    );
    rejects(
      { ranking_options: { score_threshold: -0.1 } },
      { param: 'tools[1].ranking_options.score_threshold', code: 'decimal_below_min_value' },
    );
    rejects(
      { ranking_options: { score_threshold: 1.5 } },
      { param: 'tools[1].ranking_options.score_threshold', code: 'decimal_above_max_value' },
    );
    rejects(
      { ranking_options: { score_threshold: 'high' } },
      { param: 'tools[1].ranking_options.score_threshold', code: 'invalid_type' },
    );
  });

  test('bad hybrid_search weights are a 400 naming the weight: both given, numbers ≥ 0, not both 0', () => {
    const hybrid = (value: unknown) => ({ ranking_options: { hybrid_search: value } });
    rejects(hybrid('even'), { param: 'tools[1].ranking_options.hybrid_search', code: 'invalid_type' });
    rejects(hybrid({ text_weight: 1 }), {
      param: 'tools[1].ranking_options.hybrid_search.embedding_weight',
      code: 'missing_required_parameter',
    });
    rejects(hybrid({ embedding_weight: 1, text_weight: '1' }), {
      param: 'tools[1].ranking_options.hybrid_search.text_weight',
      code: 'invalid_type',
    });
    rejects(hybrid({ embedding_weight: -1, text_weight: 1 }), {
      param: 'tools[1].ranking_options.hybrid_search.embedding_weight',
      code: 'decimal_below_min_value',
    });
    rejects(hybrid({ embedding_weight: 0, text_weight: 0 }), {
      param: 'tools[1].ranking_options.hybrid_search',
      code: 'invalid_value',
    });
  });
});

describe('formatHitsForModel', () => {
  test('numbers the sources from the given number and escapes the filename', () => {
    const text = formatHitsForModel(
      [{ fileId: 'file-1', filename: 'a "b" <c>.txt', score: 1, attributes: {}, text: 'Body', chunkIndex: 0 }],
      3,
    );
    assert.equal(text, '<source number="3" file_id="file-1" filename="a &quot;b&quot; &lt;c>.txt">\nBody\n</source>');
    assert.match(formatHitsForModel([]), /No results/);
  });
});
