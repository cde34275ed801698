import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCodex } from './codex-harness.ts';
import { startTestServer, type TestServer } from './start-test-server.ts';

let harness: TestServer;
let workspace: string;

before(async () => {
  harness = await startTestServer([], { apiKeys: ['sk-codex-test'] });
  workspace = mkdtempSync(join(tmpdir(), 'riposte-codex-workspace-'));
});
after(async () => {
  await harness.stop();
  rmSync(workspace, { recursive: true, force: true });
});

const CODEX_ARGS: string[] = [];

type ChatMessage = { role: string; content: unknown; tool_calls?: unknown[]; tool_call_id?: string };

describe('Codex CLI through Riposte', () => {
  test('a plain answer reaches Codex', { timeout: 120_000 }, async () => {
    harness.upstream.push({ content: 'Hello from Riposte, Codex.' });
    const result = await runCodex({
      baseUrl: harness.baseUrl,
      apiKey: 'sk-codex-test',
      prompt: 'Say hello.',
      workingDirectory: workspace,
      extraArgs: CODEX_ARGS,
    });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.lastMessage.trim(), 'Hello from Riposte, Codex.');
    const sent = harness.upstream.requests.at(-1)!;
    const messages = sent.messages as ChatMessage[];
    assert.equal(messages.at(-1)?.role, 'user');
    assert.match(JSON.stringify(messages.at(-1)?.content), /Say hello\./);
    const toolNames = (sent.tools as Array<{ function: { name: string } }>).map((tool) => tool.function.name);
    assert.ok(toolNames.includes('exec_command'), `exec_command offered: ${toolNames.join(', ')}`);
    assert.ok(
      toolNames.some((name) => name.startsWith('multi_agent_v1__')),
      'namespace tools are offered flattened',
    );
    assert.ok(!toolNames.includes('web_search'), 'web_search without live access is not offered');
  });

  test('Codex runs exec_command for the model and the final answer comes back', { timeout: 120_000 }, async () => {
    harness.upstream.push({
      toolCalls: [
        { id: 'call_codex_1', name: 'exec_command', arguments: JSON.stringify({ cmd: 'echo hello-from-codex' }) },
      ],
    });
    harness.upstream.push((body) => {
      const messages = body.messages as ChatMessage[];
      const toolMessage = messages.find(
        (message) => message.role === 'tool' && message.tool_call_id === 'call_codex_1',
      );
      const output = JSON.stringify(toolMessage?.content ?? '');
      return {
        content: output.includes('hello-from-codex')
          ? 'The command printed hello-from-codex.'
          : `The tool output was missing: ${output}`,
      };
    });
    const before = harness.upstream.requests.length;
    const result = await runCodex({
      baseUrl: harness.baseUrl,
      apiKey: 'sk-codex-test',
      prompt: 'Run echo hello-from-codex',
      workingDirectory: workspace,
      extraArgs: CODEX_ARGS,
    });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.lastMessage.trim(), 'The command printed hello-from-codex.');

    const [first, second] = harness.upstream.requests.slice(before);
    assert.ok(first && second, 'two model calls: the tool call and the answer');
    const secondMessages = second.messages as ChatMessage[];
    // store: false — Codex resends the full input, so the second call carries the whole turn.
    assert.match(JSON.stringify(secondMessages), /Run echo hello-from-codex/);
    const assistant = secondMessages.find((message) => message.role === 'assistant' && message.tool_calls);
    assert.deepEqual((assistant?.tool_calls as Array<{ id: string }>)[0]?.id, 'call_codex_1');
  });

  test('Codex without the API key is refused', { timeout: 120_000 }, async () => {
    const result = await runCodex({
      baseUrl: harness.baseUrl,
      apiKey: 'sk-wrong',
      prompt: 'Say hello.',
      workingDirectory: workspace,
      extraArgs: CODEX_ARGS,
      timeoutMs: 60_000,
    });
    assert.notEqual(result.exitCode, 0);
    assert.match(result.stderr + result.stdout, /401|API key|Unauthorized/i);
  });
});
