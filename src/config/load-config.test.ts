import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { ModelAdapter } from '../providers/model-adapter.ts';
import { ScriptedModel } from '../testing/scripted-model.ts';
import { ConfigModelRouter } from './config-model-router.ts';
import { ConfigError, loadConfig, sha256, type ConfigFlags } from './load-config.ts';
import { DEFAULT_CONTEXT_WINDOW, type ModelConfig, type ProviderConfig, type RiposteConfig } from './riposte-config.ts';

const directory = mkdtempSync(join(tmpdir(), 'riposte-config-test-'));
after(() => rmSync(directory, { recursive: true, force: true }));

let fileCount = 0;
/** Writes a config file into the test's temporary directory and returns its path. */
function configFile(text: string, extension: 'yaml' | 'yml' | 'json' = 'yaml'): string {
  fileCount += 1;
  const path = join(directory, `config-${fileCount}.${extension}`);
  writeFileSync(path, text);
  return path;
}

/** Loads with an explicit environment, so the test process's own RIPOSTE_* never leak in. */
function load(flags: ConfigFlags = {}, environment: Record<string, string | undefined> = {}): RiposteConfig {
  return loadConfig(flags, environment);
}

/** Asserts that loading throws a ConfigError whose message names `key` exactly. */
function assertConfigError(run: () => unknown, key: string, messagePart?: string | RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.ok(
      error.message.startsWith(`Invalid configuration: ${key}: `),
      `expected the message to name '${key}', got: ${error.message}`,
    );
    if (typeof messagePart === 'string') assert.ok(error.message.includes(messagePart), error.message);
    else if (messagePart) assert.match(error.message, messagePart);
    return true;
  });
}

/** JSON of the whole resolved config, with Maps as objects and Buffers as hex and base64. */
function serialise(config: RiposteConfig): string {
  return JSON.stringify(config, function replacer(this: unknown, key: string, value: unknown): unknown {
    // JSON.stringify calls Buffer#toJSON before the replacer; read the original through `this`.
    const original = (this as Record<string, unknown>)[key];
    if (Buffer.isBuffer(original)) return { hex: original.toString('hex'), base64: original.toString('base64') };
    if (value instanceof Map) return Object.fromEntries(value);
    return value;
  });
}

describe('loadConfig: defaults', () => {
  test('an empty configuration resolves to the documented defaults', () => {
    const config = load();
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8080);
    assert.equal(config.dataDirectory, './data');
    assert.equal(config.databaseUrl, null);
    assert.equal(config.bodyLimitBytes, 50 * 1024 * 1024);
    assert.equal(config.maxFileBytes, 512 * 1024 * 1024);
    assert.deepEqual(config.apiKeys, []);
    assert.equal(config.providers.size, 0);
    assert.deepEqual(config.models, []);
    assert.equal(config.encryptionKey, null);
    assert.equal(config.structuredOutputRetries, 2);
    assert.equal(config.backgroundConcurrency, 8);
    assert.equal(config.backgroundRetentionSeconds, 7 * 24 * 3600);
    assert.equal(config.shutdownGraceMs, 10_000);
    assert.equal(config.backgroundStaleSeconds, 120);
    assert.equal(config.jobsSchema, 'riposte_jobs');
    assert.equal(config.logLevel, 'info');
  });

  test('an empty config file is the same as none', () => {
    const config = load({ config: configFile('') });
    assert.equal(config.port, 8080);
    assert.equal(config.providers.size, 0);
  });
});

