import type { Pool } from 'pg';
import { nameText, parseNameText } from '../item-key.ts';
import { parsePromptVersion } from '../prompt-version.ts';
import type { PromptStore, StoredPrompt, StoredPromptVersion } from '../stores.ts';
import { canBeStored } from './postgres-text.ts';

/*
 * Named statements; bodies are JSON text (see migration 2), and so is a name (a client chooses
 * it, and a text value cannot hold NUL), with SQL NULL for no name.
 *
 * create and addVersion are each one statement (data-modifying CTEs), so each is atomic by
 * itself. addVersion raises latest_version with an UPDATE: its row lock makes a racing addVersion
 * on the same prompt wait until this one commits and then read the raised number (READ
 * COMMITTED re-reads a row that changed while it waited), so every version is distinct and
 * they are numbered in commit order.
 */
const promptColumns = 'id, owner, name, created_at, default_version, latest_version';

const statements = {
  createPrompt: {
    name: 'riposte_prompts_create',
    text: `WITH inserted AS (
             INSERT INTO prompts (id, owner, name, created_at, default_version, latest_version)
             VALUES ($1, $2, $3, $4, 1, 1)
             RETURNING ${promptColumns}
           ), version AS (
             INSERT INTO prompt_versions (prompt_id, version, created_at, body)
             SELECT id, 1, created_at, $5 FROM inserted
           )
           SELECT ${promptColumns} FROM inserted`,
  },
  addVersion: {
    name: 'riposte_prompts_add_version',
    text: `WITH raised AS (
             UPDATE prompts SET latest_version = latest_version + 1
             WHERE owner = $1 AND id = $2
             RETURNING id, latest_version
           )
           INSERT INTO prompt_versions (prompt_id, version, created_at, body)
           SELECT id, latest_version, $3, $4 FROM raised
           RETURNING version`,
  },
  selectPrompt: {
    name: 'riposte_prompts_get',
    text: `SELECT ${promptColumns} FROM prompts WHERE owner = $1 AND id = $2`,
  },
  // A null version asks for the default.
  selectVersion: {
    name: 'riposte_prompt_versions_get',
    text: `SELECT version.prompt_id, version.version, version.created_at, version.body
           FROM prompts AS prompt JOIN prompt_versions AS version ON version.prompt_id = prompt.id
           WHERE prompt.owner = $1 AND prompt.id = $2 AND version.version = coalesce($3::integer, prompt.default_version)`,
  },
  selectVersions: {
    name: 'riposte_prompt_versions_list',
    text: `SELECT version.prompt_id, version.version, version.created_at, version.body
           FROM prompts AS prompt JOIN prompt_versions AS version ON version.prompt_id = prompt.id
           WHERE prompt.owner = $1 AND prompt.id = $2
           ORDER BY version.version`,
  },
  selectPrompts: {
    name: 'riposte_prompts_list',
    text: `SELECT ${promptColumns} FROM prompts WHERE owner = $1 ORDER BY created_at, sequence`,
  },
  setDefaultVersion: {
    name: 'riposte_prompts_set_default_version',
    text: `UPDATE prompts SET default_version = $3
           WHERE owner = $1 AND id = $2
             AND EXISTS (SELECT 1 FROM prompt_versions WHERE prompt_id = prompts.id AND version = $3)
           RETURNING ${promptColumns}`,
  },
  deletePrompt: {
    name: 'riposte_prompts_delete',
    text: 'DELETE FROM prompts WHERE owner = $1 AND id = $2',
  },
} as const;

interface PromptRow {
  id: string;
  owner: string;
  name: string | null;
  /** bigint arrives as text from pg. */
  created_at: string;
  default_version: number;
  latest_version: number;
}

interface VersionRow {
  prompt_id: string;
  version: number;
  created_at: string;
  body: string;
}

/**
 * PromptStore on a PostgreSQL pool. Versions are immutable; a deleted prompt takes its versions
 * with it (ON DELETE CASCADE).
 */
export class PostgresPromptStore implements PromptStore {
  private readonly pool: Pool;

  constructor(pool: Pool) {
    this.pool = pool;
  }

  /** Fails if the id exists. */
  async create(
    owner: string,
    prompt: { id: string; name: string | null; createdAt: number; body: Record<string, unknown> },
  ): Promise<StoredPrompt> {
    const result = await this.pool.query<PromptRow>({
      ...statements.createPrompt,
      values: [prompt.id, owner, nameText(prompt.name), prompt.createdAt, JSON.stringify(prompt.body)],
    });
    const row = result.rows[0];
    if (row === undefined) throw new Error('INSERT … RETURNING gave no row.');
    return promptFromRow(row);
  }

  async addVersion(
    owner: string,
    id: string,
    body: Record<string, unknown>,
    createdAt: number,
  ): Promise<StoredPromptVersion | null> {
    if (!canBeStored(id)) return null;
    const result = await this.pool.query<{ version: number }>({
      ...statements.addVersion,
      values: [owner, id, createdAt, JSON.stringify(body)],
    });
    const row = result.rows[0];
    return row === undefined ? null : { promptId: id, version: String(row.version), createdAt, body };
  }

  async get(owner: string, id: string): Promise<StoredPrompt | null> {
    if (!canBeStored(id)) return null;
    const result = await this.pool.query<PromptRow>({ ...statements.selectPrompt, values: [owner, id] });
    const row = result.rows[0];
    return row === undefined ? null : promptFromRow(row);
  }

  async getVersion(owner: string, id: string, version: string | null): Promise<StoredPromptVersion | null> {
    const number = version === null ? null : parsePromptVersion(version);
    if ((version !== null && number === null) || !canBeStored(id)) return null;
    const result = await this.pool.query<VersionRow>({ ...statements.selectVersion, values: [owner, id, number] });
    const row = result.rows[0];
    return row === undefined ? null : versionFromRow(row);
  }

  async listVersions(owner: string, id: string): Promise<StoredPromptVersion[]> {
    if (!canBeStored(id)) return [];
    const result = await this.pool.query<VersionRow>({ ...statements.selectVersions, values: [owner, id] });
    return result.rows.map((row) => versionFromRow(row));
  }

  async list(owner: string): Promise<StoredPrompt[]> {
    const result = await this.pool.query<PromptRow>({ ...statements.selectPrompts, values: [owner] });
    return result.rows.map((row) => promptFromRow(row));
  }

  async setDefaultVersion(owner: string, id: string, version: string): Promise<StoredPrompt | null> {
    const number = parsePromptVersion(version);
    if (number === null || !canBeStored(id)) return null;
    const result = await this.pool.query<PromptRow>({
      ...statements.setDefaultVersion,
      values: [owner, id, number],
    });
    const row = result.rows[0];
    return row === undefined ? null : promptFromRow(row);
  }

  async delete(owner: string, id: string): Promise<boolean> {
    if (!canBeStored(id)) return false;
    const result = await this.pool.query({ ...statements.deletePrompt, values: [owner, id] });
    return (result.rowCount ?? 0) > 0;
  }
}

function promptFromRow(row: PromptRow): StoredPrompt {
  return {
    id: row.id,
    owner: row.owner,
    name: parseNameText(row.name),
    createdAt: Number(row.created_at),
    defaultVersion: String(row.default_version),
    latestVersion: String(row.latest_version),
  };
}

function versionFromRow(row: VersionRow): StoredPromptVersion {
  return {
    promptId: row.prompt_id,
    version: String(row.version),
    createdAt: Number(row.created_at),
    body: JSON.parse(row.body) as Record<string, unknown>,
  };
}
