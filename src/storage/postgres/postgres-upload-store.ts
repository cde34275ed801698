import type { Pool } from 'pg';
import { nameText, parseNameText } from '../item-key.ts';
import type { EndedUpload, StoredFile, StoredUpload, StoredUploadPart, UploadStore } from '../stores.ts';
import { fileValues, unixNow } from '../file-rows.ts';
import { insertFile } from './postgres-file-store.ts';
import { canBeStored } from './postgres-text.ts';

const uploadColumns =
  'id, owner, created_at, expires_at, filename, purpose, bytes, mime_type, file_expires_after, status, file_id';

/*
 * addPart is one INSERT … SELECT that locks the upload row FOR SHARE, and complete/cancel take it
 * FOR UPDATE in their transaction: a part racing a completion either commits first (and the
 * completion's DELETE of the parts sees it) or waits and then finds the upload no longer pending.
 */
const statements = {
  insert: {
    name: 'riposte_uploads_insert',
    text: `INSERT INTO uploads (${uploadColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', null)`,
  },
  select: {
    name: 'riposte_uploads_get',
    text: `SELECT ${uploadColumns} FROM uploads WHERE owner = $1 AND id = $2`,
  },
  lockPending: {
    name: 'riposte_uploads_lock_pending',
    text: `SELECT id FROM uploads WHERE owner = $1 AND id = $2 AND status = 'pending' AND expires_at > $3 FOR UPDATE`,
  },
  insertPart: {
    name: 'riposte_upload_parts_insert',
    text: `INSERT INTO upload_parts (id, upload_id, created_at, bytes, blob_key)
           SELECT $3, upload.id, $4, $5, $6 FROM uploads AS upload
           WHERE upload.owner = $1 AND upload.id = $2 AND upload.status = 'pending' AND upload.expires_at > $7
           FOR SHARE`,
  },
  selectParts: {
    name: 'riposte_upload_parts_list',
    text: `SELECT part.id, part.upload_id, part.created_at, part.bytes, part.blob_key
           FROM upload_parts AS part JOIN uploads AS upload ON upload.id = part.upload_id
           WHERE upload.owner = $1 AND upload.id = $2 AND upload.status = 'pending'
           ORDER BY part.sequence`,
  },
  deleteParts: {
    name: 'riposte_upload_parts_delete',
    text: 'DELETE FROM upload_parts WHERE upload_id = $1 RETURNING blob_key',
  },
  end: {
    name: 'riposte_uploads_end',
    text: `UPDATE uploads SET status = $2, file_id = $3 WHERE id = $1 RETURNING ${uploadColumns}`,
  },
  deleteOldParts: {
    name: 'riposte_upload_parts_delete_old',
    text: `DELETE FROM upload_parts WHERE upload_id IN (SELECT id FROM uploads WHERE expires_at <= $1)
           RETURNING blob_key`,
  },
  deleteOld: {
    name: 'riposte_uploads_delete_old',
    text: 'DELETE FROM uploads WHERE expires_at <= $1',
  },
} as const;

interface UploadRow {
  id: string;
  owner: string;
  created_at: string;
  expires_at: string;
  filename: string;
  purpose: string;
  bytes: string;
  mime_type: string;
  file_expires_after: string | null;
  status: 'pending' | 'completed' | 'cancelled';
  file_id: string | null;
}

interface PartRow {
  id: string;
  upload_id: string;
  created_at: string;
  bytes: string;
  blob_key: string;
}

/** UploadStore on a PostgreSQL pool. */
export class PostgresUploadStore implements UploadStore {
  private readonly pool: Pool;

  constructor(pool: Pool) {
    this.pool = pool;
  }

  async create(upload: StoredUpload): Promise<void> {
    await this.pool.query({
      ...statements.insert,
      values: [
        upload.id,
        upload.owner,
        upload.createdAt,
        upload.expiresAt,
        nameText(upload.filename),
        upload.purpose,
        upload.bytes,
        upload.mimeType,
        upload.fileExpiresAfterSeconds,
      ],
    });
  }