describe('loadConfig: precedence is flag, then environment, then file, then default', () => {
  const settings = [
    {
      name: 'host',
      flag: 'host',
      variable: 'RIPOSTE_HOST',
      fileKey: 'host',
      values: { flag: '10.0.0.1', environment: '10.0.0.2', file: '10.0.0.3' },
      defaultValue: '127.0.0.1',
      read: (config: RiposteConfig): unknown => config.host,
      expected: (value: string): unknown => value,
    },
    {
      name: 'port',
      flag: 'port',
      variable: 'RIPOSTE_PORT',
      fileKey: 'port',
      values: { flag: '9001', environment: '9002', file: '9003' },
      defaultValue: 8080,
      read: (config: RiposteConfig): unknown => config.port,
      expected: (value: string): unknown => Number(value),
    },
    {
      name: 'data_dir',
      flag: 'dataDir',
      variable: 'RIPOSTE_DATA_DIR',
      fileKey: 'data_dir',
      values: { flag: '/srv/flag', environment: '/srv/environment', file: '/srv/file' },
      defaultValue: './data',
      read: (config: RiposteConfig): unknown => config.dataDirectory,
      expected: (value: string): unknown => value,
    },
    {
      name: 'database_url',
      flag: 'databaseUrl',
      variable: 'RIPOSTE_DATABASE_URL',
      fileKey: 'database_url',
      values: {
        flag: 'postgres://flag@127.0.0.1/one',
        environment: 'postgresql://environment@127.0.0.1/two',
        file: 'postgres://file@127.0.0.1/three',
      },
      defaultValue: null,
      read: (config: RiposteConfig): unknown => config.databaseUrl,
      expected: (value: string): unknown => value,
    },
  ] as const;

  for (const setting of settings) {
    test(`${setting.name}`, () => {
      const fileValue = setting.fileKey === 'port' ? Number(setting.values.file) : setting.values.file;
      const file = configFile(JSON.stringify({ [setting.fileKey]: fileValue }), 'json');
      const flags: ConfigFlags = { config: file, [setting.flag]: setting.values.flag };
      const environment = { [setting.variable]: setting.values.environment };

      assert.equal(setting.read(load(flags, environment)), setting.expected(setting.values.flag), 'flag wins');
      assert.equal(
        setting.read(load({ config: file }, environment)),
        setting.expected(setting.values.environment),
        'environment beats file',
      );
      assert.equal(setting.read(load({ config: file })), setting.expected(setting.values.file), 'file beats default');
      assert.equal(setting.read(load()), setting.defaultValue, 'default');
    });
  }

  test('log_level: flag over RIPOSTE_LOG_LEVEL over file over info', () => {
    const file = configFile('log_level: warn\n');
    assert.equal(load({ config: file, logLevel: 'debug' }, { RIPOSTE_LOG_LEVEL: 'error' }).logLevel, 'debug');
    assert.equal(load({ config: file }, { RIPOSTE_LOG_LEVEL: 'error' }).logLevel, 'error');
    assert.equal(load({ config: file }).logLevel, 'warn');
    assert.equal(load().logLevel, 'info');
  });

  test('the config file itself comes from --config, else RIPOSTE_CONFIG', () => {
    const fromFlag = configFile('port: 7001\n');
    const fromEnvironment = configFile('port: 7002\n');
    assert.equal(load({ config: fromFlag }, { RIPOSTE_CONFIG: fromEnvironment }).port, 7001);
    assert.equal(load({}, { RIPOSTE_CONFIG: fromEnvironment }).port, 7002);
  });

  test('an empty RIPOSTE_DATABASE_URL means SQLite', () => {
    assert.equal(load({}, { RIPOSTE_DATABASE_URL: '' }).databaseUrl, null);
  });
});

describe('loadConfig: API keys are kept only as hashes', () => {
  test('RIPOSTE_API_KEYS is a comma-separated list; blanks and spaces are dropped', () => {
    const config = load({}, { RIPOSTE_API_KEYS: ' sk-one , sk-two,, ' });
    assert.deepEqual(
      config.apiKeys.map((key) => key.sha256),
      [sha256('sk-one'), sha256('sk-two')],
    );
    assert.notEqual(config.apiKeys[0]!.project, config.apiKeys[1]!.project, 'each key is its own project');
  });

  test('repeated --api-key flags replace RIPOSTE_API_KEYS', () => {
    const config = load({ apiKeys: ['sk-flag-a', 'sk-flag-b'] }, { RIPOSTE_API_KEYS: 'sk-environment' });
    assert.deepEqual(
      config.apiKeys.map((key) => key.sha256),
      [sha256('sk-flag-a'), sha256('sk-flag-b')],
    );
  });

  test('api_keys in the file take key or key_sha256 and an optional project, and add to flag keys', () => {
    const hashed = sha256('sk-given-as-hash');
    const file = configFile(
      [
        'api_keys:',
        '  - key: sk-plain-in-file',
        '    project: team-a',
        `  - key_sha256: ${hashed.toUpperCase()}`,
        '    project: team-a',
        '  - key: sk-own-project',
      ].join('\n'),
    );
    const config = load({ config: file, apiKeys: ['sk-from-flag'] });
    assert.deepEqual(config.apiKeys, [
      { sha256: sha256('sk-plain-in-file'), project: 'team-a' },
      { sha256: hashed, project: 'team-a' },
      { sha256: sha256('sk-own-project'), project: `key-${sha256('sk-own-project').slice(0, 12)}` },
      { sha256: sha256('sk-from-flag'), project: `key-${sha256('sk-from-flag').slice(0, 12)}` },
    ]);
  });

  test('no plain key appears anywhere in the resolved config', () => {
    const plainKeys = ['sk-plain-in-file-9f2c', 'sk-from-flag-77aa', 'sk-from-environment-31bd'];
    const file = configFile(`api_keys:\n  - key: ${plainKeys[0]}\n    project: p\n`);
    const fromFlags = serialise(load({ config: file, apiKeys: [plainKeys[1]!] }));
    const fromEnvironment = serialise(load({ config: file }, { RIPOSTE_API_KEYS: plainKeys[2]! }));
    for (const text of [fromFlags, fromEnvironment]) {
      for (const plainKey of plainKeys) assert.ok(!text.includes(plainKey), `${plainKey} leaked into ${text}`);
    }
    assert.ok(fromFlags.includes(sha256(plainKeys[1]!)), 'the hash is kept');
  });

  test('the serialiser used above does see Buffers and Maps (so the leak check is meaningful)', () => {
    const key = Buffer.alloc(32, 7);
    const text = serialise(
      load({ upstreamUrl: 'http://127.0.0.1:1/v1' }, { RIPOSTE_ENCRYPTION_KEY: key.toString('hex') }),
    );
    assert.ok(text.includes(key.toString('hex')));
    assert.ok(text.includes('http://127.0.0.1:1/v1'));
  });

  test('bad api_keys entries name their key', () => {
    assertConfigError(() => load({ config: configFile('api_keys: sk-x\n') }), 'api_keys');
    assertConfigError(() => load({ config: configFile('api_keys:\n  - project: p\n') }), 'api_keys[0].key');
    assertConfigError(
      () => load({ config: configFile('api_keys:\n  - key: a\n  - key_sha256: abc\n') }),
      'api_keys[1].key_sha256',
    );
    assertConfigError(
      () => load({ config: configFile('api_keys:\n  - key: a\n    project: 5\n') }),
      'api_keys[0].project',
    );
    assertConfigError(
      () => load({ config: configFile('api_keys:\n  - key: a\n    projcet: p\n') }),
      'api_keys[0].projcet',
      'unknown key',
    );
  });
});

