import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cloneJson } from './clone-json.ts';

describe('cloneJson', () => {
  it('copies nested objects and arrays, sharing nothing', () => {
    const original = {
      id: 'msg_1',
      content: [{ type: 'output_text', text: 'Hi', annotations: [{ index: 0 }], logprobs: [] }],
      usage: null,
      metadata: {},
      missing: undefined,
      flag: false,
      count: 0,
    };
    const copy = cloneJson(original);
    assert.deepEqual(copy, original);
    assert.ok('missing' in copy);
    copy.content[0]!.text = 'changed';
    copy.content[0]!.annotations.push({ index: 1 });
    copy.metadata = { changed: true };
    assert.equal(original.content[0]!.text, 'Hi');
    assert.equal(original.content[0]!.annotations.length, 1);
    assert.deepEqual(original.metadata, {});
  });

  it('returns primitives as they are', () => {
    for (const value of ['text', 1.5, true, null, undefined]) assert.equal(cloneJson(value), value);
  });
});
