import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Agent,
  OpenAIResponsesCompactionSession,
  OpenAIResponsesModel,
  run,
  setDefaultOpenAIClient,
  setOpenAIAPI,
  setTracingDisabled,
  type OpenAIResponsesCompactionMode,
} from '@openai/agents';
import OpenAI from 'openai';
import { SUMMARY_INSTRUCTION } from '../../src/engine/compact-items.ts';
import { assertMatchesSchema } from '../contract/spec-validator.ts';
import { startTestServer, type TestServer } from './start-test-server.ts';

/** The compaction session refuses model names that do not look like OpenAI's; Riposte routes any name. */
const MODEL = 'gpt-4.1-mini';

/** One HTTP exchange between the Agents SDK and Riposte, as the SDK sent it. */
interface SdkExchange {
  method: string;
  path: string;
  body: Record<string, unknown> | null;
  status: number;
  /** The answer's JSON, kept for refusals and compactions only. */
  answer: unknown;
}

/** What one suite's chat left behind, for its tests to check. */
interface ChatRecord {
  finalOutputs: string[];
  /** Upstream requests made by the end of each turn. */
  upstreamRequestsAfterTurn: number[];
  /** `responses.compact` usage entries in each turn's run result. */
  compactUsageByTurn: Array<Array<{ inputTokens: number; outputTokens: number }>>;
  decisions: Array<{ afterTurn: number; mode: string; candidates: number }>;
  /** Each upstream request as `role: content` lines. */
  upstream: string[][];
  sessionItemKinds: string[];
}

let harness: TestServer;
let client: OpenAI;
let exchanges: SdkExchange[];

/**
 * Gives the enclosing suite its own server, so the upstream numbers answers and summaries afresh,
 * and records every request the SDK makes to Riposte — which endpoint it used and, should Riposte
 * refuse one, exactly what was sent.
 */
function serveThisSuite(): void {
  before(async () => {
    harness = await startTestServer();
    exchanges = [];
    const recordingFetch = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const response = await fetch(url, init);
      const path = new URL(url instanceof Request ? url.url : url).pathname;
      const kept = !response.ok || path.endsWith('/responses/compact');
      exchanges.push({
        method: init?.method ?? 'GET',
        path,
        body: typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : null,
        status: response.status,
        answer: kept ? await response.clone().json() : null,
      });
      return response;
    };
    client = new OpenAI({
      baseURL: harness.baseUrl,
      apiKey: 'not-checked-on-loopback',
      maxRetries: 0,
      fetch: recordingFetch,
    });
    setTracingDisabled(true);
    setOpenAIAPI('responses');
    setDefaultOpenAIClient(client);
  });
  after(async () => harness.stop());
}

/**
 * The upstream's script: a summarisation request (SUMMARY_INSTRUCTION last) gets "SUMMARY n: …",
 * anything else "answer n", each numbered in its own sequence.
 */
function answerByRequest(): void {
  let answers = 0;
  let summaries = 0;
  harness.upstream.setFallback((body) => {
    const messages = body.messages as Array<{ role: string; content: unknown }>;
    if (messages.at(-1)?.content === SUMMARY_INSTRUCTION) {
      summaries += 1;
      return { content: summaryText(summaries), usage: { prompt_tokens: 120, completion_tokens: 20 } };
    }
    answers += 1;
    return { content: `answer ${answers}` };
  });
}

function summaryText(count: number): string {
  return `SUMMARY ${count}: the user asked numbered questions and each was answered in turn.`;
}

/** What the model is shown for a compaction item: Riposte's note around the summary the upstream wrote. */
function summaryNote(count: number): string {
  return (
    'user: The earlier part of this conversation was compacted to save context. This is a summary of it, ' +
    'covering everything up to this point. Use it as context and continue where the conversation ' +
    `left off; do not reply to this note itself.\n\n<conversation_summary>\n${summaryText(count)}\n</conversation_summary>`
  );
}