describe('loadConfig: providers', () => {
  test('every provider setting is read, with defaults for the rest', () => {
    const file = configFile(
      [
        'providers:',
        '  local:',
        '    base_url: http://127.0.0.1:11434/v1/',
        '  hosted:',
        '    type: openai-chat',
        '    base_url: https://api.example.com/v1',
        '    api_key_env: HOSTED_KEY',
        '    headers:',
        '      X-Team: riposte',
        '      HTTP-Referer: https://example.com',
        '    timeout_ms: 30000',
        '    max_retries: 0',
        '    context_window: 32768',
        '    enforces_json_schema: false',
        '    streaming: false',
        '    tokenize_endpoint: vllm',
        '  inline:',
        '    base_url: https://inline.example.com/v1',
        '    api_key: sk-inline-upstream',
      ].join('\n'),
    );
    const config = load({ config: file }, { HOSTED_KEY: 'sk-hosted-upstream' });
    assert.deepEqual(config.providers.get('local'), {
      name: 'local',
      type: 'openai-chat',
      baseUrl: 'http://127.0.0.1:11434/v1',
      apiKey: null,
      headers: {},
      timeoutMs: 600_000,
      maxRetries: 2,
      contextWindow: DEFAULT_CONTEXT_WINDOW,
      enforcesJsonSchema: true,
      streaming: true,
      tokenizeEndpoint: null,
    });
    assert.deepEqual(config.providers.get('hosted'), {
      name: 'hosted',
      type: 'openai-chat',
      baseUrl: 'https://api.example.com/v1',
      apiKey: 'sk-hosted-upstream',
      headers: { 'X-Team': 'riposte', 'HTTP-Referer': 'https://example.com' },
      timeoutMs: 30_000,
      maxRetries: 0,
      contextWindow: 32_768,
      enforcesJsonSchema: false,
      streaming: false,
      tokenizeEndpoint: 'vllm',
    });
    assert.equal(config.providers.get('inline')?.apiKey, 'sk-inline-upstream');
  });

  test('api_key_env naming an unset variable is a ConfigError naming providers.x.api_key_env', () => {
    const file = configFile(
      'providers:\n  x:\n    base_url: http://127.0.0.1:1/v1\n    api_key_env: RIPOSTE_TEST_UNSET_KEY\n',
    );
    assertConfigError(() => load({ config: file }, {}), 'providers.x.api_key_env', 'RIPOSTE_TEST_UNSET_KEY');
    assert.equal(load({ config: file }, { RIPOSTE_TEST_UNSET_KEY: 'sk-set' }).providers.get('x')?.apiKey, 'sk-set');
  });

  test('bad provider settings name the exact key', () => {
    const provider = (lines: string): string => configFile(`providers:\n  x:\n${lines}`);
    const cases: Array<[string, string]> = [
      ['    base_url: http://127.0.0.1:1/v1\n    base_uri: http://x\n', 'providers.x.base_uri'],
      ['    base_url: ftp://example.com/v1\n', 'providers.x.base_url'],
      ['    base_url: not a url\n', 'providers.x.base_url'],
      ['    base_url: http://\n', 'providers.x.base_url'],
      ['    type: openai-chat\n', 'providers.x.base_url'],
      ['    base_url: http://127.0.0.1:1/v1\n    type: anthropic\n', 'providers.x.type'],
      ['    base_url: http://127.0.0.1:1/v1\n    timeout_ms: 0\n', 'providers.x.timeout_ms'],
      ['    base_url: http://127.0.0.1:1/v1\n    timeout_ms: soon\n', 'providers.x.timeout_ms'],
      ['    base_url: http://127.0.0.1:1/v1\n    context_window: 1.5\n', 'providers.x.context_window'],
      ['    base_url: http://127.0.0.1:1/v1\n    max_retries: 11\n', 'providers.x.max_retries'],
      ['    base_url: http://127.0.0.1:1/v1\n    headers: [a]\n', 'providers.x.headers'],
      ['    base_url: http://127.0.0.1:1/v1\n    headers:\n      X-Count: 5\n', 'providers.x.headers.X-Count'],
      ['    base_url: http://127.0.0.1:1/v1\n    streaming: maybe\n', 'providers.x.streaming'],
      ['    base_url: http://127.0.0.1:1/v1\n    tokenize_endpoint: ollama\n', 'providers.x.tokenize_endpoint'],
      ['    base_url: http://127.0.0.1:1/v1\n    api_key: 12345\n', 'providers.x.api_key'],
    ];
    for (const [lines, key] of cases) assertConfigError(() => load({ config: provider(lines) }), key);
    assertConfigError(() => load({ config: configFile('providers:\n  x: http://127.0.0.1:1/v1\n') }), 'providers.x');
    assertConfigError(() => load({ config: configFile('providers:\n  - x\n') }), 'providers');
  });
});

