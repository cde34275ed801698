import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { describeVectorStoreContract } from '../vector-store-contract.ts';
import { postgresMigrations } from './migrations.ts';
import { enablePgvector, PostgresVectorStoreStore } from './postgres-vector-store-store.ts';

/*
 * The vector-store contract on PGlite, which ships pgvector: the PostgreSQL store's vector SQL
 * runs here, since the project's Debian PostgreSQL has no pgvector (the suite in
 * postgres-storage.test.ts runs the same contract there, keyword-only).
 */
void describe('PostgreSQL vector stores on PGlite with pgvector', () => {
  let database: PGlite;
  let store: PostgresVectorStoreStore;

  before(async () => {
    database = new PGlite({ extensions: { vector } });
    for (const migration of [...postgresMigrations].sort((left, right) => left.version - right.version)) {
      await database.exec(migration.sql);
    }
    store = new PostgresVectorStoreStore(database, await enablePgvector(database));
  });

  after(async () => {
    await database.close();
  });

  void test('pgvector is enabled, and enabling it again is harmless', async () => {
    assert.equal(store.supportsVectors, true);
    assert.equal(await enablePgvector(database), true);
  });

  describeVectorStoreContract(() => store);
});
