import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiError } from '../errors/api-error.ts';
import { openSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/stores.ts';
import { applyPrompt, promptEcho } from './apply-prompt.ts';
import type { CreateResponseRequest } from './create-response-request.ts';
import { createId } from './ids.ts';
import { parseCreateResponse, parsePromptConfiguration } from './parse-create-response.ts';

const OWNER = 'project-a';
let directory: string;
let storage: Storage;

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'riposte-apply-prompt-'));
  storage = await openSqliteStorage({ path: join(directory, 'riposte.sqlite') });
});
after(async () => {
  await storage.close();
  rmSync(directory, { recursive: true, force: true });
});

/** Saves a prompt (validated as the API does) and returns its id. */
async function savePrompt(body: Record<string, unknown>, owner = OWNER): Promise<string> {
  parsePromptConfiguration(body);
  const id = createId('pmpt');
  await storage.prompts.create(owner, { id, name: null, createdAt: 1_700_000_000, body });
  return id;
}

function apply(body: Record<string, unknown>, owner = OWNER): Promise<CreateResponseRequest> {
  return applyPrompt(parseCreateResponse(body), storage.prompts, owner);
}

async function rejects(promise: Promise<unknown>, status: number, param: string, code?: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ApiError, String(error));
    assert.equal(error.status, status, error.message);
    assert.equal(error.param, param, error.message);
    if (code !== undefined) assert.equal(error.code, code, error.message);
    return true;
  });
}

