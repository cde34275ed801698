import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { nameText, parseNameText } from '../item-key.ts';
import type { EndedUpload, StoredFile, StoredUpload, StoredUploadPart, UploadStore } from '../stores.ts';
import { fileValues, unixNow } from '../file-rows.ts';
import { insertFileSql } from './sqlite-file-store.ts';
import type { Row } from './sqlite-rows.ts';
import { readNullableText, readNumber, readText } from './sqlite-rows.ts';
import type { ImmediateTransaction } from './sqlite-transaction.ts';
import { immediateTransaction } from './sqlite-transaction.ts';

const uploadColumns =
  'id, owner, created_at, expires_at, filename, purpose, bytes, mime_type, file_expires_after, status, file_id';
const partColumns = 'id, upload_id, created_at, bytes, blob_key';

/**
 * UploadStore on one SQLite connection. Adding a part, completing and cancelling each check the
 * upload is still pending inside one IMMEDIATE transaction, so a part can never land on an upload
 * that a racing completion has already turned into a file.
 */
export class SqliteUploadStore implements UploadStore {
  private readonly inTransaction: ImmediateTransaction;
  private readonly statements: {
    insert: StatementSync;
    select: StatementSync;
    selectPending: StatementSync;
    insertPart: StatementSync;
    selectParts: StatementSync;
    deleteParts: StatementSync;
    insertFile: StatementSync;
    end: StatementSync;
    selectOld: StatementSync;
    deleteUpload: StatementSync;
  };

  constructor(database: DatabaseSync) {
    this.inTransaction = immediateTransaction(database);
    this.statements = {
      insert: database.prepare(`INSERT INTO uploads (${uploadColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      select: database.prepare(`SELECT ${uploadColumns} FROM uploads WHERE owner = ? AND id = ?`),
      selectPending: database.prepare(
        `SELECT ${uploadColumns} FROM uploads WHERE owner = ? AND id = ? AND status = 'pending' AND expires_at > ?`,
      ),
      insertPart: database.prepare(`INSERT INTO upload_parts (${partColumns}) VALUES (?, ?, ?, ?, ?)`),
      selectParts: database.prepare(
        `SELECT part.id, part.upload_id, part.created_at, part.bytes, part.blob_key FROM upload_parts AS part
         JOIN uploads AS upload ON upload.id = part.upload_id
         WHERE upload.owner = ? AND upload.id = ? AND upload.status = 'pending'
         ORDER BY part.sequence`,
      ),
      deleteParts: database.prepare('DELETE FROM upload_parts WHERE upload_id = ? RETURNING blob_key'),
      insertFile: database.prepare(insertFileSql),
      end: database.prepare(`UPDATE uploads SET status = ?, file_id = ? WHERE id = ? RETURNING ${uploadColumns}`),
      selectOld: database.prepare('SELECT id FROM uploads WHERE expires_at <= ?'),
      deleteUpload: database.prepare('DELETE FROM uploads WHERE id = ?'),
    };
  }

  async create(upload: StoredUpload): Promise<void> {
    this.statements.insert.run(
      upload.id,
      upload.owner,
      upload.createdAt,
      upload.expiresAt,
      nameText(upload.filename),
      upload.purpose,
      upload.bytes,
      upload.mimeType,
      upload.fileExpiresAfterSeconds,
      'pending',
      null,
    );
  }

  async get(owner: string, id: string): Promise<StoredUpload | null> {
    const row = this.statements.select.get(owner, id);
    return row === undefined ? null : uploadFromRow(row, unixNow());
  }

  async addPart(owner: string, uploadId: string, part: StoredUploadPart): Promise<boolean> {
    const statements = this.statements;
    return this.inTransaction(() => {
      if (statements.selectPending.get(owner, uploadId, unixNow()) === undefined) return false;
      statements.insertPart.run(part.id, uploadId, part.createdAt, part.bytes, part.blobKey);
      return true;
    });
  }

  async listParts(owner: string, uploadId: string): Promise<StoredUploadPart[]> {
    return this.statements.selectParts.all(owner, uploadId).map((row) => partFromRow(row));
  }

  async complete(owner: string, uploadId: string, file: StoredFile): Promise<EndedUpload | null> {
    return this.end(owner, uploadId, 'completed', file);
  }

  async cancel(owner: string, uploadId: string): Promise<EndedUpload | null> {
    return this.end(owner, uploadId, 'cancelled', null);
  }

  async prune(olderThanSeconds: number): Promise<string[]> {
    const statements = this.statements;
    return this.inTransaction(() => {
      const blobKeys: string[] = [];
      for (const row of statements.selectOld.all(unixNow() - olderThanSeconds)) {
        const id = readText(row, 'id');
        // The parts first, for their blob keys (the cascade would delete them without a word).
        blobKeys.push(...statements.deleteParts.all(id).map((part) => readText(part, 'blob_key')));
        statements.deleteUpload.run(id);
      }
      return blobKeys;
    });
  }

  private end(
    owner: string,
    uploadId: string,
    status: 'completed' | 'cancelled',
    file: StoredFile | null,
  ): EndedUpload | null {
    const statements = this.statements;
    const now = unixNow();
    return this.inTransaction(() => {
      if (statements.selectPending.get(owner, uploadId, now) === undefined) return null;
      if (file !== null) statements.insertFile.run(...fileValues(file));
      const partBlobKeys = statements.deleteParts.all(uploadId).map((row) => readText(row, 'blob_key'));
      const row = statements.end.get(status, file?.id ?? null, uploadId);
      if (row === undefined) throw new Error('UPDATE … RETURNING gave no row.');
      return { upload: uploadFromRow(row, now), partBlobKeys };
    });
  }
}

function uploadFromRow(row: Row, now: number): StoredUpload {
  const stored = readText(row, 'status') as 'pending' | 'completed' | 'cancelled';
  const expiresAt = readNumber(row, 'expires_at');
  const fileExpiresAfter = row.file_expires_after;
  return {
    id: readText(row, 'id'),
    owner: readText(row, 'owner'),
    createdAt: readNumber(row, 'created_at'),
    expiresAt,
    filename: parseNameText(readText(row, 'filename')) ?? '',
    purpose: readText(row, 'purpose'),
    bytes: readNumber(row, 'bytes'),
    mimeType: readText(row, 'mime_type'),
    fileExpiresAfterSeconds:
      fileExpiresAfter === null || fileExpiresAfter === undefined ? null : readNumber(row, 'file_expires_after'),
    status: stored === 'pending' && expiresAt <= now ? 'expired' : stored,
    fileId: readNullableText(row, 'file_id'),
  };
}

function partFromRow(row: Row): StoredUploadPart {
  return {
    id: readText(row, 'id'),
    uploadId: readText(row, 'upload_id'),
    createdAt: readNumber(row, 'created_at'),
    bytes: readNumber(row, 'bytes'),
    blobKey: readText(row, 'blob_key'),
  };
}
