/**
 * The Responses endpoints against OpenAI's published contract (shared/spec): every Response
 * object, list page, error body and streamed event the server returns is validated against the
 * spec, and every stream is checked for the invariants clients rely on (sequence numbers,
 * output_index / content_index / item_id bookkeeping, added ↔ done pairs, the terminal Response
 * agreeing with the items streamed). The model behind the server is a ScriptedModel, so each
 * scenario drives one output shape the engine can produce, in both `stream: true` and
 * `stream: false`.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createTestApp } from '../../src/testing/test-app.ts';
import { OPEN_OWNER } from '../../src/http/auth.ts';
import { ContentSealer } from '../../src/engine/sealed-content.ts';
import { UpstreamError } from '../../src/errors/upstream-error.ts';
import type { ModelAdapter, ModelEvent } from '../../src/providers/model-adapter.ts';
import type { Storage } from '../../src/storage/stores.ts';
import { openTemporaryStorage, seedVectorStore } from '../../src/testing/engine-fixtures.ts';
import { ScriptedModel, textAnswer, type ScriptedStep } from '../../src/testing/scripted-model.ts';
import { StaticModelRouter } from '../../src/testing/static-model-router.ts';
import {
  assertErrorBody,
  assertHasEverySpecKey,
  assertListPage,
  assertMatchesSchema,
  assertStreamEvent,
} from './spec-validator.ts';

type JsonObject = Record<string, unknown>;
/** A streamed event as parsed from its SSE frame. */
type WireEvent = JsonObject & { type: string; sequence_number: number };

const MODEL = 'test-model';
const TERMINAL_EVENT_TYPES = new Set(['response.completed', 'response.incomplete', 'response.failed']);
/** Ids the server makes up per run; two runs of one script differ only in these (and in time). */
const GENERATED_ID = /^(resp|msg|fc|fco|ctc|rs|item|fs)_[0-9a-f]{48}$/;

// ---- the app under test ---------------------------------------------------------------------

let storage: Storage;
let closeStorage: () => Promise<void>;
const sealer = new ContentSealer(randomBytes(32));
const openApps: FastifyInstance[] = [];

before(async () => {
  ({ storage, close: closeStorage } = await openTemporaryStorage('riposte-contract-'));
  await seedVectorStore(
    storage.vectorStores,
    { id: VECTOR_STORE_ID, owner: OPEN_OWNER, name: 'contract docs' },
    VECTOR_STORE_FILES,
  );
});
after(async () => {
  for (const app of openApps) await app.close();
  await closeStorage();
});

interface AppOptions {
  /** Model name → adapter; by default one ScriptedModel that answers every call with text. */
  models?: Record<string, ModelAdapter>;
  /** API key → project; empty means no auth. */
  keys?: Record<string, string>;
  bodyLimitBytes?: number;
}

function buildApp(options: AppOptions = {}): FastifyInstance {
  const app = createTestApp({
    storage,
    router: new StaticModelRouter(
      options.models ?? { [MODEL]: new ScriptedModel([textAnswer('Hello!')], { whenExhausted: 'repeat-last' }) },
    ),
    sealer,
    apiKeyHashes: new Map(
      Object.entries(options.keys ?? {}).map(([key, project]) => [
        createHash('sha256').update(key).digest('hex'),
        project,
      ]),
    ),
    bodyLimitBytes: options.bodyLimitBytes ?? 1024 * 1024,
    structuredOutputRetries: 2,
  });
  openApps.push(app);
  return app;
}

/** An app whose only model plays `steps`; returns both so a test can look at what the model was sent. */
function appWithScript(steps: ScriptedStep[]): { app: FastifyInstance; model: ScriptedModel } {
  const model = new ScriptedModel(steps);
  return { app: buildApp({ models: { [MODEL]: model } }), model };
}

/** The vector store the file_search scenarios search: two completed files of the open owner. */
const VECTOR_STORE_ID = `vs_${randomBytes(24).toString('hex')}`;
const VECTOR_STORE_FILES = [
  ['file-contractParis', 'paris.txt', 'Paris is the capital of France and sits on the Seine.'],
  ['file-contractTokyo', 'tokyo.txt', 'Tokyo is the capital of Japan.'],
] as const;

// ---- running requests -----------------------------------------------------------------------

/**
 * POSTs a `stream: true` request and returns its events. Each SSE frame must be exactly one
 * event — an `event:` line naming `data.type` and one `data:` line — and the body must end on a
 * frame boundary.
 */
async function runStreamed(app: FastifyInstance, body: JsonObject): Promise<WireEvent[]> {
  const reply = await app.inject({ method: 'POST', url: '/v1/responses', payload: { ...body, stream: true } });
  assert.equal(reply.statusCode, 200, `stream: true answered ${reply.statusCode}: ${reply.body}`);
  assert.match(String(reply.headers['content-type']), /^text\/event-stream/);
  return parseEventStream(reply.body);
}

function parseEventStream(body: string): WireEvent[] {
  assert.ok(body.endsWith('\n\n'), 'the stream ends with a complete frame');
  return body
    .slice(0, -2)
    .split('\n\n')
    .map((frame, index) => {
      const lines = frame.split('\n');
      assert.equal(lines.length, 2, `frame ${index} is one event (an event: line and a data: line): ${frame}`);
      const [eventLine, dataLine] = lines as [string, string];
      assert.ok(eventLine.startsWith('event: '), `frame ${index} starts with an event: line: ${frame}`);
      assert.ok(dataLine.startsWith('data: '), `frame ${index} has a data: line: ${frame}`);
      const event = JSON.parse(dataLine.slice('data: '.length)) as WireEvent;
      assert.equal(eventLine.slice('event: '.length), event.type, `frame ${index}: event: line equals data.type`);
      return event;
    });
}

/** POSTs a `stream: false` request and returns the status and parsed JSON body. */
async function runJson(app: FastifyInstance, body: JsonObject): Promise<{ statusCode: number; body: JsonObject }> {
  const reply = await app.inject({ method: 'POST', url: '/v1/responses', payload: { ...body, stream: false } });
  assert.match(String(reply.headers['content-type']), /^application\/json/);
  return { statusCode: reply.statusCode, body: reply.json() };
}

async function getJson(
  app: FastifyInstance,
  url: string,
  method: 'GET' | 'DELETE' | 'POST' = 'GET',
): Promise<{ statusCode: number; body: JsonObject }> {
  const reply = await app.inject({ method, url });
  return { statusCode: reply.statusCode, body: reply.json() };
}

// ---- checks ---------------------------------------------------------------------------------

/** A Response as the spec describes it, with every key it lists (null where unset). */
function checkResponseObject(response: unknown, context: string): asserts response is JsonObject {
  assertMatchesSchema('Response', response, context);
  // prompt_cache_options: the spec does not allow null there and Riposte applies no
  // prompt-cache options it could truthfully report (see prepareResponse).
  assertHasEverySpecKey('Response', response, { except: ['prompt_cache_options'], context });
}

