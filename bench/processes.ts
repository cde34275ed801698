/**
 * Child processes of the benchmark — the mock upstream, Riposte, Portkey and the load generator —
 * and what /proc says about them (CPU seconds, resident memory).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadJob } from './load-worker.ts';

export const BENCH_DIRECTORY = dirname(fileURLToPath(import.meta.url));
export const PROJECT_DIRECTORY = dirname(BENCH_DIRECTORY);

/** Kernel clock ticks per second for /proc/<pid>/stat; 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface Service {
  name: string;
  child: ChildProcess;
  pid: number;
  port: number;
  /** Asks the process to stop (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/** A free loopback port, for services that cannot be told to pick one. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/**
 * Spawns a long-running process and waits until a line of its stdout tells its port.
 * `readPort` returns the port from a line, or null while it is not ready.
 */
export async function startService(
  name: string,
  command: string,
  args: string[],
  readPort: (line: string) => number | null,
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Service> {
  const child = spawn(command, args, {
    cwd: options.cwd ?? PROJECT_DIRECTORY,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new Error(`${name} did not start within ${options.timeoutMs ?? 30_000} ms:\n${output.slice(-2000)}`)),
      options.timeoutMs ?? 30_000,
    );
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      for (const line of output.split('\n')) {
        const found = readPort(line);
        if (found !== null) {
          clearTimeout(timer);
          resolve(found);
          return;
        }
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${code} before it was ready:\n${output.slice(-2000)}`));
    });
  });
  // Keep draining its output so a chatty process never blocks on a full pipe.
  child.stdout?.resume();
  child.stderr?.resume();
  if (child.pid === undefined) throw new Error(`${name} has no pid`);
  return {
    name,
    child,
    pid: child.pid,
    port,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** User plus system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may itself contain spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

function statusKilobytes(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) : Number.NaN;
}

/** Resident memory now, in bytes. */
export function rssBytes(pid: number): number {
  return statusKilobytes(pid, 'VmRSS') * 1024;
}

/** Peak resident memory since start or since the last `resetPeakRss`, in bytes. */
export function peakRssBytes(pid: number): number {
  return statusKilobytes(pid, 'VmHWM') * 1024;
}

/** Starts a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM). */
export function resetPeakRss(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not permitted here: the peak then covers the process's whole life, which is still a peak.
  }
}

export interface ProcessUsage {
  cpuSeconds: number;
  peakRssBytes: number;
}

/** Measures what `work` costs each of `services` in CPU seconds and peak RSS. */
export async function measure<Result>(
  services: Service[],
  work: () => Promise<Result>,
): Promise<{ result: Result; usage: Map<string, ProcessUsage> }> {
  const before = new Map<string, number>();
  for (const service of services) {
    resetPeakRss(service.pid);
    before.set(service.name, cpuSeconds(service.pid));
  }
  const result = await work();
  const usage = new Map<string, ProcessUsage>();
  for (const service of services) {
    usage.set(service.name, {
      cpuSeconds: Math.round((cpuSeconds(service.pid) - (before.get(service.name) ?? 0)) * 100) / 100,
      peakRssBytes: peakRssBytes(service.pid),
    });
  }
  return { result, usage };
}

/** Runs one load job in its own process and returns its result. */
export async function runLoad<Result>(job: LoadJob): Promise<Result> {
  const child = spawn(process.execPath, [join(BENCH_DIRECTORY, 'load-worker.ts'), JSON.stringify(job)], {
    cwd: PROJECT_DIRECTORY,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let errors = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
  await new Promise<void>((resolve) => child.once('close', () => resolve()));
  const line = output.trim().split('\n').at(-1) ?? '';
  let parsed: { result?: Result; error?: string };
  try {
    parsed = JSON.parse(line) as { result?: Result; error?: string };
  } catch {
    throw new Error(`load worker (${job.kind}) printed no result: ${output.slice(-500)} ${errors.slice(-1500)}`);
  }
  if (parsed.error !== undefined || parsed.result === undefined) {
    throw new Error(`load worker (${job.kind}) failed: ${parsed.error ?? 'no result'}`);
  }
  return parsed.result;
}

/**
 * Starts a load job that holds connections open (open-streams): resolves with its "ready" line
 * and a function that tells it to close everything and returns its final result.
 */
export async function startHeldLoad<Ready, Result>(
  job: LoadJob,
): Promise<{ ready: Ready; finish: () => Promise<Result> }> {
  const child = spawn(process.execPath, [join(BENCH_DIRECTORY, 'load-worker.ts'), JSON.stringify(job)], {
    cwd: PROJECT_DIRECTORY,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const first = output.split('\n')[0];
      if (output.includes('\n') && first !== undefined) {
        try {
          const parsed = JSON.parse(first) as Ready & { error?: string };
          if (parsed.error) reject(new Error(parsed.error));
          else resolve(parsed);
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      }
    });
    child.once('close', () => reject(new Error(`held load exited early: ${output} ${errors.slice(-1500)}`)));
  });
  return {
    ready,
    finish: async () => {
      child.stdin.end('close\n');
      await closed;
      const line = output.trim().split('\n').at(-1) ?? '';
      const parsed = JSON.parse(line) as { result?: Result; error?: string };
      if (parsed.result === undefined) throw new Error(`held load failed: ${parsed.error ?? line}`);
      return parsed.result;
    },
  };
}
