import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError } from '../errors/api-error.ts';
import type { ModelItem, ModelRequest, ModelTool } from '../providers/model-adapter.ts';
import { ScriptedModel } from '../testing/scripted-model.ts';
import { loadTokenCounter } from './count-tokens.ts';
import { fitContext, inputBudget, outputReserve } from './fit-context.ts';
import type { ModelRoute } from './model-router.ts';

const user = (text: string): ModelItem => ({ type: 'message', role: 'user', content: [{ type: 'text', text }] });
const assistant = (text: string): ModelItem => ({
  type: 'message',
  role: 'assistant',
  content: [{ type: 'text', text }],
});
const developer: ModelItem = { type: 'message', role: 'developer', content: [{ type: 'text', text: 'Be brief.' }] };

function route(contextWindow: number, adapter = new ScriptedModel([])): ModelRoute {
  return { publicName: 'm', providerName: 'p', upstreamModel: 'llama3', contextWindow, adapter };
}

/** Twenty turns of about 100 tokens each. */
const history: ModelItem[] = [
  developer,
  ...Array.from({ length: 20 }, (_unused, index) => [
    user(`question ${index} ${'lorem ipsum '.repeat(45)}`),
    assistant(`answer ${index} ${'dolor sit '.repeat(45)}`),
  ]).flat(),
  user('the last question'),
];

function assertContextLengthExceeded(error: unknown): true {
  assert.ok(error instanceof ApiError);
  assert.equal(error.status, 400);
  assert.equal(error.code, 'context_length_exceeded');
  assert.equal(error.param, 'input');
  return true;
}

describe('budgets', () => {
  test('the output reserve is max_output_tokens, else min(4096, a quarter of the window)', () => {
    assert.equal(outputReserve(128_000, null), 4096);
    assert.equal(outputReserve(8192, null), 2048);
    assert.equal(outputReserve(8192, 100), 100);
    assert.equal(inputBudget(8192, null), 6144);
    assert.equal(inputBudget(8192, 1000), 7192);
  });
});

describe('fitContext', () => {
  test('a small input is sent as it is, without loading an encoder', async () => {
    const items = [developer, user('hi')];
    const fitted = await fitContext(items, route(128_000), {
      truncation: 'disabled',
      maxOutputTokens: null,
      tools: [],
    });
    assert.equal(fitted.items, items);
    assert.equal(fitted.inputTokens, null);
    assert.equal(fitted.truncated, false);
  });

  test('disabled: just under the budget passes, just over is a 400 before any upstream call', async () => {
    const counter = await loadTokenCounter('llama3');
    const total = counter.countRequest(history, []);
    const model = new ScriptedModel([]);
    const exact = await fitContext(history, route(total + 100, model), {
      truncation: 'disabled',
      maxOutputTokens: 100,
      tools: [],
    });
    assert.equal(exact.items, history);
    assert.equal(exact.inputTokens, total);
    await assert.rejects(
      fitContext(history, route(total + 99, model), { truncation: 'disabled', maxOutputTokens: 100, tools: [] }),
      (error: unknown) => {
        assertContextLengthExceeded(error);
        assert.match((error as Error).message, new RegExp(`${total} of input and 100 kept for output`));
        return true;
      },
    );
    assert.equal(model.requests.length, 0);
  });

  test('tools count against the budget', async () => {
    const counter = await loadTokenCounter('llama3');
    const tools: ModelTool[] = [
      { type: 'function', name: 'lookup', description: 'x'.repeat(400), parameters: { type: 'object' }, strict: false },
    ];
    const total = counter.countRequest(history, tools);
    assert.ok(total > counter.countRequest(history, []));
    await assert.rejects(
      fitContext(history, route(total + 99), { truncation: 'disabled', maxOutputTokens: 100, tools }),
      assertContextLengthExceeded,
    );
    const fitted = await fitContext(history, route(total + 100), {
      truncation: 'disabled',
      maxOutputTokens: 100,
      tools,
    });
    assert.equal(fitted.inputTokens, total);
  });

  test('auto: drops the oldest turns until the rest fits, keeping instructions and the question', async () => {
    const counter = await loadTokenCounter('llama3');
    const total = counter.countRequest(history, []);
    const window = Math.floor(total / 2) + 100;
    const fitted = await fitContext(history, route(window), { truncation: 'auto', maxOutputTokens: 100, tools: [] });
    assert.equal(fitted.truncated, true);
    assert.ok(fitted.inputTokens !== null && fitted.inputTokens <= window - 100);
    assert.equal(fitted.inputTokens, counter.countRequest(fitted.items, []));
    assert.equal(fitted.items[0], developer);
    assert.equal(fitted.items.at(-1), history.at(-1));
    assert.equal(fitted.items[1]?.type === 'message' && fitted.items[1].role, 'user');
    // Only the oldest went: the kept conversation is the tail of the original.
    assert.deepEqual(fitted.items.slice(1), history.slice(history.length - fitted.items.length + 1));
    // One more turn would not have fitted.
    const oneMore = history.slice(history.length - fitted.items.length - 1);
    assert.ok(counter.countRequest([developer, ...oneMore], []) > window - 100);
  });

  test('auto: when even the instructions and the question do not fit, the same 400', async () => {
    const huge = [developer, user('word '.repeat(3000))];
    await assert.rejects(
      fitContext(huge, route(2000), { truncation: 'auto', maxOutputTokens: null, tools: [] }),
      assertContextLengthExceeded,
    );
  });

  test("near the budget, the upstream's exact count decides", async () => {
    const counter = await loadTokenCounter('llama3');
    const total = counter.countRequest(history, []);
    const requests: ModelRequest[] = [];
    const withCount = (answer: number | null): ScriptedModel =>
      Object.assign(new ScriptedModel([]), {
        countTokens: async (request: ModelRequest) => {
          requests.push(request);
          return answer;
        },
      });
    // The estimate is over, the upstream says it fits: sent whole.
    const fits = await fitContext(history, route(total, withCount(total - 200)), {
      truncation: 'disabled',
      maxOutputTokens: 100,
      tools: [],
    });
    assert.equal(fits.items, history);
    assert.equal(fits.inputTokens, total - 200);
    assert.equal(requests.at(-1)?.model, 'llama3');
    assert.equal(requests.at(-1)?.items, history);
    // The estimate fits, the upstream says twice as many: truncated to what the upstream would take.
    const doubled = await fitContext(history, route(total + 100, withCount(total * 2)), {
      truncation: 'auto',
      maxOutputTokens: 100,
      tools: [],
    });
    assert.equal(doubled.truncated, true);
    assert.ok(counter.countRequest(doubled.items, []) * 2 <= total + 2);
    // The upstream cannot count: the estimate stands.
    const unknown = await fitContext(history, route(total + 100, withCount(null)), {
      truncation: 'disabled',
      maxOutputTokens: 100,
      tools: [],
    });
    assert.equal(unknown.inputTokens, total);
  });
});