function checkErrorReply(
  reply: { statusCode: number; body: unknown },
  expected: { status: number; param: string | null; code?: string | null; type?: string },
  context: string,
): void {
  assert.equal(reply.statusCode, expected.status, `${context}: status (body: ${JSON.stringify(reply.body)})`);
  assertErrorBody(reply.body, context);
  const error = (reply.body as { error: JsonObject }).error;
  assert.equal(error.param, expected.param, `${context}: error.param (message: ${String(error.message)})`);
  if (expected.code !== undefined) assert.equal(error.code, expected.code, `${context}: error.code`);
  if (expected.type !== undefined) assert.equal(error.type, expected.type, `${context}: error.type`);
  assert.ok(typeof error.message === 'string' && error.message.length > 0, `${context}: error.message is set`);
}

interface TrackedPart {
  added: JsonObject;
  deltas: string;
  /** The text its `*.done` event carried, once seen. */
  doneText: string | null;
  done: JsonObject | null;
  /** output_text.annotation.added annotations, by annotation_index. */
  annotations: JsonObject[];
}

interface TrackedItem {
  outputIndex: number;
  added: JsonObject;
  done: JsonObject | null;
  /** content_part.added/done by content_index. */
  parts: Map<number, TrackedPart>;
  /** reasoning_summary_part.added/done by summary_index. */
  summaryParts: Map<number, TrackedPart>;
  /** function_call_arguments / custom_tool_call_input deltas, and the done event's value. */
  callDeltas: string;
  callDone: string | null;
  /** The file_search_call events seen, in order. */
  searchEvents: string[];
}

/** The text a content or summary part carries, whatever its type. */
function partText(part: JsonObject): string {
  return String(part.type === 'refusal' ? part.refusal : part.text);
}

/**
 * Checks everything a client may rely on in a stream, and returns its terminal event:
 * - every event is a spec ResponseStreamEvent; sequence_number counts up from 0 with no gaps;
 * - created and in_progress open the stream, one terminal event closes it, all for one response;
 * - an item's events carry the output_index its `output_item.added` got and that item's id,
 *   and come between its added and done; every `added` (item, content part, summary part) has
 *   its `done`, and a done's text is the concatenation of the deltas before it;
 * - added items are empty (a function_call's arguments are "", a file_search_call has no queries
 *   and null results), output_text carries `logprobs: []` on deltas, dones and parts, and
 *   `annotations: []` on added parts; a done part has the annotations its
 *   `output_text.annotation.added` events streamed, numbered in order, each before the text is done;
 * - a file_search_call streams in_progress, searching, completed, in that order, inside its item
 *   (completed only when it is, and no completed event when it failed);
 * - the terminal response's output is the list of `output_item.done` items, in order.
 */
