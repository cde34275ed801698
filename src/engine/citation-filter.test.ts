import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CitationFilter } from './citation-filter.ts';

const sources = [
  { fileId: 'file-a', filename: 'a.txt' },
  { fileId: 'file-b', filename: 'b.txt' },
];

test('markers become citations at their offset, split across deltas or not', () => {
  const filter = new CitationFilter(sources);
  const pieces = ['Paris is the capital [', '1]. Lyon [2', '] is not.', ''];
  let text = '';
  const found: Array<{ at: number; file: string }> = [];
  for (const piece of pieces) {
    const filtered = filter.push(piece);
    for (const citation of filtered.citations) found.push({ at: text.length + citation.offset, file: citation.source.fileId });
    text += filtered.text;
  }
  const rest = filter.flush();
  text += rest.text;
  assert.equal(text, 'Paris is the capital . Lyon  is not.');
  assert.deepEqual(found, [
    { at: 'Paris is the capital '.length, file: 'file-a' },
    { at: 'Paris is the capital . Lyon '.length, file: 'file-b' },
  ]);
});

test('brackets that are not citations of a known source stay as they are', () => {
  const filter = new CitationFilter(sources);
  const filtered = filter.push('array[0] and [3] and [x] and [');
  const end = filter.flush();
  assert.equal(filtered.text + end.text, 'array[0] and [3] and [x] and [');
  assert.deepEqual([...filtered.citations, ...end.citations], []);
});
