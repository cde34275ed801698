import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { englishStopWords, fts5Query, fuseRankings, keywordTerms } from './hybrid-ranking.ts';

void describe('fts5Query', () => {
  test('ORs the quoted words of the query, without English stop words', () => {
    assert.equal(
      fts5Query('What similarity laws must be obeyed when constructing models?'),
      '"similarity" OR "laws" OR "must" OR "obeyed" OR "constructing" OR "models"',
    );
  });

  test('a query of stop words alone keeps them, so it still finds something', () => {
    assert.equal(fts5Query('to be or not to be'), '"to" OR "be" OR "or" OR "not"');
  });

  test('no word at all is no query; quotes stay inside the quoted terms', () => {
    assert.equal(fts5Query('  ?! '), null);
    assert.equal(fts5Query('NEAR("x" y)'), '"near" OR "x" OR "y"');
  });

  test("keywordTerms (the PostgreSQL store's input) still keeps every word: plainto_tsquery drops the same list", () => {
    assert.deepEqual(keywordTerms('what are the laws'), ['what', 'are', 'the', 'laws']);
    assert.equal(englishStopWords.size, 127);
  });
});

void describe('fuseRankings', () => {
  const text = { kind: 'text' as const, ids: ['a', 'b', 'c'] };
  const embedding = { kind: 'embedding' as const, ids: ['c', 'd'] };

  test('equal weights: reciprocal ranks summed, the best possible sum scoring 1', () => {
    const scores = fuseRankings([text, embedding]);
    assert.equal(scores.get('a'), 61 / 2 / 61);
    assert.ok(Math.abs(scores.get('c')! - (1 / 63 + 1 / 61) / (2 / 61)) < 1e-12);
    assert.equal(
      fuseRankings([text, { kind: 'embedding', ids: [] }]).get('a'),
      1,
      'a list that found nothing does not count',
    );
  });

  test('weights tilt the fusion toward one kind of list; 0 leaves a kind out', () => {
    const textFirst = fuseRankings([text, embedding], { text: 3, embedding: 1 });
    const vectorsFirst = fuseRankings([text, embedding], { text: 1, embedding: 3 });
    assert.ok(textFirst.get('a')! > textFirst.get('d')!);
    assert.ok(vectorsFirst.get('d')! > vectorsFirst.get('a')!);
    const vectorsOnly = fuseRankings([text, embedding], { text: 0, embedding: 1 });
    assert.deepEqual([...vectorsOnly.keys()], ['c', 'd']);
    assert.equal(vectorsOnly.get('c'), 1);
  });

  test('weights that would leave nothing (text 0 without vectors) count every list alike', () => {
    assert.deepEqual(fuseRankings([text], { text: 0, embedding: 1 }), fuseRankings([text]));
  });
});
