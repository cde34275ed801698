import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ApiError } from '../errors/api-error.ts';
import { UpstreamError } from '../errors/upstream-error.ts';
import type { ModelItem } from '../providers/model-adapter.ts';
import type { Storage } from '../storage/stores.ts';
import { engineContext, openTemporaryStorage } from '../testing/engine-fixtures.ts';
import { ScriptedModel, textAnswer } from '../testing/scripted-model.ts';
import { StaticModelRouter } from '../testing/static-model-router.ts';
import type { CompactionItem } from '../wire/response-types.ts';
import {
  compactResponse,
  compactThreshold,
  maybeCompact,
  parseCompactRequest,
  SUMMARY_INSTRUCTION,
} from './compact-items.ts';
import { COMPACTION_PURPOSE, convertItems, openCompaction } from './convert-items.ts';
import { parseCreateResponse } from './parse-create-response.ts';
import { prepareResponse } from './prepare-response.ts';
import { collectResponse, runResponse, type EngineContext } from './run-response.ts';
import { ContentSealer } from './sealed-content.ts';

let storage: Storage;
let closeStorage: () => Promise<void>;
const sealer = new ContentSealer(randomBytes(32));

before(async () => {
  ({ storage, close: closeStorage } = await openTemporaryStorage('riposte-compact-'));
});
after(() => closeStorage());

function contextFor(model: ScriptedModel, overrides: Partial<EngineContext> = {}): EngineContext {
  return engineContext(storage, sealer, model, overrides);
}

const SUMMARY = 'The user is building a landing page in site/index.html; the weather tool said 21 °C in Paris.';

