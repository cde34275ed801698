import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/load-config.ts';
import { runPromptsCommand } from './prompts-command.ts';
import { startServer } from './start-server.ts';

const HELP = `Riposte — a self-hosted server for OpenAI's Responses API, on any model.

Usage:
  riposte serve [options]     run the server
  riposte prompts push FILE...
                              create prompts from YAML/JSON files, or add a version when one
                              changed (talks to a running server; riposte prompts --help)
  riposte prompts pull ID [--version V] [--output FILE]
                              write a stored prompt as a file
  riposte prompts list        list the stored prompts
  riposte --help              show this help

Options (each also settable by environment variable and config file):
  --host HOST                 address to listen on (RIPOSTE_HOST; default 127.0.0.1)
  --port PORT                 port (RIPOSTE_PORT; default 8080)
  --data-dir DIR              SQLite file, blobs and keys (RIPOSTE_DATA_DIR; default ./data)
  --config FILE               YAML or JSON config file (RIPOSTE_CONFIG)
  --database-url URL          PostgreSQL instead of SQLite (RIPOSTE_DATABASE_URL)
  --upstream-url URL          one OpenAI-compatible Chat Completions upstream serving every
                              model name (RIPOSTE_UPSTREAM_URL), e.g. http://127.0.0.1:11434/v1
  --upstream-api-key KEY      its API key (RIPOSTE_UPSTREAM_API_KEY)
  --api-key KEY               require this bearer key; repeatable (RIPOSTE_API_KEYS, comma-separated)
  --log-level LEVEL           fatal|error|warn|info|debug|trace|silent (RIPOSTE_LOG_LEVEL; default info)

Without API keys Riposte only listens on loopback. See docs/configuration.md.`;

async function main(argv: string[]): Promise<number> {
  // A client of a running server, with options of its own (its --api-key is the key it sends).
  if (argv[0] === 'prompts') return runPromptsCommand(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      host: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      'database-url': { type: 'string' },
      'upstream-url': { type: 'string' },
      'upstream-api-key': { type: 'string' },
      'api-key': { type: 'string', multiple: true },
      'log-level': { type: 'string' },
    },
  });
  const command = positionals[0];
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (command !== 'serve') {
    process.stderr.write(`Unknown command '${command}'.\n\n${HELP}\n`);
    return 2;
  }
  const config = loadConfig({
    host: values.host,
    port: values.port,
    dataDir: values['data-dir'],
    config: values.config,
    databaseUrl: values['database-url'],
    upstreamUrl: values['upstream-url'],
    upstreamApiKey: values['upstream-api-key'],
    apiKeys: values['api-key'],
    logLevel: values['log-level'],
  });
  const server = await startServer(config);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`Received ${signal}; finishing in-flight requests.\n`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (
      error instanceof ConfigError ||
      (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      process.stderr.write(`${error.message}\n`);
    } else {
      process.stderr.write(
        `Riposte failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
    }
    process.exitCode = 1;
  },
);
