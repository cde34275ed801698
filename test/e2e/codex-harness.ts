// Drives OpenAI's Codex CLI (`codex exec`) non-interactively against a Responses endpoint
// (Riposte or a fake), fully isolated from the user's ~/.codex and from the network.
//
// Isolation: a throw-away dir holds CODEX_HOME (with the config.toml below), HOME and TMPDIR.
// Phone-home is off (analytics/OTLP metrics -> ab.chatgpt.com, curated-plugin sync ->
// github.com / api.github.com / chatgpt.com), and as a backstop every proxy variable points at a
// dead local port, with NO_PROXY exempting only the loopback and the base URL's host.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';

export interface RunCodexOptions {
  /** Responses API base URL including `/v1`, e.g. `http://127.0.0.1:8080/v1`. Codex POSTs `${baseUrl}/responses`. */
  baseUrl: string;
  prompt: string;
  /** Codex's workspace root (`-C`); commands the model runs start here. */
  workingDirectory: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  timeoutMs?: number;
  /** Appended after the harness's own flags, e.g. `['--json']` or `['-c', 'web_search="disabled"']`. */
  extraArgs?: string[];
  /** Model name put in the request body. */
  model?: string;
  /** Extra environment for the codex process, e.g. `{ RUST_LOG: 'debug' }`. */
  env?: Record<string, string>;
}

export interface RunCodexResult {
  /** Process exit code; 128+signal if killed by a signal. */
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Contents of `--output-last-message` (the final agent message), '' if none was written. */
  lastMessage: string;
  timedOut: boolean;
}

const TARGETS: Record<string, string> = {
  'linux-x64': 'x86_64-unknown-linux-musl',
  'linux-arm64': 'aarch64-unknown-linux-musl',
  'darwin-x64': 'x86_64-apple-darwin',
  'darwin-arm64': 'aarch64-apple-darwin',
};

/** The native codex binary from node_modules (platform package), else the npm bin shim. */
export function resolveCodexBinary(): string {
  const require = createRequire(import.meta.url);
  const key = `${process.platform}-${process.arch}`;
  const triple = TARGETS[key];
  if (triple !== undefined) {
    try {
      const pkgJson = require.resolve(`@openai/codex-${key}/package.json`);
      const bin = path.join(path.dirname(pkgJson), 'vendor', triple, 'bin', 'codex');
      if (existsSync(bin)) return bin;
    } catch {
      // fall through to the shim
    }
  }
  const shim = path.join(path.dirname(require.resolve('@openai/codex/package.json')), 'bin', 'codex.js');
  if (existsSync(shim)) return shim;
  throw new Error(`codex binary not found for ${key}; is @openai/codex installed?`);
}

const toml = (s: string): string => JSON.stringify(s);

export function codexConfigToml(baseUrl: string, model: string): string {
  return `model = ${toml(model)}
model_provider = "riposte"
approval_policy = "never"
# workspace-write (not danger-full-access, which forces live web search) runs commands here with
# Codex's bundled bubblewrap; "cached" web search promises no live access, so Codex sends
# web_search with external_web_access: false, as it does for most users.
sandbox_mode = "workspace-write"
web_search = "cached"
check_for_update_on_startup = false

[analytics]
enabled = false

[features]
plugins = false

[model_providers.riposte]
name = "Riposte"
base_url = ${toml(baseUrl)}
env_key = "RIPOSTE_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
`;
}

export async function runCodex(options: RunCodexOptions): Promise<RunCodexResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const root = await mkdtemp(path.join(tmpdir(), 'riposte-codex-'));
  // CODEX_HOME must not sit under TMPDIR, or codex refuses to install its helper aliases (apply_patch).
  const codexHome = path.join(root, 'codex-home');
  const home = path.join(root, 'home');
  const tmp = path.join(root, 'tmp');
  const lastMessageFile = path.join(root, 'last-message.txt');
  try {
    await Promise.all([codexHome, home, tmp].map((d) => mkdir(d, { recursive: true })));
    await writeFile(
      path.join(codexHome, 'config.toml'),
      codexConfigToml(options.baseUrl, options.model ?? 'riposte-test'),
    );

    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && !/^(CODEX_|OPENAI_)|proxy$/i.test(k)) env[k] = v;
    }
    const deadProxy = 'http://127.0.0.1:9';
    const noProxy = ['127.0.0.1', 'localhost', '::1', new URL(options.baseUrl).hostname].join(',');
    Object.assign(env, {
      CODEX_HOME: codexHome,
      HOME: home,
      TMPDIR: tmp,
      RIPOSTE_API_KEY: options.apiKey ?? 'sk-riposte-test',
      HTTPS_PROXY: deadProxy,
      HTTP_PROXY: deadProxy,
      ALL_PROXY: deadProxy,
      https_proxy: deadProxy,
      http_proxy: deadProxy,
      all_proxy: deadProxy,
      NO_PROXY: noProxy,
      no_proxy: noProxy,
      ...options.env,
    });

    const bin = resolveCodexBinary();
    const args = [
      'exec',
      '--skip-git-repo-check',
      '--color',
      'never',
      '-C',
      options.workingDirectory,
      '-o',
      lastMessageFile,
      ...(options.extraArgs ?? []),
      '--',
      options.prompt,
    ];
    const [cmd, argv] = bin.endsWith('.js') ? [process.execPath, [bin, ...args]] : [bin, args];

    const { exitCode, stdout, stderr, timedOut } = await new Promise<Omit<RunCodexResult, 'lastMessage'>>(
      (resolve, reject) => {
        // stdin must be closed (/dev/null): with a prompt and an open stdin pipe, codex waits for EOF.
        const child = spawn(cmd, argv, {
          cwd: options.workingDirectory,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        let out = '';
        let err = '';
        let timedOut = false;
        child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
        const killGroup = (signal: NodeJS.Signals): void => {
          try {
            if (child.pid !== undefined) process.kill(-child.pid, signal); // codex and the commands it spawned
          } catch {
            // already gone
          }
        };
        let forceKill: NodeJS.Timeout | undefined;
        const timer = setTimeout(() => {
          timedOut = true;
          killGroup('SIGTERM');
          forceKill = setTimeout(() => killGroup('SIGKILL'), 3_000);
        }, timeoutMs);
        child.on('error', (e) => {
          clearTimeout(timer);
          clearTimeout(forceKill);
          reject(e);
        });
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          clearTimeout(forceKill);
          killGroup('SIGKILL'); // reap any command still running in the group
          const exitCode = code ?? 128 + (signal === null ? 0 : constants.signals[signal]);
          resolve({ exitCode, stdout: out, stderr: err, timedOut });
        });
      },
    );
    const lastMessage = existsSync(lastMessageFile) ? await readFile(lastMessageFile, 'utf8') : '';
    return { exitCode, stdout, stderr, lastMessage, timedOut };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