describe('loadConfig: models and the --upstream-url shortcut', () => {
  const providersYaml = [
    'providers:',
    '  vllm:',
    '    base_url: http://127.0.0.1:8000/v1',
    '    context_window: 32768',
    '  ollama:',
    '    base_url: http://127.0.0.1:11434/v1',
  ].join('\n');

  test('the model table keeps order, wildcards, upstream names and context windows', () => {
    const file = configFile(
      [
        providersYaml,
        'models:',
        '  - name: meta-llama/Llama-3.1-8B',
        '    provider: vllm',
        '    context_window: 8192',
        '  - name: gpt-*',
        '    provider: vllm',
        '    upstream_model: Qwen/Qwen3-32B',
        '  - name: "*"',
        '    provider: ollama',
      ].join('\n'),
    );
    assert.deepEqual(load({ config: file }).models, [
      { name: 'meta-llama/Llama-3.1-8B', provider: 'vllm', upstreamModel: null, contextWindow: 8192 },
      { name: 'gpt-*', provider: 'vllm', upstreamModel: 'Qwen/Qwen3-32B', contextWindow: null },
      { name: '*', provider: 'ollama', upstreamModel: null, contextWindow: null },
    ]);
  });

  test('--upstream-url adds a provider named upstream and a * model after the file models', () => {
    const file = configFile(`${providersYaml}\nmodels:\n  - name: qwen3:8b\n    provider: ollama\n`);
    const config = load({ config: file, upstreamUrl: 'http://127.0.0.1:9999/v1/', upstreamApiKey: 'sk-up' });
    const upstream = config.providers.get('upstream');
    assert.equal(upstream?.baseUrl, 'http://127.0.0.1:9999/v1');
    assert.equal(upstream?.apiKey, 'sk-up');
    assert.equal(upstream?.type, 'openai-chat');
    assert.deepEqual(
      config.models.map((model) => [model.name, model.provider]),
      [
        ['qwen3:8b', 'ollama'],
        ['*', 'upstream'],
      ],
    );
  });

  test('RIPOSTE_UPSTREAM_URL and RIPOSTE_UPSTREAM_API_KEY are the same shortcut; flags win', () => {
    const environment = { RIPOSTE_UPSTREAM_URL: 'http://127.0.0.1:1111/v1', RIPOSTE_UPSTREAM_API_KEY: 'sk-env' };
    const fromEnvironment = load({}, environment);
    assert.equal(fromEnvironment.providers.get('upstream')?.baseUrl, 'http://127.0.0.1:1111/v1');
    assert.equal(fromEnvironment.providers.get('upstream')?.apiKey, 'sk-env');
    const fromFlags = load({ upstreamUrl: 'http://127.0.0.1:2222/v1', upstreamApiKey: 'sk-flag' }, environment);
    assert.equal(fromFlags.providers.get('upstream')?.baseUrl, 'http://127.0.0.1:2222/v1');
    assert.equal(fromFlags.providers.get('upstream')?.apiKey, 'sk-flag');
    assert.equal(load({ upstreamUrl: 'http://127.0.0.1:3333/v1' }).providers.get('upstream')?.apiKey, null);
  });

  test('a bad --upstream-url names the flag', () => {
    assertConfigError(() => load({ upstreamUrl: 'localhost:11434' }), '--upstream-url.base_url');
  });

  test('bad model entries name the exact key', () => {
    const models = (lines: string): string => configFile(`${providersYaml}\nmodels:\n${lines}`);
    assertConfigError(
      () => load({ config: models('  - name: a\n    provider: vllm\n  - name: b\n    provider: openai\n') }),
      'models[1].provider',
      /no provider named 'openai' \(configured: vllm, ollama\)/,
    );
    assertConfigError(() => load({ config: models('  - provider: vllm\n') }), 'models[0].name');
    assertConfigError(() => load({ config: models('  - name: a\n') }), 'models[0].provider');
    assertConfigError(
      () => load({ config: models('  - name: a\n    provider: vllm\n    context_window: 0\n') }),
      'models[0].context_window',
    );
    assertConfigError(
      () => load({ config: models('  - name: a\n    provider: vllm\n    upstream_model: ""\n') }),
      'models[0].upstream_model',
    );
    assertConfigError(
      () => load({ config: models('  - name: a\n    provider: vllm\n    upstream-model: b\n') }),
      'models[0].upstream-model',
      'unknown key',
    );
    assertConfigError(() => load({ config: models('  - just-a-name\n') }), 'models[0]');
    assertConfigError(() => load({ config: configFile(`${providersYaml}\nmodels:\n  name: a\n`) }), 'models');
    assertConfigError(
      () => load({ config: configFile('models:\n  - name: a\n    provider: p\n') }),
      'models[0].provider',
      '(configured: none)',
    );
  });
});