const CONVERSATION = [
  {
    id: 'msg_user_1',
    type: 'message',
    role: 'user',
    content: [{ type: 'input_text', text: 'Build me a landing page.' }],
  },
  {
    id: 'msg_assistant_1',
    type: 'message',
    role: 'assistant',
    status: 'completed',
    content: [{ type: 'output_text', text: 'Here it is: site/index.html', annotations: [], logprobs: [] }],
  },
  { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
  { type: 'function_call_output', call_id: 'call_1', output: '21 °C' },
  { type: 'message', role: 'user', content: 'Now add the weather.' },
];

function textOf(item: ModelItem | undefined): string {
  assert.ok(item && item.type === 'message');
  return item.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
}

describe('compactResponse (POST /v1/responses/compact)', () => {
  test('asks the model for a summary of the whole conversation, then keeps user messages verbatim before one sealed compaction item', async () => {
    const model = new ScriptedModel([textAnswer(SUMMARY, { inputTokens: 140, outputTokens: 30 })]);
    const compacted = await compactResponse(
      parseCompactRequest({ model: 'test-model', input: CONVERSATION, instructions: 'Be brief.' }),
      contextFor(model, { now: () => 1_700_000_000_000 }),
    );

    const sent = model.requests[0]!;
    assert.equal(model.requests.length, 1);
    assert.equal(sent.toolChoice, 'none');
    assert.deepEqual(
      sent.items.map((item) => (item.type === 'message' ? `${item.type}:${item.role}` : item.type)),
      [
        'message:developer',
        'message:user',
        'message:assistant',
        'function_call',
        'function_call_output',
        'message:user',
        'message:user',
      ],
    );
    assert.equal(textOf(sent.items.at(-1)), SUMMARY_INSTRUCTION);

    assert.equal(compacted.object, 'response.compaction');
    assert.match(compacted.id, /^resp_/);
    assert.equal(compacted.created_at, 1_700_000_000);
    assert.equal(compacted.output.length, 3);
    const [first, second, compaction] = compacted.output as [
      Record<string, unknown>,
      Record<string, unknown>,
      CompactionItem,
    ];
    assert.deepEqual(first, { ...CONVERSATION[0], status: 'completed' });
    assert.equal(second.role, 'user');
    assert.deepEqual(second.content, [{ type: 'input_text', text: 'Now add the weather.' }]);
    assert.equal(compaction.type, 'compaction');
    assert.match(compaction.id, /^cmp_/);
    // The item carries the user messages as well as the summary (not the instructions, which are
    // not carried over), so a client may drop everything before it.
    assert.deepEqual(openCompaction(sealer, 'owner-a', compaction.encrypted_content), {
      version: 2,
      summary: SUMMARY,
      messages: [
        { type: 'message', role: 'user', content: [{ type: 'text', text: 'Build me a landing page.' }] },
        { type: 'message', role: 'user', content: [{ type: 'text', text: 'Now add the weather.' }] },
      ],
    });
    assert.equal(sealer.open(COMPACTION_PURPOSE, 'owner-b', compaction.encrypted_content), null);
    assert.equal(sealer.open('reasoning', 'owner-a', compaction.encrypted_content), null);
    assert.deepEqual(compacted.usage, {
      input_tokens: 140,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: 30,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 170,
    });
  });

  test('estimates usage when the upstream reports none', async () => {
    const model = new ScriptedModel([[{ type: 'text-delta', delta: SUMMARY }]]);
    const compacted = await compactResponse(
      parseCompactRequest({ model: 'test-model', input: CONVERSATION }),
      contextFor(model),
    );
    assert.ok(compacted.usage.input_tokens > 0);
    assert.equal(compacted.usage.output_tokens, Math.ceil(SUMMARY.length / 4));
    assert.equal(compacted.usage.total_tokens, compacted.usage.input_tokens + compacted.usage.output_tokens);
  });

  test('an empty summary is an upstream error, never an empty compaction', async () => {
    const model = new ScriptedModel([[{ type: 'reasoning-delta', delta: 'thinking' }]]);
    await assert.rejects(
      compactResponse(parseCompactRequest({ model: 'test-model', input: CONVERSATION }), contextFor(model)),
      (error: unknown) => error instanceof UpstreamError && error.code === 'upstream_error',
    );
  });

  test('compacts a previous_response_id chain, keeping its user messages with their stored ids', async () => {
    const model = new ScriptedModel([textAnswer('First answer.'), textAnswer(SUMMARY)]);
    const first = await collectResponse(
      runResponse(parseCreateResponse({ model: 'test-model', input: 'Remember the number 42.' }), contextFor(model)),
    );
    const storedInput = await storage.responses.listInputItems('owner-a', first.response.id, {
      order: 'asc',
      limit: 10,
      after: null,
      before: null,
    });
    const compacted = await compactResponse(
      parseCompactRequest({ model: 'test-model', previous_response_id: first.response.id, input: 'And 7.' }),
      contextFor(model),
    );
    const summaryRequest = model.requests[1]!;
    assert.equal(textOf(summaryRequest.items[1]), 'First answer.');
    const users = compacted.output.slice(0, -1) as Array<Record<string, unknown>>;
    assert.deepEqual(
      users.map((item) => item.id),
      [storedInput.items[0]!.id, users[1]!.id],
    );
    assert.deepEqual(users[1]!.content, [{ type: 'input_text', text: 'And 7.' }]);
    assert.equal(compacted.output.at(-1)!.type, 'compaction');
  });

  test('refuses a body with nothing to compact, naming input', async () => {
    const model = new ScriptedModel([]);
    await assert.rejects(
      compactResponse(parseCompactRequest({ model: 'test-model' }), contextFor(model)),
      (error: unknown) => error instanceof ApiError && error.status === 400 && error.param === 'input',
    );
    assert.equal(model.requests.length, 0);
  });

  test('validates the body like POST /v1/responses and ignores fields compact does not take', () => {
    assert.throws(
      () => parseCompactRequest({ input: 'x' }),
      (error: unknown) => error instanceof ApiError && error.param === 'model',
    );
    assert.throws(
      () => parseCompactRequest({ model: 'test-model', input: [{ type: 'compaction' }] }),
      (error: unknown) => error instanceof ApiError && error.param === 'input[0].encrypted_content',
    );
    const parsed = parseCompactRequest({ model: 'test-model', input: 'x', stream: true, tools: 'not checked' });
    assert.equal(parsed.stream, false);
    assert.deepEqual(parsed.tools, []);
  });
});

describe('compaction items as input', () => {
  async function compactConversation(): Promise<Array<Record<string, unknown>>> {
    const model = new ScriptedModel([textAnswer(SUMMARY)]);
    const compacted = await compactResponse(
      parseCompactRequest({ model: 'test-model', input: CONVERSATION }),
      contextFor(model),
    );
    return compacted.output as Array<Record<string, unknown>>;
  }

  test('round trip: the next response gives the model the user messages, then the summary as context', async () => {
    const window = await compactConversation();
    const model = new ScriptedModel([textAnswer('Added the weather.')]);
    const outcome = await collectResponse(
      runResponse(
        parseCreateResponse({
          model: 'test-model',
          store: false,
          input: [...window, { role: 'user', content: 'Thanks, what next?' }],
        }),
        contextFor(model),
      ),
    );
    assert.equal(outcome.failure, null);
    const items = model.requests[0]!.items;
    assert.deepEqual(
      items.map((item) => (item.type === 'message' ? item.role : item.type)),
      ['user', 'user', 'user', 'user'],
    );
    assert.equal(textOf(items[0]), 'Build me a landing page.');
    const summaryText = textOf(items[2]);
    assert.match(summaryText, /summary of it/);
    assert.ok(summaryText.includes(`<conversation_summary>\n${SUMMARY}\n</conversation_summary>`));
    assert.equal(textOf(items[3]), 'Thanks, what next?');
  });

  test('items a client left before the latest compaction item are not sent again, user messages excepted', async () => {
    const window = await compactConversation();
    const compaction = window.at(-1)!;
    const model = new ScriptedModel([textAnswer('ok')]);
    await collectResponse(
      runResponse(
        parseCreateResponse({
          model: 'test-model',
          store: false,
          instructions: 'Be brief.',
          input: [...CONVERSATION, compaction, { role: 'user', content: 'Go on.' }],
        }),
        contextFor(model),
      ),
    );
    assert.deepEqual(
      model.requests[0]!.items.map((item) => (item.type === 'message' ? item.role : item.type)),
      ['developer', 'user', 'user', 'user', 'user'],
    );
  });

  /** The roles and texts of what the model was sent for `input` (with `body`). */
  async function sentFor(input: unknown[], body: Record<string, unknown> = {}): Promise<string[]> {
    const model = new ScriptedModel([textAnswer('ok')]);
    const outcome = await collectResponse(
      runResponse(parseCreateResponse({ model: 'test-model', store: false, input, ...body }), contextFor(model)),
    );
    assert.equal(outcome.failure, null);
    return model.requests[0]!.items.map(
      (item) => `${item.type === 'message' ? item.role : item.type}: ${textOf(item)}`,
    );
  }

  const summaryLine = (summary: string): string =>
    `user: The earlier part of this conversation was compacted to save context. This is a summary of it, covering everything up to this point. Use it as context and continue where the conversation left off; do not reply to this note itself.\n\n<conversation_summary>\n${summary}\n</conversation_summary>`;

  test('a client that drops every item before the compaction item still gives the model the user messages', async () => {
    const compaction = (await compactConversation()).at(-1)!;
    assert.deepEqual(await sentFor([compaction, { role: 'user', content: 'Go on.' }], { instructions: 'Be brief.' }), [
      'developer: Be brief.',
      'user: Build me a landing page.',
      'user: Now add the weather.',
      summaryLine(SUMMARY),
      'user: Go on.',
    ]);
  });

  test('developer messages of the input are sealed too, and not sent twice by a client that keeps them', async () => {
    const model = new ScriptedModel([textAnswer(SUMMARY)]);
    const withDeveloper = [{ role: 'developer', content: 'Answer in French.' }, ...CONVERSATION];
    const compacted = await compactResponse(
      parseCompactRequest({ model: 'test-model', input: withDeveloper, instructions: 'Be brief.' }),
      contextFor(model),
    );
    assert.deepEqual(
      (compacted.output as Array<Record<string, unknown>>).map((item) => item.role ?? item.type),
      ['user', 'user', 'compaction'],
      'the output holds the user messages only, as the spec says',
    );
    const compaction = compacted.output.at(-1)!;
    const expected = [
      'developer: Be brief.',
      'developer: Answer in French.',
      'user: Build me a landing page.',
      'user: Now add the weather.',
      summaryLine(SUMMARY),
      'user: Go on.',
    ];
    const next = { role: 'user', content: 'Go on.' };
    assert.deepEqual(await sentFor([compaction, next], { instructions: 'Be brief.' }), expected);
    assert.deepEqual(await sentFor([...withDeveloper, compaction, next], { instructions: 'Be brief.' }), expected);
  });

  test('images in user messages are sealed with them', async () => {
    const image = 'data:image/png;base64,iVBORw0KGgo=';
    const model = new ScriptedModel([textAnswer(SUMMARY), textAnswer('ok')]);
    const compacted = await compactResponse(
      parseCompactRequest({
        model: 'test-model',
        input: [
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'What is this?' },
              { type: 'input_image', image_url: image, detail: 'low' },
            ],
          },
          { role: 'assistant', content: 'A pixel.' },
        ],
      }),
      contextFor(model),
    );
    await collectResponse(
      runResponse(
        parseCreateResponse({ model: 'test-model', store: false, input: [compacted.output.at(-1)!] }),
        contextFor(model),
      ),
    );
    assert.deepEqual(model.requests[1]!.items[0], {
      type: 'message',
      role: 'user',
      content: [
        { type: 'text', text: 'What is this?' },
        { type: 'image', url: image, detail: 'low' },
      ],
    });
  });

  test('compacting again carries on the user messages the earlier compaction carried', async () => {
    const first = (await compactConversation()).at(-1)!;
    const model = new ScriptedModel([textAnswer('SECOND SUMMARY')]);
    const compacted = await compactResponse(
      parseCompactRequest({
        model: 'test-model',
        input: [first, { role: 'user', content: 'And a footer.' }, { role: 'assistant', content: 'Done.' }],
      }),
      contextFor(model),
    );
    // The summariser is shown what the earlier compaction carried, then its summary.
    const shown = model.requests[0]!.items;
    assert.deepEqual(shown.slice(0, 2).map(textOf), ['Build me a landing page.', 'Now add the weather.']);
    assert.ok(textOf(shown[2]).includes(SUMMARY));
    const payload = openCompaction(sealer, 'owner-a', compacted.output.at(-1)!.encrypted_content as string);
    assert.deepEqual(
      payload?.messages.map((message) => textOf(message)),
      ['Build me a landing page.', 'Now add the weather.', 'And a footer.'],
    );
    assert.equal(payload?.summary, 'SECOND SUMMARY');
  });

  test('an older compaction blob holding only the summary text still works, with the user messages kept before it', async () => {
    const older = {
      type: 'compaction',
      id: 'cmp_older',
      encrypted_content: sealer.seal(COMPACTION_PURPOSE, 'owner-a', SUMMARY),
    };
    assert.deepEqual(await sentFor([...CONVERSATION, older, { role: 'user', content: 'Go on.' }]), [
      'user: Build me a landing page.',
      'user: Now add the weather.',
      summaryLine(SUMMARY),
      'user: Go on.',
    ]);
    assert.deepEqual(await sentFor([older, { role: 'user', content: 'Go on.' }]), [
      summaryLine(SUMMARY),
      'user: Go on.',
    ]);
  });

  for (const [name, blob] of [
    ['tampered', (sealed: string) => sealed.slice(0, -4) + (sealed.endsWith('AAAA') ? 'BBBB' : 'AAAA')],
    ['from another owner', () => sealer.seal(COMPACTION_PURPOSE, 'owner-b', SUMMARY)],
    ['from another server key', () => new ContentSealer(randomBytes(32)).seal(COMPACTION_PURPOSE, 'owner-a', SUMMARY)],
    ['sealed for reasoning', () => sealer.seal('reasoning', 'owner-a', SUMMARY)],
    ['malformed', () => 'not-a-blob'],
  ] as const) {
    test(`a compaction item ${name} is a 400 naming input[i].encrypted_content`, async () => {
      const window = await compactConversation();
      const compaction = window.at(-1)!;
      const input = [
        ...window.slice(0, -1),
        { ...compaction, encrypted_content: blob(compaction.encrypted_content as string) },
      ];
      const model = new ScriptedModel([]);
      await assert.rejects(
        prepareResponse(parseCreateResponse({ model: 'test-model', input }), contextFor(model)),
        (error: unknown) =>
          error instanceof ApiError &&
          error.status === 400 &&
          error.code === 'invalid_encrypted_content' &&
          error.param === `input[${input.length - 1}].encrypted_content`,
      );
    });
  }
});

