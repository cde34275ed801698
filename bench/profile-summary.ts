/** Reads a V8 `.cpuprofile` (from `node --cpu-prof`) into its hottest functions by self time. */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface HotFunction {
  /** `name (file:line)`, with the project directory and node_modules prefix shortened. */
  location: string;
  selfPercent: number;
}

export interface ProfileSummary {
  sampledSeconds: number;
  /** Share of the samples in which the process was not idle. */
  busyPercent: number;
  functions: HotFunction[];
  /** Self time grouped by where the code lives: a package, src/<area>, node internals, GC… */
  areas: HotFunction[];
}

function shorten(url: string, projectDirectory: string): string {
  return url
    .replace(/^file:\/\//, '')
    .replace(`${projectDirectory}/`, '')
    .replace(/^.*node_modules\//, '');
}

function areaOf(node: ProfileNode, projectDirectory: string): string {
  const { url, functionName } = node.callFrame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native / V8 builtins)';
  if (url.startsWith('node:')) return 'node: internals';
  const path = shorten(url, projectDirectory);
  if (url.includes('node_modules/')) {
    const parts = path.split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? path);
  }
  const parts = path.split('/');
  return parts[0] === 'src' && parts.length > 2 ? `src/${parts[1]}/` : path;
}

export function summariseProfile(path: string, projectDirectory: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  // Idle samples are time the process waited for work; shares are of the time it was busy.
  const busy = profile.nodes.filter((node) => node.callFrame.functionName !== '(idle)');
  const totalHits = busy.reduce((sum, node) => sum + (node.hitCount ?? 0), 0) || 1;
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  for (const node of busy) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const location = url
      ? `${functionName || '(anonymous)'} (${shorten(url, projectDirectory)}:${lineNumber + 1})`
      : functionName || '(anonymous)';
    byFunction.set(location, (byFunction.get(location) ?? 0) + hits);
    const area = areaOf(node, projectDirectory);
    byArea.set(area, (byArea.get(area) ?? 0) + hits);
  }
  const ranked = (map: Map<string, number>): HotFunction[] =>
    [...map.entries()]
      .sort((left, right) => right[1] - left[1])
      .slice(0, top)
      .map(([location, hits]) => ({ location, selfPercent: Math.round((hits / totalHits) * 1000) / 10 }));
  return {
    sampledSeconds: Math.round((profile.endTime - profile.startTime) / 1e4) / 100,
    busyPercent:
      Math.round((totalHits / (profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0) || 1)) * 1000) / 10,
    functions: ranked(byFunction),
    areas: ranked(byArea),
  };
}
