import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Agent,
  OpenAIConversationsSession,
  run,
  setDefaultOpenAIClient,
  setOpenAIAPI,
  setTracingDisabled,
} from '@openai/agents';
import type OpenAI from 'openai';
import { BadRequestError, NotFoundError } from 'openai';
import { assertErrorBody, assertListPage, assertMatchesSchema } from '../contract/spec-validator.ts';
import { startTestServer, type TestServer } from './start-test-server.ts';

let harness: TestServer;
let client: OpenAI;

/**
 * Gives the enclosing suite its own server (suites run one after another), so upstream steps a
 * failing test leaves queued cannot answer another suite's requests.
 */
function serveThisSuite(): void {
  before(async () => {
    harness = await startTestServer();
    client = harness.client;
  });
  after(async () => harness.stop());
}

/** What the upstream was sent as `role: content` lines, system prompt and all. */
function upstreamTranscript(request: Record<string, unknown> | undefined): string[] {
  const messages = (request?.messages ?? []) as Array<{ role: string; content: unknown }>;
  return messages.map(
    (message) =>
      `${message.role}: ${typeof message.content === 'string' ? message.content : JSON.stringify(message.content)}`,
  );
}

/** A conversation item's text, whatever the role. */
function itemText(item: OpenAI.Conversations.ConversationItem): string {
  if (item.type !== 'message') return `<${item.type}>`;
  return item.content.map((part) => ('text' in part ? part.text : '')).join('');
}

describe('the official openai client on the Conversations API', () => {
  serveThisSuite();

  test('create, retrieve, update and delete a conversation', async () => {
    const conversation = await client.conversations.create({
      metadata: { topic: 'e2e' },
      items: [{ type: 'message', role: 'user', content: 'Hello there' }],
    });
    assertMatchesSchema('ConversationResource', conversation);
    assert.match(conversation.id, /^conv_/);
    assert.deepEqual(conversation.metadata, { topic: 'e2e' });

    const retrieved = await client.conversations.retrieve(conversation.id);
    assert.deepEqual(retrieved, conversation);

    const updated = await client.conversations.update(conversation.id, { metadata: { topic: 'changed' } });
    assertMatchesSchema('ConversationResource', updated);
    assert.deepEqual(updated.metadata, { topic: 'changed' });

    const deleted = await client.conversations.delete(conversation.id);
    assertMatchesSchema('DeletedConversationResource', deleted);
    assert.deepEqual(deleted, { id: conversation.id, object: 'conversation.deleted', deleted: true });

    await assert.rejects(client.conversations.retrieve(conversation.id), (error: unknown) => {
      assert.ok(error instanceof NotFoundError);
      assertErrorBody({ error: error.error });
      return true;
    });
  });

  test('create, list, retrieve and delete items', async () => {
    const conversation = await client.conversations.create();
    const created = await client.conversations.items.create(conversation.id, {
      items: [
        { type: 'message', role: 'user', content: 'What is 2 + 2?' },
        { type: 'message', role: 'assistant', content: '4' },
      ],
    });
    assertListPage('ConversationItemList', created);
    assert.equal(created.data.length, 2);
    for (const item of created.data) assertMatchesSchema('ConversationItem', item);

    const page = await client.conversations.items.list(conversation.id, { order: 'asc' });
    // The SDK keeps the page's JSON to itself; read the same page raw to check it against the spec.
    const raw = await client.conversations.items.list(conversation.id, { order: 'asc' }).asResponse();
    assertListPage('ConversationItemList', await raw.json());
    assert.deepEqual(
      page.data.map((item) => item.id),
      created.data.map((item) => item.id),
    );

    const [question, answer] = created.data;
    const retrieved = await client.conversations.items.retrieve(answer!.id!, { conversation_id: conversation.id });
    assertMatchesSchema('ConversationItem', retrieved);
    assert.deepEqual(retrieved, answer);

    const afterDelete = await client.conversations.items.delete(question!.id!, { conversation_id: conversation.id });
    assertMatchesSchema('ConversationResource', afterDelete);
    assert.equal(afterDelete.id, conversation.id);
    const remaining = await client.conversations.items.list(conversation.id);
    assert.deepEqual(
      remaining.data.map((item) => item.id),
      [answer!.id],
    );
  });

  test('validation errors name the parameter', async () => {
    const tooMany = Array.from({ length: 21 }, (_, index) => ({
      type: 'message' as const,
      role: 'user' as const,
      content: `m${index}`,
    }));
    await assert.rejects(client.conversations.create({ items: tooMany }), (error: unknown) => {
      assert.ok(error instanceof BadRequestError);
      assert.equal(error.param, 'items');
      return true;
    });
  });

  test('auto-pagination walks every item across pages', async () => {
    const conversation = await client.conversations.create({
      items: Array.from({ length: 20 }, (_, index) => ({ type: 'message', role: 'user', content: `m${index}` })),
    });
    await client.conversations.items.create(conversation.id, {
      items: Array.from({ length: 5 }, (_, index) => ({ type: 'message', role: 'user', content: `m${20 + index}` })),
    });
    const texts: string[] = [];
    let pages = 0;
    const firstPage = await client.conversations.items.list(conversation.id, { limit: 10, order: 'asc' });
    for await (const page of firstPage.iterPages()) {
      pages += 1;
      assert.equal(page.last_id, page.data.at(-1)?.id);
      texts.push(...page.data.map(itemText));
    }
    assert.equal(pages, 3);
    assert.deepEqual(
      texts,
      Array.from({ length: 25 }, (_, index) => `m${index}`),
    );
    const newestFirst: string[] = [];
    for await (const item of client.conversations.items.list(conversation.id, { limit: 4 })) {
      newestFirst.push(itemText(item));
    }
    assert.deepEqual(newestFirst, texts.toReversed());
  });
});

