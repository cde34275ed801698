import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { assertErrorBody, assertListPage, assertMatchesSchema } from '../../../test/contract/spec-validator.ts';
import { createTestApp } from '../../testing/test-app.ts';
import { ContentSealer } from '../../engine/sealed-content.ts';
import { openSqliteStorage } from '../../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../../storage/stores.ts';
import { ScriptedModel, textAnswer } from '../../testing/scripted-model.ts';
import { StaticModelRouter } from '../../testing/static-model-router.ts';

// Reply bodies are read as loose JSON, field by field; the spec validator checks their shapes.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type JsonObject = Record<string, any>;

function textOf(item: JsonObject): string {
  return String(item.content[0].text);
}

function idOf(item: JsonObject): string {
  return String(item.id);
}

let directory: string;
let storage: Storage;
let app: FastifyInstance;
const sealer = new ContentSealer(randomBytes(32));

const KEYS = { 'sk-alpha': 'project-alpha', 'sk-beta': 'project-beta' };

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'riposte-conversations-'));
  storage = await openSqliteStorage({ path: join(directory, 'riposte.sqlite') });
  const model = new ScriptedModel([], { whenExhausted: 'repeat-last' });
  model.push(textAnswer('scripted answer'));
  app = createTestApp({
    storage,
    router: new StaticModelRouter({ 'test-model': model }),
    sealer,
    apiKeyHashes: new Map(
      Object.entries(KEYS).map(([key, project]) => [createHash('sha256').update(key).digest('hex'), project]),
    ),
    bodyLimitBytes: 1024 * 1024,
    structuredOutputRetries: 2,
  });
});
after(async () => {
  await app.close();
  await storage.close();
  rmSync(directory, { recursive: true, force: true });
});

