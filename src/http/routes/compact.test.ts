import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { assertErrorBody, assertMatchesSchema } from '../../../test/contract/spec-validator.ts';
import { createTestApp } from '../../testing/test-app.ts';
import { ContentSealer } from '../../engine/sealed-content.ts';
import { openSqliteStorage } from '../../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../../storage/stores.ts';
import { ScriptedModel, textAnswer } from '../../testing/scripted-model.ts';
import { StaticModelRouter } from '../../testing/static-model-router.ts';

let directory: string;
let storage: Storage;
let model: ScriptedModel;
let app: FastifyInstance;

const KEYS = { 'key-a': 'project-a', 'key-b': 'project-b' };
const asA = { authorization: 'Bearer key-a' };
const asB = { authorization: 'Bearer key-b' };

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'riposte-compact-routes-'));
  storage = await openSqliteStorage({ path: join(directory, 'riposte.sqlite') });
  model = new ScriptedModel([]);
  app = createTestApp({
    storage,
    router: new StaticModelRouter({ 'test-model': model }),
    sealer: new ContentSealer(randomBytes(32)),
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

const INPUT = [
  { role: 'user', content: 'Create a simple landing page for a dog petting café.' },
  {
    id: 'msg_001',
    type: 'message',
    status: 'completed',
    role: 'assistant',
    content: [{ type: 'output_text', annotations: [], logprobs: [], text: 'Below is a single file, ready-to-use…' }],
  },
];

async function compact(headers = asA): Promise<Array<Record<string, unknown>>> {
  model.push(
    textAnswer('The user wants a landing page; one HTML file was delivered.', { inputTokens: 139, outputTokens: 38 }),
  );
  const reply = await app.inject({
    method: 'POST',
    url: '/v1/responses/compact',
    headers,
    payload: { model: 'test-model', input: INPUT },
  });
  assert.equal(reply.statusCode, 200, reply.body);
  return reply.json<{ output: Array<Record<string, unknown>> }>().output;
}

describe('POST /v1/responses/compact', () => {
  test('answers the response.compaction object the spec describes', async () => {
    model.push(
      textAnswer('The user wants a landing page; one HTML file was delivered.', { inputTokens: 139, outputTokens: 38 }),
    );
    const reply = await app.inject({
      method: 'POST',
      url: '/v1/responses/compact',
      headers: asA,
      payload: { model: 'test-model', input: INPUT },
    });
    assert.equal(reply.statusCode, 200, reply.body);
    const body = reply.json();
    assertMatchesSchema('CompactResource', body);
    assert.equal(body.object, 'response.compaction');
    assert.deepEqual(
      body.output.map((item: { type: string }) => item.type),
      ['message', 'compaction'],
    );
    assert.deepEqual(body.output[0].content, [
      { type: 'input_text', text: 'Create a simple landing page for a dog petting café.' },
    ]);
    assert.equal(body.usage.total_tokens, 177);
  });

  test('a bad body is a 400 naming the parameter', async () => {
    for (const [payload, param] of [
      [{ input: 'x' }, 'model'],
      [{ model: 'test-model', input: 7 }, 'input'],
      [{ model: 'test-model', input: [{ type: 'message', role: 'robot', content: 'x' }] }, 'input[0].role'],
      [{ model: 'test-model', input: 'x', instructions: 3 }, 'instructions'],
    ] as const) {
      const reply = await app.inject({ method: 'POST', url: '/v1/responses/compact', headers: asA, payload });
      assert.equal(reply.statusCode, 400, JSON.stringify(payload));
      assertErrorBody(reply.json());
      assert.equal(reply.json().error.param, param);
    }
  });

  test('an unknown model is a 404, an unknown previous response a 404 naming previous_response_id', async () => {
    const unknownModel = await app.inject({
      method: 'POST',
      url: '/v1/responses/compact',
      headers: asA,
      payload: { model: 'nope', input: 'x' },
    });
    assert.equal(unknownModel.statusCode, 404);
    assert.equal(unknownModel.json().error.code, 'model_not_found');
    const unknownPrevious = await app.inject({
      method: 'POST',
      url: '/v1/responses/compact',
      headers: asA,
      payload: { model: 'test-model', previous_response_id: 'resp_missing' },
    });
    assert.equal(unknownPrevious.statusCode, 404);
    assert.equal(unknownPrevious.json().error.param, 'previous_response_id');
  });

  test('an upstream failure is an OpenAI error body', async () => {
    model.push({ error: new Error('boom') });
    const reply = await app.inject({
      method: 'POST',
      url: '/v1/responses/compact',
      headers: asA,
      payload: { model: 'test-model', input: INPUT },
    });
    assert.equal(reply.statusCode, 500);
    assertErrorBody(reply.json());
  });
});

describe('compacted output as the input of POST /v1/responses', () => {
  test('the model receives the summary as context', async () => {
    const window = await compact();
    model.push(textAnswer('Sure.'));
    const reply = await app.inject({
      method: 'POST',
      url: '/v1/responses',
      headers: asA,
      payload: { model: 'test-model', input: [...window, { role: 'user', content: 'Add a menu.' }] },
    });
    assert.equal(reply.statusCode, 200, reply.body);
    const items = model.lastRequest!.items;
    assert.equal(items.length, 3);
    const summary = items[1]!;
    assert.ok(summary.type === 'message' && summary.role === 'user');
    assert.ok(
      summary.content.some((part) => part.type === 'text' && part.text.includes('one HTML file was delivered')),
    );
  });

  test('a tampered compaction item is a 400 naming input[i].encrypted_content', async () => {
    const window = await compact();
    const compaction = window[1]!;
    const sealed = compaction.encrypted_content as string;
    const tampered = {
      ...compaction,
      encrypted_content: `${sealed.slice(0, 20)}${sealed[20] === 'A' ? 'B' : 'A'}${sealed.slice(21)}`,
    };
    const reply = await app.inject({
      method: 'POST',
      url: '/v1/responses',
      headers: asA,
      payload: { model: 'test-model', input: [window[0], tampered] },
    });
    assert.equal(reply.statusCode, 400);
    assertErrorBody(reply.json());
    assert.equal(reply.json().error.param, 'input[1].encrypted_content');
    assert.equal(reply.json().error.code, 'invalid_encrypted_content');
  });

  test("another API key's compaction item is a 400, to compact and to respond", async () => {
    const window = await compact(asA);
    for (const url of ['/v1/responses', '/v1/responses/compact']) {
      const reply = await app.inject({
        method: 'POST',
        url,
        headers: asB,
        payload: { model: 'test-model', input: window },
      });
      assert.equal(reply.statusCode, 400, url);
      assert.equal(reply.json().error.param, 'input[1].encrypted_content');
      assert.equal(reply.json().error.code, 'invalid_encrypted_content');
    }
  });
});
