import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ApiError } from '../errors/api-error.ts';
import { UpstreamError } from '../errors/upstream-error.ts';
import type { Storage } from '../storage/stores.ts';
import { engineContext, openTemporaryStorage, seedVectorStore } from '../testing/engine-fixtures.ts';
import { functionCalls, ScriptedModel, textAnswer } from '../testing/scripted-model.ts';
import { StaticModelRouter } from '../testing/static-model-router.ts';
import type { StreamEvent } from '../wire/response-types.ts';
import { parseCreateResponse } from './parse-create-response.ts';
import { collectResponse, runResponse, type EngineContext, type RunOutcome } from './run-response.ts';
import { ContentSealer } from './sealed-content.ts';

let storage: Storage;
let closeStorage: () => Promise<void>;
const sealer = new ContentSealer(randomBytes(32));

before(async () => {
  ({ storage, close: closeStorage } = await openTemporaryStorage('riposte-engine-'));
});
after(() => closeStorage());

function contextFor(model: ScriptedModel, overrides: Partial<EngineContext> = {}): EngineContext {
  return engineContext(storage, sealer, model, { vectorStores: storage.vectorStores, embedder: null, ...overrides });
}

async function run(
  body: Record<string, unknown>,
  model: ScriptedModel,
  overrides: Partial<EngineContext> = {},
): Promise<{ events: StreamEvent[]; outcome: RunOutcome }> {
  const generator = runResponse(parseCreateResponse({ model: 'test-model', ...body }), contextFor(model, overrides));
  const events: StreamEvent[] = [];
  for (;;) {
    const next = await generator.next();
    if (next.done) return { events, outcome: next.value };
    events.push(next.value);
  }
}

