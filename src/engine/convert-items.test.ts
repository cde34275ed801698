import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { ModelItem } from '../providers/model-adapter.ts';
import { COMPACTION_PURPOSE, convertItems, openCompaction, sealCompaction } from './convert-items.ts';
import { ContentSealer } from './sealed-content.ts';

const sealer = new ContentSealer(randomBytes(32));
const options = { sealer, owner: 'owner-a' };
const question: Extract<ModelItem, { type: 'message' }> = {
  type: 'message',
  role: 'user',
  content: [{ type: 'text', text: 'question 1' }],
};

function rolesAndTexts(items: ModelItem[]): string[] {
  return items.map((item) =>
    item.type === 'message'
      ? `${item.role}: ${item.content.map((part) => (part.type === 'text' ? part.text : part.type)).join('')}`
      : item.type,
  );
}

describe('compaction payloads', () => {
  test('version 2 carries the summary and the kept messages', () => {
    const sealed = sealCompaction(sealer, 'owner-a', 'the summary', [question]);
    assert.deepEqual(openCompaction(sealer, 'owner-a', sealed), {
      version: 2,
      summary: 'the summary',
      messages: [question],
    });
    assert.equal(openCompaction(sealer, 'owner-b', sealed), null);
  });

  test('a version 1 blob is its summary text, even when that text is JSON', () => {
    for (const summary of [
      'plain summary',
      '{"summary": "a model wrote JSON", "v": 1}',
      '{"v": 2, "summary": 3}',
      '{',
    ]) {
      assert.deepEqual(openCompaction(sealer, 'owner-a', sealer.seal(COMPACTION_PURPOSE, 'owner-a', summary)), {
        version: 1,
        summary,
        messages: [],
      });
    }
  });
});

describe('convertItems with compaction items', () => {
  const compaction = (sealed: string) => ({ type: 'compaction', id: 'cmp_1', encrypted_content: sealed });
  const earlier = [
    { type: 'message', role: 'system', content: 'Be brief.' },
    { type: 'message', role: 'user', content: 'question 0' },
    { type: 'message', role: 'user', content: 'question 1' },
    { type: 'message', role: 'assistant', content: 'answer 1' },
  ];

  test('before a version 2 compaction only the instructions it does not carry are kept', () => {
    const items = convertItems(
      [
        ...earlier,
        compaction(sealCompaction(sealer, 'owner-a', 'S', [question])),
        { type: 'message', role: 'user', content: 'question 2' },
      ],
      options,
      'input',
    );
    assert.deepEqual(
      rolesAndTexts(items).map((line) => line.slice(0, 22)),
      ['system: Be brief.', 'user: question 1', 'user: The earlier part', 'user: question 2'],
    );
  });

  test('before a version 1 compaction user, system and developer messages are kept, as before', () => {
    const items = convertItems(
      [
        ...earlier,
        compaction(sealer.seal(COMPACTION_PURPOSE, 'owner-a', 'S')),
        { type: 'message', role: 'user', content: 'question 2' },
      ],
      options,
      'input',
    );
    assert.deepEqual(
      rolesAndTexts(items).map((line) => line.slice(0, 22)),
      ['system: Be brief.', 'user: question 0', 'user: question 1', 'user: The earlier part', 'user: question 2'],
    );
  });
});
