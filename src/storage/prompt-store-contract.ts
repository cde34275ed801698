import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { newOwner } from './store-contract-fixtures.ts';
import type { Storage, StoredPrompt } from './stores.ts';

/**
 * The PromptStore part of the contract, run by describeStoreContract inside its suite.
 * `storage` gives the suite's current Storage (the suite closes and reopens it).
 */
export function describePromptStoreContract(storage: () => Storage): void {
  void describe('prompts', () => {
    void test('create makes version "1" the default; get, getVersion and listVersions return it', async () => {
      const owner = newOwner();
      const id = newPromptId();
      const body = { instructions: 'Be brief.', model: 'scripted', temperature: 0.5 };
      const prompt = await storage().prompts.create(owner, { id, name: 'Brief', createdAt: 1_700_000_000, body });
      const expected: StoredPrompt = {
        id,
        owner,
        name: 'Brief',
        createdAt: 1_700_000_000,
        defaultVersion: '1',
        latestVersion: '1',
      };
      assert.deepEqual(prompt, expected);
      assert.deepEqual(await storage().prompts.get(owner, id), expected);
      const first = { promptId: id, version: '1', createdAt: 1_700_000_000, body };
      assert.deepEqual(await storage().prompts.getVersion(owner, id, null), first);
      assert.deepEqual(await storage().prompts.getVersion(owner, id, '1'), first);
      assert.deepEqual(await storage().prompts.listVersions(owner, id), [first]);
      assert.equal(await storage().prompts.get(owner, 'pmpt_missing'), null);
      assert.equal(await storage().prompts.getVersion(owner, 'pmpt_missing', null), null);
      assert.deepEqual(await storage().prompts.listVersions(owner, 'pmpt_missing'), []);
    });

    void test('create fails when the id exists and leaves the first prompt intact', async () => {
      const owner = newOwner();
      const id = newPromptId();
      const created = await storage().prompts.create(owner, { id, name: null, createdAt: 1, body: { a: 1 } });
      await assert.rejects(storage().prompts.create(owner, { id, name: 'second', createdAt: 2, body: { b: 2 } }));
      assert.deepEqual(await storage().prompts.get(owner, id), created);
      assert.deepEqual(await storage().prompts.listVersions(owner, id), [
        { promptId: id, version: '1', createdAt: 1, body: { a: 1 } },
      ]);
    });

    void test('addVersion numbers on; the default stays until setDefaultVersion moves it', async () => {
      const owner = newOwner();
      const id = newPromptId();
      await storage().prompts.create(owner, { id, name: null, createdAt: 10, body: { v: 1 } });
      const second = await storage().prompts.addVersion(owner, id, { v: 2 }, 20);
      assert.deepEqual(second, { promptId: id, version: '2', createdAt: 20, body: { v: 2 } });
      const third = await storage().prompts.addVersion(owner, id, { v: 3 }, 30);
      assert.equal(third?.version, '3');

      let prompt = await storage().prompts.get(owner, id);
      assert.equal(prompt?.defaultVersion, '1');
      assert.equal(prompt?.latestVersion, '3');
      assert.deepEqual((await storage().prompts.getVersion(owner, id, null))?.body, { v: 1 });
      assert.deepEqual(await storage().prompts.getVersion(owner, id, '2'), second);

      prompt = await storage().prompts.setDefaultVersion(owner, id, '2');
      assert.equal(prompt?.defaultVersion, '2');
      assert.equal(prompt?.latestVersion, '3');
      assert.deepEqual(await storage().prompts.get(owner, id), prompt);
      assert.deepEqual(await storage().prompts.getVersion(owner, id, null), second);

      // A version that is not there, or not spelled as one, is absent and moves nothing.
      for (const version of ['4', '0', '02', '2.0', ' 2', '', '-1', 'latest', '99999999999999999999']) {
        assert.equal(await storage().prompts.setDefaultVersion(owner, id, version), null, version);
        assert.equal(await storage().prompts.getVersion(owner, id, version), null, version);
      }
      assert.equal((await storage().prompts.get(owner, id))?.defaultVersion, '2');
      assert.equal(await storage().prompts.setDefaultVersion(owner, 'pmpt_missing', '1'), null);
      assert.equal(await storage().prompts.addVersion(owner, 'pmpt_missing', { v: 1 }, 1), null);

      assert.deepEqual(
        (await storage().prompts.listVersions(owner, id)).map((version) => [version.version, version.body]),
        [
          ['1', { v: 1 }],
          ['2', { v: 2 }],
          ['3', { v: 3 }],
        ],
      );
    });

    void test('10 addVersion calls racing on one prompt get versions 2 … 11, all distinct', async () => {
      const owner = newOwner();
      const id = newPromptId();
      await storage().prompts.create(owner, { id, name: null, createdAt: 1, body: { call: 'create' } });
      const added = await Promise.all(
        Array.from({ length: 10 }, (_, call) => storage().prompts.addVersion(owner, id, { call }, 2)),
      );
      const versions = added.map((version) => Number(version?.version)).sort((left, right) => left - right);
      assert.deepEqual(versions, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

      const listed = await storage().prompts.listVersions(owner, id);
      assert.deepEqual(
        listed.map((version) => version.version),
        ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11'],
      );
      // Each call's body is stored under the version it was told.
      for (const version of added) {
        assert.ok(version !== null);
        assert.deepEqual(await storage().prompts.getVersion(owner, id, version.version), version);
      }
      assert.equal((await storage().prompts.get(owner, id))?.latestVersion, '11');
    });

    void test('list gives the prompts of one owner, oldest first', async () => {
      const owner = newOwner();
      const ids = [newPromptId(), newPromptId(), newPromptId(), newPromptId()];
      // Two in the same second, in creation order; one created later but older.
      await storage().prompts.create(owner, { id: ids[1] ?? '', name: 'b', createdAt: 200, body: {} });
      await storage().prompts.create(owner, { id: ids[2] ?? '', name: 'c', createdAt: 200, body: {} });
      await storage().prompts.create(owner, { id: ids[3] ?? '', name: 'd', createdAt: 300, body: {} });
      await storage().prompts.create(owner, { id: ids[0] ?? '', name: 'a', createdAt: 100, body: {} });
      await storage().prompts.create(newOwner(), { id: newPromptId(), name: 'other', createdAt: 150, body: {} });
      assert.deepEqual(
        (await storage().prompts.list(owner)).map((prompt) => prompt.id),
        ids,
      );
      assert.deepEqual(await storage().prompts.list(newOwner()), []);
    });

    void test('delete removes the prompt and its versions', async () => {
      const owner = newOwner();
      const id = newPromptId();
      await storage().prompts.create(owner, { id, name: null, createdAt: 1, body: { v: 1 } });
      await storage().prompts.addVersion(owner, id, { v: 2 }, 2);
      assert.equal(await storage().prompts.delete(owner, id), true);
      assert.equal(await storage().prompts.get(owner, id), null);
      assert.equal(await storage().prompts.getVersion(owner, id, null), null);
      assert.equal(await storage().prompts.getVersion(owner, id, '2'), null);
      assert.deepEqual(await storage().prompts.listVersions(owner, id), []);
      assert.equal(await storage().prompts.addVersion(owner, id, { v: 3 }, 3), null);
      assert.equal(await storage().prompts.setDefaultVersion(owner, id, '1'), null);
      assert.deepEqual(await storage().prompts.list(owner), []);
      assert.equal(await storage().prompts.delete(owner, id), false);
      // The same id created again starts from version 1 alone.
      await storage().prompts.create(owner, { id, name: null, createdAt: 4, body: { v: 'new' } });
      assert.deepEqual(await storage().prompts.listVersions(owner, id), [
        { promptId: id, version: '1', createdAt: 4, body: { v: 'new' } },
      ]);
    });

    void test('another owner never sees, changes, lists or deletes a prompt or its versions', async () => {
      const owner = newOwner();
      const ownerB = newOwner();
      const id = newPromptId();
      const created = await storage().prompts.create(owner, { id, name: 'private', createdAt: 1, body: { v: 1 } });

      assert.equal(await storage().prompts.get(ownerB, id), null);
      assert.equal(await storage().prompts.getVersion(ownerB, id, null), null);
      assert.equal(await storage().prompts.getVersion(ownerB, id, '1'), null);
      assert.deepEqual(await storage().prompts.listVersions(ownerB, id), []);
      assert.deepEqual(await storage().prompts.list(ownerB), []);
      assert.equal(await storage().prompts.addVersion(ownerB, id, { planted: true }, 2), null);
      assert.equal(await storage().prompts.setDefaultVersion(ownerB, id, '1'), null);
      assert.equal(await storage().prompts.delete(ownerB, id), false);

      assert.deepEqual(await storage().prompts.get(owner, id), created);
      assert.deepEqual(await storage().prompts.list(owner), [created]);
      assert.deepEqual(await storage().prompts.listVersions(owner, id), [
        { promptId: id, version: '1', createdAt: 1, body: { v: 1 } },
      ]);
    });

    void test('NUL, emoji, lone surrogates and key order are kept, in names and bodies', async () => {
      const awkward = 'nul \u0000; emoji 🎉👩🏽‍💻; lone \ud800 and \udfff; written out \\u0000';
      const owner = newOwner();
      const id = newPromptId();
      const body = {
        zebra: awkward,
        input: [{ role: 'user', content: awkward }],
        text: { format: { type: 'json_schema', schema: { properties: { b: {}, a: {} } } } },
        [awkward]: { z: 1, a: 2 },
      };
      const sameText = (actual: unknown, expected: unknown): void => {
        assert.deepEqual(actual, expected);
        assert.equal(JSON.stringify(actual), JSON.stringify(expected));
      };
      const created = await storage().prompts.create(owner, { id, name: awkward, createdAt: 1, body });
      assert.equal(created.name, awkward);
      sameText(await storage().prompts.get(owner, id), created);
      sameText((await storage().prompts.getVersion(owner, id, null))?.body, body);
      const later = { ...body, zebra: `${awkward} again` };
      await storage().prompts.addVersion(owner, id, later, 2);
      sameText((await storage().prompts.getVersion(owner, id, '2'))?.body, later);
      sameText(
        (await storage().prompts.listVersions(owner, id)).map((version) => version.body),
        [body, later],
      );
    });

    void test('a prompt id holding NUL reads as absent', async () => {
      const owner = newOwner();
      const id = 'pmpt_\u0000';
      assert.equal(await storage().prompts.get(owner, id), null);
      assert.equal(await storage().prompts.getVersion(owner, id, null), null);
      assert.deepEqual(await storage().prompts.listVersions(owner, id), []);
      assert.equal(await storage().prompts.addVersion(owner, id, {}, 1), null);
      assert.equal(await storage().prompts.setDefaultVersion(owner, id, '1'), null);
      assert.equal(await storage().prompts.delete(owner, id), false);
    });
  });
}

function newPromptId(): string {
  return `pmpt_${randomUUID().replaceAll('-', '')}`;
}
