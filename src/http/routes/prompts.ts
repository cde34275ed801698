import type { FastifyInstance } from 'fastify';
import { conflict, invalidRequest, invalidType, missingParameter, notFound } from '../../errors/api-error.ts';
import { createId } from '../../engine/ids.ts';
import { parsePromptConfiguration } from '../../engine/parse-create-response.ts';
import { pageFromRows, planItemPage } from '../../storage/item-page-plan.ts';
import type { PageRequest, PromptStore, StoredPrompt, StoredPromptVersion } from '../../storage/stores.ts';
import { readPageQuery } from '../pagination.ts';

/*
 * Riposte's prompts API — OpenAI keeps reusable prompts in its dashboard only, so the shape here
 * is Riposte's own (docs/prompts.md), in OpenAI's style: `pmpt_` ids, list pages, `*.deleted`.
 * A prompt is a name plus immutable versions of a configuration; `prompt: {id, version}` in
 * POST /v1/responses applies one (src/engine/apply-prompt.ts).
 */

type JsonObject = Record<string, unknown>;
type IdParams = { Params: { id: string } };
type VersionParams = { Params: { id: string; version: string } };

const NAME_MAX_LENGTH = 256;

export interface PromptObject extends JsonObject {
  id: string;
  object: 'prompt';
  name: string | null;
  default_version: string;
  latest_version: string;
  created_at: number;
}

export interface PromptVersionObject extends JsonObject {
  object: 'prompt.version';
  prompt_id: string;
  version: string;
  created_at: number;
}

/** The prompts API: validation here and in parsePromptConfiguration, state in the PromptStore. */
export function registerPromptRoutes(app: FastifyInstance, prompts: PromptStore, now: () => number = Date.now): void {
  const seconds = (): number => Math.floor(now() / 1000);

  app.post('/v1/prompts', async (request, reply) => {
    const body = readObject(request.body);
    const name = readName(body);
    const configuration = readConfiguration(body, ['name']);
    if (name !== null && (await prompts.list(request.owner)).some((prompt) => prompt.name === name)) {
      throw conflict(`A prompt named '${name}' exists already; add a version to it instead.`, 'name');
    }
    const created = await prompts.create(request.owner, {
      id: createId('pmpt'),
      name,
      createdAt: seconds(),
      body: configuration,
    });
    return reply.send(toPromptObject(created, configuration));
  });

  app.get('/v1/prompts', async (request, reply) => {
    const page = readPageQuery(request.query as JsonObject, { order: 'desc', limit: 20 });
    const all = await prompts.list(request.owner);
    const { items, hasMore } = pageOf(all, (prompt) => prompt.id, page);
    const data = await Promise.all(
      items.map(async (prompt) => toPromptObject(prompt, await defaultConfiguration(prompts, request.owner, prompt))),
    );
    return reply.send(listOf(data, (prompt) => prompt.id, hasMore));
  });

  app.get<IdParams>('/v1/prompts/:id', async (request, reply) => {
    const prompt = await findPrompt(prompts, request.owner, request.params.id);
    return reply.send(toPromptObject(prompt, await defaultConfiguration(prompts, request.owner, prompt)));
  });

  app.delete<IdParams>('/v1/prompts/:id', async (request, reply) => {
    if (!(await prompts.delete(request.owner, request.params.id))) throw notFound('Prompt', request.params.id);
    return reply.send({ id: request.params.id, object: 'prompt.deleted', deleted: true });
  });

  app.post<IdParams>('/v1/prompts/:id/versions', async (request, reply) => {
    const body = readObject(request.body);
    const makeDefault = readMakeDefault(body);
    const configuration = readConfiguration(body, ['make_default']);
    const before = await findPrompt(prompts, request.owner, request.params.id);
    const added = await prompts.addVersion(request.owner, before.id, configuration, seconds());
    if (!added) throw notFound('Prompt', request.params.id);
    // Whatever the store does with the default on its own, the outcome is the one asked for.
    const wanted = makeDefault ? added.version : before.defaultVersion;
    const after = await prompts.setDefaultVersion(request.owner, before.id, wanted);
    if (!after) throw notFound('Prompt', request.params.id);
    return reply.send(toVersionObject(added));
  });

  app.get<IdParams>('/v1/prompts/:id/versions', async (request, reply) => {
    const page = readPageQuery(request.query as JsonObject, { order: 'desc', limit: 20 });
    const prompt = await findPrompt(prompts, request.owner, request.params.id);
    const versions = await prompts.listVersions(request.owner, prompt.id);
    const { items, hasMore } = pageOf(versions, (version) => version.version, page);
    return reply.send(listOf(items.map(toVersionObject), (version) => version.version, hasMore));
  });

  app.get<VersionParams>('/v1/prompts/:id/versions/:version', async (request, reply) => {
    const prompt = await findPrompt(prompts, request.owner, request.params.id);
    const version = await prompts.getVersion(request.owner, prompt.id, request.params.version);
    if (!version) throw notFound(`Version '${request.params.version}' of prompt`, prompt.id);
    return reply.send(toVersionObject(version));
  });

  app.post<IdParams>('/v1/prompts/:id/default_version', async (request, reply) => {
    const body = readObject(request.body);
    if (body.version === undefined || body.version === null) throw missingParameter('version');
    if (typeof body.version !== 'string') throw invalidType('version', 'a string', body.version);
    const prompt = await findPrompt(prompts, request.owner, request.params.id);
    const updated = await prompts.setDefaultVersion(request.owner, prompt.id, body.version);
    if (!updated) {
      throw invalidRequest('version', `Prompt '${prompt.id}' has no version '${body.version}'.`, 'invalid_value');
    }
    return reply.send(toPromptObject(updated, await defaultConfiguration(prompts, request.owner, updated)));
  });
}

