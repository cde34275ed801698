import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { CursorNotFoundError } from '../cursor-not-found-error.ts';
import { fileColumns, fileValues, unixNow } from '../file-rows.ts';
import { parseNameText } from '../item-key.ts';
import type { FileListRequest, FilePage, FileStore, StoredFile } from '../stores.ts';
import type { Row } from './sqlite-rows.ts';
import { readNullableText, readNumber, readText } from './sqlite-rows.ts';

/** The INSERT both SqliteFileStore and SqliteUploadStore (on completion) write a file with. */
export const insertFileSql = `INSERT INTO files (${fileColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/**
 * FileStore on one SQLite connection. Expiry is checked in every read (with the clock passed in
 * as a parameter, so both dialects agree on "now"), so an expired file is gone for clients the
 * moment it expires, whenever deleteExpired next runs.
 */
export class SqliteFileStore implements FileStore {
  private readonly statements: {
    insert: StatementSync;
    select: StatementSync;
    selectCursor: StatementSync;
    listAscending: StatementSync;
    listDescending: StatementSync;
    delete: StatementSync;
    deleteExpired: StatementSync;
  };

  constructor(database: DatabaseSync) {
    const live = '(expires_at IS NULL OR expires_at > :now)';
    const listWhere = `owner = :owner AND (:purpose IS NULL OR purpose = :purpose) AND ${live}`;
    this.statements = {
      insert: database.prepare(insertFileSql),
      select: database.prepare(`SELECT ${fileColumns} FROM files WHERE owner = :owner AND id = :id AND ${live}`),
      selectCursor: database.prepare(
        `SELECT created_at, sequence FROM files WHERE owner = :owner AND id = :id AND ${live}`,
      ),
      listAscending: database.prepare(
        `SELECT ${fileColumns} FROM files
         WHERE ${listWhere} AND (:created_at IS NULL OR (created_at, sequence) > (:created_at, :sequence))
         ORDER BY created_at, sequence LIMIT :limit`,
      ),
      listDescending: database.prepare(
        `SELECT ${fileColumns} FROM files
         WHERE ${listWhere} AND (:created_at IS NULL OR (created_at, sequence) < (:created_at, :sequence))
         ORDER BY created_at DESC, sequence DESC LIMIT :limit`,
      ),
      delete: database.prepare(
        `DELETE FROM files WHERE owner = :owner AND id = :id AND ${live} RETURNING ${fileColumns}`,
      ),
      deleteExpired: database.prepare(
        `DELETE FROM files WHERE sequence IN (
           SELECT sequence FROM files WHERE expires_at IS NOT NULL AND expires_at <= :now LIMIT :limit
         ) RETURNING ${fileColumns}`,
      ),
    };
  }

  async create(file: StoredFile): Promise<void> {
    this.statements.insert.run(...fileValues(file));
  }

  async get(owner: string, id: string): Promise<StoredFile | null> {
    const row = this.statements.select.get({ owner, id, now: unixNow() });
    return row === undefined ? null : fileFromRow(row);
  }

  async list(owner: string, request: FileListRequest): Promise<FilePage> {
    const now = unixNow();
    let cursor: { created_at: number; sequence: number } | { created_at: null; sequence: null } = {
      created_at: null,
      sequence: null,
    };
    if (request.after !== null) {
      const row = this.statements.selectCursor.get({ owner, id: request.after, now });
      if (row === undefined) throw new CursorNotFoundError('after', request.after);
      cursor = { created_at: readNumber(row, 'created_at'), sequence: readNumber(row, 'sequence') };
    }
    const statement = request.order === 'asc' ? this.statements.listAscending : this.statements.listDescending;
    const rows = statement.all({ owner, purpose: request.purpose, now, ...cursor, limit: request.limit + 1 });
    return {
      files: rows.slice(0, request.limit).map((row) => fileFromRow(row)),
      hasMore: rows.length > request.limit,
    };
  }

  async delete(owner: string, id: string): Promise<StoredFile | null> {
    const row = this.statements.delete.get({ owner, id, now: unixNow() });
    return row === undefined ? null : fileFromRow(row);
  }

  async deleteExpired(limit: number): Promise<StoredFile[]> {
    return this.statements.deleteExpired.all({ now: unixNow(), limit }).map((row) => fileFromRow(row));
  }
}

export function fileFromRow(row: Row): StoredFile {
  const expiresAt = row.expires_at;
  return {
    id: readText(row, 'id'),
    owner: readText(row, 'owner'),
    createdAt: readNumber(row, 'created_at'),
    bytes: readNumber(row, 'bytes'),
    filename: parseNameText(readText(row, 'filename')) ?? '',
    purpose: readText(row, 'purpose'),
    mimeType: readNullableText(row, 'mime_type'),
    expiresAt: expiresAt === null || expiresAt === undefined ? null : readNumber(row, 'expires_at'),
    blobKey: readText(row, 'blob_key'),
  };
}
