import { readFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

/*
 * `riposte prompts push|pull|list`: prompts kept as files in a repository, pushed to a running
 * Riposte over its HTTP API (docs/prompts.md) — the CLI holds no storage of its own, so it works
 * the same against a local server or a shared one behind PostgreSQL.
 */

export const PROMPTS_HELP = `Usage:
  riposte prompts push FILE...          create each prompt, or add a version when it changed
  riposte prompts pull ID [--version V] [--output FILE]
                                        write a prompt as a file (YAML, or JSON for *.json)
  riposte prompts list                  the prompts on the server

A prompt file (YAML or JSON) holds a name and the configuration: instructions, input messages,
model, tools, text, reasoning, temperature, top_p, max_output_tokens, tool_choice, … Push finds
the prompt by its id when the file has one, otherwise by its name.

Options:
  --base-url URL    the server's API (RIPOSTE_BASE_URL; default http://127.0.0.1:8080/v1)
  --api-key KEY     bearer key (RIPOSTE_API_KEY)`;

const DEFAULT_BASE_URL = 'http://127.0.0.1:8080/v1';

type JsonObject = Record<string, unknown>;

export interface CommandOutput {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** An error to show as one line, without a stack: the server's answer or a bad file. */
class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

interface PromptObject extends JsonObject {
  id: string;
  name: string | null;
  default_version: string;
  latest_version: string;
}

/** Fields of a prompt object that are not its configuration. */
const PROMPT_OBJECT_FIELDS = new Set(['id', 'object', 'name', 'default_version', 'latest_version', 'created_at']);
const VERSION_OBJECT_FIELDS = new Set(['object', 'prompt_id', 'version', 'created_at']);

/** Runs `riposte prompts …` (argv after `prompts`) and returns the exit code. */
export async function runPromptsCommand(
  argv: string[],
  environment: Record<string, string | undefined> = process.env,
  output: CommandOutput = {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  },
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      'base-url': { type: 'string' },
      'api-key': { type: 'string' },
      output: { type: 'string', short: 'o' },
      version: { type: 'string' },
    },
  });
  const [subcommand, ...rest] = positionals;
  if (values.help || subcommand === undefined) {
    output.stdout(`${PROMPTS_HELP}\n`);
    return subcommand === undefined && !values.help ? 2 : 0;
  }
  const client = new PromptsClient(
    values['base-url'] ?? environment.RIPOSTE_BASE_URL ?? DEFAULT_BASE_URL,
    values['api-key'] ?? environment.RIPOSTE_API_KEY ?? null,
  );
  try {
    switch (subcommand) {
      case 'push':
        if (rest.length === 0) throw new CommandError('push needs at least one FILE.');
        for (const file of rest) output.stdout(`${await push(client, file)}\n`);
        return 0;
      case 'pull': {
        if (rest.length !== 1) throw new CommandError('pull needs exactly one prompt ID.');
        const text = await pull(client, rest[0] as string, values.version ?? null, values.output ?? null);
        if (values.output === undefined) output.stdout(text);
        else output.stdout(`wrote ${values.output}\n`);
        return 0;
      }
      case 'list':
        output.stdout(formatList(await client.listPrompts()));
        return 0;
      default:
        output.stderr(`Unknown prompts command '${subcommand}'.\n\n${PROMPTS_HELP}\n`);
        return 2;
    }
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    output.stderr(`${error.message}\n`);
    return 1;
  }
}

/** One file: created, a version added, or left alone when its configuration is the default's. */
async function push(client: PromptsClient, file: string): Promise<string> {
  const document = await readPromptFile(file);
  const { id, name, ...configuration } = document;
  if (id !== undefined && typeof id !== 'string') throw new CommandError(`${file}: 'id' must be a string.`);
  if (name !== undefined && name !== null && typeof name !== 'string') {
    throw new CommandError(`${file}: 'name' must be a string.`);
  }
  if (id === undefined && (typeof name !== 'string' || name === '')) {
    throw new CommandError(`${file}: a prompt file needs a 'name' (or the 'id' of a prompt on the server).`);
  }
  const existing = typeof id === 'string' ? await client.getPrompt(id) : await client.findByName(name as string, file);
  if (!existing) {
    const created = await client.request<PromptObject>('POST', '/prompts', { name: name ?? null, ...configuration });
    return `${file}: created ${created.id} (${describeName(created)}) version ${created.default_version}`;
  }
  if (isDeepStrictEqual(configurationOf(existing, PROMPT_OBJECT_FIELDS), configuration)) {
    return `${file}: unchanged ${existing.id} (${describeName(existing)}) version ${existing.default_version}`;
  }
  const version = await client.request<JsonObject>(
    'POST',
    `/prompts/${encodeURIComponent(existing.id)}/versions`,
    configuration,
  );
  return `${file}: updated ${existing.id} (${describeName(existing)}) version ${String(version.version)}`;
}

