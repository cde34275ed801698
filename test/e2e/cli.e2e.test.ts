import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ScriptedChatUpstream } from '../../src/testing/scripted-chat-upstream.ts';
import { killAllRiposteProcesses, spawnNode } from './riposte-process.ts';

/*
 * The `riposte` command as users run it: a real Node process per server, real ports, real files,
 * a scripted Chat Completions upstream on loopback behind it. Every child is bounded by a timeout
 * and killed in `after` if a test left it running.
 */

const repositoryRoot = resolve(import.meta.dirname, '../..');
const binScript = join(repositoryRoot, 'bin/riposte.js');
const mainScript = join(repositoryRoot, 'src/main.ts');

const STARTUP_TIMEOUT_MS = 20_000;
const EXIT_TIMEOUT_MS = 10_000;

interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` on stdout; rejects on timeout or early exit. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal) once the process ends; rejects on timeout. */
  waitForExit(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const temporaryDirectories: string[] = [];

after(() => {
  killAllRiposteProcesses();
  for (const directory of temporaryDirectories) rmSync(directory, { recursive: true, force: true });
});

function temporaryDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'riposte-cli-'));
  temporaryDirectories.push(directory);
  return directory;
}

/** Runs `node <script> ...args` the way a user would, with stdout and stderr captured. */
function runCli(
  args: string[],
  options: { cwd?: string; environment?: Record<string, string>; script?: string } = {},
): CliProcess {
  const { child, stdout, stderr, exit, waitUntil } = spawnNode([options.script ?? binScript, ...args], options);
  return {
    child,
    stdout,
    stderr,
    waitForStdout: (pattern, timeoutMs = STARTUP_TIMEOUT_MS) =>
      waitUntil(
        () => {
          const match = pattern.exec(stdout());
          if (match) return match;
          const ended = exit();
          if (ended)
            throw new Error(
              `riposte exited (${ended.code ?? ended.signal}) before printing ${pattern}.\nstdout:\n${stdout()}\nstderr:\n${stderr()}`,
            );
          return undefined;
        },
        timeoutMs,
        `${pattern} on stdout`,
      ),
    waitForExit: (timeoutMs = EXIT_TIMEOUT_MS) => waitUntil(() => exit() ?? undefined, timeoutMs, 'the process to exit'),
  };
}

interface RunningCli {
  cli: CliProcess;
  /** The base URL from the banner, e.g. http://127.0.0.1:PORT/v1. */
  baseUrl: string;
  port: number;
}

/** Starts `riposte serve ...args` and waits for the whole banner (it ends with the model lines). */
async function serve(
  args: string[],
  options: { cwd?: string; environment?: Record<string, string>; lastBannerLine?: RegExp } = {},
): Promise<RunningCli> {
  const cli = runCli(['serve', '--log-level', 'warn', ...args], options);
  try {
    const match = await cli.waitForStdout(/Riposte listening on (http:\/\/(\S+):(\d+)\/v1)\n/);
    await cli.waitForStdout(options.lastBannerLine ?? / {2}model: .*\n/);
    return { cli, baseUrl: match[1]!, port: Number(match[3]) };
  } catch (error) {
    cli.child.kill('SIGKILL');
    throw error;
  }
}

/** SIGTERM, then expect a clean exit 0 within a few seconds. */
async function stopGracefully(server: RunningCli): Promise<void> {
  server.cli.child.kill('SIGTERM');
  const exit = await server.cli.waitForExit();
  assert.deepEqual(exit, { code: 0, signal: null }, `stderr:\n${server.cli.stderr()}`);
  assert.match(server.cli.stdout(), /Received SIGTERM/);
}

/** The parts of OpenAI-shaped bodies these tests read. */
interface OutputItem {
  type: string;
  id?: string;
  encrypted_content?: string;
  content?: Array<{ type: string; text?: string }>;
}
interface ApiBody {
  id?: string;
  object?: string;
  status?: string;
  model?: string;
  output?: OutputItem[];
  data?: Array<{ id: string; owned_by: string }>;
  error?: { message: string; type: string; code: string | null; param: string | null };
}

async function requestJson(
  url: string,
  init: { method?: string; body?: unknown; apiKey?: string } = {},
): Promise<{ status: number; body: ApiBody }> {
  const headers: Record<string, string> = {};
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (init.apiKey !== undefined) headers.authorization = `Bearer ${init.apiKey}`;
  const response = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: response.status, body: (await response.json()) as ApiBody };
}

/** The concatenated output_text parts of a Response object. */
function outputText(response: ApiBody): string {
  return (response.output ?? [])
    .filter((item) => item.type === 'message')
    .flatMap((item) => item.content ?? [])
    .filter((part) => part.type === 'output_text')
    .map((part) => part.text ?? '')
    .join('');
}

describe('riposte --help and bad commands', () => {
  test('--help prints usage listing every flag main.ts accepts, and exits 0', async () => {
    const cli = runCli(['--help'], { script: mainScript });
    const exit = await cli.waitForExit();
    assert.deepEqual(exit, { code: 0, signal: null });
    const usage = cli.stdout();
    assert.match(usage, /Usage:/);
    assert.match(usage, /riposte serve \[options\]/);
    // Every option parseArgs knows must be documented in the help text.
    const source = readFileSync(mainScript, 'utf8');
    const declared = [...source.matchAll(/^\s+'?([a-z][a-z-]*)'?: \{ type: '(?:string|boolean)'/gm)].map(
      (match) => match[1]!,
    );
    assert.ok(declared.length >= 10, `found only ${declared.join(', ')} in main.ts`);
    for (const flag of declared) assert.ok(usage.includes(`--${flag}`), `--help does not mention --${flag}`);
    for (const flag of [
      '--host',
      '--port',
      '--data-dir',
      '--config',
      '--database-url',
      '--upstream-url',
      '--upstream-api-key',
      '--api-key',
      '--log-level',
      '--help',
    ])
      assert.ok(usage.includes(flag), `--help does not mention ${flag}`);
    assert.equal(cli.stderr(), '');
  });

  test('bin/riposte.js with no command prints the same usage and exits 0', async () => {
    const cli = runCli([]);
    assert.deepEqual(await cli.waitForExit(), { code: 0, signal: null });
    assert.match(cli.stdout(), /Usage:[\s\S]*--upstream-url/);
  });

  test('an unknown command exits 2 and says which', async () => {
    const cli = runCli(['srve', '--port', '0']);
    assert.deepEqual(await cli.waitForExit(), { code: 2, signal: null });
    assert.match(cli.stderr(), /Unknown command 'srve'/);
    assert.match(cli.stderr(), /Usage:/);
    assert.doesNotMatch(cli.stdout(), /listening/);
  });

  test('an unknown flag exits 1 naming it', async () => {
    const cli = runCli(['serve', '--prot', '8080']);
    assert.deepEqual(await cli.waitForExit(), { code: 1, signal: null });
    assert.match(cli.stderr(), /--prot/);
    assert.doesNotMatch(cli.stderr(), /\n\s+at /, 'a usage mistake prints no stack trace');
  });
});

describe('riposte serve with --upstream-url and SQLite', () => {
  const upstream = new ScriptedChatUpstream();
  let upstreamUrl: string;
  before(async () => {
    upstreamUrl = await upstream.start();
  });
  after(async () => upstream.stop());

  test(
    'banner, a real response, /v1/models, SIGTERM, and the data survives a restart',
    { timeout: 90_000 },
    async () => {
      const workingDirectory = temporaryDirectory();
      const dataDirectory = join(workingDirectory, 'riposte-data');
      const args = ['--port', '0', '--data-dir', dataDirectory, '--upstream-url', upstreamUrl];

      const first = await serve(args, { cwd: workingDirectory });
      let firstId: string;
      let sealedReasoning: OutputItem;
      try {
        const banner = first.cli.stdout();
        assert.match(first.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
        assert.notEqual(first.port, 0);
        assert.ok(
          banner.includes(`  storage: sqlite (${join(dataDirectory, 'riposte.sqlite')})\n`),
          `banner lacks the SQLite path:\n${banner}`,
        );
        assert.match(banner, / {2}auth: none \(loopback only\)\n/);
        assert.match(banner, / {2}model: \* → upstream\n/);
        assert.ok(existsSync(join(dataDirectory, 'riposte.sqlite')));

        upstream.push({ content: 'Scripted answer one.' });
        const created = await requestJson(`${first.baseUrl}/responses`, {
          body: { model: 'llama-e2e', input: 'Remember the word teal.' },
        });
        assert.equal(created.status, 200, JSON.stringify(created.body));
        assert.equal(created.body.status, 'completed');
        assert.equal(created.body.model, 'llama-e2e');
        assert.equal(outputText(created.body), 'Scripted answer one.');
        assert.equal(upstream.requests.at(-1)?.model, 'llama-e2e');
        firstId = created.body.id as string;
        assert.match(firstId, /^resp_/);

        // A reasoning item sealed with this process's key, to hand back after the restart.
        upstream.push({ reasoning: 'Thinking in private.', content: 'Sealed.' });
        const sealed = await requestJson(`${first.baseUrl}/responses`, {
          body: {
            model: 'llama-e2e',
            input: 'Think first.',
            store: false,
            include: ['reasoning.encrypted_content'],
          },
        });
        assert.equal(sealed.status, 200, JSON.stringify(sealed.body));
        const reasoning = (sealed.body.output ?? []).find((item) => item.type === 'reasoning');
        assert.ok(typeof reasoning?.encrypted_content === 'string', JSON.stringify(sealed.body.output));
        sealedReasoning = reasoning;

        const models = await requestJson(`${first.baseUrl}/models`);
        assert.equal(models.status, 200);
        assert.equal(models.body.object, 'list');
        assert.deepEqual(
          (models.body.data ?? []).map((model) => [model.id, model.owned_by]),
          [['*', 'upstream']],
        );
      } finally {
        if (first.cli.child.exitCode === null) await stopGracefully(first);
      }

      const keyFile = join(dataDirectory, 'encryption.key');
      const keyBefore = readFileSync(keyFile, 'utf8');
      assert.match(keyBefore.trim(), /^[0-9a-f]{64}$/);

      const second = await serve(args, { cwd: workingDirectory });
      try {
        assert.equal(readFileSync(keyFile, 'utf8'), keyBefore, 'the restart reuses the key file');

        const fetched = await requestJson(`${second.baseUrl}/responses/${firstId}`);
        assert.equal(fetched.status, 200, JSON.stringify(fetched.body));
        assert.equal(fetched.body.id, firstId);
        assert.equal(outputText(fetched.body), 'Scripted answer one.');

        // The conversation continues from the stored response in the new process.
        upstream.push({ content: 'You said teal.' });
        const followUp = await requestJson(`${second.baseUrl}/responses`, {
          body: { model: 'llama-e2e', input: 'Which word?', previous_response_id: firstId },
        });
        assert.equal(followUp.status, 200, JSON.stringify(followUp.body));
        const sentMessages = JSON.stringify(upstream.requests.at(-1)?.messages);
        assert.ok(sentMessages.includes('Remember the word teal.'), sentMessages);
        assert.ok(sentMessages.includes('Scripted answer one.'), sentMessages);

        // The sealed reasoning from the first process opens with the same key file; a blob that
        // does not verify is refused, which is what makes the 200 meaningful.
        const handBack = (encryptedContent: string): Promise<{ status: number; body: ApiBody }> =>
          requestJson(`${second.baseUrl}/responses`, {
            body: {
              model: 'llama-e2e',
              store: false,
              input: [
                { type: 'reasoning', id: sealedReasoning.id, summary: [], encrypted_content: encryptedContent },
                { role: 'user', content: 'Go on.' },
              ],
            },
          });
        upstream.push({ content: 'Carried on.' });
        const carried = await handBack(sealedReasoning.encrypted_content as string);
        assert.equal(carried.status, 200, JSON.stringify(carried.body));
        assert.equal(outputText(carried.body), 'Carried on.');
        const original = sealedReasoning.encrypted_content as string;
        const tampered = `${original.slice(0, -2)}${original.endsWith('AA') ? 'BB' : 'AA'}`;
        const refused = await handBack(tampered);
        assert.equal(refused.status, 400, JSON.stringify(refused.body));
        assert.equal(refused.body.error?.code, 'invalid_encrypted_content');
      } finally {
        if (second.cli.child.exitCode === null) await stopGracefully(second);
      }
    },
  );
});

describe('riposte serve with a YAML config file', () => {
  const upstream = new ScriptedChatUpstream([], {
    fallback: (body) => ({ content: `served by ${String(body.model)}` }),
  });
  let upstreamUrl: string;
  before(async () => {
    upstreamUrl = await upstream.start();
  });
  after(async () => upstream.stop());

  test(
    'providers and a models table with exact and wildcard entries; an unrouted model is 404',
    { timeout: 60_000 },
    async () => {
      const workingDirectory = temporaryDirectory();
      writeFileSync(
        join(workingDirectory, 'riposte.yaml'),
        [
          'port: 0',
          'data_dir: ./state',
          'log_level: warn',
          'providers:',
          '  scripted:',
          `    base_url: ${upstreamUrl}`,
          '    context_window: 32768',
          '    headers:',
          '      X-Riposte-Test: yes-please',
          'models:',
          '  - name: meta-llama/Llama-3.1-8B',
          '    provider: scripted',
          '    upstream_model: llama3.1:8b',
          '  - name: "gpt-*"',
          '    provider: scripted',
          '',
        ].join('\n'),
      );
      const server = await serve(['--config', 'riposte.yaml'], {
        cwd: workingDirectory,
        lastBannerLine: / {2}model: gpt-\* → scripted\n/,
      });
      try {
        const banner = server.cli.stdout();
        assert.match(banner, / {2}model: meta-llama\/Llama-3\.1-8B → scripted\n/);
        assert.ok(
          banner.includes(`storage: sqlite (${join('state', 'riposte.sqlite')})`),
          `data_dir is relative to the working directory:\n${banner}`,
        );
        assert.ok(existsSync(join(workingDirectory, 'state', 'riposte.sqlite')));

        const models = await requestJson(`${server.baseUrl}/models`);
        assert.deepEqual(
          (models.body.data ?? []).map((model) => [model.id, model.owned_by]),
          [
            ['meta-llama/Llama-3.1-8B', 'scripted'],
            ['gpt-*', 'scripted'],
          ],
        );

        const exact = await requestJson(`${server.baseUrl}/responses`, {
          body: { model: 'meta-llama/Llama-3.1-8B', input: 'hello' },
        });
        assert.equal(exact.status, 200, JSON.stringify(exact.body));
        assert.equal(exact.body.model, 'meta-llama/Llama-3.1-8B');
        assert.equal(outputText(exact.body), 'served by llama3.1:8b');

        const wildcard = await requestJson(`${server.baseUrl}/responses`, {
          body: { model: 'gpt-4o-mini', input: 'hi' },
        });
        assert.equal(wildcard.status, 200, JSON.stringify(wildcard.body));
        assert.equal(outputText(wildcard.body), 'served by gpt-4o-mini');

        const requestsBefore = upstream.requests.length;
        const unrouted = await requestJson(`${server.baseUrl}/responses`, {
          body: { model: 'claude-3-haiku', input: 'hi' },
        });
        assert.equal(unrouted.status, 404);
        assert.equal(unrouted.body.error?.code, 'model_not_found');
        assert.equal(upstream.requests.length, requestsBefore, 'nothing went upstream');
      } finally {
        if (server.cli.child.exitCode === null) await stopGracefully(server);
      }
    },
  );

  test('RIPOSTE_CONFIG names the file when --config is absent; flags still win', { timeout: 60_000 }, async () => {
    const workingDirectory = temporaryDirectory();
    const configPath = join(workingDirectory, 'riposte.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        port: 1, // overridden by --port below; a real bind to port 1 would fail
        data_dir: join(workingDirectory, 'json-data'),
        providers: { scripted: { base_url: upstreamUrl } },
        models: [{ name: 'qwen3:8b', provider: 'scripted' }],
      }),
    );
    const server = await serve(['--port', '0'], { cwd: workingDirectory, environment: { RIPOSTE_CONFIG: configPath } });
    try {
      assert.match(server.cli.stdout(), / {2}model: qwen3:8b → scripted\n/);
      const reply = await requestJson(`${server.baseUrl}/responses`, { body: { model: 'qwen3:8b', input: 'hi' } });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(outputText(reply.body), 'served by qwen3:8b');
    } finally {
      if (server.cli.child.exitCode === null) await stopGracefully(server);
    }
  });
});

describe('riposte serve beyond loopback', () => {
  test('--host 0.0.0.0 without API keys refuses to start and says why', async () => {
    const dataDirectory = temporaryDirectory();
    const cli = runCli(['serve', '--host', '0.0.0.0', '--port', '0', '--data-dir', dataDirectory]);
    const exit = await cli.waitForExit();
    assert.notEqual(exit.code, 0);
    assert.equal(exit.code, 1);
    assert.match(cli.stderr(), /0\.0\.0\.0/);
    assert.match(cli.stderr(), /API keys?/);
    assert.match(cli.stderr(), /--api-key/);
    assert.doesNotMatch(cli.stdout(), /listening/);
  });

  test('--host 0.0.0.0 with --api-key starts, and requests need the key', { timeout: 60_000 }, async () => {
    const dataDirectory = temporaryDirectory();
    const server = await serve(['--host', '0.0.0.0', '--port', '0', '--data-dir', dataDirectory, '--api-key', 'k'], {
      lastBannerLine: / {2}models: none routed.*\n/,
    });
    try {
      assert.match(server.baseUrl, /^http:\/\/0\.0\.0\.0:\d+\/v1$/);
      assert.match(server.cli.stdout(), / {2}auth: 1 API key\(s\)\n/);
      assert.ok(!server.cli.stdout().includes(' k\n'));
      const local = `http://127.0.0.1:${server.port}/v1`;

      const missing = await requestJson(`${local}/models`);
      assert.equal(missing.status, 401);
      assert.equal(missing.body.error?.type, 'invalid_request_error');
      const wrong = await requestJson(`${local}/models`, { apiKey: 'not-k' });
      assert.equal(wrong.status, 401);
      const unauthorisedCreate = await requestJson(`${local}/responses`, { body: { model: 'x', input: 'hi' } });
      assert.equal(unauthorisedCreate.status, 401);
      const allowed = await requestJson(`${local}/models`, { apiKey: 'k' });
      assert.equal(allowed.status, 200);
      assert.deepEqual(allowed.body.data, []);
    } finally {
      if (server.cli.child.exitCode === null) await stopGracefully(server);
    }
  });
});