describe('loadConfig: YAML and JSON files', () => {
  const expectation = (config: RiposteConfig): void => {
    assert.equal(config.port, 9100);
    assert.equal(config.providers.get('p')?.baseUrl, 'http://127.0.0.1:5/v1');
    assert.deepEqual(config.models, [{ name: '*', provider: 'p', upstreamModel: 'm', contextWindow: null }]);
  };

  test('YAML (.yaml and .yml)', () => {
    const text =
      'port: 9100\nproviders:\n  p:\n    base_url: http://127.0.0.1:5/v1\nmodels:\n  - {name: "*", provider: p, upstream_model: m}\n';
    expectation(load({ config: configFile(text, 'yaml') }));
    expectation(load({ config: configFile(text, 'yml') }));
  });

  test('JSON', () => {
    const json = {
      port: 9100,
      providers: { p: { base_url: 'http://127.0.0.1:5/v1' } },
      models: [{ name: '*', provider: 'p', upstream_model: 'm' }],
    };
    expectation(load({ config: configFile(JSON.stringify(json), 'json') }));
  });

  test('a missing file names --config and the path', () => {
    const path = join(directory, 'no-such-config.yaml');
    assertConfigError(() => load({ config: path }), '--config', path);
  });

  test('a file that is not YAML names --config', () => {
    assertConfigError(() => load({ config: configFile('port: [8080\nhost: {\n') }), '--config', 'not valid YAML');
  });

  test('a .json file that is not JSON names --config', () => {
    assertConfigError(() => load({ config: configFile('port: 8080\n', 'json') }), '--config', 'not valid JSON');
  });

  test('a file whose top level is not an object names --config', () => {
    assertConfigError(() => load({ config: configFile('- port\n- host\n') }), '--config', 'object');
    assertConfigError(() => load({ config: configFile('just words\n') }), '--config', 'object');
  });
});

describe('loadConfig: every bad value names its key', () => {
  test('unknown top-level key', () => {
    assertConfigError(() => load({ config: configFile('prot: 8080\n') }), 'prot', 'unknown key');
  });

  test('port out of range, or not a whole number, from each source', () => {
    assertConfigError(() => load({ port: '65536' }), 'port');
    assertConfigError(() => load({ port: '-1' }), 'port');
    assertConfigError(() => load({ port: 'http' }), 'port');
    assertConfigError(() => load({ port: '80.5' }), 'port');
    assertConfigError(() => load({}, { RIPOSTE_PORT: '70000' }), 'port');
    assertConfigError(() => load({ config: configFile('port: 99999\n') }), 'port');
    assertConfigError(() => load({ config: configFile('port: [1]\n') }), 'port');
  });

  test('a port is read only from plain decimal digits', () => {
    assertConfigError(() => load({ port: '0x50' }), 'port');
    assertConfigError(() => load({ port: '1e3' }), 'port');
    assertConfigError(() => load({ port: '' }), 'port');
    assert.equal(load({ port: '0' }).port, 0);
    assert.equal(load({ port: '65535' }).port, 65535);
  });

  test('bad encryption_key from the file or RIPOSTE_ENCRYPTION_KEY', () => {
    assertConfigError(() => load({ config: configFile('encryption_key: too-short\n') }), 'encryption_key', '32 bytes');
    assertConfigError(() => load({}, { RIPOSTE_ENCRYPTION_KEY: 'ab'.repeat(31) }), 'encryption_key');
    assertConfigError(() => load({ config: configFile('encryption_key: 12\n') }), 'encryption_key');
  });

  test('good encryption keys, as hex or base64', () => {
    const key = Buffer.alloc(32, 0xa5);
    assert.deepEqual(load({}, { RIPOSTE_ENCRYPTION_KEY: key.toString('hex') }).encryptionKey, key);
    assert.deepEqual(load({ config: configFile(`encryption_key: ${key.toString('base64')}\n`) }).encryptionKey, key);
  });

  test('bad log_level', () => {
    assertConfigError(
      () => load({ logLevel: 'verbose' }),
      'log_level',
      'fatal, error, warn, info, debug, trace, silent',
    );
    assertConfigError(() => load({ config: configFile('log_level: 3\n') }), 'log_level');
  });

  test('bad database_url, without echoing it', () => {
    assertConfigError(() => load({ databaseUrl: 'mysql://root:hunter2@db/riposte' }), 'database_url');
    assert.throws(
      () => load({ databaseUrl: 'mysql://root:hunter2@db/riposte' }),
      (error: Error) => !error.message.includes('hunter2'),
    );
    assertConfigError(() => load({ config: configFile('database_url: sqlite:///tmp/x\n') }), 'database_url');
  });

  test('other bad values', () => {
    assertConfigError(() => load({ host: '' }), 'host');
    assertConfigError(() => load({ config: configFile('data_dir: 5\n') }), 'data_dir');
    assertConfigError(() => load({ config: configFile('body_limit_bytes: 10\n') }), 'body_limit_bytes');
    assertConfigError(
      () => load({ config: configFile('structured_output_retries: 11\n') }),
      'structured_output_retries',
    );
    assertConfigError(() => load({ config: configFile('background_stale_seconds: 1\n') }), 'background_stale_seconds');
    for (const schema of ['Jobs', 'riposte-jobs', 'jobs; DROP TABLE x', '1jobs', ''])
      assertConfigError(() => load({ config: configFile(`jobs_schema: ${JSON.stringify(schema)}\n`) }), 'jobs_schema');
  });

  test('background settings from the file', () => {
    const config = load({
      config: configFile('background_stale_seconds: 30\njobs_schema: riposte_jobs_blue\nshutdown_grace_ms: 0\n'),
    });
    assert.equal(config.backgroundStaleSeconds, 30);
    assert.equal(config.jobsSchema, 'riposte_jobs_blue');
    assert.equal(config.shutdownGraceMs, 0);
  });
});