/** What the upstream was sent as `role: content` lines, system prompt and all. */
function upstreamTranscript(request: Record<string, unknown> | undefined): string[] {
  const messages = (request?.messages ?? []) as Array<{ role: string; content: unknown }>;
  return messages.map(
    (message) =>
      `${message.role}: ${typeof message.content === 'string' ? message.content : JSON.stringify(message.content)}`,
  );
}

const TURNS = ['question 1', 'question 2', 'question 3', 'question 4', 'question 5'];
const user = (turn: number): string => `user: ${TURNS[turn - 1]}`;
const assistant = (turn: number): string => `assistant: answer ${turn}`;
const SYSTEM = 'system: Be brief.';
const SUMMARISE = `user: ${SUMMARY_INSTRUCTION}`;
/** Compact once three assistant answers have piled up: after turn 3, and not again in five turns. */
const COMPACT_AT_CANDIDATES = 3;

/** Five turns through one Agent and an OpenAIResponsesCompactionSession in `mode`. */
async function chat(mode: OpenAIResponsesCompactionMode): Promise<ChatRecord> {
  answerByRequest();
  const agent = new Agent({
    name: 'Assistant',
    instructions: 'Be brief.',
    // A model bound to this suite's client: the default provider keeps the first client it was given.
    model: new OpenAIResponsesModel(client, MODEL),
  });
  const decisions: ChatRecord['decisions'] = [];
  let turn = 0;
  const session = new OpenAIResponsesCompactionSession({
    client,
    model: MODEL,
    compactionMode: mode,
    shouldTriggerCompaction: ({ compactionMode, compactionCandidateItems }) => {
      decisions.push({ afterTurn: turn, mode: compactionMode, candidates: compactionCandidateItems.length });
      return compactionCandidateItems.length >= COMPACT_AT_CANDIDATES;
    },
  });
  const firstRequest = harness.upstream.requests.length;
  const record: ChatRecord = {
    finalOutputs: [],
    upstreamRequestsAfterTurn: [],
    compactUsageByTurn: [],
    decisions,
    upstream: [],
    sessionItemKinds: [],
  };
  for (const question of TURNS) {
    turn += 1;
    const result = await run(agent, question, { session });
    record.finalOutputs.push(String(result.finalOutput));
    record.upstreamRequestsAfterTurn.push(harness.upstream.requests.length - firstRequest);
    record.compactUsageByTurn.push(
      (result.runContext.usage.requestUsageEntries ?? [])
        .filter((entry) => entry.endpoint === 'responses.compact')
        .map((entry) => ({ inputTokens: entry.inputTokens, outputTokens: entry.outputTokens })),
    );
  }
  record.upstream = harness.upstream.requests.slice(firstRequest).map(upstreamTranscript);
  record.sessionItemKinds = (await session.getItems()).map((item) =>
    item.type === 'message' ? item.role : String(item.type),
  );
  return record;
}