/** A request as the alpha key (or `key`), answered with status and parsed body. */
async function call(
  method: InjectOptions['method'],
  url: string,
  payload?: unknown,
  key: keyof typeof KEYS = 'sk-alpha',
): Promise<{ status: number; body: JsonObject }> {
  const reply = await app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${key}` },
    ...(payload === undefined ? {} : { payload: payload as InjectOptions['payload'] }),
  });
  return { status: reply.statusCode, body: reply.json() };
}

/** Asserts a 400 (or `status`) OpenAI error body naming `param`. */
function assertRefused(reply: { status: number; body: JsonObject }, param: string | null, status = 400): void {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  assertErrorBody(reply.body);
  assert.equal(reply.body.error.param, param, reply.body.error.message);
}

/** A spec-valid ConversationItemList page (an empty page has null ends, as OpenAI sends). */
function assertItemPage(page: JsonObject, context?: string): void {
  if (page.data.length === 0) {
    assert.deepEqual(page, { object: 'list', data: [], first_id: null, last_id: null, has_more: false });
    return;
  }
  assertListPage('ConversationItemList', page, context);
}

function userMessage(text: string): JsonObject {
  return { type: 'message', role: 'user', content: text };
}

async function createConversation(body: unknown = {}, key: keyof typeof KEYS = 'sk-alpha'): Promise<JsonObject> {
  const reply = await call('POST', '/v1/conversations', body, key);
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assertMatchesSchema('ConversationResource', reply.body);
  return reply.body;
}

async function listAll(conversationId: string, query = ''): Promise<JsonObject[]> {
  const reply = await call('GET', `/v1/conversations/${conversationId}/items?order=asc&limit=100${query}`);
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assertItemPage(reply.body);
  return reply.body.data as JsonObject[];
}

describe('POST /v1/conversations', () => {
  test('creates an empty conversation with a conv_ id, from an empty body or none', async () => {
    const before = Math.floor(Date.now() / 1000);
    const created = await createConversation({});
    assert.match(created.id, /^conv_[0-9a-f]{48}$/);
    assert.equal(created.object, 'conversation');
    assert.deepEqual(created.metadata, {});
    assert.ok(created.created_at >= before && created.created_at <= Math.floor(Date.now() / 1000) + 1);
    assert.deepEqual(await listAll(created.id), []);

    const reply = await app.inject({
      method: 'POST',
      url: '/v1/conversations',
      headers: { authorization: 'Bearer sk-alpha' },
    });
    assert.equal(reply.statusCode, 200);
    assertMatchesSchema('ConversationResource', reply.json());
  });

  test('stores initial items as ConversationItems, in order, with ids and statuses', async () => {
    const created = await createConversation({
      metadata: { topic: 'demo' },
      items: [
        { type: 'message', role: 'system', content: 'Be brief.' },
        userMessage('Hello'),
        { role: 'assistant', content: 'Hi! How can I help?' },
        { type: 'function_call', call_id: 'call_1', name: 'lookup', arguments: '{"q":"x"}' },
        { type: 'function_call_output', call_id: 'call_1', output: '{"answer":42}' },
        { type: 'message', id: 'msg_client_chosen', role: 'user', content: [{ type: 'input_text', text: 'Thanks' }] },
      ],
    });
    assert.deepEqual(created.metadata, { topic: 'demo' });
    const items = await listAll(created.id);
    assert.deepEqual(
      items.map((item): unknown[] => [item.type, item.role ?? null]),
      [
        ['message', 'system'],
        ['message', 'user'],
        ['message', 'assistant'],
        ['function_call', null],
        ['function_call_output', null],
        ['message', 'user'],
      ],
    );
    for (const [index, item] of items.entries()) {
      assertMatchesSchema('ConversationItem', item, `item ${index}`);
      assert.equal(item.status, 'completed');
    }
    assert.match(items[0]!.id, /^msg_/);
    assert.match(items[3]!.id, /^fc_/);
    assert.equal(items[5]!.id, 'msg_client_chosen');
    assert.deepEqual(items[1]!.content, [{ type: 'input_text', text: 'Hello' }]);
    assert.deepEqual(items[2]!.content, [
      { type: 'output_text', text: 'Hi! How can I help?', annotations: [], logprobs: [] },
    ]);
  });

  test(`takes at most 20 initial items`, async () => {
    const twenty = Array.from({ length: 20 }, (_, index) => userMessage(`message ${index}`));
    const created = await createConversation({ items: twenty });
    assert.equal((await listAll(created.id)).length, 20);

    const refused = await call('POST', '/v1/conversations', { items: [...twenty, userMessage('one too many')] });
    assertRefused(refused, 'items');
    assert.equal(refused.body.error.code, 'array_above_max_length');
  });

  test('validates items and metadata, naming the parameter', async () => {
    const cases: Array<[unknown, string | null]> = [
      [[], null],
      ['not an object', null],
      [{ items: 'hello' }, 'items'],
      [{ items: [{ type: 'message', role: 'wizard', content: 'x' }] }, 'items[0].role'],
      [{ items: [userMessage('ok'), { type: 'message', role: 'user' }] }, 'items[1].content'],
      [{ items: [{ type: 'function_call', call_id: 'c', name: 'f' }] }, 'items[0].arguments'],
      [{ items: [{ type: 'teleport' }] }, 'items[0].type'],
      [{ items: [{ type: 'item_reference', id: 'msg_nowhere' }] }, 'items[0].id'],
      [{ metadata: 'x' }, 'metadata'],
      [{ metadata: Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`k${index}`, 'v'])) }, 'metadata'],
      [{ metadata: { ['k'.repeat(65)]: 'v' } }, `metadata.${'k'.repeat(65)}`],
      [{ metadata: { key: 'v'.repeat(513) } }, 'metadata.key'],
      [{ metadata: { key: 7 } }, 'metadata.key'],
    ];
    for (const [body, param] of cases) {
      assertRefused(await call('POST', '/v1/conversations', body), param);
    }
    // The limits themselves are allowed.
    const atLimits = { ['k'.repeat(64)]: 'v'.repeat(512) };
    for (let index = 1; index < 16; index += 1) atLimits[`key${index}`] = 'value';
    assert.deepEqual((await createConversation({ metadata: atLimits })).metadata, atLimits);
  });

  test('refuses an item id given twice', async () => {
    const refused = await call('POST', '/v1/conversations', {
      items: [
        { ...userMessage('a'), id: 'msg_same' },
        { ...userMessage('b'), id: 'msg_same' },
      ],
    });
    assertRefused(refused, 'items[1].id');
  });

  test('resolves an item_reference to a stored response item', async () => {
    const response = await call('POST', '/v1/responses', { model: 'test-model', input: 'remember me' });
    assert.equal(response.status, 200);
    const answer = response.body.output[0];
    const created = await createConversation({ items: [{ type: 'item_reference', id: answer.id }] });
    const [item] = await listAll(created.id);
    assert.equal(item!.id, answer.id);
    assert.equal(item!.role, 'assistant');
    assertMatchesSchema('ConversationItem', item);
  });
});

describe('GET, POST and DELETE /v1/conversations/{id}', () => {
  test('retrieves, updates metadata and deletes', async () => {
    const created = await createConversation({ metadata: { a: '1' } });
    const url = `/v1/conversations/${created.id}`;

    const retrieved = await call('GET', url);
    assert.equal(retrieved.status, 200);
    assertMatchesSchema('ConversationResource', retrieved.body);
    assert.deepEqual(retrieved.body, created);

    const updated = await call('POST', url, { metadata: { b: '2' } });
    assert.equal(updated.status, 200);
    assertMatchesSchema('ConversationResource', updated.body);
    assert.deepEqual(updated.body, { ...created, metadata: { b: '2' } });
    assert.deepEqual((await call('GET', url)).body.metadata, { b: '2' });

    const deleted = await call('DELETE', url);
    assert.equal(deleted.status, 200);
    assertMatchesSchema('DeletedConversationResource', deleted.body);
    assert.deepEqual(deleted.body, { id: created.id, object: 'conversation.deleted', deleted: true });

    for (const method of ['GET', 'DELETE'] as const) {
      assertRefused(await call(method, url), null, 404);
    }
    assertRefused(await call('POST', url, { metadata: {} }), null, 404);
    assertRefused(await call('GET', `${url}/items`), null, 404);
  });

  test('an update needs valid metadata', async () => {
    const created = await createConversation();
    const url = `/v1/conversations/${created.id}`;
    assertRefused(await call('POST', url, {}), 'metadata');
    assertRefused(await call('POST', url, { metadata: ['x'] }), 'metadata');
    assertRefused(await call('POST', url, { metadata: { key: 'v'.repeat(513) } }), 'metadata.key');
    // null clears it (UpdateConversationBody's metadata is nullable).
    await call('POST', url, { metadata: { a: '1' } });
    assert.deepEqual((await call('POST', url, { metadata: null })).body.metadata, {});
  });

  test('unknown ids are 404s with the error body', async () => {
    const missing = await call('GET', '/v1/conversations/conv_missing');
    assertRefused(missing, null, 404);
    assert.equal(missing.body.error.message, "Conversation with id 'conv_missing' not found.");
  });
});

describe('conversation items', () => {
  test('POST /items appends a batch and answers with a list of the stored items', async () => {
    const created = await createConversation({ items: [userMessage('first')] });
    const url = `/v1/conversations/${created.id}/items`;
    const added = await call('POST', url, {
      items: [{ role: 'assistant', content: 'second' }, userMessage('third')],
    });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assertItemPage(added.body);
    assert.equal(added.body.has_more, false);
    assert.equal(added.body.data.length, 2);
    for (const item of added.body.data) assertMatchesSchema('ConversationItem', item);

    const items = await listAll(created.id);
    assert.deepEqual(items.map(textOf), ['first', 'second', 'third']);
    assert.deepEqual(items.slice(1).map(idOf), (added.body.data as JsonObject[]).map(idOf));
  });

  test('POST /items validates its body and the include query', async () => {
    const created = await createConversation();
    const url = `/v1/conversations/${created.id}/items`;
    assertRefused(await call('POST', url, {}), 'items');
    assertRefused(await call('POST', url, { items: [{ role: 'user' }] }), 'items[0].content');
    const tooMany = Array.from({ length: 21 }, (_, index) => userMessage(`m${index}`));
    assertRefused(await call('POST', url, { items: tooMany }), 'items');
    const badInclude = await call('POST', `${url}?include=everything`, { items: [userMessage('x')] });
    assert.equal(badInclude.status, 400);
    assert.match(String(badInclude.body.error.param), /^include/);
    // Nothing of a refused request was stored.
    assert.deepEqual(await listAll(created.id), []);
    // An id already in the conversation is the client's mistake.
    await call('POST', url, { items: [{ ...userMessage('x'), id: 'msg_taken' }] });
    assertRefused(
      await call('POST', url, { items: [userMessage('y'), { ...userMessage('z'), id: 'msg_taken' }] }),
      'items[1].id',
    );
    assert.equal((await listAll(created.id)).length, 1);
    assertRefused(await call('POST', '/v1/conversations/conv_missing/items', { items: [userMessage('x')] }), null, 404);
  });

  test('include=reasoning.encrypted_content seals reasoning items without storing the blob', async () => {
    const created = await createConversation({
      items: [{ type: 'reasoning', summary: [{ type: 'summary_text', text: 'thinking it over' }] }],
    });
    const url = `/v1/conversations/${created.id}/items`;
    const plain = await listAll(created.id);
    assert.equal(plain[0]!.encrypted_content, undefined);
    const withInclude = await listAll(created.id, '&include[]=reasoning.encrypted_content');
    assert.equal(typeof withInclude[0]!.encrypted_content, 'string');
    assertMatchesSchema('ConversationItem', withInclude[0]);
    const single = await call('GET', `${url}/${plain[0]!.id}?include=reasoning.encrypted_content`);
    assert.equal(typeof single.body.encrypted_content, 'string');
    assert.equal((await listAll(created.id))[0]!.encrypted_content, undefined);
  });

  test('GET /items pages newest first by default, 20 at a time, and by `after` either way', async () => {
    const created = await createConversation({
      items: Array.from({ length: 20 }, (_, index) => userMessage(`m${index}`)),
    });
    const url = `/v1/conversations/${created.id}/items`;
    await call('POST', url, { items: Array.from({ length: 5 }, (_, index) => userMessage(`m${20 + index}`)) });
    const texts = (page: JsonObject): string[] => (page.data as JsonObject[]).map(textOf);

    const firstPage = await call('GET', url);
    assertItemPage(firstPage.body);
    assert.equal(firstPage.body.data.length, 20);
    assert.equal(firstPage.body.has_more, true);
    assert.deepEqual(texts(firstPage.body).slice(0, 2), ['m24', 'm23']);
    const secondPage = await call('GET', `${url}?after=${firstPage.body.last_id}`);
    assertItemPage(secondPage.body);
    assert.deepEqual(texts(secondPage.body), ['m4', 'm3', 'm2', 'm1', 'm0']);
    assert.equal(secondPage.body.has_more, false);

    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: { body: JsonObject } = await call('GET', `${url}?order=asc&limit=7${after ? `&after=${after}` : ''}`);
      assertItemPage(page.body);
      seen.push(...texts(page.body));
      after = page.body.has_more ? page.body.last_id : null;
    } while (after);
    assert.deepEqual(
      seen,
      Array.from({ length: 25 }, (_, index) => `m${index}`),
    );
  });

  test('GET /items refuses bad list parameters, naming them', async () => {
    const created = await createConversation({ items: [userMessage('x')] });
    const url = `/v1/conversations/${created.id}/items`;
    assertRefused(await call('GET', `${url}?limit=0`), 'limit');
    assertRefused(await call('GET', `${url}?limit=101`), 'limit');
    assertRefused(await call('GET', `${url}?order=sideways`), 'order');
    assertRefused(await call('GET', `${url}?after=msg_unknown`), 'after');
    const badInclude = await call('GET', `${url}?include=nope`);
    assert.equal(badInclude.status, 400);
    assert.match(String(badInclude.body.error.param), /^include/);
    assert.equal((await call('GET', `${url}?limit=100`)).status, 200);
  });

  test('GET and DELETE one item', async () => {
    const created = await createConversation({ items: [userMessage('keep'), userMessage('drop')] });
    const [keep, drop] = await listAll(created.id);
    const base = `/v1/conversations/${created.id}/items`;

    const retrieved = await call('GET', `${base}/${drop!.id}`);
    assert.equal(retrieved.status, 200);
    assertMatchesSchema('ConversationItem', retrieved.body);
    assert.deepEqual(retrieved.body, drop);

    const deleted = await call('DELETE', `${base}/${drop!.id}`);
    assert.equal(deleted.status, 200);
    assertMatchesSchema('ConversationResource', deleted.body);
    assert.deepEqual(deleted.body, created);
    assert.deepEqual((await listAll(created.id)).map(idOf), [keep!.id]);

    const gone = await call('GET', `${base}/${drop!.id}`);
    assertRefused(gone, null, 404);
    assert.equal(gone.body.error.message, `Item with id '${drop!.id}' not found.`);
    assertRefused(await call('DELETE', `${base}/${drop!.id}`), null, 404);
    assertRefused(await call('GET', `/v1/conversations/conv_missing/items/${keep!.id}`), null, 404);
    assertRefused(await call('DELETE', `/v1/conversations/conv_missing/items/${keep!.id}`), null, 404);
  });
});

describe('ownership', () => {
  test("another key's conversation is a 404 on every endpoint, and stays untouched", async () => {
    const created = await createConversation({ metadata: { owner: 'alpha' }, items: [userMessage('private')] });
    const [item] = await listAll(created.id);
    const url = `/v1/conversations/${created.id}`;
    const attempts: Array<[InjectOptions['method'], string, unknown]> = [
      ['GET', url, undefined],
      ['POST', url, { metadata: { owner: 'beta' } }],
      ['DELETE', url, undefined],
      ['GET', `${url}/items`, undefined],
      ['POST', `${url}/items`, { items: [userMessage('intrusion')] }],
      ['GET', `${url}/items/${item!.id}`, undefined],
      ['DELETE', `${url}/items/${item!.id}`, undefined],
    ];
    for (const [method, path, payload] of attempts) {
      const reply = await call(method, path, payload, 'sk-beta');
      assertRefused(reply, null, 404);
    }
    assert.deepEqual((await call('GET', url)).body.metadata, { owner: 'alpha' });
    assert.deepEqual((await listAll(created.id)).map(textOf), ['private']);
  });

  test('an item_reference cannot reach into another key', async () => {
    const response = await call('POST', '/v1/responses', { model: 'test-model', input: 'alpha only' });
    const refused = await call(
      'POST',
      '/v1/conversations',
      { items: [{ type: 'item_reference', id: response.body.output[0].id }] },
      'sk-beta',
    );
    assertRefused(refused, 'items[0].id');
  });
});
