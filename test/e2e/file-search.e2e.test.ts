import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type OpenAI from 'openai';
import { BadRequestError, toFile } from 'openai';
import type {
  Response,
  ResponseFileSearchToolCall,
  ResponseOutputItem,
  ResponseOutputMessage,
  ResponseOutputText,
} from 'openai/resources/responses/responses';
import { assertHasEverySpecKey, assertMatchesSchema, assertStreamEvent } from '../contract/spec-validator.ts';
import { startTestServer, type TestServer } from './start-test-server.ts';

/*
 * The file_search tool through the official client: files uploaded and ingested into a vector
 * store, then a response whose (scripted Chat Completions) model calls `file_search`, reads the
 * numbered sources Riposte ran the search for, and answers citing one as [1].
 */

type JsonObject = Record<string, unknown>;
interface ChatMessage {
  role: string;
  content?: unknown;
  tool_call_id?: string;
  tool_calls?: Array<{ id: string; type: string; function: { name: string; arguments: string } }>;
}

const HANDBOOK = `# Employee handbook

## Holidays
Every employee has 27 days of paid holiday a year, plus public holidays. Unused days carry over until March.`;

const RECIPES = `Sourdough bread needs a lively starter, flour, water and salt.
Proof the dough overnight in the fridge, then bake it in a hot Dutch oven for 45 minutes.`;

const ROCKETS = `A staged combustion cycle burns the preburner exhaust in the main chamber,
which gives liquid rocket engines their high specific impulse.`;

const QUERIES = ['paid holiday days per year'];
const ANSWER = 'Every employee gets 27 days of paid holiday a year [1].';
const CLEAN_ANSWER = 'Every employee gets 27 days of paid holiday a year .';

let harness: TestServer;
let client: OpenAI;
let vectorStoreId: string;
/** filename → file id */
const files = new Map<string, string>();

before(async () => {
  harness = await startTestServer();
  client = harness.client;
  const vectorStore = await client.vectorStores.create({ name: 'file_search e2e' });
  vectorStoreId = vectorStore.id;
  for (const [filename, text, department] of [
    ['handbook.md', HANDBOOK, 'people'],
    ['recipes.txt', RECIPES, 'kitchen'],
    ['rockets.txt', ROCKETS, 'engineering'],
  ] as const) {
    const uploaded = await client.files.create({
      file: await toFile(Buffer.from(text), filename),
      purpose: 'assistants',
    });
    const attached = await client.vectorStores.files.createAndPoll(
      vectorStoreId,
      { file_id: uploaded.id, attributes: { department } },
      { pollIntervalMs: 50 },
    );
    assert.equal(attached.status, 'completed', `${filename} was ingested`);
    files.set(filename, uploaded.id);
  }
});
after(async () => harness.stop());

function messagesOf(body: JsonObject): ChatMessage[] {
  return body.messages as ChatMessage[];
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part) => ((part as { text?: unknown }).text as string | undefined) ?? '').join('');
  }
  return '';
}

/** The upstream's first answer: a call of the file_search function. */
function searchCall(
  callId: string,
  queries: string[] = QUERIES,
): { toolCalls: Array<{ id: string; name: string; arguments: string }> } {
  return { toolCalls: [{ id: callId, name: 'file_search', arguments: JSON.stringify({ queries }) }] };
}

/**
 * The upstream's second answer: it reads the tool message answering `callId` and cites [1] only
 * when source 1 is the handbook (otherwise it answers without a citation, failing the checks).
 */
function answerFromSources(callId: string): (body: JsonObject) => { content: string } {
  return (body) => {
    const output = messagesOf(body).find((message) => message.role === 'tool' && message.tool_call_id === callId);
    const sources = contentText(output?.content);
    const handbookFirst = sources.includes(
      `<source number="1" file_id="${files.get('handbook.md')}" filename="handbook.md">`,
    );
    return { content: handbookFirst && sources.includes('27 days of paid holiday') ? ANSWER : 'No idea.' };
  };
}