describe('maybeCompact (context_management)', () => {
  const longConversation = [
    ...CONVERSATION.slice(0, -1),
    { type: 'function_call', call_id: 'call_2', name: 'read_file', arguments: '{}' },
    { type: 'function_call_output', call_id: 'call_2', output: 'x'.repeat(8000) },
    CONVERSATION.at(-1)!,
  ];

  async function prepare(body: Record<string, unknown>, model: ScriptedModel) {
    const request = parseCreateResponse({ model: 'test-model', input: longConversation, ...body });
    // prepareResponse refuses context_management until the engine serves it; maybeCompact reads it from the request.
    const prepared = await prepareResponse({ ...request, contextManagement: null }, contextFor(model));
    return { request, prepared };
  }

  test('below the threshold nothing is compacted and the model is not called', async () => {
    const model = new ScriptedModel([]);
    const { request, prepared } = await prepare(
      { context_management: [{ type: 'compaction', compact_threshold: 100_000 }] },
      model,
    );
    const result = await maybeCompact(prepared, request, contextFor(model));
    assert.equal(result.compactionItem, null);
    assert.equal(result.items, prepared.modelItems);
    assert.equal(result.usage.inputTokens, 0);
    assert.equal(model.requests.length, 0);
  });

  test('above the threshold the input is compacted before the model call', async () => {
    const model = new ScriptedModel([textAnswer(SUMMARY, { inputTokens: 2100, outputTokens: 25 })]);
    const { request, prepared } = await prepare(
      {
        instructions: 'Be brief.',
        tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: {} } }],
        context_management: [{ type: 'compaction', compact_threshold: 1000 }],
      },
      model,
    );
    const counted: number[] = [];
    const result = await maybeCompact(prepared, request, contextFor(model), {
      countTokens: async (_route, items) => {
        counted.push(items.length);
        return 2000;
      },
    });
    assert.deepEqual(counted, [prepared.modelItems.length]);
    assert.equal(model.requests[0]!.toolChoice, 'none');
    assert.deepEqual(
      model.requests[0]!.tools.map((tool) => tool.name),
      ['get_weather'],
    );
    assert.ok(result.compactionItem);
    const payload = openCompaction(sealer, 'owner-a', result.compactionItem.encrypted_content);
    assert.equal(payload?.summary, SUMMARY);
    assert.deepEqual(
      payload?.messages.map((message) => textOf(message)),
      ['Build me a landing page.', 'Now add the weather.'],
      'the user messages are sealed, the instructions are not',
    );
    assert.deepEqual(
      result.items.map((item) => (item.type === 'message' ? item.role : item.type)),
      ['developer', 'user', 'user', 'user'],
    );
    assert.equal(textOf(result.items[0]), 'Be brief.');
    assert.ok(textOf(result.items[3]).includes(SUMMARY));
    // The model sees now what it will see in the next turns for the compaction item.
    const nextTurn = convertItems(
      [result.compactionItem as unknown as Record<string, unknown> & { type: string }],
      { sealer, owner: 'owner-a' },
      'input',
    );
    assert.deepEqual(nextTurn, result.items.slice(1));
    assert.deepEqual(result.usage, { inputTokens: 2100, outputTokens: 25, cachedInputTokens: 0, reasoningTokens: 0 });
  });

  test('the default estimate counts about four characters a token', async () => {
    const model = new ScriptedModel([textAnswer(SUMMARY)]);
    const { request, prepared } = await prepare(
      { context_management: [{ type: 'compaction', compact_threshold: 1000 }] },
      model,
    );
    const result = await maybeCompact(prepared, request, contextFor(model));
    assert.ok(result.compactionItem, '8000 characters of tool output are about 2000 tokens, over 1000');
  });

  test('without compact_threshold the threshold is 80% of the context window; without the entry, none', () => {
    const route = new StaticModelRouter({ 'test-model': new ScriptedModel([]) }, { contextWindow: 10_000 }).resolve(
      'test-model',
    )!;
    const withEntry = parseCreateResponse({ model: 'test-model', context_management: [{ type: 'compaction' }] });
    assert.equal(compactThreshold(withEntry, route), 8000);
    assert.equal(compactThreshold(parseCreateResponse({ model: 'test-model' }), route), null);
  });

  test('only the compaction type is accepted in context_management', () => {
    assert.throws(
      () => parseCreateResponse({ model: 'test-model', context_management: [{ type: 'truncate' }] }),
      (error: unknown) => error instanceof ApiError && error.param === 'context_management[0].type',
    );
  });
});