function checkStreamInvariants(events: WireEvent[]): WireEvent {
  assert.ok(events.length >= 3, 'a stream has at least created, in_progress and a terminal event');
  events.forEach((event, index) => {
    assertStreamEvent(event, `event ${index}`);
    assert.equal(event.sequence_number, index, `event ${index} (${event.type}): sequence_number counts from 0`);
  });
  assert.equal(events[0]!.type, 'response.created');
  assert.equal(events[1]!.type, 'response.in_progress');
  const terminal = events.at(-1)!;
  assert.ok(TERMINAL_EVENT_TYPES.has(terminal.type), `the stream ends with a terminal event, not ${terminal.type}`);
  for (const event of events.slice(0, -1)) {
    assert.ok(!TERMINAL_EVENT_TYPES.has(event.type), `${event.type} comes only at the end`);
  }

  const responseId = (events[0]!.response as JsonObject).id;
  for (const event of [events[0]!, events[1]!, terminal]) {
    const response = event.response as JsonObject;
    checkResponseObject(response, event.type);
    assert.equal(response.id, responseId, `${event.type} is about the same response`);
  }
  for (const event of [events[0]!, events[1]!]) {
    const response = event.response as JsonObject;
    assert.equal(response.status, 'in_progress', `${event.type}: status`);
    assert.deepEqual(response.output, [], `${event.type}: no output yet`);
  }

  const items = new Map<number, TrackedItem>();
  const doneItems: JsonObject[] = [];

  /** The item an item-level event is about, checked against its output_index and item_id. */
  const openItem = (event: WireEvent): TrackedItem => {
    const where = `${event.type} #${event.sequence_number}`;
    const item = items.get(event.output_index as number);
    assert.ok(item, `${where}: output_index ${String(event.output_index)} was never added`);
    assert.equal(event.item_id, item.added.id, `${where}: item_id is the id of the item added at its output_index`);
    assert.equal(item.done, null, `${where}: comes after the item's output_item.done`);
    return item;
  };
  const openPart = (parts: Map<number, TrackedPart>, index: unknown, event: WireEvent): TrackedPart => {
    const part = parts.get(index as number);
    assert.ok(part, `${event.type} #${event.sequence_number}: part ${String(index)} was never added`);
    assert.equal(part.done, null, `${event.type} #${event.sequence_number}: part ${String(index)} is already done`);
    return part;
  };
  const addDelta = (part: TrackedPart, event: WireEvent): void => {
    assert.equal(part.doneText, null, `${event.type} #${event.sequence_number}: delta after the part's text was done`);
    part.deltas += event.delta as string;
  };
  const finishText = (part: TrackedPart, text: unknown, event: WireEvent): void => {
    assert.equal(text, part.deltas, `${event.type} #${event.sequence_number}: done text is the deltas joined`);
    part.doneText = text;
  };
  const addPart = (parts: Map<number, TrackedPart>, index: unknown, part: JsonObject, event: WireEvent): void => {
    assert.equal(index, parts.size, `${event.type} #${event.sequence_number}: parts are numbered in order`);
    assert.equal(partText(part), '', `${event.type} #${event.sequence_number}: an added part is empty`);
    parts.set(index, { added: part, deltas: '', doneText: null, done: null, annotations: [] });
  };
  const closePart = (parts: Map<number, TrackedPart>, index: unknown, part: JsonObject, event: WireEvent): void => {
    const tracked = openPart(parts, index, event);
    const where = `${event.type} #${event.sequence_number}`;
    assert.notEqual(tracked.doneText, null, `${where}: the part's text done event comes first`);
    assert.equal(part.type, tracked.added.type, `${where}: part type`);
    assert.equal(partText(part), tracked.doneText, `${where}: the part's text`);
    tracked.done = part;
  };
  /** An output_text part carries `logprobs: []`, and the annotations streamed so far (none when added). */
  const checkOutputTextPart = (part: JsonObject, event: WireEvent, streamed: JsonObject[] = []): void => {
    if (part.type !== 'output_text') return;
    assert.deepEqual(part.annotations, streamed, `${event.type} #${event.sequence_number}: output_text annotations`);
    assert.deepEqual(part.logprobs, [], `${event.type} #${event.sequence_number}: output_text logprobs`);
  };
  const FILE_SEARCH_EVENT_ORDER = [
    'response.file_search_call.in_progress',
    'response.file_search_call.searching',
    'response.file_search_call.completed',
  ];

  for (const event of events.slice(2, -1)) {
    const where = `${event.type} #${event.sequence_number}`;
    switch (event.type) {
      case 'response.output_item.added': {
        const item = event.item as JsonObject;
        assert.equal(event.output_index, items.size, `${where}: items are added at the next output_index`);
        assert.match(String(item.id), GENERATED_ID, `${where}: the item has an id`);
        if (item.type === 'function_call') assert.equal(item.arguments, '', `${where}: arguments start empty`);
        if (item.type === 'custom_tool_call') assert.equal(item.input, '', `${where}: input starts empty`);
        if (item.type === 'message') assert.deepEqual(item.content, [], `${where}: content starts empty`);
        if (item.type === 'file_search_call') {
          assert.deepEqual(item.queries, [], `${where}: queries start empty`);
          assert.equal(item.results, null, `${where}: results start null`);
        }
        if (item.type !== 'reasoning') assert.equal(item.status, 'in_progress', `${where}: status`);
        items.set(event.output_index, {
          outputIndex: event.output_index,
          added: item,
          done: null,
          parts: new Map(),
          summaryParts: new Map(),
          callDeltas: '',
          callDone: null,
          searchEvents: [],
        });
        break;
      }
      case 'response.output_item.done': {
        const item = event.item as JsonObject;
        const tracked = items.get(event.output_index as number);
        assert.ok(tracked, `${where}: output_index ${String(event.output_index)} was never added`);
        assert.equal(tracked.done, null, `${where}: the item is done twice`);
        assert.equal(item.id, tracked.added.id, `${where}: the done item is the added item`);
        assert.equal(item.type, tracked.added.type, `${where}: type`);
        assert.notEqual(item.status, 'in_progress', `${where}: a done item is not in_progress`);
        for (const [index, part] of [...tracked.parts, ...tracked.summaryParts]) {
          assert.notEqual(part.done, null, `${where}: part ${index} is done before its item`);
        }
        if (item.type === 'message') {
          assert.deepEqual(
            item.content,
            [...tracked.parts.values()].map((part) => part.done),
            `${where}: the message holds the parts streamed`,
          );
        }
        if (item.type === 'reasoning') {
          const content = [...tracked.parts.values()].map((part) => part.done);
          if (content.length > 0) assert.deepEqual(item.content, content, `${where}: reasoning content`);
          assert.deepEqual(
            item.summary,
            [...tracked.summaryParts.values()].map((part) => part.done),
            `${where}: reasoning summary`,
          );
        }
        if (item.type === 'function_call' || item.type === 'custom_tool_call') {
          const value = item.type === 'function_call' ? item.arguments : item.input;
          assert.notEqual(tracked.callDone, null, `${where}: the call's arguments/input done event comes first`);
          assert.equal(value, tracked.callDone, `${where}: the call holds the text streamed`);
        }
        if (item.type === 'file_search_call') {
          // completed after its completed event; failed after searching, with no completed event.
          const expected = item.status === 'completed' ? FILE_SEARCH_EVENT_ORDER : FILE_SEARCH_EVENT_ORDER.slice(0, 2);
          assert.deepEqual(
            tracked.searchEvents,
            expected,
            `${where}: the search events before a ${String(item.status)} search`,
          );
        }
        tracked.done = item;
        doneItems.push(item);
        break;
      }
      case 'response.content_part.added': {
        const item = openItem(event);
        const part = event.part as JsonObject;
        checkOutputTextPart(part, event);
        addPart(item.parts, event.content_index, part, event);
        break;
      }
      case 'response.content_part.done': {
        const part = event.part as JsonObject;
        const item = openItem(event);
        checkOutputTextPart(part, event, item.parts.get(event.content_index as number)?.annotations);
        closePart(item.parts, event.content_index, part, event);
        break;
      }
      case 'response.output_text.annotation.added': {
        const item = openItem(event);
        const part = openPart(item.parts, event.content_index, event);
        assert.equal(part.added.type, 'output_text', `${where}: on an output_text part`);
        assert.equal(part.doneText, null, `${where}: comes before the part's text is done`);
        assert.equal(event.annotation_index, part.annotations.length, `${where}: annotations are numbered in order`);
        const annotation = event.annotation as JsonObject;
        if (annotation.type === 'file_citation') {
          const offset = annotation.index as number;
          assert.ok(offset >= 0 && offset <= part.deltas.length, `${where}: cites a place in the text streamed so far`);
        }
        part.annotations.push(annotation);
        break;
      }
      case 'response.file_search_call.in_progress':
      case 'response.file_search_call.searching':
      case 'response.file_search_call.completed': {
        const item = openItem(event);
        assert.equal(item.added.type, 'file_search_call', `${where}: on a file_search_call`);
        assert.equal(
          event.type,
          FILE_SEARCH_EVENT_ORDER[item.searchEvents.length],
          `${where}: after ${JSON.stringify(item.searchEvents)} (in_progress, searching, completed, in order)`,
        );
        item.searchEvents.push(event.type);
        break;
      }
      case 'response.output_text.delta':
      case 'response.refusal.delta':
      case 'response.reasoning_text.delta': {
        if (event.type === 'response.output_text.delta') assert.deepEqual(event.logprobs, [], `${where}: logprobs`);
        addDelta(openPart(openItem(event).parts, event.content_index, event), event);
        break;
      }
      case 'response.output_text.done':
      case 'response.reasoning_text.done':
      case 'response.refusal.done': {
        if (event.type === 'response.output_text.done') assert.deepEqual(event.logprobs, [], `${where}: logprobs`);
        const part = openPart(openItem(event).parts, event.content_index, event);
        finishText(part, event.type === 'response.refusal.done' ? event.refusal : event.text, event);
        break;
      }
      case 'response.reasoning_summary_part.added':
        addPart(openItem(event).summaryParts, event.summary_index, event.part as JsonObject, event);
        break;
      case 'response.reasoning_summary_part.done':
        closePart(openItem(event).summaryParts, event.summary_index, event.part as JsonObject, event);
        break;
      case 'response.reasoning_summary_text.delta':
        addDelta(openPart(openItem(event).summaryParts, event.summary_index, event), event);
        break;
      case 'response.reasoning_summary_text.done':
        finishText(openPart(openItem(event).summaryParts, event.summary_index, event), event.text, event);
        break;
      case 'response.function_call_arguments.delta':
      case 'response.custom_tool_call_input.delta': {
        const item = openItem(event);
        const expectedType =
          event.type === 'response.function_call_arguments.delta' ? 'function_call' : 'custom_tool_call';
        assert.equal(item.added.type, expectedType, `${where}: on a ${expectedType}`);
        assert.equal(item.callDone, null, `${where}: delta after the done event`);
        item.callDeltas += event.delta as string;
        break;
      }
      case 'response.function_call_arguments.done':
      case 'response.custom_tool_call_input.done': {
        const item = openItem(event);
        const value = event.type === 'response.function_call_arguments.done' ? event.arguments : event.input;
        assert.equal(value, item.callDeltas, `${where}: the done text is the deltas joined`);
        if (event.type === 'response.function_call_arguments.done') {
          assert.equal(event.name, item.added.name, `${where}: name`);
        }
        item.callDone = value;
        break;
      }
      default:
        assert.fail(`${where}: an event type this suite does not check yet — add it to checkStreamInvariants`);
    }
  }

  for (const item of items.values()) {
    assert.notEqual(item.done, null, `the item added at output_index ${item.outputIndex} is never done`);
  }
  const final = terminal.response as JsonObject;
  assert.deepEqual(final.output, doneItems, 'the terminal response output is the output_item.done items, in order');
  return terminal;
}

