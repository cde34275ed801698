import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { englishStopWords, fts5Query, keywordTerms } from './hybrid-ranking.ts';

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
