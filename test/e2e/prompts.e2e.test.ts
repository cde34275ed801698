import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import OpenAI, { BadRequestError } from 'openai';
import { parse as parseYaml } from 'yaml';
import { assertMatchesSchema } from '../contract/spec-validator.ts';
import { startTestServer, type TestServer } from './start-test-server.ts';

/*
 * Stored prompts end to end: saved over Riposte's /v1/prompts API (or by `riposte prompts push`),
 * used by the official openai client as `prompt: {id, version, variables}`, a scripted Chat
 * Completions upstream behind the server recording what the model was sent.
 */

const repositoryRoot = resolve(import.meta.dirname, '../..');
const nodeBinary = join(repositoryRoot, 'node_modules/.bin/node');
const mainScript = join(repositoryRoot, 'bin/riposte.js');
const CLI_TIMEOUT_MS = 20_000;

let harness: TestServer;
let client: OpenAI;
let workDirectory: string;

before(async () => {
  harness = await startTestServer();
  client = harness.client;
  workDirectory = mkdtempSync(join(tmpdir(), 'riposte-prompts-e2e-'));
});
after(async () => {
  await harness.stop();
  rmSync(workDirectory, { recursive: true, force: true });
});

/** The openai client has no prompts API (OpenAI's is dashboard-only): plain HTTP. */
async function savePrompt(body: Record<string, unknown>): Promise<{ id: string; default_version: string }> {
  const reply = await fetch(`${harness.baseUrl}/prompts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(reply.status, 200, await reply.clone().text());
  return (await reply.json()) as { id: string; default_version: string };
}

/** Text of every message the upstream got in its last request, role first. */
function sentMessages(): string[] {
  const messages = harness.upstream.requests.at(-1)?.messages as Array<{ role: string; content: unknown }>;
  return messages.map((message) => `${message.role}: ${JSON.stringify(message.content)}`);
}

/**
 * Until runResponse applies `prompt` (applyPrompt in src/engine/apply-prompt.ts), POST
 * /v1/responses refuses it: these tests run as todo, reported but not failing the suite. Remove
 * this once it is wired.
 */

describe('prompt: {id, version, variables} with the official openai client', () => {
  test('the stored configuration applies, variables substituted, and the Response echoes the prompt', async () => {
    const prompt = await savePrompt({
      name: 'city-guide',
      model: 'prompt-model',
      instructions: 'You are a guide to {{city}}.',
      input: [{ role: 'user', content: 'I am visiting {{city}} in {{season}}.' }],
      temperature: 0.25,
      max_output_tokens: 300,
    });
    harness.upstream.push({ content: 'Go to the old town.' });
    const response = await client.responses.create({
      prompt: { id: prompt.id, version: '1', variables: { city: 'Lyon', season: 'spring' } },
      input: 'What should I see?',
    });
    assertMatchesSchema('Response', response);
    assert.equal(response.output_text, 'Go to the old town.');
    assert.deepEqual(response.prompt, {
      id: prompt.id,
      version: '1',
      variables: { city: 'Lyon', season: 'spring' },
    });
    assert.equal(response.model, 'prompt-model');
    assert.equal(response.temperature, 0.25);
    assert.equal(response.max_output_tokens, 300);

    const sent = harness.upstream.requests.at(-1)!;
    assert.equal(sent.model, 'prompt-model');
    assert.equal(sent.temperature, 0.25);
    const messages = sentMessages();
    assert.match(messages[0] ?? '', /You are a guide to Lyon\./);
    assert.match(messages[1] ?? '', /user: .*I am visiting Lyon in spring\./);
    assert.match(messages.at(-1) ?? '', /user: .*What should I see\?/);

    // Only what the client sent is the response's input; the prompt's message is configuration.
    const inputItems = await client.responses.inputItems.list(response.id);
    assert.equal(inputItems.data.length, 1);
  });

  test("the request's own settings win over the prompt's; the default version is used without one", async () => {
    const prompt = await savePrompt({ name: 'overridden', model: 'prompt-model', temperature: 0.25 });
    harness.upstream.push({ content: 'ok' });
    const response = await client.responses.create({
      model: 'request-model',
      prompt: { id: prompt.id },
      temperature: 1.5,
      input: 'hi',
    });
    assert.equal(response.model, 'request-model');
    assert.equal(response.temperature, 1.5);
    assert.equal(response.prompt?.version, '1');
    assert.equal(harness.upstream.requests.at(-1)?.model, 'request-model');
  });

  test('a missing variable is a 400 naming it; an unknown prompt a 404 naming prompt.id', async () => {
    const prompt = await savePrompt({ name: 'needs-variables', model: 'm', instructions: 'Hello {{name}}' });
    await assert.rejects(
      client.responses.create({ prompt: { id: prompt.id }, input: 'hi' }),
      (error: unknown) => error instanceof BadRequestError && error.param === 'prompt.variables.name',
    );
    await assert.rejects(
      client.responses.create({ prompt: { id: 'pmpt_does_not_exist' }, input: 'hi' }),
      (error: unknown) => error instanceof OpenAI.NotFoundError && error.param === 'prompt.id',
    );
  });
});

/** Runs `node bin/riposte.js prompts ...` as a user would, against the test server. */
async function runPrompts(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const environment: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('RIPOSTE_') && !name.startsWith('NODE_TEST')) environment[name] = value;
  }
  try {
    const { stdout, stderr } = await promisify(execFile)(
      nodeBinary,
      [mainScript, 'prompts', ...args, '--base-url', harness.baseUrl],
      { cwd: workDirectory, env: environment, timeout: CLI_TIMEOUT_MS },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('riposte prompts push / pull / list', () => {
  test('push creates, then adds a version only when the configuration changed; pull and list read back', async () => {
    const file = join(workDirectory, 'triage.yaml');
    writeFileSync(file, 'name: cli-triage\nmodel: prompt-model\ninstructions: Sort {{ticket}} by urgency.\n');

    const created = await runPrompts('push', file);
    assert.equal(created.code, 0, created.stderr);
    const id = /created (pmpt_[0-9a-f]+)/.exec(created.stdout)?.[1];
    assert.ok(id, created.stdout);
    assert.match(created.stdout, /version 1/);

    const again = await runPrompts('push', file);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`unchanged ${id} .*version 1`));

    writeFileSync(file, 'name: cli-triage\nmodel: prompt-model\ninstructions: Sort {{ticket}} by impact.\n');
    const updated = await runPrompts('push', file);
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(updated.stdout, new RegExp(`updated ${id} .*version 2`));

    const pulledFile = join(workDirectory, 'pulled.yaml');
    const pulled = await runPrompts('pull', id, '--output', pulledFile);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.deepEqual(parseYaml(readFileSync(pulledFile, 'utf8')), {
      id,
      name: 'cli-triage',
      model: 'prompt-model',
      instructions: 'Sort {{ticket}} by impact.',
    });
    const firstVersion = await runPrompts('pull', id, '--version', '1');
    assert.match(firstVersion.stdout, /by urgency/);
    // A pulled file carries the id, so pushing it back finds the prompt by id and changes nothing.
    const pushedBack = await runPrompts('push', pulledFile);
    assert.match(pushedBack.stdout, new RegExp(`unchanged ${id}`));

    const listed = await runPrompts('list');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^ID +NAME +DEFAULT +LATEST +MODEL/);
    assert.match(listed.stdout, new RegExp(`${id} +cli-triage +2 +2 +prompt-model`));
  });

  test('a pushed prompt is usable straight away', async () => {
    const file = join(workDirectory, 'usable.yaml');
    writeFileSync(file, 'name: cli-usable\nmodel: prompt-model\ninstructions: Sort {{ticket}} by impact.\n');
    const pushed = await runPrompts('push', file);
    const id = /created (pmpt_[0-9a-f]+)/.exec(pushed.stdout)?.[1];
    assert.ok(id, pushed.stdout + pushed.stderr);
    harness.upstream.push({ content: 'urgent first' });
    const response = await client.responses.create({
      prompt: { id, variables: { ticket: 'the queue' } },
      input: 'go',
    });
    assert.equal(response.prompt?.version, '1');
    assert.match(sentMessages()[0] ?? '', /Sort the queue by impact\./);
  });

  test('a bad prompt file is refused with the server error naming the field, exit code 1', async () => {
    const file = join(workDirectory, 'bad.json');
    writeFileSync(file, JSON.stringify({ name: 'cli-bad', temperature: 9 }));
    const result = await runPrompts('push', file);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /temperature/);
  });
});