describe('loadConfig: embeddings', () => {
  test('absent means none: file_search searches by keyword only', () => {
    assert.equal(load().embeddings, null);
  });

  test('base_url, model, dimensions, and the key inline or from the environment', () => {
    const inline = configFile(
      'embeddings:\n  base_url: http://127.0.0.1:11434/v1/\n  model: nomic-embed-text\n  api_key: sk-embed\n  dimensions: 256\n',
    );
    assert.deepEqual(load({ config: inline }).embeddings, {
      baseUrl: 'http://127.0.0.1:11434/v1',
      apiKey: 'sk-embed',
      model: 'nomic-embed-text',
      dimensions: 256,
    });
    const fromEnvironment = configFile(
      'embeddings:\n  base_url: https://api.openai.com/v1\n  model: text-embedding-3-small\n  api_key_env: EMBED_KEY\n',
    );
    assert.deepEqual(load({ config: fromEnvironment }, { EMBED_KEY: 'sk-env' }).embeddings, {
      baseUrl: 'https://api.openai.com/v1',
      apiKey: 'sk-env',
      model: 'text-embedding-3-small',
      dimensions: null,
    });
    assertConfigError(() => load({ config: fromEnvironment }, {}), 'embeddings.api_key_env', 'EMBED_KEY');
  });

  test('bad embeddings settings name the exact key', () => {
    const cases: Array<[string, string]> = [
      ['embeddings: text-embedding-3-small\n', 'embeddings'],
      ['embeddings:\n  model: m\n', 'embeddings.base_url'],
      ['embeddings:\n  base_url: ftp://host/v1\n  model: m\n', 'embeddings.base_url'],
      ['embeddings:\n  base_url: http://host/v1\n', 'embeddings.model'],
      ['embeddings:\n  base_url: http://host/v1\n  model: m\n  dimensions: 0\n', 'embeddings.dimensions'],
      ['embeddings:\n  base_url: http://host/v1\n  model: m\n  dimension: 3\n', 'embeddings.dimension'],
      [
        'embeddings:\n  base_url: http://host/v1\n  model: m\n  api_key: a\n  api_key_env: B\n',
        'embeddings.api_key_env',
      ],
    ];
    for (const [text, key] of cases) assertConfigError(() => load({ config: configFile(text) }, { B: 'b' }), key);
  });
});

