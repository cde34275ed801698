import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { nameText, parseNameText } from '../item-key.ts';
import { parsePromptVersion } from '../prompt-version.ts';
import type { PromptStore, StoredPrompt, StoredPromptVersion } from '../stores.ts';
import type { Row } from './sqlite-rows.ts';
import { readNullableText, readNumber, readText } from './sqlite-rows.ts';
import type { ImmediateTransaction } from './sqlite-transaction.ts';
import { immediateTransaction } from './sqlite-transaction.ts';

const promptColumns = 'id, owner, name, created_at, default_version, latest_version';

/**
 * PromptStore on one SQLite connection (see SqliteResponseStore for why one connection and
 * BEGIN IMMEDIATE). The name is kept as JSON text (nameText), so lone surrogates survive. addVersion raises latest_version and inserts that version in one transaction,
 * so racing calls — in this process or another — each get the next number. Versions are
 * immutable; a deleted prompt takes its versions with it (ON DELETE CASCADE).
 */
export class SqlitePromptStore implements PromptStore {
  private readonly inTransaction: ImmediateTransaction;
  private readonly statements: {
    insertPrompt: StatementSync;
    insertVersion: StatementSync;
    raiseLatestVersion: StatementSync;
    selectPrompt: StatementSync;
    selectVersion: StatementSync;
    selectVersions: StatementSync;
    selectPrompts: StatementSync;
    setDefaultVersion: StatementSync;
    deletePrompt: StatementSync;
  };

  constructor(database: DatabaseSync) {
    this.inTransaction = immediateTransaction(database);
    this.statements = {
      insertPrompt: database.prepare(
        `INSERT INTO prompts (id, owner, name, created_at, default_version, latest_version) VALUES (?, ?, ?, ?, 1, 1)
         RETURNING ${promptColumns}`,
      ),
      insertVersion: database.prepare(
        'INSERT INTO prompt_versions (prompt_id, version, created_at, body) VALUES (?, ?, ?, ?)',
      ),
      raiseLatestVersion: database.prepare(
        'UPDATE prompts SET latest_version = latest_version + 1 WHERE owner = ? AND id = ? RETURNING latest_version',
      ),
      selectPrompt: database.prepare(`SELECT ${promptColumns} FROM prompts WHERE owner = ? AND id = ?`),
      // A null version asks for the default.
      selectVersion: database.prepare(
        `SELECT version.prompt_id, version.version, version.created_at, version.body
         FROM prompts AS prompt JOIN prompt_versions AS version ON version.prompt_id = prompt.id
         WHERE prompt.owner = ? AND prompt.id = ? AND version.version = coalesce(?, prompt.default_version)`,
      ),
      selectVersions: database.prepare(
        `SELECT version.prompt_id, version.version, version.created_at, version.body
         FROM prompts AS prompt JOIN prompt_versions AS version ON version.prompt_id = prompt.id
         WHERE prompt.owner = ? AND prompt.id = ?
         ORDER BY version.version`,
      ),
      selectPrompts: database.prepare(
        `SELECT ${promptColumns} FROM prompts WHERE owner = ? ORDER BY created_at, sequence`,
      ),
      setDefaultVersion: database.prepare(
        `UPDATE prompts SET default_version = ?1
         WHERE owner = ?2 AND id = ?3
           AND EXISTS (SELECT 1 FROM prompt_versions WHERE prompt_id = prompts.id AND version = ?1)
         RETURNING ${promptColumns}`,
      ),
      deletePrompt: database.prepare('DELETE FROM prompts WHERE owner = ? AND id = ?'),
    };
  }

  /** Fails if the id exists. */
  async create(
    owner: string,
    prompt: { id: string; name: string | null; createdAt: number; body: Record<string, unknown> },
  ): Promise<StoredPrompt> {
    const statements = this.statements;
    return this.inTransaction(() => {
      const row = statements.insertPrompt.get(prompt.id, owner, nameText(prompt.name), prompt.createdAt);
      if (row === undefined) throw new Error('INSERT … RETURNING gave no row.');
      statements.insertVersion.run(prompt.id, 1, prompt.createdAt, JSON.stringify(prompt.body));
      return promptFromRow(row);
    });
  }

  async addVersion(
    owner: string,
    id: string,
    body: Record<string, unknown>,
    createdAt: number,
  ): Promise<StoredPromptVersion | null> {
    const statements = this.statements;
    return this.inTransaction(() => {
      const row = statements.raiseLatestVersion.get(owner, id);
      if (row === undefined) return null;
      const version = readNumber(row, 'latest_version');
      statements.insertVersion.run(id, version, createdAt, JSON.stringify(body));
      return { promptId: id, version: String(version), createdAt, body };
    });
  }

  async get(owner: string, id: string): Promise<StoredPrompt | null> {
    const row = this.statements.selectPrompt.get(owner, id);
    return row === undefined ? null : promptFromRow(row);
  }

  async getVersion(owner: string, id: string, version: string | null): Promise<StoredPromptVersion | null> {
    const number = version === null ? null : parsePromptVersion(version);
    if (version !== null && number === null) return null;
    const row = this.statements.selectVersion.get(owner, id, number);
    return row === undefined ? null : versionFromRow(row);
  }

  async listVersions(owner: string, id: string): Promise<StoredPromptVersion[]> {
    return this.statements.selectVersions.all(owner, id).map((row) => versionFromRow(row));
  }

  async list(owner: string): Promise<StoredPrompt[]> {
    return this.statements.selectPrompts.all(owner).map((row) => promptFromRow(row));
  }

  async setDefaultVersion(owner: string, id: string, version: string): Promise<StoredPrompt | null> {
    const number = parsePromptVersion(version);
    if (number === null) return null;
    const row = this.statements.setDefaultVersion.get(number, owner, id);
    return row === undefined ? null : promptFromRow(row);
  }

  async delete(owner: string, id: string): Promise<boolean> {
    return Number(this.statements.deletePrompt.run(owner, id).changes) > 0;
  }
}

function promptFromRow(row: Row): StoredPrompt {
  return {
    id: readText(row, 'id'),
    owner: readText(row, 'owner'),
    name: parseNameText(readNullableText(row, 'name')),
    createdAt: readNumber(row, 'created_at'),
    defaultVersion: String(readNumber(row, 'default_version')),
    latestVersion: String(readNumber(row, 'latest_version')),
  };
}

function versionFromRow(row: Row): StoredPromptVersion {
  return {
    promptId: readText(row, 'prompt_id'),
    version: String(readNumber(row, 'version')),
    createdAt: readNumber(row, 'created_at'),
    body: JSON.parse(readText(row, 'body')) as Record<string, unknown>,
  };
}
