import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { assertErrorBody } from '../../../test/contract/spec-validator.ts';
import { createTestApp } from '../../testing/test-app.ts';
import { ContentSealer } from '../../engine/sealed-content.ts';
import { openSqliteStorage } from '../../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../../storage/stores.ts';
import { ScriptedModel } from '../../testing/scripted-model.ts';
import { StaticModelRouter } from '../../testing/static-model-router.ts';

let directory: string;
let storage: Storage;
let app: FastifyInstance;

const KEYS = { 'key-a': 'project-a', 'key-b': 'project-b' };

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'riposte-prompt-routes-'));
  storage = await openSqliteStorage({ path: join(directory, 'riposte.sqlite') });
  app = createTestApp({
    storage,
    router: new StaticModelRouter({ 'test-model': new ScriptedModel([]) }),
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

async function call(
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  payload?: unknown,
  key: keyof typeof KEYS = 'key-a',
) {
  const reply = await app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${key}` },
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });
  return { status: reply.statusCode, body: reply.json() };
}

async function createPrompt(payload: Record<string, unknown>) {
  const reply = await call('POST', '/v1/prompts', payload);
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  const { body } = reply;
  return body as { id: string } & Record<string, unknown>;
}

describe('/v1/prompts', () => {
  test('create gives a pmpt_ id, version 1 as default and latest, and the configuration', async () => {
    const prompt = await createPrompt({ name: 'support', model: 'test-model', instructions: 'Help {{who}}.' });
    assert.match(prompt.id, /^pmpt_[0-9a-f]{48}$/);
    assert.equal(prompt.object, 'prompt');
    assert.equal(prompt.name, 'support');
    assert.equal(prompt.default_version, '1');
    assert.equal(prompt.latest_version, '1');
    assert.equal(typeof prompt.created_at, 'number');
    assert.equal(prompt.instructions, 'Help {{who}}.');
    assert.deepEqual((await call('GET', `/v1/prompts/${prompt.id}`)).body, prompt);
  });

  test('a bad configuration is refused at save time, naming the field', async () => {
    for (const [payload, param] of [
      [{ temperature: 3 }, 'temperature'],
      [{ tools: [{ type: 'function', name: 'has space' }] }, 'tools[0].name'],
      [{ text: { format: { type: 'json_schema', name: 'x' } } }, 'text.format.schema'],
      [{ tool_choice: { type: 'function', name: 'absent' } }, 'tool_choice'],
      [{ stream: true }, 'stream'],
      [{ name: 42 }, 'name'],
    ] as const) {
      const reply = await call('POST', '/v1/prompts', payload);
      assert.equal(reply.status, 400, JSON.stringify(payload));
      assertErrorBody(reply.body);
      assert.equal(reply.body.error.param, param);
    }
    const prompt = await createPrompt({ name: 'for-versions-validation' });
    const reply = await call('POST', `/v1/prompts/${prompt.id}/versions`, { max_output_tokens: 3 });
    assert.equal(reply.status, 400);
    assert.equal(reply.body.error.param, 'max_output_tokens');
  });

  test('a second prompt with the same name is a 409', async () => {
    await createPrompt({ name: 'unique-name' });
    const reply = await call('POST', '/v1/prompts', { name: 'unique-name' });
    assert.equal(reply.status, 409);
    assert.equal(reply.body.error.param, 'name');
  });

  test('versions are immutable, numbered in order, and the newest becomes the default', async () => {
    const prompt = await createPrompt({ name: 'versioned', instructions: 'one' });
    const second = await call('POST', `/v1/prompts/${prompt.id}/versions`, { instructions: 'two' });
    assert.equal(second.status, 200);
    assert.deepEqual(
      { ...second.body, created_at: 0 },
      { object: 'prompt.version', prompt_id: prompt.id, version: '2', created_at: 0, instructions: 'two' },
    );
    const staged = await call('POST', `/v1/prompts/${prompt.id}/versions`, {
      instructions: 'three',
      make_default: false,
    });
    assert.equal(staged.body.version, '3');

    const current = (await call('GET', `/v1/prompts/${prompt.id}`)).body;
    assert.equal(current.default_version, '2');
    assert.equal(current.latest_version, '3');
    assert.equal(current.instructions, 'two');

    const one = (await call('GET', `/v1/prompts/${prompt.id}/versions/1`)).body;
    assert.equal(one.instructions, 'one');
    assert.equal((await call('GET', `/v1/prompts/${prompt.id}/versions/9`)).status, 404);

    const list = (await call('GET', `/v1/prompts/${prompt.id}/versions?order=asc`)).body;
    assert.equal(list.object, 'list');
    assert.deepEqual(
      list.data.map((version: { version: string }) => version.version),
      ['1', '2', '3'],
    );
    assert.equal(list.first_id, '1');
    assert.equal(list.last_id, '3');
    assert.equal(list.has_more, false);
    const newestFirst = (await call('GET', `/v1/prompts/${prompt.id}/versions?limit=2`)).body;
    assert.deepEqual(
      newestFirst.data.map((version: { version: string }) => version.version),
      ['3', '2'],
    );
    assert.equal(newestFirst.has_more, true);
    const rest = (await call('GET', `/v1/prompts/${prompt.id}/versions?limit=2&after=2`)).body;
    assert.deepEqual(
      rest.data.map((version: { version: string }) => version.version),
      ['1'],
    );
  });

  test('default_version moves the default; an unknown version names `version`', async () => {
    const prompt = await createPrompt({ name: 'rollback', instructions: 'one' });
    await call('POST', `/v1/prompts/${prompt.id}/versions`, { instructions: 'two' });
    const rolledBack = await call('POST', `/v1/prompts/${prompt.id}/default_version`, { version: '1' });
    assert.equal(rolledBack.status, 200);
    assert.equal(rolledBack.body.default_version, '1');
    assert.equal(rolledBack.body.instructions, 'one');
    const unknown = await call('POST', `/v1/prompts/${prompt.id}/default_version`, { version: '7' });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.param, 'version');
    const missing = await call('POST', `/v1/prompts/${prompt.id}/default_version`, {});
    assert.equal(missing.body.error.param, 'version');
  });

  test('list pages like OpenAI lists, newest first by default', async () => {
    const ids = [];
    for (const name of ['page-1', 'page-2', 'page-3']) ids.push((await createPrompt({ name, model: 'test-model' })).id);
    const all = (await call('GET', '/v1/prompts?limit=100&order=asc')).body;
    assert.equal(all.object, 'list');
    const listedIds = all.data.map((prompt: { id: string }) => prompt.id);
    assert.deepEqual(listedIds.slice(-3), ids);
    assert.equal(all.data.at(-1).model, 'test-model');
    const first = (await call('GET', '/v1/prompts?limit=1')).body;
    assert.equal(first.data[0].id, ids[2]);
    assert.equal(first.has_more, true);
    assert.equal(first.first_id, ids[2]);
    const next = (await call('GET', `/v1/prompts?limit=1&after=${ids[2]}`)).body;
    assert.equal(next.data[0].id, ids[1]);
    const bad = await call('GET', '/v1/prompts?after=pmpt_nothing');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.param, 'after');
  });

  test("delete answers prompt.deleted; another key's prompt reads as absent", async () => {
    const prompt = await createPrompt({ name: 'to-delete' });
    assert.equal((await call('GET', `/v1/prompts/${prompt.id}`, undefined, 'key-b')).status, 404);
    assert.equal((await call('DELETE', `/v1/prompts/${prompt.id}`, undefined, 'key-b')).status, 404);
    const listB = (await call('GET', '/v1/prompts', undefined, 'key-b')).body;
    assert.equal(
      listB.data.some((each: { id: string }) => each.id === prompt.id),
      false,
    );
    const deleted = await call('DELETE', `/v1/prompts/${prompt.id}`);
    assert.deepEqual(deleted.body, { id: prompt.id, object: 'prompt.deleted', deleted: true });
    const gone = await call('GET', `/v1/prompts/${prompt.id}`);
    assert.equal(gone.status, 404);
    assertErrorBody(gone.body);
  });
});
