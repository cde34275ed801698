import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import pg from 'pg';
import { describeStoreContract } from '../store-contract.ts';
import type { StoredItem } from '../stores.ts';
import { migratePostgres, postgresMigrations } from './migrations.ts';
import { describePostgresLocation, openPostgresStorage } from './postgres-storage.ts';

/*
 * Runs against a real PostgreSQL named by RIPOSTE_TEST_DATABASE_URL, e.g.
 * postgres://postgres@127.0.0.1:5432/test. Unset: the suite is skipped, visibly. Set but
 * unreachable: it fails, so a broken database never passes as a skip.
 *
 * Each run works in its own schema (riposte_test_<random>, reached through the connection's
 * search_path) and drops it at the end, so parallel runs never see each other's tables.
 */
const serverUrl = process.env.RIPOSTE_TEST_DATABASE_URL;

/** A URL whose connections use `schema` first (libpq's `options`, which pg passes through). */
function urlWithSchema(url: string, schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('options', `-c search_path=${schema}`);
  return parsed.toString();
}

/** Runs one statement on a connection of its own, outside any test schema. */
async function administer(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

if (serverUrl === undefined || serverUrl === '') {
  void describe(
    'PostgreSQL storage',
    { skip: 'RIPOSTE_TEST_DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)' },
    () => {
      void test('contract', () => undefined);
    },
  );
} else {
  const schema = `riposte_test_${randomBytes(6).toString('hex')}`;
  const url = urlWithSchema(serverUrl, schema);
  let schemaCreated = false;

  describeStoreContract(
    'PostgreSQL storage',
    async () => {
      if (!schemaCreated) {
        await administer(serverUrl, `CREATE SCHEMA ${schema}`);
        schemaCreated = true;
      }
      return openPostgresStorage({ url });
    },
    async () => {
      if (schemaCreated) await administer(serverUrl, `DROP SCHEMA ${schema} CASCADE`);
    },
  );

  void test('PostgreSQL storage: replicas starting together migrate once, under the lock', async () => {
    await withOwnSchema(serverUrl, async (schemaUrl) => {
      const replicas = await Promise.all(Array.from({ length: 5 }, () => openPostgresStorage({ url: schemaUrl })));
      await Promise.all(replicas.map((replica) => replica.close()));

      const client = new pg.Client({ connectionString: schemaUrl });
      await client.connect();
      try {
        const result = await client.query<{ version: number }>(
          'SELECT version FROM schema_migrations ORDER BY version',
        );
        assert.deepEqual(
          result.rows.map((row) => row.version),
          postgresMigrations.map((migration) => migration.version),
        );
      } finally {
        await client.end();
      }
    });
  });

  void test('PostgreSQL storage: migration 2 turns jsonb documents and item ids into JSON text', async () => {
    await withOwnSchema(serverUrl, async (schemaUrl) => {
      // Ids a client may choose: quotes, backslashes, control characters, slashes, non-ASCII.
      const ids = ['msg_plain', 'msg_"quoted"\\back', 'msg_tab\tnl\n\u0001\u001f\u007f', 'msg_/é😀\u2028'];
      const items: StoredItem[] = ids.map((id) => ({ id, type: 'message', role: 'user', content: [] }));
      const response = { id: 'resp_old', object: 'response', status: 'in_progress', error: null };

      const client = new pg.Client({ connectionString: schemaUrl });
      await client.connect();
      try {
        // migratePostgres only queries: a lone client serves as well as a pooled one.
        await migratePostgres(client as unknown as pg.PoolClient, postgresMigrations.slice(0, 1));
        await client.query(
          `INSERT INTO responses (id, owner, created_at, status, previous_response_id, response)
           VALUES ('resp_old', 'proj_old', 1, 'in_progress', null, $1::jsonb)`,
          [JSON.stringify(response)],
        );
        for (const [position, item] of items.entries()) {
          await client.query(
            `INSERT INTO response_items (response_id, kind, position, owner, item_id, item)
             VALUES ('resp_old', 'input', $1, 'proj_old', $2, $3::jsonb)`,
            [position, item.id, JSON.stringify(item)],
          );
        }
      } finally {
        await client.end();
      }

      const storage = await openPostgresStorage({ url: schemaUrl });
      try {
        assert.deepEqual((await storage.responses.get('proj_old', 'resp_old'))?.response, response);
        for (const item of items) assert.deepEqual(await storage.responses.findItem('proj_old', item.id), item);
        const page = await storage.responses.listInputItems('proj_old', 'resp_old', {
          after: ids[1] ?? null,
          before: ids[3] ?? null,
          limit: 10,
          order: 'asc',
        });
        assert.deepEqual(page.items, [items[2]]);
        assert.equal(await storage.responses.failInterrupted('stopped', 0), 1);
        assert.equal((await storage.responses.get('proj_old', 'resp_old'))?.status, 'failed');
        // New items with the same ids are found the same way as the migrated ones.
        await storage.responses.finish('proj_old', 'resp_old', 'completed', response, items);
        assert.deepEqual(await storage.responses.chainLink('proj_old', 'resp_old'), { input: items, output: items });
      } finally {
        await storage.close();
      }
    });
  });

  void test('PostgreSQL storage: kind, and a location without the password', async () => {
    await withOwnSchema(serverUrl, async (schemaUrl) => {
      // The test server trusts its clients, so a password in the URL is accepted and ignored.
      const withPassword = new URL(schemaUrl);
      withPassword.password = 'do-not-print-me';
      const storage = await openPostgresStorage({ url: withPassword.toString() });
      try {
        assert.equal(storage.kind, 'postgres');
        assert.equal(storage.location.includes('do-not-print-me'), false);
        assert.match(storage.location, /^postgres(ql)?:\/\//);
      } finally {
        await storage.close();
      }
    });
  });
}

/** Runs `work` with a URL on a fresh schema of its own, dropped afterwards. */
async function withOwnSchema(url: string, work: (schemaUrl: string) => Promise<void>): Promise<void> {
  const schema = `riposte_test_${randomBytes(6).toString('hex')}`;
  await administer(url, `CREATE SCHEMA ${schema}`);
  try {
    await work(urlWithSchema(url, schema));
  } finally {
    await administer(url, `DROP SCHEMA ${schema} CASCADE`);
  }
}

void test('describePostgresLocation drops the password and secret-bearing parameters', () => {
  assert.equal(
    describePostgresLocation('postgres://riposte:s3cret@db.internal:5432/riposte'),
    'postgres://riposte@db.internal:5432/riposte',
  );
  assert.equal(
    describePostgresLocation(
      'postgresql://riposte:s3cret@db/riposte?sslmode=require&sslpassword=other&host=/run/postgresql',
    ),
    'postgresql://riposte@db/riposte?host=%2Frun%2Fpostgresql',
  );
  assert.equal(describePostgresLocation('postgres://db/riposte'), 'postgres://db/riposte');
});
