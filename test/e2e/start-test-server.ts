import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { loadConfig, type ConfigFlags } from '../../src/config/load-config.ts';
import { startServer, type RunningServer } from '../../src/start-server.ts';
import { ScriptedChatUpstream, type ChatUpstreamStep } from '../../src/testing/scripted-chat-upstream.ts';

export interface TestServer {
  server: RunningServer;
  upstream: ScriptedChatUpstream;
  baseUrl: string;
  /** The official client on the server, failing fast (no retries). */
  client: OpenAI;
  dataDirectory: string;
  stop(): Promise<void>;
}

/**
 * Riposte on a free loopback port, in front of a scripted Chat Completions upstream on another,
 * with a fresh data directory — real HTTP on both sides.
 */
export async function startTestServer(
  steps: ChatUpstreamStep[] = [],
  flags: ConfigFlags = {},
  environment: Record<string, string> = {},
): Promise<TestServer> {
  const upstream = new ScriptedChatUpstream(steps);
  const upstreamUrl = await upstream.start();
  const dataDirectory = mkdtempSync(join(tmpdir(), 'riposte-e2e-'));
  const config = loadConfig(
    { port: '0', dataDir: dataDirectory, upstreamUrl, logLevel: 'silent', ...flags },
    environment,
  );
  const server = await startServer(config, { log: () => {} });
  return {
    server,
    upstream,
    baseUrl: server.baseUrl,
    client: new OpenAI({ baseURL: server.baseUrl, apiKey: 'not-checked-on-loopback', maxRetries: 0 }),
    dataDirectory,
    stop: async () => {
      await server.close();
      await upstream.stop();
      rmSync(dataDirectory, { recursive: true, force: true });
    },
  };
}