/**
 * A value with the ids the server generates renamed in order of first appearance, and times and
 * sealed blobs blanked: what two runs of one script must agree on.
 */
function withoutRunSpecifics(value: unknown): unknown {
  const names = new Map<string, string>();
  const visit = (node: unknown, key: string | null): unknown => {
    if (typeof node === 'string') {
      if (key === 'encrypted_content') return '<sealed>';
      if (!GENERATED_ID.test(node)) return node;
      if (!names.has(node)) names.set(node, `${node.slice(0, node.indexOf('_'))}_<${names.size}>`);
      return names.get(node);
    }
    if (typeof node === 'number' && (key === 'created_at' || key === 'completed_at')) return '<time>';
    if (Array.isArray(node)) return node.map((entry) => visit(entry, null));
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([entryKey, entry]) => [entryKey, visit(entry, entryKey)]));
    }
    return node;
  };
  return visit(value, null);
}

function outputTypes(response: JsonObject): string[] {
  return (response.output as JsonObject[]).map((item) => String(item.type));
}

// ---- scripts --------------------------------------------------------------------------------

const text = (delta: string): ModelEvent => ({ type: 'text-delta', delta });
const refusal = (delta: string): ModelEvent => ({ type: 'refusal-delta', delta });
const reasoning = (delta: string): ModelEvent => ({ type: 'reasoning-delta', delta });
const summary = (delta: string): ModelEvent => ({ type: 'reasoning-summary-delta', delta });
const callStart = (
  index: number,
  callId: string,
  name: string,
  kind: 'function' | 'custom' = 'function',
): ModelEvent => ({
  type: 'tool-call-start',
  index,
  callId,
  name,
  kind,
});
const callDelta = (index: number, delta: string): ModelEvent => ({ type: 'tool-call-delta', index, delta });
const usage: ModelEvent = {
  type: 'usage',
  usage: { inputTokens: 21, outputTokens: 13, cachedInputTokens: 4, reasoningTokens: 2 },
};

const weatherTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather for a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
  strict: true,
};
const timeTool = {
  type: 'function',
  name: 'get_time',
  parameters: { type: 'object', properties: { zone: { type: 'string' } } },
  strict: false,
};
const answerSchema = {
  type: 'object',
  properties: { answer: { type: 'integer' } },
  required: ['answer'],
  additionalProperties: false,
};

interface OutputScenario {
  name: string;
  /** Request fields beyond model and input. */
  request?: JsonObject;
  /** A fresh script for each run (a ScriptedModel consumes its steps). */
  script: () => ScriptedStep[];
  terminal: 'response.completed' | 'response.incomplete' | 'response.failed';
  outputTypes: string[];
  /** What `stream: false` answers when the run fails: an HTTP error instead of the Response. */
  httpError?: { status: number; code: string; type: string };
  /** Scenario-specific checks on the final Response and the model that produced it. */
  check?: (response: JsonObject, model: ScriptedModel) => void;
}