/** The prompt as a file: its id and name, then the configuration of the version asked for. */
async function pull(client: PromptsClient, id: string, version: string | null, file: string | null): Promise<string> {
  const prompt = await client.getPrompt(id);
  if (!prompt) throw new CommandError(`No prompt with id '${id}' on the server.`);
  let configuration = configurationOf(prompt, PROMPT_OBJECT_FIELDS);
  if (version !== null) {
    const stored = await client.request<JsonObject>(
      'GET',
      `/prompts/${encodeURIComponent(id)}/versions/${encodeURIComponent(version)}`,
    );
    configuration = configurationOf(stored, VERSION_OBJECT_FIELDS);
  }
  const document = { id: prompt.id, name: prompt.name, ...configuration };
  const text =
    file !== null && extname(file).toLowerCase() === '.json'
      ? `${JSON.stringify(document, null, 2)}\n`
      : stringifyYaml(document, { lineWidth: 0 });
  if (file !== null) await writeFile(file, text);
  return text;
}

function formatList(prompts: PromptObject[]): string {
  const rows = [
    ['ID', 'NAME', 'DEFAULT', 'LATEST', 'MODEL'],
    ...prompts.map((prompt) => [
      prompt.id,
      prompt.name ?? '-',
      prompt.default_version,
      prompt.latest_version,
      typeof prompt.model === 'string' ? prompt.model : '-',
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map(
      (row) =>
        `${row
          .map((cell, column) => cell.padEnd(widths[column]!))
          .join('  ')
          .trimEnd()}\n`,
    )
    .join('');
}

async function readPromptFile(file: string): Promise<JsonObject> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CommandError(`${file}: ${(error as Error).message}`);
  }
  let document: unknown;
  try {
    // YAML 1.2 reads JSON too; JSON.parse for *.json gives JSON's own error messages.
    document = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new CommandError(
      `${file}: not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
    );
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new CommandError(`${file}: a prompt file holds one object (a mapping).`);
  }
  return document as JsonObject;
}

function configurationOf(object: JsonObject, ownFields: Set<string>): JsonObject {
  return Object.fromEntries(Object.entries(object).filter(([key]) => !ownFields.has(key)));
}

function describeName(prompt: PromptObject): string {
  return prompt.name ?? 'no name';
}

/** The few calls the command makes, with the server's error messages passed on as they are. */
class PromptsClient {
  readonly #baseUrl: string;
  readonly #apiKey: string | null;

  constructor(baseUrl: string, apiKey: string | null) {
    this.#baseUrl = baseUrl.replace(/\/+$/, '');
    this.#apiKey = apiKey;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.#baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
      throw new CommandError(`Could not reach ${this.#baseUrl} (${cause}). Is the server running? (--base-url)`);
    }
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // Not JSON: reported below with the status.
    }
    if (!response.ok) {
      const error = (parsed as { error?: { message?: string; param?: string | null } } | null)?.error;
      const where = error?.param ? ` (${error.param})` : '';
      throw new CommandError(`${method} ${path}: ${response.status} ${error?.message ?? text}${where}`);
    }
    return parsed as T;
  }

  async getPrompt(id: string): Promise<PromptObject | null> {
    try {
      return await this.request<PromptObject>('GET', `/prompts/${encodeURIComponent(id)}`);
    } catch (error) {
      if (error instanceof CommandError && / 404 /.test(error.message)) return null;
      throw error;
    }
  }

  async listPrompts(): Promise<PromptObject[]> {
    const prompts: PromptObject[] = [];
    let after: string | null = null;
    for (;;) {
      const query = new URLSearchParams({ limit: '100', order: 'asc' });
      if (after !== null) query.set('after', after);
      const page = await this.request<{ data: PromptObject[]; has_more: boolean; last_id: string | null }>(
        'GET',
        `/prompts?${query.toString()}`,
      );
      prompts.push(...page.data);
      if (!page.has_more || page.last_id === null) return prompts;
      after = page.last_id;
    }
  }

  async findByName(name: string, file: string): Promise<PromptObject | null> {
    const matches = (await this.listPrompts()).filter((prompt) => prompt.name === name);
    if (matches.length > 1) {
      throw new CommandError(
        `${file}: ${matches.length} prompts are named '${name}' (${matches.map((prompt) => prompt.id).join(', ')}); put the id of one in the file.`,
      );
    }
    return matches[0] ?? null;
  }
}
