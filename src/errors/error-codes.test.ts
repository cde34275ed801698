import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES } from './error-codes.ts';

test('docs/errors.md lists exactly the codes of the catalogue', () => {
  const documentation = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Set([...documentation.matchAll(/^\| `([a-z_]+)` \|/gm)].map((match) => match[1]));
  assert.deepEqual([...documented].sort(), Object.keys(ERROR_CODES).sort());
});