  async get(owner: string, id: string): Promise<StoredUpload | null> {
    if (!canBeStored(id)) return null;
    const result = await this.pool.query<UploadRow>({ ...statements.select, values: [owner, id] });
    const row = result.rows[0];
    return row === undefined ? null : uploadFromRow(row, unixNow());
  }

  async addPart(owner: string, uploadId: string, part: StoredUploadPart): Promise<boolean> {
    if (!canBeStored(uploadId)) return false;
    const result = await this.pool.query({
      ...statements.insertPart,
      values: [owner, uploadId, part.id, part.createdAt, part.bytes, part.blobKey, unixNow()],
    });
    return (result.rowCount ?? 0) > 0;
  }

  async listParts(owner: string, uploadId: string): Promise<StoredUploadPart[]> {
    if (!canBeStored(uploadId)) return [];
    const result = await this.pool.query<PartRow>({ ...statements.selectParts, values: [owner, uploadId] });
    return result.rows.map((row) => ({
      id: row.id,
      uploadId: row.upload_id,
      createdAt: Number(row.created_at),
      bytes: Number(row.bytes),
      blobKey: row.blob_key,
    }));
  }

  async complete(owner: string, uploadId: string, file: StoredFile): Promise<EndedUpload | null> {
    return this.end(owner, uploadId, 'completed', file);
  }

  async cancel(owner: string, uploadId: string): Promise<EndedUpload | null> {
    return this.end(owner, uploadId, 'cancelled', null);
  }

  async prune(olderThanSeconds: number): Promise<string[]> {
    const cutoff = unixNow() - olderThanSeconds;
    // Parts first, for their blob keys. No part can be added meanwhile: addPart needs an upload
    // that has not expired, and these expired before the cutoff.
    const parts = await this.pool.query<{ blob_key: string }>({ ...statements.deleteOldParts, values: [cutoff] });
    await this.pool.query({ ...statements.deleteOld, values: [cutoff] });
    return parts.rows.map((row) => row.blob_key);
  }

  private async end(
    owner: string,
    uploadId: string,
    status: 'completed' | 'cancelled',
    file: StoredFile | null,
  ): Promise<EndedUpload | null> {
    if (!canBeStored(uploadId)) return null;
    const now = unixNow();
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      try {
        const locked = await client.query({ ...statements.lockPending, values: [owner, uploadId, now] });
        if ((locked.rowCount ?? 0) === 0) {
          await client.query('ROLLBACK');
          return null;
        }
        if (file !== null) await client.query({ ...insertFile, values: fileValues(file) });
        const parts = await client.query<{ blob_key: string }>({ ...statements.deleteParts, values: [uploadId] });
        const ended = await client.query<UploadRow>({
          ...statements.end,
          values: [uploadId, status, file?.id ?? null],
        });
        await client.query('COMMIT');
        const row = ended.rows[0];
        if (row === undefined) throw new Error('UPDATE … RETURNING gave no row.');
        return { upload: uploadFromRow(row, now), partBlobKeys: parts.rows.map((part) => part.blob_key) };
      } catch (error) {
        // The first error is the one worth reporting; a connection that broke cannot roll back.
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw error;
      }
    } finally {
      client.release(broken);
    }
  }
}

function uploadFromRow(row: UploadRow, now: number): StoredUpload {
  const expiresAt = Number(row.expires_at);
  return {
    id: row.id,
    owner: row.owner,
    createdAt: Number(row.created_at),
    expiresAt,
    filename: parseNameText(row.filename) ?? '',
    purpose: row.purpose,
    bytes: Number(row.bytes),
    mimeType: row.mime_type,
    fileExpiresAfterSeconds: row.file_expires_after === null ? null : Number(row.file_expires_after),
    status: row.status === 'pending' && expiresAt <= now ? 'expired' : row.status,
    fileId: row.file_id,
  };
}