const scenarios: OutputScenario[] = [
  {
    name: 'plain text',
    script: () => [textAnswer('Hello there, how can I help you today?')],
    terminal: 'response.completed',
    outputTypes: ['message'],
    check: (response) => {
      assert.equal(response.output_text, 'Hello there, how can I help you today?');
      assert.deepEqual(response.usage, {
        input_tokens: 10,
        input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
        output_tokens: 5,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 15,
      });
    },
  },
  {
    name: 'text split in many deltas',
    script: () => [[...'The quick brown fox jumps over the lazy dog.'].map(text).concat(usage)],
    terminal: 'response.completed',
    outputTypes: ['message'],
    check: (response) => {
      assert.equal(response.output_text, 'The quick brown fox jumps over the lazy dog.');
      assert.equal((response.usage as JsonObject).total_tokens, 34);
    },
  },
  {
    name: 'refusal',
    script: () => [[refusal("I'm sorry, "), refusal('I cannot help with that.')]],
    terminal: 'response.completed',
    outputTypes: ['message'],
    check: (response) => {
      const message = (response.output as JsonObject[])[0]!;
      assert.deepEqual(message.content, [{ type: 'refusal', refusal: "I'm sorry, I cannot help with that." }]);
      assert.equal(response.output_text, '');
    },
  },
  {
    name: 'refusal then text in one message',
    script: () => [[refusal('Not that. '), text('But here is '), text('something else.')]],
    terminal: 'response.completed',
    outputTypes: ['message'],
    check: (response) => {
      const message = (response.output as JsonObject[])[0]!;
      assert.deepEqual(
        (message.content as JsonObject[]).map((part) => part.type),
        ['refusal', 'output_text'],
      );
    },
  },
  {
    name: 'reasoning then text',
    request: { reasoning: { effort: 'low' } },
    script: () => [[reasoning('The user greets me. '), reasoning('Greet back.'), text('Hi '), text('there!'), usage]],
    terminal: 'response.completed',
    outputTypes: ['reasoning', 'message'],
    check: (response) => {
      const item = (response.output as JsonObject[])[0]!;
      assert.deepEqual(item.content, [{ type: 'reasoning_text', text: 'The user greets me. Greet back.' }]);
      assert.deepEqual(item.summary, []);
      assert.equal(item.encrypted_content, undefined, 'no encrypted_content unless included');
    },
  },
  {
    name: 'reasoning summary then text',
    request: { reasoning: { effort: 'medium', summary: 'auto' } },
    script: () => [[summary('**Greeting**\n\n'), summary('The user says hello.'), text('Hello!')]],
    terminal: 'response.completed',
    outputTypes: ['reasoning', 'message'],
    check: (response) => {
      const item = (response.output as JsonObject[])[0]!;
      assert.deepEqual(item.summary, [{ type: 'summary_text', text: '**Greeting**\n\nThe user says hello.' }]);
    },
  },
  {
    name: 'one function call',
    request: { tools: [weatherTool] },
    script: () => [
      [
        callStart(0, 'call_weather_1', 'get_weather'),
        callDelta(0, '{"ci'),
        callDelta(0, 'ty": "Par'),
        callDelta(0, 'is"}'),
        { type: 'finish', reason: 'tool_calls' },
      ],
    ],
    terminal: 'response.completed',
    outputTypes: ['function_call'],
    check: (response) => {
      const call = (response.output as JsonObject[])[0]!;
      assert.equal(call.call_id, 'call_weather_1');
      assert.equal(call.name, 'get_weather');
      assert.equal(call.arguments, '{"city": "Paris"}');
      assert.equal(call.status, 'completed');
    },
  },
  {
    name: 'parallel function calls with interleaved deltas',
    request: { tools: [weatherTool, timeTool] },
    script: () => [
      [
        callStart(0, 'call_a', 'get_weather'),
        callStart(1, 'call_b', 'get_time'),
        callDelta(1, '{"zone":'),
        callDelta(0, '{"city":'),
        callDelta(1, '"CET"}'),
        callDelta(0, '"Oslo"}'),
        { type: 'finish', reason: 'tool_calls' },
      ],
    ],
    terminal: 'response.completed',
    outputTypes: ['function_call', 'function_call'],
    check: (response) => {
      const [first, second] = response.output as JsonObject[];
      assert.deepEqual([first!.call_id, first!.arguments], ['call_a', '{"city":"Oslo"}']);
      assert.deepEqual([second!.call_id, second!.arguments], ['call_b', '{"zone":"CET"}']);
    },
  },
  {
    name: 'custom tool call',
    request: { tools: [{ type: 'custom', name: 'run_sql', description: 'Runs SQL.' }] },
    script: () => [
      [
        callStart(0, 'call_sql', 'run_sql', 'custom'),
        callDelta(0, 'SELECT count(*) '),
        callDelta(0, 'FROM users;'),
        { type: 'finish', reason: 'tool_calls' },
      ],
    ],
    terminal: 'response.completed',
    outputTypes: ['custom_tool_call'],
    check: (response) => {
      const call = (response.output as JsonObject[])[0]!;
      assert.equal(call.name, 'run_sql');
      assert.equal(call.input, 'SELECT count(*) FROM users;');
    },
  },
  {
    name: 'namespace tool call',
    request: {
      tools: [
        {
          type: 'namespace',
          name: 'shell',
          description: 'Shell tools.',
          tools: [
            {
              type: 'function',
              name: 'exec_command',
              parameters: { type: 'object', properties: { cmd: { type: 'string' } } },
              strict: false,
            },
          ],
        },
      ],
    },
    script: () => [
      [
        callStart(0, 'call_ls', 'shell__exec_command'),
        callDelta(0, '{"cmd":"ls"}'),
        { type: 'finish', reason: 'tool_calls' },
      ],
    ],
    terminal: 'response.completed',
    outputTypes: ['function_call'],
    check: (response) => {
      const call = (response.output as JsonObject[])[0]!;
      assert.equal(call.name, 'exec_command');
      assert.equal(call.namespace, 'shell');
    },
  },
  {
    name: 'text then a function call in one turn',
    request: { tools: [weatherTool] },
    script: () => [
      [
        text('Let me check '),
        text('the weather.'),
        callStart(0, 'call_w', 'get_weather'),
        callDelta(0, '{"city":"Rome"}'),
        { type: 'finish', reason: 'tool_calls' },
      ],
    ],
    terminal: 'response.completed',
    outputTypes: ['message', 'function_call'],
    check: (response) => assert.equal(response.output_text, 'Let me check the weather.'),
  },
  {
    name: "finish 'length'",
    request: { max_output_tokens: 16 },
    script: () => [[text('This answer is cut '), text('off at the'), { type: 'finish', reason: 'length' }]],
    terminal: 'response.incomplete',
    outputTypes: ['message'],
    check: (response) => {
      assert.equal(response.status, 'incomplete');
      assert.deepEqual(response.incomplete_details, { reason: 'max_output_tokens' });
      assert.equal((response.output as JsonObject[])[0]!.status, 'incomplete');
      assert.equal(response.completed_at, null);
    },
  },
  {
    name: "finish 'content_filter'",
    script: () => [[text('Some text that '), { type: 'finish', reason: 'content_filter' }]],
    terminal: 'response.incomplete',
    outputTypes: ['message'],
    check: (response) => {
      assert.equal(response.status, 'incomplete');
      assert.deepEqual(response.incomplete_details, { reason: 'content_filter' });
    },
  },
  {
    name: 'upstream error after some text',
    script: () => [
      {
        error: new UpstreamError({
          message: 'The upstream model server broke off its answer.',
          code: 'upstream_error',
          retryable: false,
          upstreamStatus: 500,
        }),
        afterEvents: [text('Partial ')],
      },
    ],
    terminal: 'response.failed',
    outputTypes: ['message'],
    httpError: { status: 502, code: 'upstream_error', type: 'server_error' },
    check: (response) => {
      assert.equal(response.status, 'failed');
      assert.deepEqual(response.error, {
        code: 'server_error',
        message: 'The upstream model server broke off its answer.',
      });
      assert.equal((response.output as JsonObject[])[0]!.status, 'incomplete');
    },
  },
  {
    name: 'upstream rate limit before any output',
    script: () => [
      {
        error: new UpstreamError({
          message: 'Rate limit reached for the upstream model.',
          code: 'rate_limit_exceeded',
          retryable: true,
          upstreamStatus: 429,
        }),
      },
    ],
    terminal: 'response.failed',
    outputTypes: [],
    httpError: { status: 429, code: 'rate_limit_exceeded', type: 'rate_limit_error' },
    check: (response) => {
      assert.deepEqual(response.error, {
        code: 'rate_limit_exceeded',
        message: 'Rate limit reached for the upstream model.',
      });
    },
  },
  {
    name: 'strict json_schema output that is retried',
    request: { text: { format: { type: 'json_schema', name: 'math', schema: answerSchema, strict: true } } },
    script: () => [textAnswer('{"answer": "four"}'), textAnswer('{"answer": 4}')],
    terminal: 'response.completed',
    outputTypes: ['message'],
    check: (response, model) => {
      assert.equal(model.requests.length, 2, 'the non-conforming answer was sent back once');
      assert.equal(response.output_text, '{"answer": 4}');
      assert.deepEqual((response.text as JsonObject).format, {
        type: 'json_schema',
        name: 'math',
        schema: answerSchema,
        strict: true,
      });
    },
  },
  {
    name: "include: ['reasoning.encrypted_content'] with store: false",
    request: { store: false, include: ['reasoning.encrypted_content'] },
    script: () => [[reasoning('Think it through.'), text('Done.')]],
    terminal: 'response.completed',
    outputTypes: ['reasoning', 'message'],
    check: (response) => {
      assert.equal(response.store, false);
      const item = (response.output as JsonObject[])[0]!;
      assert.match(String(item.encrypted_content), /^rp1\./, 'reasoning carries its sealed content');
    },
  },
  {
    name: 'file_search then an answer citing the right file',
    request: {
      tools: [{ type: 'file_search', vector_store_ids: [VECTOR_STORE_ID] }],
      include: ['file_search_call.results'],
    },
    script: () => [
      [
        callStart(0, 'call_search', 'file_search'),
        callDelta(0, '{"queries":'),
        callDelta(0, '["capital of France"]}'),
        { type: 'finish', reason: 'tool_calls' },
      ],
      // The marker is split across deltas, and [9] names no source: it stays text.
      [text('Paris is the capital of France ['), text('1]. See also [9].'), usage],
    ],
    terminal: 'response.completed',
    outputTypes: ['file_search_call', 'message'],
    check: (response, model) => {
      const [call, message] = response.output as JsonObject[];
      assert.equal(call!.status, 'completed');
      assert.deepEqual(call!.queries, ['capital of France']);
      const results = call!.results as JsonObject[];
      assert.equal(results[0]!.file_id, 'file-contractParis');
      assert.equal(results[0]!.filename, 'paris.txt');
      assert.deepEqual(results[0]!.attributes, { city: 'paris' });
      assert.equal(response.output_text, 'Paris is the capital of France . See also [9].');
      assert.deepEqual((message!.content as JsonObject[])[0]!.annotations, [
        { type: 'file_citation', file_id: 'file-contractParis', filename: 'paris.txt', index: 31 },
      ]);
      const sent = model.requests[1]!.items.at(-1) as { type: string; output: string };
      assert.equal(sent.type, 'function_call_output');
      assert.match(sent.output, /<source number="1" file_id="file-contractParis" filename="paris.txt">/);
    },
  },
  {
    name: 'file_search without include: results are null, the citation still made',
    request: { tools: [{ type: 'file_search', vector_store_ids: [VECTOR_STORE_ID] }] },
    script: () => [
      [
        callStart(0, 'call_search', 'file_search'),
        callDelta(0, '{"queries":["capital of Japan"]}'),
        { type: 'finish', reason: 'tool_calls' },
      ],
      [text('[1] Tokyo.')],
    ],
    terminal: 'response.completed',
    outputTypes: ['file_search_call', 'message'],
    check: (response) => {
      const [call, message] = response.output as JsonObject[];
      assert.equal(call!.results, null);
      assert.equal(response.output_text, ' Tokyo.');
      assert.deepEqual((message!.content as JsonObject[])[0]!.annotations, [
        { type: 'file_citation', file_id: 'file-contractTokyo', filename: 'tokyo.txt', index: 0 },
      ]);
    },
  },
];