describe('loadConfig: blobs', () => {
  test('absent means the local folder in data_dir', () => {
    assert.deepEqual(load().blobs, { type: 'local' });
    assert.deepEqual(load({ config: configFile('blobs:\n  type: local\n') }).blobs, { type: 'local' });
  });

  test('an S3-compatible bucket, with the credentials inline or from the environment', () => {
    const inline = configFile(
      'blobs:\n  type: s3\n  endpoint: http://minio:9000/\n  bucket: riposte-files\n  region: us-east-1\n' +
        '  access_key_id: AKIA\n  secret_access_key: s3cret\n  prefix: riposte/\n  force_path_style: true\n',
    );
    assert.deepEqual(load({ config: inline }).blobs, {
      type: 's3',
      endpoint: 'http://minio:9000',
      bucket: 'riposte-files',
      region: 'us-east-1',
      accessKeyId: 'AKIA',
      secretAccessKey: 's3cret',
      prefix: 'riposte/',
      forcePathStyle: true,
    });
    const fromEnvironment = configFile(
      'blobs:\n  type: s3\n  endpoint: https://s3.us-east-1.amazonaws.com\n  bucket: riposte\n  region: us-east-1\n' +
        '  access_key_id_env: S3_KEY_ID\n  secret_access_key_env: S3_SECRET\n',
    );
    assert.deepEqual(load({ config: fromEnvironment }, { S3_KEY_ID: 'id', S3_SECRET: 'secret' }).blobs, {
      type: 's3',
      endpoint: 'https://s3.us-east-1.amazonaws.com',
      bucket: 'riposte',
      region: 'us-east-1',
      accessKeyId: 'id',
      secretAccessKey: 'secret',
      prefix: '',
      forcePathStyle: false,
    });
    assertConfigError(
      () => load({ config: fromEnvironment }, { S3_KEY_ID: 'id' }),
      'blobs.secret_access_key_env',
      'S3_SECRET',
    );
  });

  test('bad blobs settings name the exact key', () => {
    const s3 = (lines: string): string =>
      `blobs:\n  type: s3\n  endpoint: http://minio:9000\n  region: us-east-1\n${lines}`;
    const credentials = '  access_key_id: a\n  secret_access_key: b\n';
    const cases: Array<[string, string]> = [
      ['blobs: s3\n', 'blobs'],
      ['blobs:\n  type: gcs\n', 'blobs.type'],
      ['blobs:\n  bucket: b\n', 'blobs.type'],
      ['blobs:\n  type: local\n  bucket: riposte\n', 'blobs.bucket'],
      [s3(credentials), 'blobs.bucket'],
      [s3(`  bucket: s3://riposte\n${credentials}`), 'blobs.bucket'],
      ['blobs:\n  type: s3\n  bucket: riposte\n  region: us-east-1\n' + credentials, 'blobs.endpoint'],
      ['blobs:\n  type: s3\n  endpoint: minio:9000\n  bucket: riposte\n  region: r\n' + credentials, 'blobs.endpoint'],
      ['blobs:\n  type: s3\n  endpoint: http://minio:9000\n  bucket: riposte\n' + credentials, 'blobs.region'],
      [s3('  bucket: riposte\n  secret_access_key: b\n'), 'blobs.access_key_id'],
      [s3('  bucket: riposte\n  access_key_id: a\n'), 'blobs.secret_access_key'],
      [
        s3('  bucket: riposte\n  access_key_id: a\n  access_key_id_env: B\n  secret_access_key: b\n'),
        'blobs.access_key_id_env',
      ],
      [s3(`  bucket: riposte\n${credentials}  prefix: /abs/\n`), 'blobs.prefix'],
      [s3(`  bucket: riposte\n${credentials}  prefix: a/../b/\n`), 'blobs.prefix'],
      [s3(`  bucket: riposte\n${credentials}  force_path_style: yes please\n`), 'blobs.force_path_style'],
      [s3(`  bucket: riposte\n${credentials}  force_path_styles: true\n`), 'blobs.force_path_styles'],
    ];
    for (const [text, key] of cases) assertConfigError(() => load({ config: configFile(text) }, { B: 'b' }), key);
  });
});

