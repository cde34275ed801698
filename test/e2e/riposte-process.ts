import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type OpenAI from 'openai';

/*
 * `riposte serve` as a child process, for tests that must kill it (SIGKILL, SIGTERM) and start
 * it again on the same data. Every child is bounded by timeouts; `killAllRiposteProcesses` (call
 * it in `after`) ends whatever a failed test left running.
 */

const repositoryRoot = resolve(import.meta.dirname, '../..');
const nodeBinary = join(repositoryRoot, 'node_modules/.bin/node');
const mainScript = join(repositoryRoot, 'bin/riposte.js');

const STARTUP_TIMEOUT_MS = 20_000;
const EXIT_TIMEOUT_MS = 15_000;

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RiposteProcess {
  child: ChildProcess;
  /** The base URL from the banner, e.g. http://127.0.0.1:PORT/v1. */
  baseUrl: string;
  stdout(): string;
  stderr(): string;
  /** Sends `signal` and resolves with how the process ended; rejects on timeout. */
  stop(signal: NodeJS.Signals, timeoutMs?: number): Promise<ProcessExit>;
}

const running = new Set<ChildProcess>();
const temporaryDirectories: string[] = [];

/** SIGKILLs every child still running and removes the temporary directories. */
export function killAllRiposteProcesses(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
  for (const directory of temporaryDirectories.splice(0)) rmSync(directory, { recursive: true, force: true });
}

export function temporaryDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'riposte-background-'));
  temporaryDirectories.push(directory);
  return directory;
}

/** Writes a JSON config file into a fresh temporary directory and returns its path. */
export function writeConfigFile(settings: Record<string, unknown>): string {
  const path = join(temporaryDirectory(), 'riposte.json');
  writeFileSync(path, JSON.stringify(settings));
  return path;
}

/** The test runner's environment without any RIPOSTE_* setting or node:test plumbing. */
function cleanEnvironment(extra: Record<string, string>): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || name.startsWith('RIPOSTE_') || name.startsWith('NODE_TEST')) continue;
    environment[name] = value;
  }
  return { ...environment, ...extra };
}

export interface WatchedProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** How the process ended, or null while it runs. */
  exit: () => ProcessExit | null;
  /** Waits until `check` gives a value, re-checking whenever the process writes or ends. */
  waitUntil: <T>(check: () => T | undefined, timeoutMs: number, awaited: string) => Promise<T>;
}

/**
 * Runs `node ...args` with a clean environment and its stdout and stderr captured;
 * `killAllRiposteProcesses` ends it if it is still running.
 */
export function spawnNode(
  args: string[],
  options: { cwd?: string; environment?: Record<string, string> } = {},
): WatchedProcess {
  const child = spawn(nodeBinary, args, {
    cwd: options.cwd ?? repositoryRoot,
    env: cleanEnvironment(options.environment ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  let exit: ProcessExit | null = null;
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const listener of listeners) listener();
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    notify();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    notify();
  });
  child.on('close', (code, signal) => {
    exit = { code, signal };
    running.delete(child);
    notify();
  });

  const waitUntil = <T>(check: () => T | undefined, timeoutMs: number, awaited: string): Promise<T> =>
    new Promise<T>((resolvePromise, rejectPromise) => {
      const listener = (): void => {
        let value: T | undefined;
        try {
          value = check();
        } catch (error) {
          finish();
          rejectPromise(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        if (value !== undefined) {
          finish();
          resolvePromise(value);
        }
      };
      const timer = setTimeout(() => {
        finish();
        rejectPromise(
          new Error(`Timed out after ${timeoutMs} ms waiting for ${awaited}.\nstdout:\n${stdout}\nstderr:\n${stderr}`),
        );
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        listeners.delete(listener);
      };
      listeners.add(listener);
      listener();
    });

  return { child, stdout: () => stdout, stderr: () => stderr, exit: () => exit, waitUntil };
}

/** Starts `riposte serve --port 0 ...args` and waits for the whole banner. */
export async function startRiposte(
  args: string[],
  options: { environment?: Record<string, string> } = {},
): Promise<RiposteProcess> {
  const { child, stdout, stderr, exit, waitUntil } = spawnNode(
    [mainScript, 'serve', '--port', '0', '--log-level', 'warn', ...args],
    options,
  );

  let baseUrl: string;
  try {
    baseUrl = await waitUntil(
      () => {
        // The banner ends with the model lines; --upstream-url routes every name.
        const match = /Riposte listening on (http:\/\/\S+\/v1)\n[\s\S]* {2}model: .*\n/.exec(stdout());
        if (match) return match[1]!;
        const ended = exit();
        if (ended) throw new Error(`riposte exited (${ended.code ?? ended.signal}) at start.\nstderr:\n${stderr()}`);
        return undefined;
      },
      STARTUP_TIMEOUT_MS,
      'the banner',
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    child,
    baseUrl,
    stdout,
    stderr,
    stop: async (signal, timeoutMs = EXIT_TIMEOUT_MS) => {
      if (exit() === null) child.kill(signal);
      try {
        return await waitUntil(() => exit() ?? undefined, timeoutMs, `the process to exit on ${signal}`);
      } finally {
        if (exit() === null) child.kill('SIGKILL');
      }
    },
  };
}

/** The tag (`tag-…`) a test put in a request's input, found in an upstream request body. */
export function inputTag(body: Record<string, unknown>): string | null {
  return /tag-[a-z0-9-]+/.exec(JSON.stringify(body.messages ?? body))?.[0] ?? null;
}

/** How many upstream requests carried each tag. */
export function countTags(requests: Array<Record<string, unknown>>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const body of requests) {
    const tag = inputTag(body);
    if (tag !== null) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  }
  return counts;
}

const UNFINISHED = new Set(['queued', 'in_progress']);

/** Polls until every response has left queued/in_progress; fails at the deadline. */
export async function pollUntilAllFinished(
  client: OpenAI,
  ids: string[],
  deadlineMs: number,
): Promise<Map<string, OpenAI.Responses.Response>> {
  const finished = new Map<string, OpenAI.Responses.Response>();
  const deadline = Date.now() + deadlineMs;
  while (finished.size < ids.length) {
    const pending = ids.filter((id) => !finished.has(id));
    const responses = await Promise.all(pending.map((id) => client.responses.retrieve(id)));
    for (const response of responses) if (!UNFINISHED.has(String(response.status))) finished.set(response.id, response);
    if (finished.size === ids.length) break;
    if (Date.now() > deadline) {
      const statuses = responses.filter((response) => UNFINISHED.has(String(response.status)));
      throw new Error(
        `${statuses.length} response(s) never finished: ${statuses.map((r) => `${r.id}=${r.status}`).join(', ')}`,
      );
    }
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 250));
  }
  return finished;
}

/** Replays a background response's whole event log (GET ?stream=true) and returns it. */
export async function replayEvents(
  client: OpenAI,
  id: string,
): Promise<Array<{ type: string; sequence_number: number }>> {
  // Bounded: a response left running would otherwise keep the stream open for ever.
  const stream = await client.responses.retrieve(id, { stream: true }, { signal: AbortSignal.timeout(15_000) });
  const events: Array<{ type: string; sequence_number: number }> = [];
  for await (const event of stream) events.push(event);
  return events;
}