describe('applyPrompt', () => {
  test('leaves a request without prompt as it is', async () => {
    const request = parseCreateResponse({ model: 'm', input: 'hi' });
    assert.equal(await applyPrompt(request, storage.prompts, OWNER), request);
  });

  test('applies the configuration, substitutes string variables, resolves the default version', async () => {
    const id = await savePrompt({
      model: 'prompt-model',
      instructions: 'You answer questions about {{city}}.',
      temperature: 0.3,
      max_output_tokens: 500,
      parallel_tool_calls: false,
      truncation: 'auto',
      reasoning: { effort: 'low' },
      tools: [{ type: 'function', name: 'lookup', parameters: { type: 'object', properties: {} } }],
      tool_choice: { type: 'function', name: 'lookup' },
      text: { format: { type: 'json_object' }, verbosity: 'low' },
    });
    const request = await apply({ prompt: { id, variables: { city: 'Lyon' } }, input: 'weather?' });
    assert.equal(request.model, 'prompt-model');
    assert.equal(request.instructions, 'You answer questions about Lyon.');
    assert.equal(request.temperature, 0.3);
    assert.equal(request.maxOutputTokens, 500);
    assert.equal(request.parallelToolCalls, false);
    assert.equal(request.truncation, 'auto');
    assert.deepEqual(request.reasoning, { effort: 'low', summary: null });
    assert.equal(request.tools[0]?.name, 'lookup');
    assert.deepEqual(request.toolChoice, { type: 'function', name: 'lookup' });
    assert.deepEqual(request.text, { format: { type: 'json_object' }, verbosity: 'low' });
    assert.equal(request.input.length, 1);
    assert.deepEqual(request.prompt, { id, version: '1', variables: { city: 'Lyon' } });
    assert.deepEqual(promptEcho(request), { id, version: '1', variables: { city: 'Lyon' } });
  });

  test('fields the request sets win, even when they equal the defaults', async () => {
    const id = await savePrompt({
      model: 'prompt-model',
      instructions: 'prompt instructions',
      temperature: 0.3,
      parallel_tool_calls: false,
      tool_choice: 'none',
      text: { format: { type: 'json_object' }, verbosity: 'low' },
    });
    const request = await apply({
      model: 'request-model',
      prompt: { id },
      instructions: 'request instructions',
      temperature: 1,
      parallel_tool_calls: true,
      tool_choice: 'auto',
      text: { verbosity: 'medium' },
    });
    assert.equal(request.model, 'request-model');
    assert.equal(request.instructions, 'request instructions');
    assert.equal(request.temperature, 1);
    assert.equal(request.parallelToolCalls, true);
    assert.equal(request.toolChoice, 'auto');
    // text.format was not set by the request, so the prompt's applies; verbosity was.
    assert.deepEqual(request.text, { format: { type: 'json_object' }, verbosity: 'medium' });
  });

  test("the prompt's messages follow its instructions in `instructions`; the request's input stays its own", async () => {
    const id = await savePrompt({
      instructions: 'Be terse.',
      input: [
        { role: 'user', content: 'Example question about {{topic}}' },
        { role: 'assistant', content: 'Example answer about {{topic}}' },
      ],
    });
    const request = await apply({ model: 'm', prompt: { id, variables: { topic: 'tides' } }, input: 'real question' });
    assert.deepEqual(request.instructions, [
      { type: 'message', role: 'developer', content: 'Be terse.' },
      { type: 'message', role: 'user', content: 'Example question about tides' },
      { type: 'message', role: 'assistant', content: 'Example answer about tides' },
    ]);
    assert.deepEqual(request.input, [
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'real question' }] },
    ]);
  });

  test('an image variable splits the text part it sits in; input_text variables inline', async () => {
    const id = await savePrompt({
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'Describe {{picture}} for {{who}}.' }] }],
    });
    const image = { type: 'input_image', image_url: 'https://example.com/cat.png', detail: 'low' };
    const request = await apply({
      model: 'm',
      prompt: { id, variables: { picture: image, who: { type: 'input_text', text: 'a child' } } },
    });
    const messages = request.instructions as Array<Record<string, unknown>>;
    assert.deepEqual(messages[0]?.content, [
      { type: 'input_text', text: 'Describe ' },
      image,
      { type: 'input_text', text: ' for a child.' },
    ]);
  });

  test('an image variable alone in a message becomes the whole content', async () => {
    const id = await savePrompt({ input: [{ role: 'user', content: '{{document}}' }] });
    const file = { type: 'input_file', file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' };
    const request = await apply({ model: 'm', prompt: { id, variables: { document: file } } });
    assert.deepEqual((request.instructions as Array<Record<string, unknown>>)[0]?.content, [file]);
  });

  test('an image variable in the instructions is refused, naming the variable', async () => {
    const id = await savePrompt({ instructions: 'Look at {{picture}}' });
    await rejects(
      apply({
        model: 'm',
        prompt: { id, variables: { picture: { type: 'input_image', image_url: 'https://example.com/a.png' } } },
      }),
      400,
      'prompt.variables.picture',
      'invalid_value',
    );
  });

  test('a variable the prompt uses but the request leaves out is a 400 naming it', async () => {
    const id = await savePrompt({ instructions: 'About {{city}} in {{year}}' });
    await rejects(
      apply({ model: 'm', prompt: { id, variables: { city: 'Lyon' } } }),
      400,
      'prompt.variables.year',
      'missing_required_parameter',
    );
  });

  test('a variable the prompt does not use is a 400 naming it', async () => {
    const id = await savePrompt({ instructions: 'About {{city}}' });
    await rejects(
      apply({ model: 'm', prompt: { id, variables: { city: 'Lyon', citty: 'Paris' } } }),
      400,
      'prompt.variables.citty',
      'unknown_parameter',
    );
  });

  test('a placeholder-looking text that is not a variable stays as written', async () => {
    const id = await savePrompt({ instructions: 'JSON like {"a": {"b": 1}} and {{ name }}' });
    const request = await apply({ model: 'm', prompt: { id, variables: { name: 'x' } } });
    assert.equal(request.instructions, 'JSON like {"a": {"b": 1}} and x');
  });

  test('versions: a given version is used; an unknown one names prompt.version', async () => {
    const id = await savePrompt({ instructions: 'one' });
    const second = await storage.prompts.addVersion(OWNER, id, { instructions: 'two' }, 1_700_000_001);
    assert.equal(second?.version, '2');
    assert.equal((await apply({ model: 'm', prompt: { id } })).instructions, 'one');
    const explicit = await apply({ model: 'm', prompt: { id, version: '2' } });
    assert.equal(explicit.instructions, 'two');
    assert.equal(explicit.prompt?.version, '2');
    await rejects(apply({ model: 'm', prompt: { id, version: '3' } }), 400, 'prompt.version', 'invalid_value');
  });

  test("an unknown prompt, or another owner's, is a 404 naming prompt.id", async () => {
    await rejects(apply({ model: 'm', prompt: { id: 'pmpt_missing' } }), 404, 'prompt.id');
    const id = await savePrompt({ instructions: 'theirs' }, 'project-b');
    await rejects(apply({ model: 'm', prompt: { id } }), 404, 'prompt.id');
  });

  test('with no model in the request or the prompt, model is missing', async () => {
    const id = await savePrompt({ instructions: 'no model here' });
    await rejects(apply({ prompt: { id } }), 400, 'model', 'missing_required_parameter');
  });

  test("tool_choice may name one of the prompt's tools, and must name one of the tools in use", async () => {
    const id = await savePrompt({
      tools: [{ type: 'function', name: 'lookup', parameters: { type: 'object', properties: {} } }],
    });
    const request = await apply({ model: 'm', prompt: { id }, tool_choice: { type: 'function', name: 'lookup' } });
    assert.deepEqual(request.toolChoice, { type: 'function', name: 'lookup' });
    await rejects(
      apply({ model: 'm', prompt: { id }, tool_choice: { type: 'function', name: 'other' } }),
      400,
      'tool_choice',
    );
  });

  test('a request built in code (no givenFields) counts non-default values as set', async () => {
    const id = await savePrompt({ temperature: 0.2, parallel_tool_calls: false, model: 'prompt-model' });
    const request = parseCreateResponse({ model: 'm', prompt: { id }, temperature: 0.9 });
    delete request.givenFields;
    const applied = await applyPrompt(request, storage.prompts, OWNER);
    assert.equal(applied.temperature, 0.9);
    assert.equal(applied.parallelToolCalls, false);
    assert.equal(applied.model, 'm');
  });

  test('the stored configuration is never changed by applying it', async () => {
    const id = await savePrompt({ input: [{ role: 'user', content: 'Hi {{name}}' }] });
    await apply({ model: 'm', prompt: { id, variables: { name: 'Ada' } } });
    const again = await apply({ model: 'm', prompt: { id, variables: { name: 'Grace' } } });
    const messages = again.instructions as unknown as Array<{ content: string }>;
    assert.equal(messages[0]?.content, 'Hi Grace');
  });
});

describe('parsePromptConfiguration', () => {
  test('refuses a bad field with the request rules, naming it', () => {
    assert.throws(() => parsePromptConfiguration({ temperature: 7 }), { param: 'temperature' });
    assert.throws(() => parsePromptConfiguration({ tools: [{ type: 'function' }] }), { param: 'tools[0].name' });
    assert.throws(() => parsePromptConfiguration({ text: { format: { type: 'json_schema', name: 'x' } } }), {
      param: 'text.format.schema',
    });
  });

  test('refuses unknown fields and input other than messages', () => {
    assert.throws(() => parsePromptConfiguration({ stream: true }), { param: 'stream', code: 'unknown_parameter' });
    assert.throws(
      () => parsePromptConfiguration({ input: [{ type: 'function_call_output', call_id: 'c', output: 'x' }] }),
      { param: 'input[0].type' },
    );
  });

  test('needs no model', () => {
    assert.equal(parsePromptConfiguration({ instructions: 'x' }).model, null);
  });
});