describe('every output shape, streamed and not, matches the spec', () => {
  for (const scenario of scenarios) {
    const body: JsonObject = { model: MODEL, input: 'Hello', ...scenario.request };

    describe(scenario.name, () => {
      test('stream: true — every event valid, the stream consistent, the response stored as streamed', async () => {
        const { app, model } = appWithScript(scenario.script());
        const events = await runStreamed(app, body);
        const terminal = checkStreamInvariants(events);
        assert.equal(terminal.type, scenario.terminal);
        const response = terminal.response as JsonObject;
        assert.deepEqual(outputTypes(response), scenario.outputTypes);
        scenario.check?.(response, model);

        // GET shows include-only fields (file_search results) when asked for them, as the create did.
        const include = ((body.include as string[] | undefined) ?? []).map((value) => `include[]=${value}`).join('&');
        const retrieved = await getJson(app, `/v1/responses/${String(response.id)}?${include}`);
        if (body.store === false) {
          checkErrorReply(retrieved, { status: 404, param: null }, 'GET of a store: false response');
          return;
        }
        assert.equal(retrieved.statusCode, 200);
        checkResponseObject(retrieved.body, 'GET /v1/responses/{id}');
        assert.deepEqual(retrieved.body, response, 'the stored response is the one streamed');
      });

      test('stream: false — the JSON (or HTTP error) agrees with the streamed terminal response', async () => {
        const streamed = checkStreamInvariants(await runStreamed(appWithScript(scenario.script()).app, body));
        const { app, model } = appWithScript(scenario.script());
        const reply = await runJson(app, body);
        const final = streamed.response as JsonObject;
        if (scenario.httpError) {
          const expected = { ...scenario.httpError, param: null };
          checkErrorReply(reply, expected, 'stream: false failure');
          assert.equal(
            (reply.body.error as JsonObject).message,
            (final.error as JsonObject).message,
            'the HTTP error says what response.failed said',
          );
          return;
        }
        assert.equal(reply.statusCode, 200);
        checkResponseObject(reply.body, 'POST /v1/responses (stream: false)');
        scenario.check?.(reply.body, model);
        assert.deepEqual(withoutRunSpecifics(reply.body), withoutRunSpecifics(final));
      });
    });
  }
});

describe('retrieve and delete', () => {
  test('GET with include adds encrypted_content to stored reasoning, and still matches the spec', async () => {
    const { app } = appWithScript([[reasoning('Step one. '), reasoning('Step two.'), text('Answer.')]]);
    const created = await runJson(app, { model: MODEL, input: 'Think' });
    checkResponseObject(created.body, 'create');
    const id = String(created.body.id);
    for (const query of ['include[]=reasoning.encrypted_content', 'include=reasoning.encrypted_content']) {
      const retrieved = await getJson(app, `/v1/responses/${id}?${query}`);
      assert.equal(retrieved.statusCode, 200, query);
      checkResponseObject(retrieved.body, `GET ?${query}`);
      const item = (retrieved.body.output as JsonObject[])[0]!;
      assert.match(String(item.encrypted_content), /^rp1\./, `${query}: reasoning is sealed`);
    }
    const plain = await getJson(app, `/v1/responses/${id}`);
    assert.equal((plain.body.output as JsonObject[])[0]!.encrypted_content, undefined);
  });

  test('DELETE answers the deleted object, then the response is gone', async () => {
    const app = buildApp();
    const created = await runJson(app, { model: MODEL, input: 'Delete me' });
    const id = String(created.body.id);
    const deleted = await getJson(app, `/v1/responses/${id}`, 'DELETE');
    assert.equal(deleted.statusCode, 200);
    // The spec gives DELETE /responses/{id} no 200 schema; its example is {id, object: "response", deleted: true}.
    assert.deepEqual(deleted.body, { id, object: 'response', deleted: true });
    checkErrorReply(await getJson(app, `/v1/responses/${id}`), { status: 404, param: null }, 'GET after DELETE');
    checkErrorReply(
      await getJson(app, `/v1/responses/${id}`, 'DELETE'),
      { status: 404, param: null },
      'DELETE after DELETE',
    );
    checkErrorReply(
      await getJson(app, `/v1/responses/${id}/input_items`),
      { status: 404, param: null },
      'input_items after DELETE',
    );
  });
});