function readObject(body: unknown): JsonObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidType('body', 'an object', body ?? null);
  }
  return body as JsonObject;
}

function readName(body: JsonObject): string | null {
  const name = body.name;
  if (name === undefined || name === null) return null;
  if (typeof name !== 'string') throw invalidType('name', 'a string', name);
  if (name.trim() === '' || name.length > NAME_MAX_LENGTH) {
    throw invalidRequest(
      'name',
      `Invalid 'name': expected a non-blank string of at most ${NAME_MAX_LENGTH} characters.`,
      'invalid_value',
    );
  }
  return name;
}

function readMakeDefault(body: JsonObject): boolean {
  const value = body.make_default;
  if (value === undefined || value === null) return true;
  if (typeof value !== 'boolean') throw invalidType('make_default', 'a boolean', value);
  return value;
}

/**
 * The configuration part of a body, validated with the request rules and kept as written: the
 * store holds what the author wrote (so `GET` and `riposte prompts pull` give it back as it was),
 * and applyPrompt normalises it at use.
 */
function readConfiguration(body: JsonObject, otherFields: string[]): JsonObject {
  const configuration: JsonObject = {};
  for (const [key, value] of Object.entries(body)) {
    if (!otherFields.includes(key)) configuration[key] = value;
  }
  parsePromptConfiguration(configuration);
  return configuration;
}

async function findPrompt(prompts: PromptStore, owner: string, id: string): Promise<StoredPrompt> {
  const prompt = await prompts.get(owner, id);
  if (!prompt) throw notFound('Prompt', id);
  return prompt;
}

async function defaultConfiguration(prompts: PromptStore, owner: string, prompt: StoredPrompt): Promise<JsonObject> {
  return (await prompts.getVersion(owner, prompt.id, prompt.defaultVersion))?.body ?? {};
}

/** Configuration first, so none of its fields can shadow the object's own. */
export function toPromptObject(prompt: StoredPrompt, configuration: JsonObject): PromptObject {
  return {
    ...configuration,
    id: prompt.id,
    object: 'prompt',
    name: prompt.name,
    default_version: prompt.defaultVersion,
    latest_version: prompt.latestVersion,
    created_at: prompt.createdAt,
  };
}

export function toVersionObject(version: StoredPromptVersion): PromptVersionObject {
  return {
    ...version.body,
    object: 'prompt.version',
    prompt_id: version.promptId,
    version: version.version,
    created_at: version.createdAt,
  };
}

/**
 * One page of a list the store returns whole (prompts and versions are few), paged exactly as
 * the stores page items: the list position stands in for the stored one.
 */
function pageOf<T>(entries: T[], keyOf: (entry: T) => string, page: PageRequest): { items: T[]; hasMore: boolean } {
  const positionOf = (cursor: string | null, param: 'after' | 'before'): number | null => {
    if (cursor === null) return null;
    const position = entries.findIndex((entry) => keyOf(entry) === cursor);
    if (position < 0) throw invalidRequest(param, `No entry with id '${cursor}' in this list.`, 'invalid_value');
    return position;
  };
  const plan = planItemPage(page, positionOf(page.after, 'after'), positionOf(page.before, 'before'));
  const inRange = entries
    .map((entry, position) => ({ entry, position }))
    .filter(({ position }) => position > plan.lowerExclusive && position < plan.upperExclusive);
  if (!plan.ascending) inRange.reverse();
  const rows = inRange.slice(0, plan.fetchCount).map(({ entry }) => entry);
  return pageFromRows(plan, rows);
}

function listOf<T>(
  data: T[],
  keyOf: (entry: T) => string,
  hasMore: boolean,
): { object: 'list'; data: T[]; first_id: string | null; last_id: string | null; has_more: boolean } {
  const first = data[0];
  const last = data.at(-1);
  return {
    object: 'list',
    data,
    first_id: first === undefined ? null : keyOf(first),
    last_id: last === undefined ? null : keyOf(last),
    has_more: hasMore,
  };
}
