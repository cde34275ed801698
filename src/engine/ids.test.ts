import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFileId, createId } from './ids.ts';

describe('ids', () => {
  it('look like OpenAI ids: a prefix, then 48 hex digits', () => {
    assert.match(createId('resp'), /^resp_[0-9a-f]{48}$/);
    assert.match(createId('msg'), /^msg_[0-9a-f]{48}$/);
  });

  it('file ids are file- and 24 base62 characters', () => {
    assert.match(createFileId(), /^file-[0-9A-Za-z]{24}$/);
  });

  it('never repeat, across many refills of the random pool', () => {
    const seen = new Set<string>();
    for (let count = 0; count < 20_000; count++) {
      seen.add(createId('resp'));
      seen.add(createFileId());
    }
    assert.equal(seen.size, 40_000);
  });

  it('use every hex digit and base62 character, none stuck', () => {
    const hex = new Set(Array.from({ length: 200 }, () => createId('fc').slice(3)).join(''));
    assert.equal(hex.size, 16);
    const base62 = new Set(Array.from({ length: 400 }, () => createFileId().slice(5)).join(''));
    assert.equal(base62.size, 62);
  });
});