describe('input_items pages match ResponseItemList', () => {
  let app: FastifyInstance;
  let responseId: string;
  let referencedMessage: JsonObject;
  /** The listed items in input order. */
  let ascending: JsonObject[];

  before(async () => {
    app = buildApp();
    const earlier = await runJson(app, { model: MODEL, input: 'First turn' });
    referencedMessage = (earlier.body.output as JsonObject[])[0]!;
    const created = await runJson(app, {
      model: MODEL,
      tools: [weatherTool, { type: 'custom', name: 'run_sql' }],
      input: [
        { role: 'developer', content: 'Answer briefly.' },
        { type: 'message', role: 'system', content: [{ type: 'input_text', text: 'You are a weather bot.' }] },
        {
          type: 'message',
          role: 'user',
          content: [
            { type: 'input_text', text: 'What is the weather here?' },
            { type: 'input_image', image_url: 'https://example.com/street.png', detail: 'low' },
          ],
        },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Let me look.' }] },
        { type: 'reasoning', summary: [{ type: 'summary_text', text: 'Need the weather tool.' }] },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call_output', call_id: 'call_1', output: '{"celsius":21}' },
        { type: 'custom_tool_call', call_id: 'call_2', name: 'run_sql', input: 'SELECT 1;' },
        { type: 'custom_tool_call_output', call_id: 'call_2', output: '1' },
        { type: 'item_reference', id: referencedMessage.id },
        { role: 'user', content: 'Thanks!' },
      ],
    });
    assert.equal(created.statusCode, 200, JSON.stringify(created.body));
    checkResponseObject(created.body, 'create with every input item type');
    responseId = String(created.body.id);
    // Read without checks here, so that a mismatch fails a test below rather than this hook.
    const page = await getJson(app, `/v1/responses/${responseId}/input_items?order=asc&limit=100`);
    ascending = page.body.data as JsonObject[];
  });

  async function listItems(query: string): Promise<JsonObject> {
    const reply = await getJson(app, `/v1/responses/${responseId}/input_items?${query}`);
    assert.equal(reply.statusCode, 200, `${query}: ${JSON.stringify(reply.body)}`);
    if ((reply.body.data as unknown[]).length > 0) assertListPage('ResponseItemList', reply.body, query);
    return reply.body;
  }

  test('every item type that can appear is listed, in order, item references resolved', async () => {
    ascending.forEach((item, index) =>
      assertMatchesSchema('ItemResource', item, `item ${index} (${String(item.type)})`),
    );
    await listItems('order=asc&limit=100');
    assert.deepEqual(
      ascending.map((item) =>
        typeof item.role === 'string' ? `${String(item.type)}:${item.role}` : String(item.type),
      ),
      [
        'message:developer',
        'message:system',
        'message:user',
        'message:assistant',
        'reasoning',
        'function_call',
        'function_call_output',
        'custom_tool_call',
        'custom_tool_call_output',
        'message:assistant',
        'message:user',
      ],
    );
    assert.deepEqual(ascending[9], referencedMessage, 'the item_reference is listed as the item it names');
    for (const item of ascending) assert.equal(typeof item.id, 'string');
    assert.equal(new Set(ascending.map((item) => item.id)).size, ascending.length, 'ids are unique');
  });

  test('the default order is desc, with the default limit', async () => {
    const page = await listItems('');
    assert.deepEqual(page.data, [...ascending].reverse());
    assert.equal(page.has_more, false);
  });

  test('paging forward with limit and after visits every item once, in both orders', async () => {
    for (const order of ['asc', 'desc'] as const) {
      const expected = order === 'asc' ? ascending : [...ascending].reverse();
      const seen: JsonObject[] = [];
      let cursor: string | null = null;
      for (let pageCount = 0; pageCount < 10; pageCount++) {
        const page = await listItems(`order=${order}&limit=2${cursor ? `&after=${cursor}` : ''}`);
        seen.push(...(page.data as JsonObject[]));
        assert.ok((page.data as unknown[]).length <= 2, 'limit is respected');
        if (!page.has_more) break;
        cursor = String(page.last_id);
      }
      assert.deepEqual(seen, expected, `order=${order}`);
    }
  });

  test('before pages back: the items nearest the cursor, in listing order', async () => {
    const page = await listItems(`order=asc&limit=3&before=${String(ascending[5]!.id)}`);
    assert.deepEqual(page.data, ascending.slice(2, 5));
    assert.equal(page.has_more, true, 'two more items lie before the page');
    const first = await listItems(`order=asc&limit=3&before=${String(ascending[3]!.id)}`);
    assert.deepEqual(first.data, ascending.slice(0, 3));
    assert.equal(first.has_more, false);
    const between = await listItems(`order=desc&after=${String(ascending[6]!.id)}&before=${String(ascending[2]!.id)}`);
    assert.deepEqual(between.data, ascending.slice(3, 6).reverse());
  });

  test('an empty page has first_id and last_id null, as OpenAI sends', async () => {
    // ResponseItemList types first_id and last_id as strings and requires them, but OpenAI sends
    // null for both when a page is empty; Riposte follows OpenAI, so this page is checked by shape.
    const page = await listItems(`order=asc&after=${String(ascending.at(-1)!.id)}`);
    assert.deepEqual(page, { object: 'list', data: [], first_id: null, last_id: null, has_more: false });
  });

  test('bad list parameters are 400s naming them', async () => {
    for (const [query, param] of [
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=ten', 'limit'],
      ['order=sideways', 'order'],
      ['after=msg_unknown', 'after'],
      ['before=msg_unknown', 'before'],
    ] as const) {
      const reply = await getJson(app, `/v1/responses/${responseId}/input_items?${query}`);
      checkErrorReply(reply, { status: 400, param, type: 'invalid_request_error' }, query);
    }
  });
});

describe('models', () => {
  const app = (): FastifyInstance =>
    buildApp({
      models: {
        [MODEL]: new ScriptedModel([]),
        'meta-llama/Llama-3.1-8B': new ScriptedModel([]),
        'qwen3:8b': new ScriptedModel([]),
      },
    });

  test('GET /v1/models is a ListModelsResponse', async () => {
    const reply = await getJson(app(), '/v1/models');
    assert.equal(reply.statusCode, 200);
    assertMatchesSchema('ListModelsResponse', reply.body, 'GET /v1/models');
    for (const model of reply.body.data as unknown[]) assertMatchesSchema('Model', model, 'a listed model');
    assert.deepEqual(
      (reply.body.data as JsonObject[]).map((model) => model.id),
      [MODEL, 'meta-llama/Llama-3.1-8B', 'qwen3:8b'],
    );
  });

  test('GET /v1/models/{id} is a Model, names with slashes and colons included', async () => {
    const server = app();
    for (const id of [MODEL, 'meta-llama/Llama-3.1-8B', 'qwen3:8b']) {
      const reply = await getJson(server, `/v1/models/${id}`);
      assert.equal(reply.statusCode, 200, id);
      assertMatchesSchema('Model', reply.body, id);
      assert.equal(reply.body.id, id);
    }
    checkErrorReply(
      await getJson(server, '/v1/models/gpt-unknown'),
      { status: 404, param: 'model', code: 'model_not_found' },
      'an unknown model',
    );
  });
});

