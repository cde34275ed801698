import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { describeBackgroundStoreContract } from './background-store-contract.ts';
import { describeConversationStoreContract } from './conversation-store-contract.ts';
import { CursorNotFoundError } from './cursor-not-found-error.ts';
import { describeFileStoreContract } from './file-store-contract.ts';
import { describePromptStoreContract } from './prompt-store-contract.ts';
import { assistantMessage, firstPage, messageItem, newOwner, newResponse } from './store-contract-fixtures.ts';
import type { PageRequest, Storage, StoredItem } from './stores.ts';
import { describeVectorStoreContract } from './vector-store-contract.ts';

/**
 * The one contract every Storage implementation passes (DESIGN.md: one suite, every dialect).
 *
 * `open` must return a Storage over the same data each time it is called: the suite closes and
 * reopens it to prove that what was written is durable and that migrating again is harmless.
 * `cleanup` runs once at the end, after the last storage is closed (drop the schema, remove the
 * directory). Tests share one store, so each uses its own owners and ids.
 */
export function describeStoreContract(name: string, open: () => Promise<Storage>, cleanup?: () => Promise<void>): void {
  void describe(name, () => {
    let storage: Storage;

    before(async () => {
      storage = await open();
    });

    after(async () => {
      await storage.close();
      await cleanup?.();
    });

    void test('describes itself', () => {
      assert.ok(storage.kind === 'sqlite' || storage.kind === 'postgres');
      assert.equal(typeof storage.location, 'string');
      assert.ok(storage.location.length > 0);
    });

    void test('create then get returns the response as stored', async () => {
      const owner = newOwner();
      const record = newResponse(owner, { previousResponseId: 'resp_previous', status: 'queued' });
      await storage.responses.create(record, [messageItem('msg_a', 'hello')]);
      assert.deepEqual(await storage.responses.get(owner, record.id), record);
      assert.equal(await storage.responses.get(owner, 'resp_missing'), null);
    });

    void test('create fails when the id exists and leaves the first response intact', async () => {
      const owner = newOwner();
      const record = newResponse(owner);
      await storage.responses.create(record, [messageItem('msg_first', 'first')]);
      await assert.rejects(
        storage.responses.create({ ...record, response: { ...record.response, note: 'second' } }, [
          messageItem('msg_second', 'second'),
        ]),
      );
      assert.deepEqual(await storage.responses.get(owner, record.id), record);
      assert.equal(await storage.responses.findItem(owner, 'msg_second'), null);
      assert.deepEqual(await storage.responses.chainLink(owner, record.id), {
        input: [messageItem('msg_first', 'first')],
        output: [],
      });
    });

    void test('JSON survives the round trip: unicode, escapes, nesting, numbers', async () => {
      const owner = newOwner();
      const text = 'Grüße, 世界! مرحبا 👩‍👩‍👧 e\u0301 "quoted" back\\slash \n\t line\u2028separator';
      const nested = { deep: { list: [1, 2.5, -3, 0.1, 1e-7, true, false, null, { empty: {}, none: [] }], text } };
      const record = newResponse(owner, { response: { instructions: text, metadata: { клю́ч: 'значение' }, nested } });
      const item: StoredItem = {
        id: 'msg_unicode',
        type: 'message',
        role: 'user',
        content: [{ type: 'input_text', text }],
        extra: nested,
      };
      await storage.responses.create(record, [item]);
      assert.deepEqual(await storage.responses.get(owner, record.id), record);
      assert.deepEqual(await storage.responses.findItem(owner, 'msg_unicode'), item);
      const page = await storage.responses.listInputItems(owner, record.id, firstPage('asc'));
      assert.deepEqual(page.items, [item]);
    });

    void test('NUL, control characters, emoji and lone surrogates are kept, in documents, keys and item ids', async () => {
      // JSON.stringify writes NUL as \u0000 and a lone surrogate as \udXXX; a database must
      // take both (user text can hold either) and give back exactly the same strings.
      const awkward =
        'nul \u0000 twice \u0000\u0000; controls \u0001\u0007\b\f\u000b\u001b\u001f\u007f\u0085; ' +
        'emoji 🎉👩🏽‍💻🇫🇷; lone \ud800 high, \udfff low, reversed \udc00\ud800, trailing \udbff';
      const escapedLookalike = 'written out: \\u0000 \\ud800 "\\"';
      const owner = newOwner();
      const record = newResponse(owner, {
        status: 'in_progress',
        createdAt: Math.floor(Date.now() / 1000) - 7200,
        response: { instructions: awkward, metadata: { [awkward]: escapedLookalike, plain: awkward } },
      });
      const input: StoredItem[] = [
        { ...messageItem('msg_nul\u0000id', awkward), note: escapedLookalike },
        messageItem('msg_lone\ud800id', awkward),
        messageItem('msg_plain_awkward', awkward),
      ];
      const sameText = (actual: unknown, expected: unknown): void => {
        assert.deepEqual(actual, expected);
        assert.equal(JSON.stringify(actual), JSON.stringify(expected));
      };

      await storage.responses.create(record, input);
      sameText(await storage.responses.get(owner, record.id), record);
      sameText((await storage.responses.listInputItems(owner, record.id, firstPage('asc'))).items, input);
      sameText(
        (await storage.responses.listInputItems(owner, record.id, { ...firstPage('asc'), after: 'msg_nul\u0000id' }))
          .items,
        input.slice(1),
      );
      sameText(
        (await storage.responses.listInputItems(owner, record.id, { ...firstPage('desc'), before: 'msg_lone\ud800id' }))
          .items,
        [input[2]],
      );
      for (const item of input) sameText(await storage.responses.findItem(owner, item.id), item);
      // A NUL ends nothing: an id that is a prefix up to the NUL is another id.
      assert.equal(await storage.responses.findItem(owner, 'msg_nul'), null);

      const running = { ...record.response, status: 'in_progress', instructions: `${awkward} (running)` };
      await storage.responses.updateStatus(owner, record.id, 'in_progress', running);
      sameText((await storage.responses.get(owner, record.id))?.response, running);

      // failInterrupted rewrites such a document too.
      assert.ok((await storage.responses.failInterrupted('stopped \u0000 \ud800', 3600)) >= 1);
      sameText((await storage.responses.get(owner, record.id))?.response, {
        ...running,
        status: 'failed',
        error: { code: 'server_error', message: 'stopped \u0000 \ud800' },
      });

      const output = [assistantMessage('msg_out\u0000', awkward), assistantMessage('msg_out_lone\udc00', awkward)];
      const finished = { ...record.response, status: 'completed', output };
      await storage.responses.finish(owner, record.id, 'completed', finished, output);
      sameText((await storage.responses.get(owner, record.id))?.response, finished);
      sameText(await storage.responses.chainLink(owner, record.id), { input, output });
      sameText(await storage.responses.findItem(owner, 'msg_out\u0000'), output[0]);
      sameText(await storage.responses.findItem(owner, 'msg_out_lone\udc00'), output[1]);
    });

    void test('objects keep their key order, as created, finished, updated and failed', async () => {
      const owner = newOwner();
      // Keys out of alphabetical and length order (jsonb would sort them), nested too.
      const response = {
        zebra: 1,
        metadata: { zz: '1', a: '2', mmm: '3' },
        text: {
          format: { type: 'json_schema', strict: true, schema: { type: 'object', properties: { b: {}, a: {} } } },
        },
      };
      const record = newResponse(owner, {
        status: 'queued',
        createdAt: Math.floor(Date.now() / 1000) - 7200,
        response,
      });
      const item: StoredItem = {
        type: 'message',
        role: 'user',
        id: 'msg_ordered',
        content: [{ type: 'input_text', text: 'x', annotations: [], a: 1 }],
      };
      const sameText = (actual: unknown, expected: unknown): void => {
        assert.equal(JSON.stringify(actual), JSON.stringify(expected));
      };

      await storage.responses.create(record, [item]);
      sameText(await storage.responses.get(owner, record.id), record);
      sameText(await storage.responses.findItem(owner, item.id), item);
      sameText((await storage.responses.listInputItems(owner, record.id, firstPage('asc'))).items, [item]);

      const running = { ...record.response, status: 'in_progress', usage: { total: 2, input: 1 } };
      await storage.responses.updateStatus(owner, record.id, 'in_progress', running);
      sameText((await storage.responses.get(owner, record.id))?.response, running);

      assert.ok((await storage.responses.failInterrupted('stopped', 3600)) >= 1);
      sameText((await storage.responses.get(owner, record.id))?.response, {
        ...running,
        status: 'failed',
        error: { code: 'server_error', message: 'stopped' },
      });

      const output: StoredItem[] = [
        { type: 'function_call', id: 'fc_ordered', name: 'f', call_id: 'c', arguments: '{}' },
      ];
      const finished = { ...record.response, status: 'completed', output };
      await storage.responses.finish(owner, record.id, 'completed', finished, output);
      sameText((await storage.responses.get(owner, record.id))?.response, finished);
      sameText(await storage.responses.chainLink(owner, record.id), { input: [item], output });
    });

    void test('a response id holding NUL reads as absent', async () => {
      const owner = newOwner();
      const id = 'resp_\u0000';
      assert.equal(await storage.responses.get(owner, id), null);
      assert.equal(await storage.responses.delete(owner, id), false);
      assert.equal(await storage.responses.chainLink(owner, id), null);
      assert.deepEqual(await storage.responses.listInputItems(owner, id, firstPage('asc')), {
        items: [],
        hasMore: false,
      });
      await assert.rejects(
        storage.responses.listInputItems(owner, id, { ...firstPage('asc'), after: 'msg_x' }),
        CursorNotFoundError,
      );
      await storage.responses.updateStatus(owner, id, 'in_progress', { id });
      await storage.responses.finish(owner, id, 'completed', { id }, [assistantMessage('msg_nul_orphan', 'o')]);
      assert.equal(await storage.responses.findItem(owner, 'msg_nul_orphan'), null);
    });

    void test('finish records status, object and output items; chainLink gives input then output in order', async () => {
      const owner = newOwner();
      const record = newResponse(owner, { status: 'in_progress' });
      const input = [messageItem('msg_1', 'one'), functionCallOutput('fco_2', 'call_1'), messageItem('msg_3', 'three')];
      await storage.responses.create(record, input);
      const output = [
        { id: 'rs_1', type: 'reasoning', summary: [] },
        { id: 'fc_1', type: 'function_call', call_id: 'call_2', name: 'lookup', arguments: '{"q":"x"}' },
        assistantMessage('msg_out', 'done'),
      ];
      const finished = { ...record.response, status: 'completed', output };
      await storage.responses.finish(owner, record.id, 'completed', finished, output);

      const stored = await storage.responses.get(owner, record.id);
      assert.equal(stored?.status, 'completed');
      assert.deepEqual(stored?.response, finished);
      assert.deepEqual(await storage.responses.chainLink(owner, record.id), { input, output });
      assert.deepEqual(await storage.responses.findItem(owner, 'fc_1'), output[1]);
    });

    void test('finish again replaces the output items', async () => {
      const owner = newOwner();
      const record = newResponse(owner, { status: 'in_progress' });
      await storage.responses.create(record, [messageItem('msg_in', 'in')]);
      const firstOutput = [
        assistantMessage('msg_x', 'x'),
        assistantMessage('msg_y', 'y'),
        assistantMessage('msg_z', 'z'),
      ];
      await storage.responses.finish(
        owner,
        record.id,
        'incomplete',
        { ...record.response, status: 'incomplete' },
        firstOutput,
      );
      const secondOutput = [assistantMessage('msg_w', 'w')];
      await storage.responses.finish(
        owner,
        record.id,
        'completed',
        { ...record.response, status: 'completed' },
        secondOutput,
      );
      assert.deepEqual(await storage.responses.chainLink(owner, record.id), {
        input: [messageItem('msg_in', 'in')],
        output: secondOutput,
      });
      assert.equal(await storage.responses.findItem(owner, 'msg_y'), null);
      assert.equal((await storage.responses.get(owner, record.id))?.status, 'completed');
    });

    void test('finish on an absent response writes nothing', async () => {
      const owner = newOwner();
      await storage.responses.finish(owner, 'resp_absent', 'completed', { id: 'resp_absent' }, [
        assistantMessage('msg_orphan', 'o'),
      ]);
      assert.equal(await storage.responses.get(owner, 'resp_absent'), null);
      assert.equal(await storage.responses.findItem(owner, 'msg_orphan'), null);
    });

    void test('updateStatus moves a running response and leaves an ended one alone', async () => {
      const owner = newOwner();
      const record = newResponse(owner, { status: 'queued' });
      await storage.responses.create(record, []);
      await storage.responses.updateStatus(owner, record.id, 'in_progress', {
        ...record.response,
        status: 'in_progress',
      });
      let stored = await storage.responses.get(owner, record.id);
      assert.equal(stored?.status, 'in_progress');
      assert.equal(stored?.response.status, 'in_progress');

      await storage.responses.finish(owner, record.id, 'completed', { ...record.response, status: 'completed' }, []);
      await storage.responses.updateStatus(owner, record.id, 'in_progress', {
        ...record.response,
        status: 'in_progress',
      });
      stored = await storage.responses.get(owner, record.id);
      assert.equal(stored?.status, 'completed');
      assert.equal(stored?.response.status, 'completed');
    });

    void test('claim moves a queued response to in_progress for exactly one of concurrent callers', async () => {
      const owner = newOwner();
      const record = newResponse(owner, { status: 'queued' });
      await storage.responses.create(record, []);
      const runningAs = (worker: string): Record<string, unknown> => ({
        ...record.response,
        status: 'in_progress',
        worker,
      });
      const workers = ['a', 'b', 'c', 'd'];
      const claims = await Promise.all(
        workers.map((worker) => storage.responses.claim(owner, record.id, runningAs(worker))),
      );
      assert.equal(claims.filter(Boolean).length, 1, `claims: ${claims.join(', ')}`);
      const winner = workers[claims.indexOf(true)]!;
      const stored = await storage.responses.get(owner, record.id);
      assert.equal(stored?.status, 'in_progress');
      assert.deepEqual(stored?.response, runningAs(winner));

      // Once claimed, a later claim loses and writes nothing.
      assert.equal(await storage.responses.claim(owner, record.id, runningAs('late')), false);
      assert.deepEqual((await storage.responses.get(owner, record.id))?.response, runningAs(winner));
    });

    void test('claim writes nothing for an ended, absent or another owner\'s response', async () => {
      const owner = newOwner();
      const cancelled = newResponse(owner, { status: 'cancelled' });
      await storage.responses.create(cancelled, []);
      assert.equal(
        await storage.responses.claim(owner, cancelled.id, { ...cancelled.response, status: 'in_progress' }),
        false,
      );
      assert.deepEqual(await storage.responses.get(owner, cancelled.id), cancelled);

      const queued = newResponse(owner, { status: 'queued' });
      await storage.responses.create(queued, []);
      assert.equal(
        await storage.responses.claim(newOwner(), queued.id, { ...queued.response, status: 'in_progress' }),
        false,
      );
      assert.deepEqual(await storage.responses.get(owner, queued.id), queued);
      assert.equal(await storage.responses.claim(owner, 'resp_absent', { status: 'in_progress' }), false);
      assert.equal(await storage.responses.claim(owner, 'resp_\u0000', { status: 'in_progress' }), false);
    });

    void test('delete removes the response and its items from get, lists, findItem and chainLink', async () => {
      const owner = newOwner();
      const record = newResponse(owner, { status: 'in_progress' });
      await storage.responses.create(record, [messageItem('msg_gone_in', 'in')]);
      await storage.responses.finish(owner, record.id, 'completed', record.response, [
        assistantMessage('msg_gone_out', 'out'),
      ]);

      assert.equal(await storage.responses.delete(owner, record.id), true);
      assert.equal(await storage.responses.get(owner, record.id), null);
      assert.equal(await storage.responses.findItem(owner, 'msg_gone_in'), null);
      assert.equal(await storage.responses.findItem(owner, 'msg_gone_out'), null);
      assert.equal(await storage.responses.chainLink(owner, record.id), null);
      assert.deepEqual(await storage.responses.listInputItems(owner, record.id, firstPage('asc')), {
        items: [],
        hasMore: false,
      });
      assert.equal(await storage.responses.delete(owner, record.id), false);
      assert.equal(await storage.responses.delete(owner, 'resp_never_existed'), false);
    });

    void test('another owner never sees, changes, deletes, lists or finds a response or its items', async () => {
      const ownerA = newOwner();
      const ownerB = newOwner();
      const record = newResponse(ownerA, { status: 'in_progress' });
      const input = [messageItem('msg_private_in', 'secret')];
      await storage.responses.create(record, input);

      assert.equal(await storage.responses.get(ownerB, record.id), null);
      assert.equal(await storage.responses.chainLink(ownerB, record.id), null);
      assert.equal(await storage.responses.findItem(ownerB, 'msg_private_in'), null);
      assert.deepEqual(await storage.responses.listInputItems(ownerB, record.id, firstPage('desc')), {
        items: [],
        hasMore: false,
      });
      await assert.rejects(
        storage.responses.listInputItems(ownerB, record.id, { ...firstPage('asc'), after: 'msg_private_in' }),
        CursorNotFoundError,
      );
      await storage.responses.updateStatus(ownerB, record.id, 'cancelled', { hijacked: true });
      await storage.responses.finish(ownerB, record.id, 'completed', { hijacked: true }, [
        assistantMessage('msg_planted', 'x'),
      ]);
      assert.equal(await storage.responses.delete(ownerB, record.id), false);

      assert.deepEqual(await storage.responses.get(ownerA, record.id), record);
      assert.deepEqual(await storage.responses.chainLink(ownerA, record.id), { input, output: [] });
      assert.equal(await storage.responses.findItem(ownerA, 'msg_planted'), null);
      assert.equal(await storage.responses.findItem(ownerB, 'msg_planted'), null);
    });

    void test('findItem returns the most recently recorded item with a repeated id, per owner', async () => {
      const ownerA = newOwner();
      const ownerB = newOwner();
      const first = newResponse(ownerA);
      const second = newResponse(ownerA);
      await storage.responses.create(first, [messageItem('msg_resent', 'first version')]);
      await storage.responses.create(second, [messageItem('msg_resent', 'second version')]);
      await storage.responses.create(newResponse(ownerB), [messageItem('msg_resent', 'other owner')]);

      assert.deepEqual(
        await storage.responses.findItem(ownerA, 'msg_resent'),
        messageItem('msg_resent', 'second version'),
      );
      assert.deepEqual(
        await storage.responses.findItem(ownerB, 'msg_resent'),
        messageItem('msg_resent', 'other owner'),
      );
      assert.equal(await storage.responses.delete(ownerA, second.id), true);
      assert.deepEqual(
        await storage.responses.findItem(ownerA, 'msg_resent'),
        messageItem('msg_resent', 'first version'),
      );
      assert.equal(await storage.responses.findItem(ownerA, 'msg_unknown'), null);
    });

    void describe('listInputItems pages like an OpenAI list', () => {
      const owner = newOwner();
      const record = newResponse(owner);
      // Seven items, ids item_0 … item_6 in input order.
      const input = Array.from({ length: 7 }, (_, index) => messageItem(`item_${index}`, `text ${index}`));
      const list = async (
        page: Partial<PageRequest> & Pick<PageRequest, 'order'>,
      ): Promise<{ ids: number[]; hasMore: boolean }> => {
        const result = await storage.responses.listInputItems(owner, record.id, {
          after: null,
          before: null,
          limit: 20,
          ...page,
        });
        return { ids: result.items.map((item) => Number(item.id.slice('item_'.length))), hasMore: result.hasMore };
      };

      before(async () => {
        await storage.responses.create(record, input);
        // Output items of the same response are not input items: they never show up in the list.
        await storage.responses.finish(owner, record.id, 'completed', record.response, [
          assistantMessage('msg_output', 'o'),
        ]);
      });

      void test('without cursors, in both orders', async () => {
        assert.deepEqual(await list({ order: 'asc', limit: 3 }), { ids: [0, 1, 2], hasMore: true });
        assert.deepEqual(await list({ order: 'desc', limit: 3 }), { ids: [6, 5, 4], hasMore: true });
        assert.deepEqual(await list({ order: 'asc', limit: 7 }), { ids: [0, 1, 2, 3, 4, 5, 6], hasMore: false });
        assert.deepEqual(await list({ order: 'desc', limit: 100 }), { ids: [6, 5, 4, 3, 2, 1, 0], hasMore: false });
      });

      void test('after is exclusive in the listing order', async () => {
        assert.deepEqual(await list({ order: 'asc', after: 'item_2', limit: 3 }), { ids: [3, 4, 5], hasMore: true });
        assert.deepEqual(await list({ order: 'asc', after: 'item_3', limit: 3 }), { ids: [4, 5, 6], hasMore: false });
        assert.deepEqual(await list({ order: 'asc', after: 'item_6', limit: 3 }), { ids: [], hasMore: false });
        assert.deepEqual(await list({ order: 'desc', after: 'item_4', limit: 3 }), { ids: [3, 2, 1], hasMore: true });
        assert.deepEqual(await list({ order: 'desc', after: 'item_1', limit: 3 }), { ids: [0], hasMore: false });
      });

      void test('before alone gives the page preceding it, in the listing order', async () => {
        assert.deepEqual(await list({ order: 'asc', before: 'item_5', limit: 2 }), { ids: [3, 4], hasMore: true });
        assert.deepEqual(await list({ order: 'asc', before: 'item_2', limit: 5 }), { ids: [0, 1], hasMore: false });
        assert.deepEqual(await list({ order: 'desc', before: 'item_2', limit: 2 }), { ids: [4, 3], hasMore: true });
        assert.deepEqual(await list({ order: 'desc', before: 'item_5', limit: 3 }), { ids: [6], hasMore: false });
        assert.deepEqual(await list({ order: 'desc', before: 'item_6', limit: 3 }), { ids: [], hasMore: false });
      });

      void test('after and before together bound the page, read onward from after', async () => {
        assert.deepEqual(await list({ order: 'asc', after: 'item_1', before: 'item_5', limit: 10 }), {
          ids: [2, 3, 4],
          hasMore: false,
        });
        assert.deepEqual(await list({ order: 'asc', after: 'item_1', before: 'item_5', limit: 2 }), {
          ids: [2, 3],
          hasMore: true,
        });
        assert.deepEqual(await list({ order: 'desc', after: 'item_5', before: 'item_1', limit: 2 }), {
          ids: [4, 3],
          hasMore: true,
        });
        assert.deepEqual(await list({ order: 'desc', after: 'item_5', before: 'item_1', limit: 3 }), {
          ids: [4, 3, 2],
          hasMore: false,
        });
      });

      void test('following after from page to page visits every item once, in both orders', async () => {
        for (const order of ['asc', 'desc'] as const) {
          const seen: number[] = [];
          let cursor: string | null = null;
          for (;;) {
            const page: { ids: number[]; hasMore: boolean } = await list({ order, after: cursor, limit: 2 });
            seen.push(...page.ids);
            if (!page.hasMore) break;
            cursor = `item_${page.ids.at(-1)}`;
          }
          assert.deepEqual(seen, order === 'asc' ? [0, 1, 2, 3, 4, 5, 6] : [6, 5, 4, 3, 2, 1, 0]);
        }
      });

      void test('following before back from the end visits every item once', async () => {
        const pages: number[][] = [];
        let cursor = 'item_6';
        for (;;) {
          const page = await list({ order: 'asc', before: cursor, limit: 4 });
          pages.unshift(page.ids);
          if (!page.hasMore) break;
          cursor = `item_${page.ids[0]}`;
        }
        assert.deepEqual(pages.flat(), [0, 1, 2, 3, 4, 5]);
      });

      void test('an unknown cursor throws CursorNotFoundError naming the parameter', async () => {
        await assert.rejects(list({ order: 'asc', after: 'item_unknown' }), (error: unknown) => {
          assert.ok(error instanceof CursorNotFoundError);
          assert.equal(error.param, 'after');
          assert.equal(error.cursor, 'item_unknown');
          return true;
        });
        await assert.rejects(list({ order: 'desc', before: 'item_unknown' }), (error: unknown) => {
          assert.ok(error instanceof CursorNotFoundError);
          assert.equal(error.param, 'before');
          return true;
        });
        // An output item of the same response, or an item of another response, is no cursor here.
        await assert.rejects(list({ order: 'asc', after: 'msg_output' }), CursorNotFoundError);
        const other = newResponse(owner);
        await storage.responses.create(other, [messageItem('msg_elsewhere', 'x')]);
        await assert.rejects(list({ order: 'asc', before: 'msg_elsewhere' }), CursorNotFoundError);
      });
    });

    void test('failInterrupted fails old running responses, keeps their items and the rest', async () => {
      const owner = newOwner();
      const now = Math.floor(Date.now() / 1000);
      const oldInProgress = newResponse(owner, { status: 'in_progress', createdAt: now - 7200 });
      const oldQueued = newResponse(owner, { status: 'queued', createdAt: now - 7200 });
      const oldCompleted = newResponse(owner, { status: 'completed', createdAt: now - 7200 });
      const recentInProgress = newResponse(owner, { status: 'in_progress', createdAt: now });
      for (const record of [oldInProgress, oldQueued, oldCompleted, recentInProgress]) {
        await storage.responses.create(record, [messageItem(`msg_${record.id}`, 'input')]);
      }

      assert.equal(
        await storage.responses.failInterrupted('The server restarted while this response was running.', 3600),
        2,
      );

      for (const record of [oldInProgress, oldQueued]) {
        const stored = await storage.responses.get(owner, record.id);
        assert.equal(stored?.status, 'failed');
        const failed = {
          ...record.response,
          status: 'failed',
          error: { code: 'server_error', message: 'The server restarted while this response was running.' },
        };
        assert.deepEqual(stored?.response, failed);
        // Keys already there keep their place.
        assert.equal(JSON.stringify(stored?.response), JSON.stringify(failed));
        assert.deepEqual(await storage.responses.chainLink(owner, record.id), {
          input: [messageItem(`msg_${record.id}`, 'input')],
          output: [],
        });
      }
      assert.deepEqual(await storage.responses.get(owner, oldCompleted.id), oldCompleted);
      assert.deepEqual(await storage.responses.get(owner, recentInProgress.id), recentInProgress);
      assert.equal(await storage.responses.failInterrupted('again', 3600), 0);
    });

    void test('concurrent creates and finishes all land', async () => {
      const owner = newOwner();
      const records = Array.from({ length: 40 }, () => newResponse(owner, { status: 'in_progress' }));
      await Promise.all(
        records.map((record, index) =>
          storage.responses.create(record, [
            messageItem(`msg_concurrent_${index}`, `input ${index}`),
            messageItem(`msg_concurrent_${index}_b`, 'b'),
          ]),
        ),
      );
      await Promise.all(
        records.map((record, index) =>
          storage.responses.finish(owner, record.id, 'completed', { ...record.response, status: 'completed' }, [
            assistantMessage(`msg_answer_${index}`, `answer ${index}`),
          ]),
        ),
      );
      const links = await Promise.all(records.map((record) => storage.responses.chainLink(owner, record.id)));
      links.forEach((link, index) => {
        assert.deepEqual(link, {
          input: [
            messageItem(`msg_concurrent_${index}`, `input ${index}`),
            messageItem(`msg_concurrent_${index}_b`, 'b'),
          ],
          output: [assistantMessage(`msg_answer_${index}`, `answer ${index}`)],
        });
      });
      const statuses = await Promise.all(
        records.map(async (record) => (await storage.responses.get(owner, record.id))?.status),
      );
      assert.ok(statuses.every((status) => status === 'completed'));
    });

    void test('what was written is still there after closing and opening again', async () => {
      const owner = newOwner();
      const record = newResponse(owner, { status: 'in_progress' });
      await storage.responses.create(record, [messageItem('msg_durable', 'kept')]);
      await storage.responses.finish(owner, record.id, 'completed', { ...record.response, status: 'completed' }, [
        assistantMessage('msg_durable_out', 'kept too'),
      ]);
      await storage.close();
      storage = await open();
      assert.equal((await storage.responses.get(owner, record.id))?.status, 'completed');
      assert.deepEqual(await storage.responses.chainLink(owner, record.id), {
        input: [messageItem('msg_durable', 'kept')],
        output: [assistantMessage('msg_durable_out', 'kept too')],
      });
    });

    // After the reopening above, so they also run on a storage that migrated a second time.
    describeConversationStoreContract(() => storage);
    describePromptStoreContract(() => storage);
    describeBackgroundStoreContract(() => storage);
    describeVectorStoreContract(() => storage.vectorStores);
    describeFileStoreContract(() => storage);
  });
}

function functionCallOutput(id: string, callId: string): StoredItem {
  return { id, type: 'function_call_output', call_id: callId, output: '{"ok":true}' };
}