describe('ConfigModelRouter', () => {
  const provider = (name: string, contextWindow: number): ProviderConfig => ({
    name,
    type: 'openai-chat',
    baseUrl: `http://127.0.0.1:1/${name}`,
    apiKey: null,
    headers: {},
    timeoutMs: 1000,
    maxRetries: 0,
    contextWindow,
    enforcesJsonSchema: true,
    streaming: true,
    tokenizeEndpoint: null,
  });
  const providers = new Map([
    ['vllm', provider('vllm', 32_768)],
    ['ollama', provider('ollama', 8192)],
    ['unused', provider('unused', 1)],
  ]);
  const model = (name: string, providerName: string, extra: Partial<ModelConfig> = {}): ModelConfig => ({
    name,
    provider: providerName,
    upstreamModel: null,
    contextWindow: null,
    ...extra,
  });

  function router(models: ModelConfig[]): { router: ConfigModelRouter; adapters: Map<string, ModelAdapter> } {
    const adapters = new Map<string, ModelAdapter>();
    const built = new ConfigModelRouter(models, providers, (config) => {
      assert.ok(!adapters.has(config.name), `one adapter per provider, but ${config.name} got two`);
      const adapter = new ScriptedModel([]);
      adapters.set(config.name, adapter);
      return adapter;
    });
    return { router: built, adapters };
  }

  test('the first matching entry wins, exact or wildcard', () => {
    const { router: table, adapters } = router([
      model('gpt-4o', 'ollama'),
      model('gpt-*', 'vllm'),
      model('gpt-4o-mini', 'ollama'),
      model('*', 'ollama'),
    ]);
    assert.equal(table.resolve('gpt-4o')?.providerName, 'ollama');
    assert.equal(table.resolve('gpt-4o-mini')?.providerName, 'vllm', 'gpt-* comes before the exact entry');
    assert.equal(table.resolve('gpt-')?.providerName, 'vllm', '* matches an empty run');
    assert.equal(table.resolve('claude')?.providerName, 'ollama');
    assert.equal(table.resolve('gpt-4o')?.adapter, adapters.get('ollama'));
    assert.equal(table.resolve('gpt-5')?.adapter, adapters.get('vllm'));
    assert.deepEqual([...adapters.keys()].sort(), ['ollama', 'vllm'], 'providers without models get no adapter');
  });

  test('wildcards match whole names only, and names with slashes, colons and dots', () => {
    const { router: table } = router([
      model('gpt-*', 'vllm'),
      model('meta-llama/*', 'vllm'),
      model('qwen3:*', 'ollama'),
      model('*-instruct', 'ollama'),
      model('mistral.7b', 'ollama'),
      model('a*b*c', 'ollama'),
    ]);
    assert.equal(table.resolve('gpt-4.1')?.providerName, 'vllm');
    assert.equal(table.resolve('my-gpt-4')?.providerName, undefined, 'anchored at the start');
    assert.equal(table.resolve('meta-llama/Llama-3.1-8B')?.providerName, 'vllm');
    assert.equal(table.resolve('meta-llama')?.providerName, undefined);
    assert.equal(table.resolve('qwen3:8b')?.providerName, 'ollama');
    assert.equal(table.resolve('qwen3')?.providerName, undefined);
    assert.equal(table.resolve('phi-3-instruct')?.providerName, 'ollama');
    assert.equal(table.resolve('phi-3-instruct-v2')?.providerName, undefined, 'anchored at the end');
    assert.equal(table.resolve('mistral.7b')?.providerName, 'ollama');
    assert.equal(table.resolve('mistralx7b'), null, 'a dot in a name is a dot, not any character');
    assert.equal(table.resolve('aXbYc')?.providerName, 'ollama');
    assert.equal(table.resolve('abc')?.providerName, 'ollama');
    assert.equal(table.resolve('acb'), null);
  });

  test('exact names with slashes and colons, and a lone * that matches anything', () => {
    const { router: table } = router([
      model('meta-llama/Llama-3.1-8B', 'vllm'),
      model('qwen3:8b', 'ollama'),
      model('*', 'ollama'),
    ]);
    assert.equal(table.resolve('meta-llama/Llama-3.1-8B')?.providerName, 'vllm');
    assert.equal(table.resolve('qwen3:8b')?.providerName, 'ollama');
    for (const name of ['x', 'org/model:tag', 'a b', '']) assert.equal(table.resolve(name)?.providerName, 'ollama');
  });

  test('with no wildcard, an unrouted name resolves to null', () => {
    const { router: table } = router([model('qwen3:8b', 'ollama')]);
    assert.equal(table.resolve('qwen3:14b'), null);
    assert.equal(table.resolve('QWEN3:8B'), null, 'names are case-sensitive');
  });

  test('upstream_model overrides the name sent upstream; otherwise the requested name goes as is', () => {
    const { router: table } = router([
      model('fast', 'vllm', { upstreamModel: 'Qwen/Qwen3-4B' }),
      model('org/*', 'vllm'),
    ]);
    assert.deepEqual(
      { ...table.resolve('fast'), adapter: undefined },
      {
        publicName: 'fast',
        providerName: 'vllm',
        upstreamModel: 'Qwen/Qwen3-4B',
        contextWindow: 32_768,
        adapter: undefined,
      },
    );
    const passed = table.resolve('org/model-7b');
    assert.equal(passed?.publicName, 'org/model-7b');
    assert.equal(passed?.upstreamModel, 'org/model-7b');
  });

  test("a model's context_window overrides its provider's", () => {
    const { router: table } = router([model('small', 'vllm', { contextWindow: 4096 }), model('*', 'ollama')]);
    assert.equal(table.resolve('small')?.contextWindow, 4096);
    assert.equal(table.resolve('other')?.contextWindow, 8192);
  });

  test('list() gives every entry in order with its provider', () => {
    const { router: table } = router([model('qwen3:8b', 'ollama'), model('gpt-*', 'vllm'), model('*', 'ollama')]);
    const listed = table.list();
    assert.deepEqual(
      listed.map((entry) => [entry.id, entry.ownedBy]),
      [
        ['qwen3:8b', 'ollama'],
        ['gpt-*', 'vllm'],
        ['*', 'ollama'],
      ],
    );
    for (const entry of listed) {
      assert.ok(Number.isInteger(entry.createdAt));
      assert.ok(Math.abs(entry.createdAt - Date.now() / 1000) < 60);
    }
  });

  test('a model naming an unknown provider is refused', () => {
    assert.throws(() => router([model('a', 'nowhere')]), /unknown provider 'nowhere'/);
  });

  test('a router built from loadConfig routes as configured', () => {
    const file = configFile(
      [
        'providers:',
        '  local:',
        '    base_url: http://127.0.0.1:11434/v1',
        '    context_window: 16384',
        'models:',
        '  - name: qwen3:8b',
        '    provider: local',
        '    context_window: 40960',
      ].join('\n'),
    );
    const config = load({ config: file, upstreamUrl: 'http://127.0.0.1:9/v1' });
    const table = new ConfigModelRouter(config.models, config.providers, () => new ScriptedModel([]));
    assert.deepEqual(
      [table.resolve('qwen3:8b')?.providerName, table.resolve('qwen3:8b')?.contextWindow],
      ['local', 40_960],
    );
    assert.deepEqual(
      [table.resolve('anything')?.providerName, table.resolve('anything')?.contextWindow],
      ['upstream', DEFAULT_CONTEXT_WINDOW],
    );
  });
});
