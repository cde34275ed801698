import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ModelItem } from '../providers/model-adapter.ts';
import { truncateItems } from './truncate-items.ts';

/*
 * Each item costs 10 tokens, so budgets are easy to read: n items fit in 10 n.
 */
const COST = 10;
const count = (items: ModelItem[]): number => items.length * COST;

const message = (role: 'system' | 'developer' | 'user' | 'assistant', text: string): ModelItem => ({
  type: 'message',
  role,
  content: [{ type: 'text', text }],
});
const call = (callId: string): ModelItem => ({ type: 'function_call', callId, name: 'f', arguments: '{}' });
const output = (callId: string): ModelItem => ({ type: 'function_call_output', callId, output: 'ok' });
const customCall = (callId: string): ModelItem => ({ type: 'custom_tool_call', callId, name: 'shell', input: 'ls' });
const customOutput = (callId: string): ModelItem => ({ type: 'custom_tool_call_output', callId, output: 'a b' });
const reasoning = (text: string): ModelItem => ({ type: 'reasoning', text });

/** A short name for each item, so expectations read as the conversation does. */
function names(items: ModelItem[] | null): string[] | null {
  if (items === null) return null;
  return items.map((item) => {
    switch (item.type) {
      case 'message':
        return `${item.role}:${(item.content[0] as { text: string }).text}`;
      case 'function_call':
      case 'custom_tool_call':
        return `call:${item.callId}`;
      case 'function_call_output':
      case 'custom_tool_call_output':
        return `output:${item.callId}`;
      case 'reasoning':
        return `reasoning:${item.text}`;
    }
  });
}

describe('truncateItems', () => {
  const conversation = [
    message('developer', 'rules'),
    message('user', 'one'),
    message('assistant', 'one'),
    message('user', 'two'),
    message('assistant', 'two'),
    message('user', 'three'),
  ];

  test('returns the items untouched when they fit, exactly at the budget', () => {
    assert.equal(truncateItems(conversation, 6 * COST, count), conversation);
  });

  test('just above the budget, drops the oldest turn (and only that)', () => {
    // 6 items, budget for 5: dropping "user:one" alone would leave "assistant:one" first, so the
    // whole exchange goes (rule 4).
    assert.deepEqual(names(truncateItems(conversation, 6 * COST - 1, count)), [
      'developer:rules',
      'user:two',
      'assistant:two',
      'user:three',
    ]);
    assert.deepEqual(names(truncateItems(conversation, 4 * COST, count)), [
      'developer:rules',
      'user:two',
      'assistant:two',
      'user:three',
    ]);
  });

  test('keeps the head instructions and the latest user message: the minimum', () => {
    const withSystem = [message('system', 'sys'), ...conversation];
    assert.deepEqual(names(truncateItems(withSystem, 3 * COST, count)), [
      'system:sys',
      'developer:rules',
      'user:three',
    ]);
    assert.deepEqual(names(truncateItems(withSystem, 4 * COST - 1, count)), [
      'system:sys',
      'developer:rules',
      'user:three',
    ]);
  });

  test('returns null when even the minimum is over the budget', () => {
    assert.equal(truncateItems(conversation, 2 * COST - 1, count), null);
    assert.deepEqual(names(truncateItems(conversation, 2 * COST, count)), ['developer:rules', 'user:three']);
  });

  test('a developer message that is not at the head may be dropped', () => {
    const items = [message('user', 'one'), message('developer', 'late'), message('user', 'two')];
    assert.deepEqual(names(truncateItems(items, COST, count)), ['user:two']);
  });

  test('drops a function call and its output together, even apart and in parallel', () => {
    const items = [
      message('user', 'go'),
      call('a'),
      call('b'),
      output('a'),
      output('b'),
      message('assistant', 'done'),
      message('user', 'again'),
    ];
    // Over by one item: "user:go" goes, and then everything up to the next user message, since
    // the rest must start with one (rule 4) — each call leaving with its output.
    const kept = names(truncateItems(items, 6 * COST, count));
    assert.deepEqual(kept, ['user:again']);
    // With room to spare after the minimum, pairs are never split.
    for (let budget = COST; budget <= 7 * COST; budget += 1) {
      const result = names(truncateItems(items, budget, count)) ?? [];
      for (const id of ['a', 'b']) {
        assert.equal(result.includes(`call:${id}`), result.includes(`output:${id}`), `budget ${budget}, pair ${id}`);
      }
    }
  });

  test('the current turn may lose its oldest tool calls, never the user message that started it', () => {
    // An agent loop: one user message followed by many tool calls.
    const items = [
      message('developer', 'rules'),
      message('user', 'fix the bug'),
      call('1'),
      output('1'),
      customCall('2'),
      customOutput('2'),
      call('3'),
      output('3'),
    ];
    assert.deepEqual(names(truncateItems(items, 7 * COST, count)), [
      'developer:rules',
      'user:fix the bug',
      'call:2',
      'output:2',
      'call:3',
      'output:3',
    ]);
    assert.deepEqual(names(truncateItems(items, 6 * COST, count)), [
      'developer:rules',
      'user:fix the bug',
      'call:2',
      'output:2',
      'call:3',
      'output:3',
    ]);
    assert.deepEqual(names(truncateItems(items, 6 * COST - 1, count)), [
      'developer:rules',
      'user:fix the bug',
      'call:3',
      'output:3',
    ]);
  });

  test('drops custom tool calls with their outputs, never matching a function output to a custom call', () => {
    const items = [message('user', 'u'), customCall('x'), output('x'), customOutput('x'), message('user', 'v')];
    // call:x and its custom output are one unit; the function output with the same id stands alone.
    assert.deepEqual(names(truncateItems(items, 2 * COST, count)), ['user:v']);
    assert.deepEqual(names(truncateItems(items, 4 * COST, count)), ['user:v']);
  });

  test('drops reasoning with the output it led to', () => {
    const items = [
      message('user', 'one'),
      reasoning('think'),
      call('a'),
      output('a'),
      reasoning('more'),
      message('assistant', 'answer'),
      message('user', 'two'),
    ];
    const kept = names(truncateItems(items, 4 * COST, count));
    assert.deepEqual(kept, ['user:two']);
    // Reasoning never outlives its call.
    for (let budget = COST; budget <= 7 * COST; budget += 1) {
      const result = names(truncateItems(items, budget, count)) ?? [];
      assert.equal(result.includes('reasoning:think'), result.includes('call:a'), `budget ${budget}`);
      assert.equal(result.includes('reasoning:more'), result.includes('assistant:answer'), `budget ${budget}`);
    }
  });

  test('keeps every kept item in its original order, and only drops from the front', () => {
    // Alternating turns ending with the user's: the latest user message is the last item.
    const items = Array.from({ length: 49 }, (_unused, index) =>
      message(index % 2 === 0 ? 'user' : 'assistant', String(index)),
    );
    for (let budget = COST; budget <= 49 * COST; budget += 7) {
      const kept = truncateItems(items, budget, count);
      assert.ok(kept !== null);
      assert.ok(count(kept) <= budget, `budget ${budget}`);
      assert.deepEqual(kept, items.slice(items.length - kept.length), `budget ${budget}`);
      assert.equal(kept[0]?.type === 'message' && kept[0].role, 'user', `budget ${budget}`);
    }
  });
});