describe('responses in a conversation', () => {
  serveThisSuite();

  test('the second turn sees the first, and the conversation holds both turns in order', async () => {
    const conversation = await client.conversations.create();
    harness.upstream.push({ content: 'Nice to meet you, Ada.' }, { content: 'Your name is Ada.' });

    const first = await client.responses.create({
      model: 'any-model',
      conversation: conversation.id,
      input: 'My name is Ada.',
    });
    assertMatchesSchema('Response', first);
    assert.deepEqual(first.conversation, { id: conversation.id });
    const second = await client.responses.create({
      model: 'any-model',
      conversation: { id: conversation.id },
      input: 'What is my name?',
    });
    assert.equal(second.output_text, 'Your name is Ada.');

    assert.deepEqual(upstreamTranscript(harness.upstream.requests.at(-1)), [
      'user: My name is Ada.',
      'assistant: Nice to meet you, Ada.',
      'user: What is my name?',
    ]);

    const items = [];
    for await (const item of client.conversations.items.list(conversation.id, { order: 'asc' })) {
      assertMatchesSchema('ConversationItem', item);
      items.push(item);
    }
    assert.deepEqual(
      items.map((item) => `${item.type === 'message' ? item.role : item.type}: ${itemText(item)}`),
      [
        'user: My name is Ada.',
        'assistant: Nice to meet you, Ada.',
        'user: What is my name?',
        'assistant: Your name is Ada.',
      ],
    );
    assert.equal(items[1]!.id, first.output[0]!.id);
  });

  test('an unknown conversation is refused, naming `conversation`', async () => {
    await assert.rejects(
      client.responses.create({ model: 'any-model', conversation: 'conv_missing', input: 'hi' }),
      (error: unknown) => {
        assert.ok(error instanceof NotFoundError);
        assert.equal(error.param, 'conversation');
        return true;
      },
    );
  });
});

describe('the Agents SDK with OpenAIConversationsSession', () => {
  serveThisSuite();

  test('holds a multi-turn chat, sending the upstream each turn exactly once', async () => {
    setTracingDisabled(true);
    setOpenAIAPI('responses');
    setDefaultOpenAIClient(client);
    const agent = new Agent({ name: 'Assistant', instructions: 'Be brief.', model: 'any' });
    const session = new OpenAIConversationsSession({ client });
    harness.upstream.push(
      { content: 'Golden Gate Bridge.' },
      { content: 'California.' },
      { content: 'About 39 million.' },
    );
    const firstRequest = harness.upstream.requests.length;

    const turns = ['What city is the Golden Gate Bridge in?', 'What state is it in?', 'Population of that state?'];
    const answers: string[] = [];
    for (const turn of turns) {
      const result = await run(agent, turn, { session });
      answers.push(String(result.finalOutput));
    }
    assert.deepEqual(answers, ['Golden Gate Bridge.', 'California.', 'About 39 million.']);

    const sent = harness.upstream.requests.slice(firstRequest).map(upstreamTranscript);
    assert.equal(sent.length, 3);
    assert.deepEqual(sent[0], ['system: Be brief.', `user: ${turns[0]}`]);
    assert.deepEqual(sent[1], [
      'system: Be brief.',
      `user: ${turns[0]}`,
      'assistant: Golden Gate Bridge.',
      `user: ${turns[1]}`,
    ]);
    assert.deepEqual(sent[2], [
      'system: Be brief.',
      `user: ${turns[0]}`,
      'assistant: Golden Gate Bridge.',
      `user: ${turns[1]}`,
      'assistant: California.',
      `user: ${turns[2]}`,
    ]);

    const conversationId = await session.getSessionId();
    const items = await session.getItems();
    assert.equal(items.length, 6);
    const stored = [];
    for await (const item of client.conversations.items.list(conversationId, { order: 'asc' })) {
      assertMatchesSchema('ConversationItem', item);
      stored.push(`${item.type === 'message' ? item.role : item.type}: ${itemText(item)}`);
    }
    assert.deepEqual(stored, [
      `user: ${turns[0]}`,
      'assistant: Golden Gate Bridge.',
      `user: ${turns[1]}`,
      'assistant: California.',
      `user: ${turns[2]}`,
      'assistant: About 39 million.',
    ]);
  });
});
