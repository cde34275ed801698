import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { REASONING_PURPOSE } from './convert-items.ts';
import { ContentSealer } from './sealed-content.ts';
import { presentItems } from './stored-items.ts';

const sealer = new ContentSealer(randomBytes(32));
const results = [{ file_id: 'file-1', filename: 'a.txt', score: 1, attributes: {}, text: 'found' }];
const stored: Array<Record<string, unknown>> = [
  { id: 'fs_1', type: 'file_search_call', status: 'completed', queries: ['q'], results },
  { id: 'rs_1', type: 'reasoning', summary: [{ type: 'summary_text', text: 'thinking' }] },
  { id: 'msg_1', type: 'message', role: 'user', content: [] },
];

test('presentItems shows file_search results and sealed reasoning only when included, never changing what is stored', () => {
  const before = structuredClone(stored);
  const plain = presentItems(stored, [], sealer, 'owner');
  assert.equal(plain[0]?.results, null);
  assert.equal(plain[1]?.encrypted_content, undefined);
  assert.equal(plain[2], stored[2], 'items that do not change are not copied');

  const withResults = presentItems(stored, ['file_search_call.results'], sealer, 'owner');
  assert.deepEqual(withResults[0]?.results, results);

  const sealed = presentItems(stored, ['reasoning.encrypted_content'], sealer, 'owner');
  assert.equal(sealed[0]?.results, null);
  assert.equal(sealer.open(REASONING_PURPOSE, 'owner', sealed[1]?.encrypted_content as string), 'thinking');
  assert.deepEqual(stored, before);
});
