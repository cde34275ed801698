import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { LocalBlobStore } from './blobs/local-blob-store.ts';
import { CursorNotFoundError } from './cursor-not-found-error.ts';
import { pruneFiles } from './prune-files.ts';
import { newOwner } from './store-contract-fixtures.ts';
import type { FileListRequest, Storage, StoredFile, StoredUpload, StoredUploadPart } from './stores.ts';

/**
 * The FileStore and UploadStore part of the contract, run by describeStoreContract inside its
 * suite. `storage` gives the suite's current Storage. deleteExpired and prune act on every
 * owner, so their tests look for their own records in what comes back rather than counting.
 */
export function describeFileStoreContract(storage: () => Storage): void {
  const now = (): number => Math.floor(Date.now() / 1000);

  function newFile(owner: string, overrides: Partial<StoredFile> = {}): StoredFile {
    const id = overrides.id ?? `file-${randomUUID().replaceAll('-', '')}`;
    return {
      id,
      owner,
      createdAt: now(),
      bytes: 11,
      filename: 'notes.txt',
      purpose: 'assistants',
      mimeType: 'text/plain',
      expiresAt: null,
      blobKey: `files/${id}`,
      ...overrides,
    };
  }

  function newUpload(owner: string, overrides: Partial<StoredUpload> = {}): StoredUpload {
    return {
      id: `upload_${randomUUID().replaceAll('-', '')}`,
      owner,
      createdAt: now(),
      expiresAt: now() + 3600,
      filename: 'big.jsonl',
      purpose: 'batch',
      bytes: 30,
      mimeType: 'application/jsonl',
      fileExpiresAfterSeconds: null,
      status: 'pending',
      fileId: null,
      ...overrides,
    };
  }

  function newPart(uploadId: string, bytes = 10): StoredUploadPart {
    const id = `part_${randomUUID().replaceAll('-', '')}`;
    return { id, uploadId, createdAt: now(), bytes, blobKey: `uploads/${uploadId}/${id}` };
  }

  const all = (overrides: Partial<FileListRequest> = {}): FileListRequest => ({
    purpose: null,
    after: null,
    limit: 100,
    order: 'asc',
    ...overrides,
  });
  const ids = (files: StoredFile[]): string[] => files.map((file) => file.id);

  void describe('files', () => {
    void test('create then get returns the file as stored; absent ids and other owners read null', async () => {
      const owner = newOwner();
      const file = newFile(owner, { expiresAt: now() + 3600, mimeType: null });
      await storage().files.create(file);
      assert.deepEqual(await storage().files.get(owner, file.id), file);
      assert.equal(await storage().files.get(owner, 'file-missing'), null);
      assert.equal(await storage().files.get(newOwner(), file.id), null);
      assert.equal(await storage().files.get(owner, 'file-\u0000'), null);
      await assert.rejects(storage().files.create({ ...file, filename: 'second.txt' }));
      assert.deepEqual(await storage().files.get(owner, file.id), file);
    });

    void test('filenames keep NUL, emoji and lone surrogates', async () => {
      const owner = newOwner();
      const file = newFile(owner, { filename: 'a\u0000b 🎉 \ud800 "q" \\.txt' });
      await storage().files.create(file);
      const stored = await storage().files.get(owner, file.id);
      assert.equal(JSON.stringify(stored?.filename), JSON.stringify(file.filename));
      assert.equal(
        JSON.stringify((await storage().files.list(owner, all())).files[0]?.filename),
        JSON.stringify(file.filename),
      );
    });

    void test('list pages by creation order (ties in creation order), by purpose, with after, limit and hasMore', async () => {
      const owner = newOwner();
      const base = now() - 100;
      const files = [
        newFile(owner, { createdAt: base, purpose: 'assistants' }),
        newFile(owner, { createdAt: base + 1, purpose: 'batch' }),
        newFile(owner, { createdAt: base + 1, purpose: 'assistants' }),
        newFile(owner, { createdAt: base + 1, purpose: 'assistants' }),
        newFile(owner, { createdAt: base + 5, purpose: 'user_data' }),
      ];
      for (const file of files) await storage().files.create(file);
      await storage().files.create(newFile(newOwner()));

      assert.deepEqual(await storage().files.list(owner, all()), { files, hasMore: false });
      assert.deepEqual(ids((await storage().files.list(owner, all({ order: 'desc' }))).files), ids(files).reverse());

      const first = await storage().files.list(owner, all({ limit: 2 }));
      assert.deepEqual(ids(first.files), ids(files.slice(0, 2)));
      assert.equal(first.hasMore, true);
      const second = await storage().files.list(owner, all({ limit: 2, after: files[1]!.id }));
      assert.deepEqual(ids(second.files), ids(files.slice(2, 4)));
      assert.equal(second.hasMore, true);
      const last = await storage().files.list(owner, all({ limit: 2, after: files[3]!.id }));
      assert.deepEqual(last, { files: files.slice(4), hasMore: false });

      const descending = await storage().files.list(owner, all({ order: 'desc', limit: 2, after: files[3]!.id }));
      assert.deepEqual(ids(descending.files), [files[2]!.id, files[1]!.id]);
      assert.equal(descending.hasMore, true);

      const assistants = await storage().files.list(owner, all({ purpose: 'assistants' }));
      assert.deepEqual(ids(assistants.files), [files[0]!.id, files[2]!.id, files[3]!.id]);
      const afterInPurpose = await storage().files.list(
        owner,
        all({ purpose: 'assistants', after: files[0]!.id, limit: 1 }),
      );
      assert.deepEqual(afterInPurpose, { files: [files[2]], hasMore: true });
      assert.deepEqual(await storage().files.list(owner, all({ purpose: 'fine-tune' })), { files: [], hasMore: false });
      assert.deepEqual(await storage().files.list(newOwner(), all()), { files: [], hasMore: false });
    });

    void test("an unknown after, or another owner's file as after, throws CursorNotFoundError", async () => {
      const owner = newOwner();
      const theirs = newFile(newOwner());
      await storage().files.create(theirs);
      await assert.rejects(storage().files.list(owner, all({ after: 'file-missing' })), CursorNotFoundError);
      await assert.rejects(storage().files.list(owner, all({ after: theirs.id })), CursorNotFoundError);
      await assert.rejects(storage().files.list(owner, all({ after: 'file-\u0000' })), CursorNotFoundError);
    });

    void test('delete returns the file once; another owner cannot delete it', async () => {
      const owner = newOwner();
      const file = newFile(owner);
      await storage().files.create(file);
      assert.equal(await storage().files.delete(newOwner(), file.id), null);
      assert.deepEqual(await storage().files.delete(owner, file.id), file);
      assert.equal(await storage().files.get(owner, file.id), null);
      assert.equal(await storage().files.delete(owner, file.id), null);
      assert.deepEqual((await storage().files.list(owner, all())).files, []);
      assert.equal(await storage().files.delete(owner, 'file-\u0000'), null);
    });

    void test('an expired file reads as absent; deleteExpired and pruneFiles remove it and its blob', async () => {
      const owner = newOwner();
      const expired = newFile(owner, { createdAt: now() - 7200, expiresAt: now() - 1 });
      const alive = newFile(owner, { createdAt: now() - 7200, expiresAt: now() + 3600 });
      const forever = newFile(owner, { createdAt: now() - 7200 });
      for (const file of [expired, alive, forever]) await storage().files.create(file);

      assert.equal(await storage().files.get(owner, expired.id), null);
      assert.equal(await storage().files.delete(owner, expired.id), null);
      assert.deepEqual(ids((await storage().files.list(owner, all())).files), [alive.id, forever.id]);
      await assert.rejects(storage().files.list(owner, all({ after: expired.id })), CursorNotFoundError);

      const directory = await mkdtemp(path.join(tmpdir(), 'riposte-blobs-'));
      try {
        const blobs = new LocalBlobStore(directory);
        for (const file of [expired, alive, forever]) await blobs.put(file.blobKey, Buffer.from('hello world'));
        const pruned = await pruneFiles(storage(), blobs);
        assert.ok(pruned.files >= 1);
        assert.equal(await blobs.exists(expired.blobKey), false);
        assert.equal(await blobs.exists(alive.blobKey), true);
        assert.equal(await blobs.exists(forever.blobKey), true);
      } finally {
        await rm(directory, { recursive: true, force: true });
      }
      assert.equal(
        (await storage().files.deleteExpired(1000)).some((file) => file.id === expired.id),
        false,
      );
      assert.deepEqual(await storage().files.get(owner, alive.id), alive);
    });

    void test('deleteExpired returns the files it deleted, whoever owns them', async () => {
      const expired = newFile(newOwner(), { createdAt: now() - 10, expiresAt: now() - 5 });
      await storage().files.create(expired);
      const deleted: StoredFile[] = [];
      for (;;) {
        const batch = await storage().files.deleteExpired(2);
        deleted.push(...batch);
        if (batch.length < 2) break;
      }
      assert.deepEqual(
        deleted.find((file) => file.id === expired.id),
        expired,
      );
    });
  });

  void describe('uploads', () => {
    void test('create, get, parts in the order added; another owner sees nothing', async () => {
      const owner = newOwner();
      const upload = newUpload(owner, { fileExpiresAfterSeconds: 7200, filename: 'n\u0000me \ud800' });
      await storage().uploads.create(upload);
      assert.deepEqual(await storage().uploads.get(owner, upload.id), upload);
      assert.equal(await storage().uploads.get(newOwner(), upload.id), null);
      assert.equal(await storage().uploads.get(owner, 'upload_\u0000'), null);

      const parts = [newPart(upload.id), newPart(upload.id), newPart(upload.id)];
      for (const part of parts) assert.equal(await storage().uploads.addPart(owner, upload.id, part), true);
      assert.deepEqual(await storage().uploads.listParts(owner, upload.id), parts);
      assert.deepEqual(await storage().uploads.listParts(newOwner(), upload.id), []);
      assert.equal(await storage().uploads.addPart(newOwner(), upload.id, newPart(upload.id)), false);
      assert.equal(await storage().uploads.addPart(owner, 'upload_missing', newPart('upload_missing')), false);
    });

    void test('complete inserts the file, marks the upload completed and hands back the part blobs, once', async () => {
      const owner = newOwner();
      const upload = newUpload(owner);
      await storage().uploads.create(upload);
      const parts = [newPart(upload.id), newPart(upload.id)];
      for (const part of parts) await storage().uploads.addPart(owner, upload.id, part);
      const file = newFile(owner, { bytes: 20, filename: upload.filename, purpose: upload.purpose });

      assert.equal(await storage().uploads.complete(newOwner(), upload.id, file), null);
      assert.equal(await storage().files.get(owner, file.id), null);

      const ended = await storage().uploads.complete(owner, upload.id, file);
      assert.deepEqual(ended?.upload, { ...upload, status: 'completed', fileId: file.id });
      assert.deepEqual([...(ended?.partBlobKeys ?? [])].sort(), parts.map((part) => part.blobKey).sort());
      assert.deepEqual(await storage().files.get(owner, file.id), file);
      assert.deepEqual(await storage().uploads.get(owner, upload.id), ended?.upload);
      assert.deepEqual(await storage().uploads.listParts(owner, upload.id), []);

      assert.equal(await storage().uploads.addPart(owner, upload.id, newPart(upload.id)), false);
      assert.equal(await storage().uploads.complete(owner, upload.id, newFile(owner)), null);
      assert.equal(await storage().uploads.cancel(owner, upload.id), null);
    });

    void test('a completion whose file cannot be written changes nothing', async () => {
      const owner = newOwner();
      const existing = newFile(owner);
      await storage().files.create(existing);
      const upload = newUpload(owner);
      await storage().uploads.create(upload);
      const part = newPart(upload.id);
      await storage().uploads.addPart(owner, upload.id, part);
      await assert.rejects(storage().uploads.complete(owner, upload.id, { ...existing, filename: 'clash' }));
      assert.deepEqual(await storage().uploads.get(owner, upload.id), upload);
      assert.deepEqual(await storage().uploads.listParts(owner, upload.id), [part]);
      assert.deepEqual(await storage().files.get(owner, existing.id), existing);
    });

    void test('cancel ends a pending upload and hands back its part blobs', async () => {
      const owner = newOwner();
      const upload = newUpload(owner);
      await storage().uploads.create(upload);
      const part = newPart(upload.id);
      await storage().uploads.addPart(owner, upload.id, part);
      assert.equal(await storage().uploads.cancel(newOwner(), upload.id), null);
      const ended = await storage().uploads.cancel(owner, upload.id);
      assert.deepEqual(ended, { upload: { ...upload, status: 'cancelled' }, partBlobKeys: [part.blobKey] });
      assert.equal(await storage().uploads.cancel(owner, upload.id), null);
      assert.equal(await storage().uploads.addPart(owner, upload.id, newPart(upload.id)), false);
      assert.equal(await storage().uploads.complete(owner, upload.id, newFile(owner)), null);
    });

    void test('an upload past its expiry reads expired and takes no parts, completion or cancel', async () => {
      const owner = newOwner();
      const upload = newUpload(owner, { createdAt: now() - 7200, expiresAt: now() - 3600 });
      await storage().uploads.create(upload);
      assert.deepEqual(await storage().uploads.get(owner, upload.id), { ...upload, status: 'expired' });
      assert.equal(await storage().uploads.addPart(owner, upload.id, newPart(upload.id)), false);
      const file = newFile(owner);
      assert.equal(await storage().uploads.complete(owner, upload.id, file), null);
      assert.equal(await storage().files.get(owner, file.id), null);
      assert.equal(await storage().uploads.cancel(owner, upload.id), null);
    });

    void test('prune deletes uploads expired long enough, with their parts, and returns the part blobs', async () => {
      const owner = newOwner();
      const old = newUpload(owner, { createdAt: now() - 3 * 3600, expiresAt: now() - 2 * 3600 });
      const recent = newUpload(owner, { createdAt: now() - 7200, expiresAt: now() - 60 });
      const pending = newUpload(owner);
      for (const upload of [old, recent, pending]) await storage().uploads.create(upload);
      // Parts can only be added while an upload is pending, so this one stays live until the end.
      const live = newUpload(owner, { expiresAt: now() + 3600 });
      await storage().uploads.create(live);
      const part = newPart(live.id);
      await storage().uploads.addPart(owner, live.id, part);

      const keys = await storage().uploads.prune(3600);
      assert.equal(await storage().uploads.get(owner, old.id), null);
      assert.equal((await storage().uploads.get(owner, recent.id))?.status, 'expired');
      assert.equal((await storage().uploads.get(owner, pending.id))?.status, 'pending');
      assert.equal(keys.includes(part.blobKey), false);
      assert.deepEqual(await storage().uploads.listParts(owner, live.id), [part]);
      // A cutoff in the future reaches the live upload too, which shows its parts go with it.
      assert.equal((await storage().uploads.prune(-7200)).includes(part.blobKey), true);
      assert.equal(await storage().uploads.get(owner, live.id), null);
    });
  });
}