describe('riposte serve with bad configuration', () => {
  const cases: Array<{
    name: string;
    file?: string;
    args?: string[];
    environment?: Record<string, string>;
    key: string;
  }> = [
    { name: 'an unknown top-level key', file: 'prot: 8080\n', key: 'prot' },
    {
      name: 'a bad provider base_url',
      file: 'providers:\n  local:\n    base_url: localhost:11434\n',
      key: 'providers.local.base_url',
    },
    {
      name: 'an unset api_key_env',
      file: 'providers:\n  hosted:\n    base_url: https://example.com/v1\n    api_key_env: RIPOSTE_E2E_NEVER_SET\n',
      key: 'providers.hosted.api_key_env',
    },
    {
      name: 'a model naming an unknown provider',
      file: 'models:\n  - name: "*"\n    provider: nowhere\n',
      key: 'models[0].provider',
    },
    { name: 'a port out of range from a flag', args: ['--port', '70000'], key: 'port' },
    { name: 'a bad RIPOSTE_LOG_LEVEL', environment: { RIPOSTE_LOG_LEVEL: 'loud' }, key: 'log_level' },
    {
      name: 'a non-postgres --database-url',
      args: ['--database-url', 'mysql://root:hunter2@127.0.0.1/riposte'],
      key: 'database_url',
    },
    { name: 'a config file that does not exist', args: ['--config', 'missing.yaml'], key: '--config' },
  ];

  for (const testCase of cases) {
    test(`${testCase.name} exits 1 naming ${testCase.key}`, async () => {
      const workingDirectory = temporaryDirectory();
      const args = ['serve', '--port', '0', '--data-dir', join(workingDirectory, 'data')];
      if (testCase.file !== undefined) {
        writeFileSync(join(workingDirectory, 'riposte.yaml'), testCase.file);
        args.push('--config', 'riposte.yaml');
      }
      const cli = runCli([...args, ...(testCase.args ?? [])], {
        cwd: workingDirectory,
        environment: testCase.environment ?? {},
      });
      assert.deepEqual(await cli.waitForExit(), { code: 1, signal: null });
      assert.ok(
        cli.stderr().includes(`Invalid configuration: ${testCase.key}: `),
        `stderr does not name ${testCase.key}:\n${cli.stderr()}`,
      );
      assert.doesNotMatch(cli.stderr(), /\n\s+at /, 'a configuration mistake prints no stack trace');
      assert.doesNotMatch(cli.stderr(), /hunter2/);
      assert.doesNotMatch(cli.stdout(), /listening/);
      assert.ok(!existsSync(join(workingDirectory, 'data')), 'nothing is created before the config is valid');
    });
  }
});

