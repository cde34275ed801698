import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { assertErrorBody, assertStreamEvent } from '../../../test/contract/spec-validator.ts';
import { createTestApp } from '../../testing/test-app.ts';
import { ContentSealer } from '../../engine/sealed-content.ts';
import { openSqliteStorage } from '../../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../../storage/stores.ts';
import { ScriptedModel, textAnswer } from '../../testing/scripted-model.ts';
import { StaticModelRouter } from '../../testing/static-model-router.ts';

let directory: string;
let storage: Storage;
let model: ScriptedModel;

function buildApp(keys: Record<string, string> = {}, bodyLimitBytes = 1024 * 1024): FastifyInstance {
  return createTestApp({
    storage,
    router: new StaticModelRouter({ 'test-model': model }),
    sealer: new ContentSealer(randomBytes(32)),
    apiKeyHashes: new Map(
      Object.entries(keys).map(([key, project]) => [createHash('sha256').update(key).digest('hex'), project]),
    ),
    bodyLimitBytes,
    structuredOutputRetries: 2,
  });
}

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'riposte-routes-'));
  storage = await openSqliteStorage({ path: join(directory, 'riposte.sqlite') });
  model = new ScriptedModel([], { whenExhausted: 'repeat-last' });
  model.push(textAnswer('scripted answer'));
});
after(async () => {
  await storage.close();
  rmSync(directory, { recursive: true, force: true });
});

describe('HTTP errors are OpenAI error bodies', () => {
  test('bad input is a 400 naming the parameter', async () => {
    const app = buildApp();
    const reply = await app.inject({
      method: 'POST',
      url: '/v1/responses',
      payload: { model: 'test-model', input: 'x', temperature: 7 },
    });
    assert.equal(reply.statusCode, 400);
    const body = reply.json();
    assertErrorBody(body);
    assert.equal(body.error.param, 'temperature');
    assert.equal(body.error.type, 'invalid_request_error');
  });

  test('malformed JSON is a 400, never a 500', async () => {
    const app = buildApp();
    const reply = await app.inject({
      method: 'POST',
      url: '/v1/responses',
      payload: '{"model": ',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(reply.statusCode, 400);
    assertErrorBody(reply.json());
    assert.equal(reply.json().error.code, 'invalid_json');
  });

  test('an oversized body is a 413', async () => {
    const app = buildApp({}, 2048);
    const reply = await app.inject({
      method: 'POST',
      url: '/v1/responses',
      payload: { model: 'test-model', input: 'x'.repeat(5000) },
    });
    assert.equal(reply.statusCode, 413);
    assertErrorBody(reply.json());
  });

  test('unknown routes are 404 and wrong methods 405', async () => {
    const app = buildApp();
    const missing = await app.inject({ method: 'GET', url: '/v1/nothing-here' });
    assert.equal(missing.statusCode, 404);
    assertErrorBody(missing.json());
    const wrongMethod = await app.inject({ method: 'PUT', url: '/v1/responses' });
    assert.equal(wrongMethod.statusCode, 405);
    assertErrorBody(wrongMethod.json());
  });

  test('unknown response ids are 404', async () => {
    const app = buildApp();
    for (const [method, url] of [
      ['GET', '/v1/responses/resp_missing'],
      ['DELETE', '/v1/responses/resp_missing'],
      ['GET', '/v1/responses/resp_missing/input_items'],
      ['POST', '/v1/responses/resp_missing/cancel'],
    ] as const) {
      const reply = await app.inject({ method, url });
      assert.equal(reply.statusCode, 404, `${method} ${url}`);
      assertErrorBody(reply.json());
    }
  });

  test('an unrouted model is a 404 model_not_found', async () => {
    const app = buildApp();
    const reply = await app.inject({
      method: 'POST',
      url: '/v1/responses',
      payload: { model: 'gpt-unknown', input: 'x' },
    });
    assert.equal(reply.statusCode, 404);
    assert.equal(reply.json().error.code, 'model_not_found');
  });

  test('bad list parameters are 400s naming them', async () => {
    const app = buildApp();
    const created = await app.inject({
      method: 'POST',
      url: '/v1/responses',
      payload: { model: 'test-model', input: 'x' },
    });
    const id = created.json().id as string;
    for (const [query, param] of [
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['order=sideways', 'order'],
      ['after=msg_nope', 'after'],
    ]) {
      const reply = await app.inject({ method: 'GET', url: `/v1/responses/${id}/input_items?${query}` });
      assert.equal(reply.statusCode, 400, query);
      assert.equal(reply.json().error.param, param);
    }
  });

  test('cancel of a response not created in background is a 400', async () => {
    const app = buildApp();
    const created = await app.inject({
      method: 'POST',
      url: '/v1/responses',
      payload: { model: 'test-model', input: 'x' },
    });
    const reply = await app.inject({ method: 'POST', url: `/v1/responses/${created.json().id}/cancel` });
    assert.equal(reply.statusCode, 400);
  });
});

describe('API keys', () => {
  test('with keys configured, requests need a valid bearer key and see only their project', async () => {
    const app = buildApp({ 'sk-alpha': 'alpha', 'sk-beta': 'beta', 'sk-alpha-2': 'alpha' });
    const health = await app.inject({ method: 'GET', url: '/health' });
    assert.equal(health.statusCode, 200, 'load balancers probe /health without a key');
    const missing = await app.inject({ method: 'GET', url: '/v1/models' });
    assert.equal(missing.statusCode, 401);
    assertErrorBody(missing.json());
    const wrong = await app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: 'Bearer sk-wrong' } });
    assert.equal(wrong.statusCode, 401);
    assert.equal(wrong.json().error.code, 'invalid_api_key');

    const created = await app.inject({
      method: 'POST',
      url: '/v1/responses',
      headers: { authorization: 'Bearer sk-alpha' },
      payload: { model: 'test-model', input: 'secret' },
    });
    assert.equal(created.statusCode, 200);
    const id = created.json().id as string;
    const sameProject = await app.inject({
      method: 'GET',
      url: `/v1/responses/${id}`,
      headers: { authorization: 'Bearer sk-alpha-2' },
    });
    assert.equal(sameProject.statusCode, 200);
    for (const [method, url] of [
      ['GET', `/v1/responses/${id}`],
      ['GET', `/v1/responses/${id}/input_items`],
      ['DELETE', `/v1/responses/${id}`],
    ] as const) {
      const reply = await app.inject({ method, url, headers: { authorization: 'Bearer sk-beta' } });
      assert.equal(reply.statusCode, 404, `${method} ${url} across keys`);
    }
    const chained = await app.inject({
      method: 'POST',
      url: '/v1/responses',
      headers: { authorization: 'Bearer sk-beta' },
      payload: { model: 'test-model', input: 'x', previous_response_id: id },
    });
    assert.equal(chained.statusCode, 404);
    const stillThere = await app.inject({
      method: 'GET',
      url: `/v1/responses/${id}`,
      headers: { authorization: 'Bearer sk-alpha' },
    });
    assert.equal(stillThere.statusCode, 200);
  });
});

