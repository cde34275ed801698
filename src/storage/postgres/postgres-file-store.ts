import type { Pool } from 'pg';
import { CursorNotFoundError } from '../cursor-not-found-error.ts';
import { fileColumns, fileValues, unixNow } from '../file-rows.ts';
import { parseNameText } from '../item-key.ts';
import type { FileListRequest, FilePage, FileStore, StoredFile } from '../stores.ts';
import { canBeStored } from './postgres-text.ts';

/** The INSERT both PostgresFileStore and PostgresUploadStore (on completion) write a file with. */
export const insertFile = {
  name: 'riposte_files_insert',
  text: `INSERT INTO files (${fileColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
} as const;

/*
 * Every read passes "now" and skips files whose expires_at is at or before it: an expired file
 * is gone for clients the moment it expires, whenever deleteExpired next runs.
 */
const live = '(expires_at IS NULL OR expires_at > $3)';
const statements = {
  select: {
    name: 'riposte_files_get',
    text: `SELECT ${fileColumns} FROM files WHERE owner = $1 AND id = $2 AND ${live}`,
  },
  selectCursor: {
    name: 'riposte_files_cursor',
    text: `SELECT created_at, sequence FROM files WHERE owner = $1 AND id = $2 AND ${live}`,
  },
  listAscending: {
    name: 'riposte_files_list_asc',
    text: `SELECT ${fileColumns} FROM files
           WHERE owner = $1 AND ($2::text IS NULL OR purpose = $2) AND ${live}
             AND ($4::bigint IS NULL OR (created_at, sequence) > ($4::bigint, $5::bigint))
           ORDER BY created_at, sequence LIMIT $6`,
  },
  listDescending: {
    name: 'riposte_files_list_desc',
    text: `SELECT ${fileColumns} FROM files
           WHERE owner = $1 AND ($2::text IS NULL OR purpose = $2) AND ${live}
             AND ($4::bigint IS NULL OR (created_at, sequence) < ($4::bigint, $5::bigint))
           ORDER BY created_at DESC, sequence DESC LIMIT $6`,
  },
  delete: {
    name: 'riposte_files_delete',
    text: `DELETE FROM files WHERE owner = $1 AND id = $2 AND ${live} RETURNING ${fileColumns}`,
  },
  // SKIP LOCKED: two replicas pruning at once take different rows instead of waiting on each other.
  deleteExpired: {
    name: 'riposte_files_delete_expired',
    text: `DELETE FROM files WHERE id IN (
             SELECT id FROM files WHERE expires_at IS NOT NULL AND expires_at <= $1
             LIMIT $2 FOR UPDATE SKIP LOCKED
           ) RETURNING ${fileColumns}`,
  },
} as const;

export interface FileRow {
  id: string;
  owner: string;
  /** bigint arrives as text from pg. */
  created_at: string;
  bytes: string;
  filename: string;
  purpose: string;
  mime_type: string | null;
  expires_at: string | null;
  blob_key: string;
}

/** FileStore on a PostgreSQL pool; each method is one statement. */
export class PostgresFileStore implements FileStore {
  private readonly pool: Pool;

  constructor(pool: Pool) {
    this.pool = pool;
  }

  async create(file: StoredFile): Promise<void> {
    await this.pool.query({ ...insertFile, values: fileValues(file) });
  }

  async get(owner: string, id: string): Promise<StoredFile | null> {
    if (!canBeStored(id)) return null;
    const result = await this.pool.query<FileRow>({ ...statements.select, values: [owner, id, unixNow()] });
    const row = result.rows[0];
    return row === undefined ? null : fileFromRow(row);
  }

  async list(owner: string, request: FileListRequest): Promise<FilePage> {
    const now = unixNow();
    let cursor: [string | null, string | null] = [null, null];
    if (request.after !== null) {
      const found = canBeStored(request.after)
        ? (
            await this.pool.query<{ created_at: string; sequence: string }>({
              ...statements.selectCursor,
              values: [owner, request.after, now],
            })
          ).rows[0]
        : undefined;
      if (found === undefined) throw new CursorNotFoundError('after', request.after);
      cursor = [found.created_at, found.sequence];
    }
    if (request.purpose !== null && !canBeStored(request.purpose)) return { files: [], hasMore: false };
    const statement = request.order === 'asc' ? statements.listAscending : statements.listDescending;
    const result = await this.pool.query<FileRow>({
      ...statement,
      values: [owner, request.purpose, now, ...cursor, request.limit + 1],
    });
    return {
      files: result.rows.slice(0, request.limit).map((row) => fileFromRow(row)),
      hasMore: result.rows.length > request.limit,
    };
  }

  async delete(owner: string, id: string): Promise<StoredFile | null> {
    if (!canBeStored(id)) return null;
    const result = await this.pool.query<FileRow>({ ...statements.delete, values: [owner, id, unixNow()] });
    const row = result.rows[0];
    return row === undefined ? null : fileFromRow(row);
  }

  async deleteExpired(limit: number): Promise<StoredFile[]> {
    const result = await this.pool.query<FileRow>({ ...statements.deleteExpired, values: [unixNow(), limit] });
    return result.rows.map((row) => fileFromRow(row));
  }
}

export function fileFromRow(row: FileRow): StoredFile {
  return {
    id: row.id,
    owner: row.owner,
    createdAt: Number(row.created_at),
    bytes: Number(row.bytes),
    filename: parseNameText(row.filename) ?? '',
    purpose: row.purpose,
    mimeType: row.mime_type,
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    blobKey: row.blob_key,
  };
}