describe('error bodies match the spec and name the offending param', () => {
  const badBodies: Array<{ name: string; body: JsonObject; param: string; code?: string }> = [
    // JSON leaves out undefined values: this body has no `model`.
    { name: 'model missing', body: { model: undefined }, param: 'model', code: 'missing_required_parameter' },
    { name: 'model not a string', body: { model: 42, input: 'x' }, param: 'model', code: 'invalid_type' },
    { name: 'input not a string or array', body: { input: 42 }, param: 'input', code: 'invalid_type' },
    {
      name: 'an unknown message role',
      body: { input: [{ type: 'message', role: 'robot', content: 'x' }] },
      param: 'input[0].role',
      code: 'invalid_value',
    },
    {
      name: 'a data URL that is not an image',
      body: {
        input: [
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'x' },
              { type: 'input_image', image_url: 'data:text/plain;base64,AA' },
            ],
          },
        ],
      },
      param: 'input[0].content[1].image_url',
      code: 'invalid_value',
    },
    { name: 'temperature above 2', body: { temperature: 7 }, param: 'temperature', code: 'decimal_above_max_value' },
    { name: 'top_p below 0', body: { top_p: -0.5 }, param: 'top_p', code: 'decimal_below_min_value' },
    {
      name: 'max_output_tokens below 16',
      body: { max_output_tokens: 1 },
      param: 'max_output_tokens',
      code: 'integer_below_min_value',
    },
    { name: 'store not a boolean', body: { store: 'yes' }, param: 'store', code: 'invalid_type' },
    { name: 'a function tool without a name', body: { tools: [{ type: 'function' }] }, param: 'tools[0].name' },
    {
      name: 'two tools with one name',
      body: { tools: [timeTool, { ...timeTool }] },
      param: 'tools[1].name',
      code: 'invalid_value',
    },
    {
      name: 'a built-in tool this server does not run',
      body: { tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] },
      param: 'tools[0].type',
      code: 'unsupported_tool',
    },
    { name: 'tool_choice not one of its values', body: { tool_choice: 'sometimes' }, param: 'tool_choice' },
    {
      name: 'tool_choice naming a tool not offered',
      body: { tools: [timeTool], tool_choice: { type: 'function', name: 'get_weather' } },
      param: 'tool_choice',
    },
    {
      name: 'a json_schema format without a schema',
      body: { text: { format: { type: 'json_schema', name: 'math' } } },
      param: 'text.format.schema',
      code: 'missing_required_parameter',
    },
    {
      name: 'metadata with too many keys',
      body: { metadata: Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`key${index}`, 'v'])) },
      param: 'metadata',
      code: 'object_above_max_properties',
    },
    { name: 'an unknown include value', body: { include: ['everything'] }, param: 'include[0]', code: 'invalid_value' },
    { name: 'an unknown reasoning effort', body: { reasoning: { effort: 'maximal' } }, param: 'reasoning.effort' },
    {
      name: 'stream_options without stream',
      body: { stream_options: { include_obfuscation: false } },
      param: 'stream_options',
    },
    {
      name: 'previous_response_id with conversation',
      body: { previous_response_id: 'resp_x', conversation: 'conv_x' },
      param: 'conversation',
      code: 'mutually_exclusive_parameters',
    },
    { name: 'background: true with store: false', body: { background: true, store: false }, param: 'store' },
    {
      name: 'an item_reference to no item',
      body: { input: [{ type: 'item_reference', id: 'msg_missing' }] },
      param: 'input[0].id',
      code: 'invalid_value',
    },
  ];

  for (const badBody of badBodies) {
    test(`400: ${badBody.name}`, async () => {
      const app = buildApp();
      const body = { model: MODEL, input: 'x', ...badBody.body };
      for (const stream of [false, true]) {
        // A bad request is an HTTP error even with stream: true: nothing has been streamed yet.
        // (stream_options is only valid with stream: true, so that case is checked without it.)
        if (stream && badBody.param === 'stream_options') continue;
        const reply = await app.inject({ method: 'POST', url: '/v1/responses', payload: { ...body, stream } });
        assert.match(String(reply.headers['content-type']), /^application\/json/, `stream: ${stream}`);
        checkErrorReply(
          { statusCode: reply.statusCode, body: reply.json() },
          { status: 400, param: badBody.param, code: badBody.code, type: 'invalid_request_error' },
          `${badBody.name} (stream: ${stream})`,
        );
      }
    });
  }

  test('400: a body that is not an object names no param', async () => {
    const reply = await buildApp().inject({ method: 'POST', url: '/v1/responses', payload: [1, 2] });
    checkErrorReply(
      { statusCode: reply.statusCode, body: reply.json() },
      { status: 400, param: null, code: 'invalid_type' },
      'array body',
    );
  });

  test('400: invalid JSON', async () => {
    const reply = await buildApp().inject({
      method: 'POST',
      url: '/v1/responses',
      payload: '{"model": "test-model", ',
      headers: { 'content-type': 'application/json' },
    });
    checkErrorReply(
      { statusCode: reply.statusCode, body: reply.json() },
      { status: 400, param: null, code: 'invalid_json', type: 'invalid_request_error' },
      'invalid JSON',
    );
  });

  test('400: streaming a stored response that was not created in background', async () => {
    const app = buildApp();
    const created = await runJson(app, { model: MODEL, input: 'x' });
    checkErrorReply(
      await getJson(app, `/v1/responses/${String(created.body.id)}?stream=true`),
      { status: 400, param: 'stream' },
      'GET ?stream=true',
    );
    checkErrorReply(
      await getJson(app, `/v1/responses/${String(created.body.id)}/cancel`, 'POST'),
      { status: 400, param: null },
      'cancel of a foreground response',
    );
  });

  test('401: a missing or unknown API key', async () => {
    const app = buildApp({ keys: { 'sk-contract': 'project-a' } });
    checkErrorReply(await getJson(app, '/v1/models'), { status: 401, param: null }, 'no key');
    const wrong = await app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: 'Bearer sk-nope' } });
    checkErrorReply(
      { statusCode: wrong.statusCode, body: wrong.json() },
      { status: 401, param: null, code: 'invalid_api_key' },
      'wrong key',
    );
    const allowed = await app.inject({
      method: 'GET',
      url: '/v1/models',
      headers: { authorization: 'Bearer sk-contract' },
    });
    assert.equal(allowed.statusCode, 200);
  });

  test('404: unknown response ids, routes and models', async () => {
    const app = buildApp();
    for (const [method, url] of [
      ['GET', '/v1/responses/resp_missing'],
      ['DELETE', '/v1/responses/resp_missing'],
      ['GET', '/v1/responses/resp_missing/input_items'],
      ['POST', '/v1/responses/resp_missing/cancel'],
    ] as const) {
      checkErrorReply(await getJson(app, url, method), { status: 404, param: null }, `${method} ${url}`);
    }
    checkErrorReply(
      await getJson(app, '/v1/nothing-here'),
      { status: 404, param: null, code: 'unknown_url' },
      'unknown route',
    );
    checkErrorReply(
      await runJson(app, { model: 'gpt-unknown', input: 'x' }),
      { status: 404, param: 'model', code: 'model_not_found' },
      'unknown model',
    );
    checkErrorReply(
      await runJson(app, { model: MODEL, input: 'x', previous_response_id: 'resp_missing' }),
      { status: 404, param: 'previous_response_id' },
      'unknown previous_response_id',
    );
  });

  test('405: a known route with the wrong method', async () => {
    const app = buildApp();
    for (const [method, url] of [
      ['PUT', '/v1/responses'],
      ['PATCH', '/v1/responses/resp_x'],
      ['POST', '/v1/models'],
    ] as const) {
      const reply = await app.inject({ method, url });
      checkErrorReply(
        { statusCode: reply.statusCode, body: reply.json() },
        { status: 405, param: null, code: 'method_not_allowed' },
        `${method} ${url}`,
      );
    }
  });

  test('413: a body over the limit', async () => {
    const reply = await buildApp({ bodyLimitBytes: 2048 }).inject({
      method: 'POST',
      url: '/v1/responses',
      payload: { model: MODEL, input: 'x'.repeat(5000) },
    });
    checkErrorReply(
      { statusCode: reply.statusCode, body: reply.json() },
      { status: 413, param: null, code: 'request_too_large' },
      'oversized body',
    );
  });
});