function isFileSearchCall(item: ResponseOutputItem): item is ResponseFileSearchToolCall {
  return item.type === 'file_search_call';
}
function isMessage(item: ResponseOutputItem): item is ResponseOutputMessage {
  return item.type === 'message';
}

/** The response has the search (with results naming the handbook first) and the cited answer. */
function checkCitedAnswer(response: Response): void {
  assertMatchesSchema('Response', response);
  assertHasEverySpecKey('Response', response, { except: ['prompt_cache_options'] });
  assert.equal(response.status, 'completed');
  assert.deepEqual(
    response.output.map((item) => item.type),
    ['file_search_call', 'message'],
  );
  const call = response.output.find(isFileSearchCall)!;
  assert.match(call.id, /^fs_/);
  assert.equal(call.status, 'completed');
  assert.deepEqual(call.queries, QUERIES);
  assert.ok(call.results && call.results.length > 0, 'include: file_search_call.results keeps the results');
  assert.equal(call.results[0]!.file_id, files.get('handbook.md'));
  assert.equal(call.results[0]!.filename, 'handbook.md');
  assert.match(call.results[0]!.text ?? '', /27 days of paid holiday/);
  assert.deepEqual(call.results[0]!.attributes, { department: 'people' });
  assert.equal(response.output_text, CLEAN_ANSWER, 'the [1] marker becomes an annotation');
  const text = response.output.find(isMessage)!.content[0] as ResponseOutputText;
  assert.equal(text.type, 'output_text');
  assert.deepEqual(text.annotations, [
    {
      type: 'file_citation',
      file_id: files.get('handbook.md')!,
      filename: 'handbook.md',
      index: CLEAN_ANSWER.indexOf(' .') + 1,
    },
  ]);
}