/** The checks that hold in every compaction mode. */
function assertCompactedChat(record: ChatRecord, resolvedMode: 'previous_response_id' | 'input'): void {
  assert.deepEqual(
    exchanges.filter((exchange) => exchange.status >= 400),
    [],
    'Riposte refused a request of the Agents SDK',
  );
  // Every turn's answer reaches its run result, the turns after the compaction included.
  assert.deepEqual(record.finalOutputs, ['answer 1', 'answer 2', 'answer 3', 'answer 4', 'answer 5']);

  // The session asked after each of the first three turns, and compacted after the third.
  assert.deepEqual(
    record.decisions.filter((decision) => decision.afterTurn <= 3),
    [1, 2, 3].map((afterTurn) => ({ afterTurn, mode: resolvedMode, candidates: afterTurn })),
  );
  // One upstream call a turn, plus the summarisation within turn 3, whose usage turn 3's result counts.
  assert.deepEqual(record.upstreamRequestsAfterTurn, [1, 2, 4, 5, 6]);
  assert.deepEqual(record.compactUsageByTurn, [[], [], [{ inputTokens: 120, outputTokens: 20 }], [], []]);

  // Riposte's POST /v1/responses/compact did it, in the form the mode calls for.
  const compactions = exchanges.filter((exchange) => exchange.path === '/v1/responses/compact');
  assert.equal(compactions.length, 1);
  const [compaction] = compactions;
  assert.equal(compaction!.method, 'POST');
  assert.equal(compaction!.status, 200);
  assert.equal(compaction!.body?.model, MODEL);
  if (resolvedMode === 'previous_response_id') {
    assert.match(String(compaction!.body?.previous_response_id), /^resp_/);
    assert.equal(compaction!.body?.input, undefined);
  } else {
    assert.equal((compaction!.body?.input as unknown[]).length, 6);
    assert.equal(compaction!.body?.previous_response_id, undefined);
  }
  assertMatchesSchema('CompactResource', compaction!.answer);

  const [turn1, turn2, turn3, summarisation, turn4, turn5] = record.upstream;
  assert.equal(record.upstream.length, 6);
  assert.deepEqual(turn1, [SYSTEM, user(1)]);
  assert.deepEqual(turn2, [SYSTEM, user(1), assistant(1), user(2)]);
  assert.deepEqual(turn3, [SYSTEM, user(1), assistant(1), user(2), assistant(2), user(3)]);
  // The summarisation: the whole conversation so far, then the instruction.
  assert.deepEqual(summarisation, [user(1), assistant(1), user(2), assistant(2), user(3), assistant(3), SUMMARISE]);

  // After it: the summary once, and none of the compacted answers again.
  for (const [index, request] of [turn4!, turn5!].entries()) {
    const turn = index + 4;
    assert.equal(request[0], SYSTEM);
    assert.equal(request.at(-1), user(turn));
    assert.equal(request.filter((line) => line === summaryNote(1)).length, 1, `turn ${turn} carries the summary`);
    for (const compacted of [1, 2, 3]) assert.ok(!request.includes(assistant(compacted)), `turn ${turn}`);
    assert.ok(!request.includes(SUMMARISE));
  }
  assert.deepEqual(turn5!.slice(turn5!.indexOf(summaryNote(1))), [summaryNote(1), user(4), assistant(4), user(5)]);

  // The session keeps the compaction's output (user messages, then the compaction item) and what followed.
  assert.deepEqual(record.sessionItemKinds, [
    'user',
    'user',
    'user',
    'compaction',
    'user',
    'assistant',
    'user',
    'assistant',
  ]);
}

/**
 * @openai/agents 0.20 trims each model input to start at the latest compaction item (agents-core
 * `trimToLatestCompaction`, following OpenAI's "you can drop items that came before the most
 * recent compaction item"), so the user messages the compact endpoint returned before it never
 * reach Riposte again. The compaction item carries them sealed, with the summary, and the model
 * still sees them word for word — once, before the summary note.
 */
function assertUserMessagesReachTheModel(record: ChatRecord): void {
  assert.deepEqual(record.upstream[4], [SYSTEM, user(1), user(2), user(3), summaryNote(1), user(4)]);
}

describe('the Agents SDK with OpenAIResponsesCompactionSession, compactionMode auto', () => {
  serveThisSuite();
  let record: ChatRecord;

  test('compacts through POST /v1/responses/compact after turn 3 and chats on from the summary', async () => {
    record = await chat('auto');
    // Riposte stores responses, so 'auto' compacts the previous_response_id chain.
    assertCompactedChat(record, 'previous_response_id');
  });

  test('the turns after the compaction still show the model the earlier user messages', () => {
    assertUserMessagesReachTheModel(record);
  });
});

describe('the Agents SDK with OpenAIResponsesCompactionSession, compactionMode input', () => {
  serveThisSuite();
  let record: ChatRecord;

  test('compacts the session items it sends after turn 3 and chats on from the summary', async () => {
    record = await chat('input');
    assertCompactedChat(record, 'input');
  });

  test('the turns after the compaction still show the model the earlier user messages', () => {
    assertUserMessagesReachTheModel(record);
  });
});
