/** The benchmark's results: their JSON shape and the Markdown table written from them. */
import { existsSync, readFileSync } from 'node:fs';
import type { ProfileSummary } from './profile-summary.ts';

export interface ResultRow {
  scenario: string;
  target: string;
  /** `not-available`: the feature is not in this build; no figures, never made-up ones. */
  status: 'measured' | 'not-available' | 'failed';
  p50Ms: number | null;
  p99Ms: number | null;
  /** This target's latency minus the mock upstream's (or the stated baseline's), same load. */
  p50AddedMs: number | null;
  p99AddedMs: number | null;
  requestsPerSecond: number | null;
  cpuSecondsPer1000: number | null;
  peakRssMb: number | null;
  note: string;
  details: Record<string, unknown>;
}

export interface TargetCheck {
  name: string;
  goal: string;
  measured: string;
  met: boolean;
}

export interface BenchReport {
  startedAt: string;
  durationSeconds: number;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGb: number;
    freeMemoryGb: number;
    node: string;
    platform: string;
    loadAverageAtStart: string;
    loadAverageAtEnd?: string;
  };
  settings: Record<string, unknown>;
  portkey: string;
  rows: ResultRow[];
  checks: TargetCheck[];
  profile: { scenario: string; file: string; summary: ProfileSummary } | null;
  failures: string[];
}

const cell = (value: number | null): string => (value === null || Number.isNaN(value) ? '—' : String(value));

/** Start and end of the generated part of docs/benchmarks.md; the rest is written by hand. */
export const DOCS_START = '<!-- bench:results:start (written by npm run bench) -->';
export const DOCS_END = '<!-- bench:results:end -->';

export function renderMarkdown(report: BenchReport): string {
  const { machine, settings } = report;
  const lines: string[] = [];
  lines.push(`### Run of ${report.startedAt} (${report.durationSeconds} s${settings.quick ? ', --quick' : ''})`, '');
  lines.push(
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGb} GB RAM (${machine.freeMemoryGb} GB free at start), ` +
      `Node ${machine.node}, ${machine.platform}. Load average ${machine.loadAverageAtStart} at start, ${machine.loadAverageAtEnd ?? '?'} at end ` +
      `(the load generator, the mock and the gateway under test share these cores).`,
    '',
  );
  lines.push(
    `Settings: mock upstream latency ${String(settings.upstreamLatencyMs)} ms, token rate ${settings.upstreamTokensPerSecond === 0 ? 'unthrottled' : `${String(settings.upstreamTokensPerSecond)}/s`}, ` +
      `${String(settings.upstreamCompletionTokens)} completion tokens per non-streaming answer, ${String(settings.streamTokens)} per stream; ` +
      `latency runs ${String(settings.latencySeconds)} s at ${String(settings.latencyRate)} rps, paced (one request every ${String(1000 / Number(settings.latencyRate))} ms, open loop, keep-alive connections as needed); ` +
      `throughput runs ${String(settings.throughputSeconds)} s over ${String(settings.throughputConnections)} connections; ` +
      `warm-up ${String(settings.warmupSeconds)} s before each; ${String(settings.storage)}; Riposte --log-level silent. Peer: ${report.portkey}.`,
    '',
  );
  lines.push(
    '| scenario | target | p50 ms | p99 ms | p50 added ms | p99 added ms | req/s | CPU s / 1,000 req | peak RSS MB | notes |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const row of report.rows) {
    const note = row.note.replace(/\|/g, '\\|');
    lines.push(
      `| ${row.scenario} | ${row.target} | ${cell(row.p50Ms)} | ${cell(row.p99Ms)} | ${cell(row.p50AddedMs)} | ${cell(row.p99AddedMs)} | ${cell(row.requestsPerSecond)} | ${cell(row.cpuSecondsPer1000)} | ${cell(row.peakRssMb)} | ${note} |`,
    );
  }
  lines.push('', '#### Targets', '', '| target | goal | measured | met |', '| --- | --- | --- | --- |');
  for (const check of report.checks) {
    lines.push(`| ${check.name} | ${check.goal} | ${check.measured} | ${check.met ? 'yes' : '**no**'} |`);
  }
  if (report.profile) {
    const { profile } = report;
    lines.push(
      '',
      `#### Profile: ${profile.scenario} (${profile.summary.sampledSeconds} s sampled from process start, busy ${profile.summary.busyPercent}% of it; shares below are of busy time; \`${profile.file}\`)`,
      '',
      '| self time % | where |',
      '| --- | --- |',
      ...profile.summary.areas.map((area) => `| ${area.selfPercent} | ${area.location} |`),
      '',
      '| self time % | function |',
      '| --- | --- |',
      ...profile.summary.functions.map(
        (entry) => `| ${entry.selfPercent} | \`${entry.location.replace(/\|/g, '\\|')}\` |`,
      ),
    );
  }
  if (report.failures.length > 0)
    lines.push('', '#### Failures', '', ...report.failures.map((failure) => `- ${failure}`));
  return `${lines.join('\n')}\n`;
}

/** docs/benchmarks.md with its generated section replaced and everything else kept. */
export function updateDocs(path: string, generated: string): string {
  const block = `${DOCS_START}\n\n${generated}\n${DOCS_END}`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const start = current.indexOf(DOCS_START);
  const end = current.indexOf(DOCS_END);
  if (start === -1 || end === -1) return `# Benchmarks\n\n${block}\n`;
  return `${current.slice(0, start)}${block}${current.slice(end + DOCS_END.length)}`;
}