describe('the official openai client with the file_search tool', () => {
  test('responses.create: the model searches, Riposte runs it, the answer cites the right file', async () => {
    harness.upstream.push(searchCall('call_search_1'), answerFromSources('call_search_1'));
    const before = harness.upstream.requests.length;
    const response = await client.responses.create({
      model: 'any-model',
      input: 'How many days of paid holiday do I get?',
      tools: [{ type: 'file_search', vector_store_ids: [vectorStoreId] }],
      include: ['file_search_call.results'],
    });
    checkCitedAnswer(response);

    const [first, second] = harness.upstream.requests.slice(before);
    assert.equal(harness.upstream.requests.length - before, 2, 'one model call to search, one to answer');
    const offered = (first!.tools as Array<{ function: { name: string } }>).map((tool) => tool.function.name);
    assert.deepEqual(offered, ['file_search'], 'the model is offered file_search as a function');
    const messages = messagesOf(second!);
    const call = messages.find((message) => message.role === 'assistant' && message.tool_calls);
    assert.equal(call?.tool_calls?.[0]?.id, 'call_search_1');
    assert.equal(call?.tool_calls?.[0]?.function.name, 'file_search');
    const output = messages.at(-1)!;
    assert.equal(output.role, 'tool');
    assert.equal(output.tool_call_id, 'call_search_1');
    assert.match(contentText(output.content), /27 days of paid holiday/);

    // GET gives back the same response; the results again only when included.
    checkCitedAnswer(await client.responses.retrieve(response.id, { include: ['file_search_call.results'] }));
  });

  test('responses.stream(): spec-valid events, the file_search_call events in order, the annotation streamed', async () => {
    harness.upstream.push(searchCall('call_search_2'), answerFromSources('call_search_2'));
    const stream = client.responses.stream({
      model: 'any-model',
      input: 'How many days of paid holiday do I get?',
      tools: [{ type: 'file_search', vector_store_ids: [vectorStoreId] }],
      include: ['file_search_call.results'],
    });
    const events: Array<{ type: string; sequence_number: number } & JsonObject> = [];
    for await (const event of stream) {
      assertStreamEvent(event, `event ${events.length}`);
      events.push(event as unknown as (typeof events)[number]);
    }
    const final = await stream.finalResponse();
    checkCitedAnswer(final);
    assert.deepEqual(
      events.map((event) => event.sequence_number),
      events.map((_, index) => index),
    );

    const callId = final.output[0]!.id;
    const callEvents = events
      .filter((event) => event.item_id === callId || (event.item as { id?: string } | undefined)?.id === callId)
      .map((event) => event.type);
    assert.deepEqual(callEvents, [
      'response.output_item.added',
      'response.file_search_call.in_progress',
      'response.file_search_call.searching',
      'response.file_search_call.completed',
      'response.output_item.done',
    ]);
    for (const event of events.filter((entry) => entry.item_id === callId)) {
      assert.equal(event.output_index, 0, `${event.type}: output_index of the call`);
    }
    const added = events.find((event) => event.type === 'response.output_item.added')!;
    assert.deepEqual(
      { ...(added.item as JsonObject), id: '<id>' },
      { id: '<id>', type: 'file_search_call', status: 'in_progress', queries: [], results: null },
    );

    const annotations = events.filter((event) => event.type === 'response.output_text.annotation.added');
    assert.equal(annotations.length, 1);
    const message = final.output[1]!;
    assert.equal(annotations[0]!.item_id, message.id);
    assert.equal(annotations[0]!.output_index, 1);
    assert.equal(annotations[0]!.content_index, 0);
    assert.equal(annotations[0]!.annotation_index, 0);
    const finalText = (message as ResponseOutputMessage).content[0] as ResponseOutputText;
    assert.deepEqual(annotations[0]!.annotation, finalText.annotations[0], 'the streamed annotation is the final one');
    const streamedText = events
      .filter((event) => event.type === 'response.output_text.delta')
      .map((event) => String(event.delta))
      .join('');
    assert.equal(streamedText, CLEAN_ANSWER, 'no [n] marker reaches the client');
    const textDone = events.find((event) => event.type === 'response.output_text.done');
    assert.equal(textDone?.text, CLEAN_ANSWER);
    assert.ok(
      events.indexOf(annotations[0]!) < events.indexOf(textDone),
      'the annotation is added before the text is done',
    );
  });

  test('a follow-up with previous_response_id sends the earlier search to the model as a tool call and its output', async () => {
    harness.upstream.push(searchCall('call_search_3'), answerFromSources('call_search_3'));
    const first = await client.responses.create({
      model: 'any-model',
      input: 'How many days of paid holiday do I get?',
      tools: [{ type: 'file_search', vector_store_ids: [vectorStoreId] }],
      include: ['file_search_call.results'],
    });
    checkCitedAnswer(first);
    harness.upstream.push({ content: 'Until March.' });
    const followUp = await client.responses.create({
      model: 'any-model',
      previous_response_id: first.id,
      input: 'Until when do unused days carry over?',
      tools: [{ type: 'file_search', vector_store_ids: [vectorStoreId] }],
    });
    assert.equal(followUp.output_text, 'Until March.');
    assert.equal(followUp.previous_response_id, first.id);

    const messages = messagesOf(harness.upstream.requests.at(-1)!);
    const searchId = first.output[0]!.id;
    const assistantCall = messages.find((message) =>
      message.tool_calls?.some((call) => call.function.name === 'file_search'),
    );
    assert.ok(assistantCall, `the earlier search is a tool call: ${JSON.stringify(messages)}`);
    assert.equal(assistantCall.role, 'assistant');
    const toolCall = assistantCall.tool_calls!.find((call) => call.function.name === 'file_search')!;
    assert.deepEqual(JSON.parse(toolCall.function.arguments), { queries: QUERIES });
    const toolOutput = messages.find((message) => message.role === 'tool' && message.tool_call_id === toolCall.id);
    assert.ok(toolOutput, 'the earlier search has its tool output');
    assert.match(contentText(toolOutput.content), new RegExp(`file_id="${files.get('handbook.md')}"`));
    assert.match(contentText(toolOutput.content), /27 days of paid holiday/);
    // In order: the question, the search and its results, the cited answer (markers gone), the new question.
    const order = messages.map((message) => (message.tool_calls ? 'search' : message.role));
    assert.deepEqual(order, ['user', 'search', 'tool', 'assistant', 'user']);
    assert.equal(contentText(messages[3]!.content), CLEAN_ANSWER);
    assert.equal(toolCall.id, searchId, 'the search keeps its fs_ id as the call id');
  });

  test('without include the client sees no results, yet they are kept: GET with include shows them and a follow-up turn reads them', async () => {
    harness.upstream.push(searchCall('call_search_kept'), answerFromSources('call_search_kept'));
    const first = await client.responses.create({
      model: 'any-model',
      input: 'How many days of paid holiday do I get?',
      tools: [{ type: 'file_search', vector_store_ids: [vectorStoreId] }],
    });
    assertMatchesSchema('Response', first);
    assert.equal(first.output_text, CLEAN_ANSWER);
    const call = first.output.find(isFileSearchCall)!;
    assert.equal(call.results, null, 'not asked for: not shown');

    const plain = await client.responses.retrieve(first.id);
    assert.equal(plain.output.find(isFileSearchCall)?.results, null);
    const included = await client.responses.retrieve(first.id, { include: ['file_search_call.results'] });
    const kept = included.output.find(isFileSearchCall)?.results ?? [];
    assert.equal(kept[0]?.file_id, files.get('handbook.md'), 'GET with include shows the kept results');
    assertMatchesSchema('Response', included);

    harness.upstream.push({ content: 'Until March.' });
    await client.responses.create({
      model: 'any-model',
      previous_response_id: first.id,
      input: 'Until when do unused days carry over?',
    });
    const messages = messagesOf(harness.upstream.requests.at(-1)!);
    const toolOutput = messages.find((message) => message.role === 'tool' && message.tool_call_id === call.id);
    assert.match(
      contentText(toolOutput?.content),
      /27 days of paid holiday/,
      'the next turn sees what the search found',
    );
    assert.doesNotMatch(contentText(toolOutput?.content), /not kept/);
  });

  test('filters narrow the search to matching files', async () => {
    harness.upstream.push(searchCall('call_search_4', ['bake bread overnight holiday']), { content: 'Done.' });
    const response = await client.responses.create({
      model: 'any-model',
      input: 'Anything about baking?',
      tools: [
        {
          type: 'file_search',
          vector_store_ids: [vectorStoreId],
          filters: { type: 'eq', key: 'department', value: 'kitchen' },
          max_num_results: 5,
          ranking_options: { ranker: 'auto', score_threshold: 0 },
        },
      ],
      include: ['file_search_call.results'],
    });
    const call = response.output.find(isFileSearchCall)!;
    assert.deepEqual(
      call.results?.map((result) => result.filename),
      ['recipes.txt'],
    );
  });

  test('a bad file_search tool is a 400 naming the param, and the model is never called', async () => {
    const before = harness.upstream.requests.length;
    for (const [tool, param] of [
      [{ max_num_results: 0 }, 'tools[0].max_num_results'],
      [{ filters: { type: 'near', key: 'department', value: 'people' } }, 'tools[0].filters.type'],
      [{ filters: { type: 'or', filters: [{ type: 'eq', key: 'department' }] } }, 'tools[0].filters.filters[0].value'],
      [{ ranking_options: { ranker: 'none' } }, 'tools[0].ranking_options.ranker'],
      [{ ranking_options: { score_threshold: 1.01 } }, 'tools[0].ranking_options.score_threshold'],
      [{ vector_store_ids: ['vs_missing'] }, 'tools[0].vector_store_ids[0]'],
    ] as const) {
      await assert.rejects(
        client.responses.create({
          model: 'any-model',
          input: 'x',
          tools: [{ type: 'file_search', vector_store_ids: [vectorStoreId], ...tool } as never],
        }),
        (error: unknown) => {
          assert.ok(error instanceof BadRequestError, String(error));
          assert.equal(error.param, param, error.message);
          return true;
        },
      );
    }
    assert.equal(harness.upstream.requests.length, before);
  });
});