describe('streaming', () => {
  test('stream: true answers SSE whatever the Accept header says, one frame per event', async () => {
    const app = buildApp();
    const reply = await app.inject({
      method: 'POST',
      url: '/v1/responses',
      headers: { accept: 'application/json' },
      payload: { model: 'test-model', input: 'x', stream: true },
    });
    assert.equal(reply.statusCode, 200);
    assert.match(String(reply.headers['content-type']), /^text\/event-stream/);
    const frames = reply.body.split('\n\n').filter(Boolean);
    const events = frames.map((frame) => {
      const [eventLine, dataLine] = frame.split('\n');
      const event = JSON.parse(dataLine!.slice('data: '.length)) as { type: string };
      assert.equal(eventLine, `event: ${event.type}`);
      assertStreamEvent(event);
      return event;
    });
    assert.equal(events[0]?.type, 'response.created');
    assert.equal(events.at(-1)?.type, 'response.completed');
  });

  test('stream: false answers JSON even when the client accepts event streams', async () => {
    const app = buildApp();
    const reply = await app.inject({
      method: 'POST',
      url: '/v1/responses',
      headers: { accept: 'text/event-stream' },
      payload: { model: 'test-model', input: 'x' },
    });
    assert.match(String(reply.headers['content-type']), /^application\/json/);
    assert.equal(reply.json().object, 'response');
  });

  test('a client that disconnects mid-stream aborts the upstream and leaves the response cancelled', async () => {
    const slow = new ScriptedModel([textAnswer('a b c d e f g h i j k l m n o p q r s t u v w x y z '.repeat(4))], {
      delayMs: 10,
    });
    const app = createTestApp({
      storage,
      router: new StaticModelRouter({ 'slow-model': slow }),
      sealer: new ContentSealer(randomBytes(32)),
      apiKeyHashes: new Map(),
      bodyLimitBytes: 1024 * 1024,
      structuredOutputRetries: 0,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const port = (app.server.address() as AddressInfo).port;
      const responseId = await new Promise<string>((resolve, reject) => {
        const request = httpRequest(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/v1/responses',
            headers: { 'content-type': 'application/json' },
          },
          (response) => {
            let buffer = '';
            response.on('data', (chunk: Buffer) => {
              buffer += chunk.toString('utf8');
              const match = /"id":"(resp_[0-9a-f]+)"/.exec(buffer);
              if (match && buffer.includes('response.output_text.delta')) {
                request.destroy();
                resolve(match[1]!);
              }
            });
          },
        );
        request.on('error', (error) => (error.message.includes('socket hang up') ? undefined : reject(error)));
        request.end(JSON.stringify({ model: 'slow-model', input: 'x', stream: true }));
      });
      let status = '';
      for (let attempt = 0; attempt < 100 && status !== 'cancelled'; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        status = (await storage.responses.get('default', responseId))?.status ?? '';
      }
      assert.equal(status, 'cancelled');
      assert.equal(slow.lastRequest?.signal.aborted, true);
    } finally {
      await app.close();
    }
  });
});