const databaseServerUrl = process.env.RIPOSTE_TEST_DATABASE_URL;

describe('riposte serve on PostgreSQL', () => {
  if (databaseServerUrl === undefined || databaseServerUrl === '') {
    test(
      'two replicas share one database',
      {
        skip: 'RIPOSTE_TEST_DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)',
      },
      () => undefined,
    );
    return;
  }
  const serverUrl = databaseServerUrl;
  const schema = `riposte_cli_${randomBytes(6).toString('hex')}`;
  let schemaCreated = false;
  const upstream = new ScriptedChatUpstream([], { fallback: { content: 'Stored in PostgreSQL.' } });
  let upstreamUrl: string;

  /** Runs one statement on a connection of its own, outside the test schema. */
  async function administer(statement: string): Promise<void> {
    const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  }

  before(async () => {
    upstreamUrl = await upstream.start();
  });
  after(async () => {
    await upstream.stop();
    if (schemaCreated) await administer(`DROP SCHEMA ${schema} CASCADE`);
  });

  test(
    '--database-url: the banner hides the password, and a second replica reads what the first stored',
    { timeout: 90_000 },
    async () => {
      // Set but unreachable must fail here, not skip.
      await administer(`CREATE SCHEMA ${schema}`);
      schemaCreated = true;

      const parsed = new URL(serverUrl);
      // Trust auth ignores a password, so one can be added to prove the banner leaves it out.
      if (parsed.password === '') parsed.password = 'e2e-secret-password';
      const password = decodeURIComponent(parsed.password);
      parsed.searchParams.set('options', `-c search_path=${schema}`);
      const databaseUrl = parsed.toString();
      const sharedKey = randomBytes(32).toString('hex');
      const environment = { RIPOSTE_ENCRYPTION_KEY: sharedKey };

      const start = (): Promise<RunningCli> =>
        serve(
          [
            '--port',
            '0',
            '--data-dir',
            temporaryDirectory(),
            '--upstream-url',
            upstreamUrl,
            '--database-url',
            databaseUrl,
          ],
          {
            environment,
          },
        );
      const first = await start();
      let second: RunningCli | null = null;
      try {
        second = await start();
        for (const replica of [first, second]) {
          const output = replica.cli.stdout() + replica.cli.stderr();
          const storageLine = / {2}storage: (\S+) \((.*)\)\n/.exec(output);
          assert.equal(storageLine?.[1], 'postgres', output);
          assert.ok(storageLine?.[2]?.includes(`@${parsed.host}${parsed.pathname}`), storageLine?.[2]);
          assert.ok(!output.includes(password), `the password leaked:\n${output}`);
          assert.ok(!output.includes(sharedKey), 'the encryption key leaked');
          assert.ok(!output.includes('search_path'), 'query options are left out of the banner');
        }

        const created = await requestJson(`${first.baseUrl}/responses`, {
          body: { model: 'pg-model', input: 'store me' },
        });
        assert.equal(created.status, 200, JSON.stringify(created.body));
        assert.equal(outputText(created.body), 'Stored in PostgreSQL.');

        const readBySecond = await requestJson(`${second.baseUrl}/responses/${String(created.body.id)}`);
        assert.equal(readBySecond.status, 200, JSON.stringify(readBySecond.body));
        assert.equal(readBySecond.body.id, created.body.id);
        assert.equal(outputText(readBySecond.body), 'Stored in PostgreSQL.');

        // The tables really are in the test's own schema.
        const client = new pg.Client({ connectionString: serverUrl });
        await client.connect();
        try {
          const tables = await client.query('SELECT count(*)::int AS count FROM pg_tables WHERE schemaname = $1', [
            schema,
          ]);
          assert.ok((tables.rows[0] as { count: number }).count > 0);
        } finally {
          await client.end();
        }
      } finally {
        if (second && second.cli.child.exitCode === null) await stopGracefully(second);
        if (first.cli.child.exitCode === null) await stopGracefully(first);
      }
    },
  );
});