describe('runResponse', () => {
  test('streams a text answer with the event sequence OpenAI emits, and stores it', async () => {
    const model = new ScriptedModel([textAnswer('Hello there, world!', { inputTokens: 12, outputTokens: 4 })]);
    const { events, outcome } = await run({ input: 'Hi', instructions: 'Be brief.' }, model);
    const types = events.map((event) => event.type);
    assert.deepEqual(types.slice(0, 4), [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
    assert.deepEqual(types.slice(-4), [
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    assert.deepEqual(
      events.map((event) => event.sequence_number),
      events.map((_, index) => index),
    );
    const deltas = events.filter((event) => event.type === 'response.output_text.delta');
    assert.equal(deltas.map((event) => event.delta).join(''), 'Hello there, world!');
    const itemId = (events[2]!.item as { id: string }).id;
    for (const event of events.slice(3, -1)) assert.equal(event.item_id ?? (event.item as { id: string }).id, itemId);

    const response = outcome.response;
    assert.equal(response.status, 'completed');
    assert.equal(response.output_text, 'Hello there, world!');
    assert.deepEqual(response.usage, {
      input_tokens: 12,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: 4,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 16,
    });
    assert.equal(typeof response.completed_at, 'number');
    const sent = model.lastRequest!;
    assert.equal(sent.model, 'upstream-test-model');
    assert.deepEqual(sent.items[0], {
      type: 'message',
      role: 'developer',
      content: [{ type: 'text', text: 'Be brief.' }],
    });
    assert.deepEqual(sent.items[1], { type: 'message', role: 'user', content: [{ type: 'text', text: 'Hi' }] });

    const stored = await storage.responses.get('owner-a', response.id);
    assert.equal(stored?.status, 'completed');
    assert.deepEqual(stored?.response, JSON.parse(JSON.stringify(response)));
    assert.equal(await storage.responses.get('owner-b', response.id), null);
  });

  test('a function call streams argument deltas and completes the response', async () => {
    const model = new ScriptedModel([
      functionCalls({ callId: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }),
    ]);
    const tools = [
      {
        type: 'function',
        name: 'get_weather',
        parameters: {
          type: 'object',
          properties: { city: { type: 'string' } },
          required: ['city'],
          additionalProperties: false,
        },
        strict: true,
      },
    ];
    const { events, outcome } = await run({ input: 'Weather?', tools }, model);
    const added = events.find((event) => event.type === 'response.output_item.added');
    assert.equal((added?.item as { arguments: string }).arguments, '');
    const done = events.find((event) => event.type === 'response.function_call_arguments.done');
    assert.equal(done?.arguments, '{"city":"Paris"}');
    assert.equal(done?.name, 'get_weather');
    assert.equal(outcome.response.status, 'completed');
    const call = outcome.response.output[0];
    assert.equal(call?.type, 'function_call');
    assert.deepEqual(model.lastRequest?.tools, [
      { type: 'function', name: 'get_weather', description: null, parameters: tools[0]!.parameters, strict: true },
    ]);
  });

  test('previous_response_id sends the whole earlier chain but not its instructions', async () => {
    const model = new ScriptedModel([textAnswer('one'), textAnswer('two'), textAnswer('three')]);
    const first = await run({ input: 'turn 1', instructions: 'old instructions' }, model);
    const second = await run({ input: 'turn 2', previous_response_id: first.outcome.response.id }, model);
    await run({ input: 'turn 3', previous_response_id: second.outcome.response.id, instructions: 'new' }, model);
    const texts = model.lastRequest!.items.map((item) =>
      item.type === 'message' ? `${item.role}:${(item.content[0] as { text: string }).text}` : item.type,
    );
    assert.deepEqual(texts, [
      'developer:new',
      'user:turn 1',
      'assistant:one',
      'user:turn 2',
      'assistant:two',
      'user:turn 3',
    ]);
  });

  test('an unknown or deleted previous response is a 404 naming previous_response_id, before any event', async () => {
    const model = new ScriptedModel([textAnswer('x')]);
    const first = await run({ input: 'a' }, model);
    await storage.responses.delete('owner-a', first.outcome.response.id);
    await assert.rejects(
      run({ input: 'b', previous_response_id: first.outcome.response.id }, model),
      (error: ApiError) => {
        assert.equal(error.status, 404);
        assert.equal(error.param, 'previous_response_id');
        return true;
      },
    );
    assert.equal(model.requests.length, 1);
  });

  test('an unrouted model is model_not_found', async () => {
    const model = new ScriptedModel([]);
    await assert.rejects(
      run({ model: 'nope', input: 'x' }, model),
      (error: ApiError) => error.status === 404 && error.code === 'model_not_found',
    );
  });

  test('strict structured output that does not conform is retried with the reason, then held to the schema', async () => {
    const schema = {
      type: 'object',
      properties: { answer: { type: 'integer' } },
      required: ['answer'],
      additionalProperties: false,
    };
    const model = new ScriptedModel([textAnswer('{"answer": "four"}'), textAnswer('{"answer": 4}')]);
    const { events, outcome } = await run(
      { input: '2+2?', text: { format: { type: 'json_schema', name: 'math', schema, strict: true } } },
      model,
    );
    assert.equal(outcome.response.status, 'completed');
    assert.equal(outcome.response.output_text, '{"answer": 4}');
    const streamedText = events
      .filter((event) => event.type === 'response.output_text.delta')
      .map((event) => event.delta)
      .join('');
    assert.equal(streamedText, '{"answer": 4}', 'the non-conforming attempt is never streamed');
    assert.equal(model.requests.length, 2);
    const feedback = model.requests[1]!.items.at(-1);
    assert.match(JSON.stringify(feedback), /did not match the required JSON schema/);
  });

  test('strict structured output that never conforms fails the response after bounded retries', async () => {
    const schema = {
      type: 'object',
      properties: { answer: { type: 'integer' } },
      required: ['answer'],
      additionalProperties: false,
    };
    const model = new ScriptedModel([textAnswer('nope')], { whenExhausted: 'repeat-last' });
    const { events, outcome } = await run(
      { input: 'x', text: { format: { type: 'json_schema', name: 'math', schema, strict: true } } },
      model,
      { structuredOutputRetries: 1 },
    );
    assert.equal(model.requests.length, 2);
    assert.equal(events.at(-1)?.type, 'response.failed');
    assert.equal(outcome.response.status, 'failed');
    assert.equal(outcome.response.error?.code, 'server_error');
    assert.match(outcome.response.error?.message ?? '', /did not conform/);
    assert.equal(outcome.failure?.status, 500);
    assert.equal((await storage.responses.get('owner-a', outcome.response.id))?.status, 'failed');
  });

  test('strict function arguments are validated and retried', async () => {
    const parameters = {
      type: 'object',
      properties: { n: { type: 'integer' } },
      required: ['n'],
      additionalProperties: false,
    };
    const model = new ScriptedModel([
      functionCalls({ callId: 'c1', name: 'count', arguments: '{"n":"x"}' }),
      functionCalls({ callId: 'c2', name: 'count', arguments: '{"n":3}' }),
    ]);
    const { outcome } = await run(
      { input: 'count', tools: [{ type: 'function', name: 'count', parameters, strict: true }] },
      model,
    );
    assert.equal(outcome.response.output.length, 1);
    assert.equal((outcome.response.output[0] as { arguments: string }).arguments, '{"n":3}');
  });

  test('an upstream failure becomes response.failed and an HTTP error for non-streaming clients', async () => {
    const model = new ScriptedModel([
      {
        error: new UpstreamError({
          message: 'slow down',
          code: 'rate_limit_exceeded',
          retryable: true,
          upstreamStatus: 429,
        }),
      },
    ]);
    const { events, outcome } = await run({ input: 'x' }, model);
    assert.equal(events.at(-1)?.type, 'response.failed');
    assert.deepEqual(outcome.response.error, { code: 'rate_limit_exceeded', message: 'slow down' });
    assert.equal(outcome.failure?.status, 429);
  });

  test('running out of output tokens ends incomplete', async () => {
    const model = new ScriptedModel([
      [
        { type: 'text-delta', delta: 'partial' },
        { type: 'finish', reason: 'length' },
      ],
    ]);
    const { events, outcome } = await run({ input: 'x', max_output_tokens: 16 }, model);
    assert.equal(events.at(-1)?.type, 'response.incomplete');
    assert.deepEqual(outcome.response.incomplete_details, { reason: 'max_output_tokens' });
    assert.equal((outcome.response.output[0] as { status: string }).status, 'incomplete');
  });

  test('a consumer that stops early aborts the upstream and leaves the response cancelled, not in progress', async () => {
    const model = new ScriptedModel([textAnswer('a long answer that takes a while to stream')], { delayMs: 5 });
    const generator = runResponse(parseCreateResponse({ model: 'test-model', input: 'x' }), contextFor(model));
    let id = '';
    for await (const event of generator) {
      if (event.type === 'response.created') id = (event.response as { id: string }).id;
      if (event.type === 'response.output_text.delta') break;
    }
    assert.equal(model.lastRequest?.signal.aborted, true);
    assert.equal((await storage.responses.get('owner-a', id))?.status, 'cancelled');
  });

  test('a client abort mid-call stops the upstream and stores cancelled', async () => {
    const model = new ScriptedModel([textAnswer('a long answer that takes a while')], { delayMs: 20 });
    const abort = new AbortController();
    const generator = runResponse(
      parseCreateResponse({ model: 'test-model', input: 'x' }),
      contextFor(model, { signal: abort.signal }),
    );
    const created = await generator.next();
    const id = ((created.value as StreamEvent).response as { id: string }).id;
    setTimeout(() => abort.abort(new Error('client gone')), 30);
    await assert.rejects(collectResponse(generator));
    assert.equal((await storage.responses.get('owner-a', id))?.status, 'cancelled');
  });

  test('reasoning is streamed as a reasoning item, and its encrypted_content round-trips with store: false', async () => {
    const model = new ScriptedModel([
      [{ type: 'reasoning-delta', delta: 'Think: 2+2=4.' }, ...textAnswer('4')],
      textAnswer('ok'),
    ]);
    const { events, outcome } = await run(
      { input: '2+2', store: false, include: ['reasoning.encrypted_content'] },
      model,
    );
    assert.ok(events.some((event) => event.type === 'response.reasoning_text.delta'));
    const reasoning = outcome.response.output[0] as { type: string; encrypted_content: string };
    assert.equal(reasoning.type, 'reasoning');
    assert.equal(await storage.responses.get('owner-a', outcome.response.id), null, 'store: false keeps nothing');
    const input = [
      { role: 'user', content: '2+2' },
      { ...reasoning, content: undefined },
      { role: 'user', content: 'sure?' },
    ];
    await run({ input, store: false }, model);
    assert.deepEqual(model.lastRequest!.items[1], { type: 'reasoning', text: 'Think: 2+2=4.' });
    const forged = {
      ...reasoning,
      content: undefined,
      encrypted_content: reasoning.encrypted_content.slice(0, -4) + 'AAAA',
    };
    await assert.rejects(
      run({ input: [forged], store: false }, model),
      (error: ApiError) => error.status === 400 && error.param === 'input[0].encrypted_content',
    );
    await assert.rejects(
      run({ input: [{ ...reasoning, content: undefined }], store: false }, model, { owner: 'owner-b' }),
      (error: ApiError) => error.status === 400,
    );
  });

  test('namespace tools are offered flattened and calls come back with their namespace', async () => {
    const model = new ScriptedModel([
      functionCalls({ callId: 'c1', name: 'shell__exec_command', arguments: '{"cmd":"ls"}' }),
    ]);
    const tools = [
      {
        type: 'namespace',
        name: 'shell',
        description: 'Shell tools',
        tools: [
          {
            type: 'function',
            name: 'exec_command',
            parameters: { type: 'object', properties: { cmd: { type: 'string' } } },
            strict: false,
          },
        ],
      },
    ];
    const { outcome } = await run({ input: 'ls', tools }, model);
    assert.equal(model.lastRequest?.tools[0]?.name, 'shell__exec_command');
    assert.deepEqual(
      { ...outcome.response.output[0], id: undefined },
      {
        id: undefined,
        type: 'function_call',
        status: 'completed',
        call_id: 'c1',
        name: 'exec_command',
        namespace: 'shell',
        arguments: '{"cmd":"ls"}',
      },
    );
  });

  test('built-in tools are refused by name, except web_search without live access', async () => {
    const model = new ScriptedModel([textAnswer('fine')]);
    await assert.rejects(
      run({ input: 'x', tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] }, model),
      (error: ApiError) => {
        assert.equal(error.param, 'tools[0].type');
        assert.match(error.message, /code_interpreter/);
        return true;
      },
    );
    const { outcome } = await run({ input: 'x', tools: [{ type: 'web_search', external_web_access: false }] }, model);
    assert.equal(outcome.response.status, 'completed');
    assert.deepEqual(model.lastRequest?.tools, []);
  });

  test('item_reference resolves a stored item; an unknown one is a 400 naming it', async () => {
    const model = new ScriptedModel([textAnswer('first'), textAnswer('second')]);
    const first = await run({ input: 'remember me' }, model);
    const page = await storage.responses.listInputItems('owner-a', first.outcome.response.id, {
      after: null,
      before: null,
      limit: 10,
      order: 'asc',
    });
    const itemId = page.items[0]!.id;
    await run({ input: [{ type: 'item_reference', id: itemId }] }, model);
    assert.deepEqual(model.lastRequest!.items[0], {
      type: 'message',
      role: 'user',
      content: [{ type: 'text', text: 'remember me' }],
    });
    await assert.rejects(
      run({ input: [{ type: 'item_reference', id: 'msg_missing' }] }, model),
      (error: ApiError) => error.param === 'input[0].id',
    );
  });

  test('automatic compaction past the threshold leads the output with a compaction item the next turn can use', async () => {
    const model = new ScriptedModel([
      textAnswer('Summary: the user asked about apples.'),
      textAnswer('Apples are red.'),
    ]);
    const longHistory = [
      { role: 'user', content: 'Tell me about apples.' },
      { role: 'assistant', content: 'Apples '.repeat(1200) },
      { role: 'user', content: 'And their colour?' },
    ];
    const { events, outcome } = await run(
      { input: longHistory, context_management: [{ type: 'compaction', compact_threshold: 1000 }] },
      model,
    );
    assert.equal(model.requests.length, 2, 'one summarising call, then the answer');
    const compaction = outcome.response.output[0] as unknown as { type: string; encrypted_content: string };
    assert.equal(compaction.type, 'compaction');
    assert.deepEqual(
      events.slice(2, 4).map((event) => event.type),
      ['response.output_item.added', 'response.output_item.done'],
    );
    assert.equal(outcome.response.output_text, 'Apples are red.');
    const answerRequest = model.requests[1]!;
    assert.ok(
      !JSON.stringify(answerRequest.items).includes('Apples Apples Apples'),
      'the long assistant turn was compacted away',
    );
    assert.match(JSON.stringify(answerRequest.items), /Summary: the user asked about apples\./);
    // As OpenAI's compaction output: the user messages verbatim, then the summary.
    assert.match(JSON.stringify(answerRequest.items), /And their colour\?/);
    assert.match(JSON.stringify(answerRequest.items.at(-1)), /conversation_summary/);
  });

  test('the context window: "disabled" refuses input just above it before calling the model, "auto" drops the oldest turns', async () => {
    const model = new ScriptedModel([textAnswer('fits'), textAnswer('fits')]);
    const router = new StaticModelRouter({ 'test-model': model }, { contextWindow: 1000 });
    const turns = (count: number): Array<Record<string, unknown>> => [
      ...Array.from({ length: count }, (_unused, index) => [
        { role: 'user', content: `question ${index} ${'word '.repeat(40)}` },
        { role: 'assistant', content: `answer ${index} ${'word '.repeat(40)}` },
      ]).flat(),
      { role: 'user', content: 'the latest question' },
    ];
    // The budget is the window less the output reserve (max_output_tokens here): 1000 − 100.
    const below = await run({ input: turns(8), max_output_tokens: 100 }, model, { router });
    assert.equal(below.outcome.response.status, 'completed', 'just below the window');
    await assert.rejects(run({ input: turns(12), max_output_tokens: 100 }, model, { router }), (error: ApiError) => {
      assert.equal(error.code, 'context_length_exceeded');
      assert.equal(error.param, 'input');
      return true;
    });
    assert.equal(model.requests.length, 1, 'nothing was sent upstream for the refused request');
    const truncated = await run({ input: turns(12), max_output_tokens: 100, truncation: 'auto' }, model, { router });
    assert.equal(truncated.outcome.response.status, 'completed');
    const sent = model.lastRequest!.items;
    assert.ok(sent.length < 25, `oldest turns dropped (${sent.length} items sent)`);
    assert.match(JSON.stringify(sent.at(-1)), /the latest question/);
    assert.equal((sent[0] as { role?: string }).role, 'user', 'what is kept starts with a user turn');
  });

  /** A vector store of owner-a with two completed files, paris.txt and tokyo.txt. */
  async function seedDocs(): Promise<string> {
    const vectorStoreId = `vs_${randomBytes(8).toString('hex')}`;
    await seedVectorStore(storage.vectorStores, { id: vectorStoreId, owner: 'owner-a', name: 'docs' }, [
      ['file-paris', 'paris.txt', 'Paris is the capital of France and sits on the Seine.'],
      ['file-tokyo', 'tokyo.txt', 'Tokyo is the capital of Japan.'],
    ]);
    return vectorStoreId;
  }

  test('file_search: the model searches, the server runs it, and the answer cites the right file', async () => {
    const vectorStoreId = await seedDocs();
    const model = new ScriptedModel([
      functionCalls({
        callId: 'call_fs',
        name: 'file_search',
        arguments: JSON.stringify({ queries: ['capital of France'] }),
      }),
      (request) => {
        const output = request.items.at(-1);
        assert.equal(output?.type, 'function_call_output');
        const sources = String((output as { output: string }).output);
        assert.match(sources, /source number="1" file_id="file-paris"/);
        return textAnswer('Paris is the capital of France [1].');
      },
    ]);
    const { events, outcome } = await run(
      {
        input: 'What is the capital of France?',
        tools: [{ type: 'file_search', vector_store_ids: [vectorStoreId] }],
        include: ['file_search_call.results'],
      },
      model,
    );
    const types = events.map((event) => event.type);
    for (const expected of [
      'response.file_search_call.in_progress',
      'response.file_search_call.searching',
      'response.file_search_call.completed',
      'response.output_text.annotation.added',
    ]) {
      assert.ok(types.includes(expected), expected);
    }
    const [call, message] = outcome.response.output as unknown as [
      Record<string, unknown>,
      { content: Array<{ text: string; annotations: unknown[] }> },
    ];
    assert.equal(call.type, 'file_search_call');
    assert.equal(call.status, 'completed');
    assert.deepEqual(call.queries, ['capital of France']);
    assert.equal((call.results as Array<{ file_id: string }>)[0]?.file_id, 'file-paris');
    assert.equal(outcome.response.output_text, 'Paris is the capital of France .');
    assert.deepEqual(message.content[0]?.annotations, [
      {
        type: 'file_citation',
        file_id: 'file-paris',
        filename: 'paris.txt',
        index: 'Paris is the capital of France '.length,
      },
    ]);
    const deltas = events
      .filter((event) => event.type === 'response.output_text.delta')
      .map((event) => event.delta)
      .join('');
    assert.equal(deltas, outcome.response.output_text, 'the streamed text has no markers either');
    // Unknown vector stores are refused before anything runs.
    await assert.rejects(
      run({ input: 'x', tools: [{ type: 'file_search', vector_store_ids: ['vs_missing'] }] }, model),
      (error: ApiError) => error.param === 'tools[0].vector_store_ids[0]',
    );
    await assert.rejects(
      run({ input: 'x', tools: [{ type: 'file_search', vector_store_ids: [vectorStoreId] }] }, model, {
        owner: 'owner-b',
      }),
      (error: ApiError) => error.status === 400,
    );
  });

  test('file_search: a tool_choice that forces the search forces only the first call; a bad tool is a 400 before the model runs', async () => {
    const vectorStoreId = await seedDocs();
    for (const toolChoice of ['required', { type: 'file_search' }] as const) {
      const model = new ScriptedModel([
        functionCalls({ callId: 'call_fs', name: 'file_search', arguments: JSON.stringify({ queries: ['Japan'] }) }),
        textAnswer('Tokyo [1].'),
      ]);
      const { outcome } = await run(
        {
          input: 'Capital of Japan?',
          tools: [{ type: 'file_search', vector_store_ids: [vectorStoreId] }],
          tool_choice: toolChoice,
        },
        model,
      );
      assert.deepEqual(
        model.requests.map((request) => request.toolChoice),
        [toolChoice === 'required' ? 'required' : { type: 'tool', name: 'file_search' }, 'auto'],
        JSON.stringify(toolChoice),
      );
      assert.deepEqual(
        (outcome.response.output as unknown as Array<{ type: string }>).map((item) => item.type),
        ['file_search_call', 'message'],
      );
      assert.equal(outcome.response.output_text, 'Tokyo .');
    }
    const untouched = new ScriptedModel([]);
    for (const [tool, param] of [
      [{ max_num_results: 51 }, 'tools[0].max_num_results'],
      [{ filters: { type: 'eq', key: 'city' } }, 'tools[0].filters.value'],
      [{ ranking_options: { score_threshold: 2 } }, 'tools[0].ranking_options.score_threshold'],
    ] as const) {
      await assert.rejects(
        run({ input: 'x', tools: [{ type: 'file_search', vector_store_ids: [vectorStoreId], ...tool }] }, untouched),
        (error: ApiError) => error.status === 400 && error.param === param,
      );
    }
    assert.equal(untouched.requests.length, 0);
  });

  describe('with a conversation', () => {
    async function newConversation(items: Array<Record<string, unknown>> = []): Promise<string> {
      const id = `conv_${randomBytes(8).toString('hex')}`;
      await storage.conversations.create({ id, owner: 'owner-a', createdAt: 1, metadata: {} }, items as never);
      return id;
    }
    const texts = async (conversation: string): Promise<string[]> =>
      (await storage.conversations.allItems('owner-a', conversation)).map((item) => {
        const content = item.content as Array<{ text: string }> | undefined;
        return `${(item.role ?? item.type) as string}:${content?.[0]?.text ?? ''}`;
      });

    test('the model sees the conversation, and the turn is appended when the response ends', async () => {
      const conversation = await newConversation([
        {
          id: 'msg_seed',
          type: 'message',
          role: 'user',
          status: 'completed',
          content: [{ type: 'input_text', text: 'earlier' }],
        },
      ]);
      const model = new ScriptedModel([textAnswer('first answer'), textAnswer('second answer')]);
      const first = await run({ input: 'hello', conversation }, model);
      assert.deepEqual(first.outcome.response.conversation, { id: conversation });
      assert.deepEqual(
        model.lastRequest!.items.map((item) => item.type === 'message' && item.role),
        ['user', 'user'],
      );
      await run({ input: 'again', conversation: { id: conversation } }, model);
      assert.deepEqual(
        model.lastRequest!.items.map((item) =>
          item.type === 'message' ? (item.content[0] as { text: string }).text : item.type,
        ),
        ['earlier', 'hello', 'first answer', 'again'],
      );
      assert.deepEqual(await texts(conversation), [
        'user:earlier',
        'user:hello',
        'assistant:first answer',
        'user:again',
        'assistant:second answer',
      ]);
    });

    test('a failed or cancelled response adds nothing to the conversation', async () => {
      const conversation = await newConversation();
      const failing = new ScriptedModel([
        { error: new UpstreamError({ message: 'down', code: 'upstream_unavailable', retryable: true }) },
      ]);
      await run({ input: 'x', conversation }, failing);
      const slow = new ScriptedModel([textAnswer('a long answer that takes a while')], { delayMs: 5 });
      const generator = runResponse(
        parseCreateResponse({ model: 'test-model', input: 'y', conversation }),
        contextFor(slow),
      );
      for await (const event of generator) if (event.type === 'response.output_text.delta') break;
      assert.deepEqual(await texts(conversation), []);
    });

    test('an unknown conversation is a 404 naming it; a repeated item id is a 400 before the model runs', async () => {
      const model = new ScriptedModel([]);
      await assert.rejects(
        run({ input: 'x', conversation: 'conv_missing' }, model),
        (error: ApiError) => error.status === 404 && error.param === 'conversation',
      );
      const conversation = await newConversation([
        {
          id: 'msg_taken',
          type: 'message',
          role: 'user',
          status: 'completed',
          content: [{ type: 'input_text', text: 'a' }],
        },
      ]);
      await assert.rejects(
        run({ input: [{ id: 'msg_taken', type: 'message', role: 'user', content: 'b' }], conversation }, model),
        (error: ApiError) => error.status === 400 && error.param === 'input[0].id',
      );
      await assert.rejects(
        run({ input: 'x', conversation }, model, { owner: 'owner-b' }),
        (error: ApiError) => error.status === 404,
      );
      assert.equal(model.requests.length, 0);
    });

    test('two responses racing on one conversation each append a contiguous turn', async () => {
      const conversation = await newConversation();
      const model = new ScriptedModel([textAnswer('answer'), textAnswer('answer')], { delayMs: 2 });
      await Promise.all([run({ input: 'one', conversation }, model), run({ input: 'two', conversation }, model)]);
      const items = await texts(conversation);
      assert.equal(items.length, 4);
      assert.deepEqual([items[1], items[3]], ['assistant:answer', 'assistant:answer']);
      assert.deepEqual(new Set([items[0], items[2]]), new Set(['user:one', 'user:two']));
    });
  });
});
