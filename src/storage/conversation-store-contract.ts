import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { CursorNotFoundError } from './cursor-not-found-error.ts';
import { ItemIdConflictError } from './item-id-conflict-error.ts';
import { assistantMessage, firstPage, messageItem, newOwner } from './store-contract-fixtures.ts';
import type { PageRequest, Storage, StoredConversation, StoredItem } from './stores.ts';

/**
 * The ConversationStore part of the contract, run by describeStoreContract inside its suite.
 * `storage` gives the suite's current Storage (the suite closes and reopens it).
 */
export function describeConversationStoreContract(storage: () => Storage): void {
  void describe('conversations', () => {
    void test('create then get returns the conversation; allItems gives its items in order', async () => {
      const conversation = newConversation(newOwner(), { topic: 'test', zz: 'first key' });
      const items = [messageItem('msg_1', 'one'), messageItem('msg_2', 'two'), messageItem('msg_3', 'three')];
      await storage().conversations.create(conversation, items);
      assert.deepEqual(await storage().conversations.get(conversation.owner, conversation.id), conversation);
      assert.deepEqual(await storage().conversations.allItems(conversation.owner, conversation.id), items);
      assert.equal(await storage().conversations.get(conversation.owner, 'conv_missing'), null);
      assert.deepEqual(await storage().conversations.allItems(conversation.owner, 'conv_missing'), []);
    });

    void test('create fails when the id exists and leaves the first conversation intact', async () => {
      const conversation = newConversation(newOwner());
      await storage().conversations.create(conversation, [messageItem('msg_first', 'first')]);
      await assert.rejects(
        storage().conversations.create({ ...conversation, metadata: { second: 'yes' } }, [
          messageItem('msg_second', 'second'),
        ]),
      );
      assert.deepEqual(await storage().conversations.get(conversation.owner, conversation.id), conversation);
      assert.deepEqual(await storage().conversations.allItems(conversation.owner, conversation.id), [
        messageItem('msg_first', 'first'),
      ]);
    });

    void test('updateMetadata replaces the metadata, keeping its key order; null when absent', async () => {
      const conversation = newConversation(newOwner(), { old: 'value' });
      await storage().conversations.create(conversation, []);
      const metadata = { zebra: '1', apple: '2', mango: '3' };
      const updated = await storage().conversations.updateMetadata(conversation.owner, conversation.id, metadata);
      assert.deepEqual(updated, { ...conversation, metadata });
      const stored = await storage().conversations.get(conversation.owner, conversation.id);
      assert.equal(JSON.stringify(stored), JSON.stringify({ ...conversation, metadata }));
      assert.equal(await storage().conversations.updateMetadata(conversation.owner, 'conv_missing', metadata), null);
    });

    void test('delete removes the conversation and its items; appendItems then writes nothing', async () => {
      const conversation = newConversation(newOwner());
      const { owner, id } = conversation;
      await storage().conversations.create(conversation, [messageItem('msg_gone', 'gone')]);
      assert.equal(await storage().conversations.delete(owner, id), true);
      assert.equal(await storage().conversations.get(owner, id), null);
      assert.deepEqual(await storage().conversations.allItems(owner, id), []);
      assert.equal(await storage().conversations.getItem(owner, id, 'msg_gone'), null);
      assert.deepEqual(await storage().conversations.listItems(owner, id, firstPage('asc')), {
        items: [],
        hasMore: false,
      });
      assert.equal(await storage().conversations.appendItems(owner, id, [messageItem('msg_late', 'late')]), false);
      assert.equal(await storage().conversations.deleteItem(owner, id, 'msg_gone'), false);
      assert.equal(await storage().conversations.delete(owner, id), false);
      assert.equal(await storage().conversations.delete(owner, 'conv_never_existed'), false);
      // The same id created again starts empty: neither the old items nor the late append remain.
      await storage().conversations.create(conversation, []);
      assert.deepEqual(await storage().conversations.allItems(owner, id), []);
    });

    void test('another owner never sees, changes, lists, appends to or deletes a conversation', async () => {
      const conversation = newConversation(newOwner(), { private: 'yes' });
      const { owner, id } = conversation;
      const ownerB = newOwner();
      const items = [messageItem('msg_private_1', 'secret'), messageItem('msg_private_2', 'secret too')];
      await storage().conversations.create(conversation, items);

      assert.equal(await storage().conversations.get(ownerB, id), null);
      assert.equal(await storage().conversations.updateMetadata(ownerB, id, { hijacked: 'yes' }), null);
      assert.equal(await storage().conversations.appendItems(ownerB, id, [messageItem('msg_planted', 'x')]), false);
      assert.deepEqual(await storage().conversations.allItems(ownerB, id), []);
      assert.deepEqual(await storage().conversations.listItems(ownerB, id, firstPage('desc')), {
        items: [],
        hasMore: false,
      });
      await assert.rejects(
        storage().conversations.listItems(ownerB, id, { ...firstPage('asc'), after: 'msg_private_1' }),
        CursorNotFoundError,
      );
      assert.equal(await storage().conversations.getItem(ownerB, id, 'msg_private_1'), null);
      assert.equal(await storage().conversations.deleteItem(ownerB, id, 'msg_private_1'), false);
      assert.equal(await storage().conversations.delete(ownerB, id), false);

      assert.deepEqual(await storage().conversations.get(owner, id), conversation);
      assert.deepEqual(await storage().conversations.allItems(owner, id), items);
    });

    void test('appendItems adds after the last item, contiguous; an empty batch changes nothing', async () => {
      const conversation = newConversation(newOwner());
      const { owner, id } = conversation;
      await storage().conversations.create(conversation, [messageItem('msg_a', 'a')]);
      assert.equal(await storage().conversations.appendItems(owner, id, [messageItem('msg_b', 'b')]), true);
      assert.equal(await storage().conversations.appendItems(owner, id, []), true);
      assert.equal(
        await storage().conversations.appendItems(owner, id, [
          messageItem('msg_c', 'c'),
          assistantMessage('msg_d', 'd'),
        ]),
        true,
      );
      assert.deepEqual(await storage().conversations.allItems(owner, id), [
        messageItem('msg_a', 'a'),
        messageItem('msg_b', 'b'),
        messageItem('msg_c', 'c'),
        assistantMessage('msg_d', 'd'),
      ]);
      assert.equal(
        await storage().conversations.appendItems(owner, 'conv_missing', [messageItem('msg_x', 'x')]),
        false,
      );
    });

    void test('10 appends of 5 items racing on one conversation give 50 items, each batch contiguous', async () => {
      const conversation = newConversation(newOwner());
      const { owner, id } = conversation;
      await storage().conversations.create(conversation, []);
      const batches = Array.from({ length: 10 }, (_, batch) =>
        Array.from({ length: 5 }, (_, index) => messageItem(`msg_race_${batch}_${index}`, `${batch}.${index}`)),
      );
      const results = await Promise.all(batches.map((items) => storage().conversations.appendItems(owner, id, items)));
      assert.ok(results.every((appended) => appended));

      const all = await storage().conversations.allItems(owner, id);
      assert.equal(all.length, 50);
      const seenBatches = new Set<number>();
      for (let start = 0; start < all.length; start += 5) {
        const batch = Number(all[start]?.id.split('_')[2]);
        assert.equal(seenBatches.has(batch), false);
        seenBatches.add(batch);
        assert.deepEqual(all.slice(start, start + 5), batches[batch]);
      }
      assert.equal(seenBatches.size, 10);
    });

    void test('appends racing a delete either land before it or write nothing', async () => {
      const conversation = newConversation(newOwner());
      const { owner, id } = conversation;
      await storage().conversations.create(conversation, []);
      const appends = Array.from({ length: 5 }, (_, batch) =>
        storage().conversations.appendItems(owner, id, [messageItem(`msg_deleted_${batch}`, 'x')]),
      );
      const deleted = storage().conversations.delete(owner, id);
      await Promise.all([...appends, deleted]);
      assert.equal(await deleted, true);
      await storage().conversations.create(conversation, []);
      assert.deepEqual(await storage().conversations.allItems(owner, id), []);
    });

    void describe('item ids are unique within a conversation', () => {
      void test('appending a taken id throws ItemIdConflictError and writes none of the batch', async () => {
        const conversation = newConversation(newOwner());
        const { owner, id } = conversation;
        const items = [messageItem('msg_taken', 'first'), messageItem('msg_other', 'other')];
        await storage().conversations.create(conversation, items);
        await assert.rejects(
          storage().conversations.appendItems(owner, id, [
            messageItem('msg_new', 'new'),
            messageItem('msg_taken', 'again'),
          ]),
          (error: unknown) => {
            assert.ok(error instanceof ItemIdConflictError);
            assert.equal(error.itemId, 'msg_taken');
            assert.equal(error.conversationId, id);
            return true;
          },
        );
        assert.deepEqual(await storage().conversations.allItems(owner, id), items);
        // The failed append used no places: the next one follows straight on.
        await storage().conversations.appendItems(owner, id, [messageItem('msg_next', 'next')]);
        assert.deepEqual(await storage().conversations.allItems(owner, id), [
          ...items,
          messageItem('msg_next', 'next'),
        ]);
      });

      void test('an id repeated within one batch, appended or created, is a conflict too', async () => {
        const conversation = newConversation(newOwner());
        const { owner, id } = conversation;
        await assert.rejects(
          storage().conversations.create(conversation, [messageItem('msg_twice', '1'), messageItem('msg_twice', '2')]),
          (error: unknown) => error instanceof ItemIdConflictError && error.itemId === 'msg_twice',
        );
        assert.equal(await storage().conversations.get(owner, id), null);

        await storage().conversations.create(conversation, []);
        await assert.rejects(
          storage().conversations.appendItems(owner, id, [messageItem('msg_dup', '1'), messageItem('msg_dup', '2')]),
          ItemIdConflictError,
        );
        assert.deepEqual(await storage().conversations.allItems(owner, id), []);
      });

      void test('racing appends of the same id: exactly one lands', async () => {
        const conversation = newConversation(newOwner());
        const { owner, id } = conversation;
        await storage().conversations.create(conversation, []);
        const outcomes = await Promise.allSettled(
          Array.from({ length: 5 }, (_, attempt) =>
            storage().conversations.appendItems(owner, id, [messageItem('msg_contested', `attempt ${attempt}`)]),
          ),
        );
        assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 1);
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') assert.ok(outcome.reason instanceof ItemIdConflictError);
        }
        assert.equal((await storage().conversations.allItems(owner, id)).length, 1);
      });

      void test('ids differing only in a lone surrogate or after a NUL are different ids', async () => {
        const conversation = newConversation(newOwner());
        const { owner, id } = conversation;
        const items = [
          messageItem('msg_\ud800', 'high'),
          messageItem('msg_\udc00', 'low'),
          messageItem('msg_\ufffd', 'replacement'),
          messageItem('msg_\u0000a', 'nul a'),
          messageItem('msg_\u0000b', 'nul b'),
        ];
        await storage().conversations.create(conversation, items.slice(0, 1));
        assert.equal(await storage().conversations.appendItems(owner, id, items.slice(1)), true);
        assert.deepEqual(await storage().conversations.allItems(owner, id), items);
        for (const item of items) assert.deepEqual(await storage().conversations.getItem(owner, id, item.id), item);
        assert.equal(await storage().conversations.deleteItem(owner, id, 'msg_\udc00'), true);
        assert.deepEqual(await storage().conversations.allItems(owner, id), [items[0], ...items.slice(2)]);
      });

      void test('the same id may sit in two conversations, and a deleted item frees its id', async () => {
        const owner = newOwner();
        const first = newConversation(owner);
        const second = newConversation(owner);
        await storage().conversations.create(first, [messageItem('msg_shared', 'in first')]);
        await storage().conversations.create(second, [messageItem('msg_shared', 'in second')]);
        assert.deepEqual(
          await storage().conversations.getItem(owner, first.id, 'msg_shared'),
          messageItem('msg_shared', 'in first'),
        );
        assert.deepEqual(
          await storage().conversations.getItem(owner, second.id, 'msg_shared'),
          messageItem('msg_shared', 'in second'),
        );
        assert.equal(await storage().conversations.deleteItem(owner, first.id, 'msg_shared'), true);
        assert.equal(
          await storage().conversations.appendItems(owner, first.id, [messageItem('msg_shared', 'again')]),
          true,
        );
        assert.deepEqual(await storage().conversations.allItems(owner, first.id), [messageItem('msg_shared', 'again')]);
      });
    });

    void test('getItem and deleteItem: a deleted item leaves lists and allItems, the others keep their order', async () => {
      const conversation = newConversation(newOwner());
      const { owner, id } = conversation;
      const items = Array.from({ length: 5 }, (_, index) => messageItem(`item_${index}`, `text ${index}`));
      await storage().conversations.create(conversation, items.slice(0, 3));
      await storage().conversations.appendItems(owner, id, items.slice(3));

      assert.deepEqual(await storage().conversations.getItem(owner, id, 'item_2'), items[2]);
      assert.equal(await storage().conversations.getItem(owner, id, 'item_missing'), null);
      assert.equal(await storage().conversations.deleteItem(owner, id, 'item_2'), true);
      assert.equal(await storage().conversations.deleteItem(owner, id, 'item_2'), false);
      assert.equal(await storage().conversations.deleteItem(owner, id, 'item_missing'), false);
      assert.equal(await storage().conversations.getItem(owner, id, 'item_2'), null);

      const remaining = [items[0], items[1], items[3], items[4]];
      assert.deepEqual(await storage().conversations.allItems(owner, id), remaining);
      assert.deepEqual(
        (await storage().conversations.listItems(owner, id, firstPage('desc'))).items,
        [...remaining].reverse(),
      );
      assert.deepEqual(
        (await storage().conversations.listItems(owner, id, { ...firstPage('asc'), after: 'item_1', limit: 1 })).items,
        [items[3]],
      );
      await assert.rejects(
        storage().conversations.listItems(owner, id, { ...firstPage('asc'), after: 'item_2' }),
        CursorNotFoundError,
      );

      // Deleting the last item and appending keeps the order too.
      assert.equal(await storage().conversations.deleteItem(owner, id, 'item_4'), true);
      await storage().conversations.appendItems(owner, id, [messageItem('item_5', 'text 5')]);
      assert.deepEqual(await storage().conversations.allItems(owner, id), [
        items[0],
        items[1],
        items[3],
        messageItem('item_5', 'text 5'),
      ]);
    });

    void describe('listItems pages like listInputItems', () => {
      const owner = newOwner();
      const conversation = newConversation(owner);
      // Seven items, ids item_0 … item_6: three from create, four appended in two batches.
      const items = Array.from({ length: 7 }, (_, index) => messageItem(`item_${index}`, `text ${index}`));
      const list = async (
        page: Partial<PageRequest> & Pick<PageRequest, 'order'>,
      ): Promise<{ ids: number[]; hasMore: boolean }> => {
        const result = await storage().conversations.listItems(owner, conversation.id, {
          after: null,
          before: null,
          limit: 20,
          ...page,
        });
        return { ids: result.items.map((item) => Number(item.id.slice('item_'.length))), hasMore: result.hasMore };
      };

      before(async () => {
        await storage().conversations.create(conversation, items.slice(0, 3));
        await storage().conversations.appendItems(owner, conversation.id, items.slice(3, 5));
        await storage().conversations.appendItems(owner, conversation.id, items.slice(5));
        await storage().conversations.create(newConversation(owner), [messageItem('msg_elsewhere', 'x')]);
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
        // An item of another conversation is no cursor here.
        await assert.rejects(list({ order: 'asc', before: 'msg_elsewhere' }), CursorNotFoundError);
      });
    });

    void test('NUL, control characters, emoji and lone surrogates are kept, in items, ids and metadata', async () => {
      const awkward =
        'nul \u0000 twice \u0000\u0000; controls \u0001\u0007\b\f\u000b\u001b\u001f\u007f\u0085; ' +
        'emoji 🎉👩🏽‍💻🇫🇷; lone \ud800 high, \udfff low, reversed \udc00\ud800, trailing \udbff';
      const escapedLookalike = 'written out: \\u0000 \\ud800 "\\"';
      const conversation = newConversation(newOwner(), { [awkward]: escapedLookalike, plain: awkward });
      const { owner, id } = conversation;
      const items: StoredItem[] = [
        { ...messageItem('msg_nul\u0000id', awkward), note: escapedLookalike },
        messageItem('msg_lone\ud800id', awkward),
      ];
      const appended = [assistantMessage('msg_emoji_🎉', awkward), messageItem('msg_nul', 'the prefix, another id')];
      const sameText = (actual: unknown, expected: unknown): void => {
        assert.deepEqual(actual, expected);
        assert.equal(JSON.stringify(actual), JSON.stringify(expected));
      };

      await storage().conversations.create(conversation, items);
      assert.equal(await storage().conversations.appendItems(owner, id, appended), true);
      const all = [...items, ...appended];
      sameText(await storage().conversations.get(owner, id), conversation);
      sameText(await storage().conversations.allItems(owner, id), all);
      sameText((await storage().conversations.listItems(owner, id, firstPage('asc'))).items, all);
      sameText(
        (await storage().conversations.listItems(owner, id, { ...firstPage('asc'), after: 'msg_nul\u0000id' })).items,
        all.slice(1),
      );
      sameText(
        (await storage().conversations.listItems(owner, id, { ...firstPage('desc'), before: 'msg_lone\ud800id' }))
          .items,
        [all[3], all[2]],
      );
      for (const item of all) sameText(await storage().conversations.getItem(owner, id, item.id), item);
      await assert.rejects(
        storage().conversations.appendItems(owner, id, [messageItem('msg_nul\u0000id', 'again')]),
        ItemIdConflictError,
      );

      const metadata = { [`${awkward} 2`]: awkward, z: '\u0000', a: '\ud800' };
      sameText(await storage().conversations.updateMetadata(owner, id, metadata), { ...conversation, metadata });
      assert.equal(await storage().conversations.deleteItem(owner, id, 'msg_nul\u0000id'), true);
      sameText(await storage().conversations.allItems(owner, id), all.slice(1));
    });

    void test('items keep their key order', async () => {
      const conversation = newConversation(newOwner());
      const item: StoredItem = {
        type: 'message',
        role: 'user',
        id: 'msg_ordered',
        content: [{ type: 'input_text', text: 'x', annotations: [], a: 1 }],
      };
      const call: StoredItem = { type: 'function_call', id: 'fc_ordered', name: 'f', call_id: 'c', arguments: '{}' };
      await storage().conversations.create(conversation, [item]);
      await storage().conversations.appendItems(conversation.owner, conversation.id, [call]);
      assert.equal(
        JSON.stringify(await storage().conversations.allItems(conversation.owner, conversation.id)),
        JSON.stringify([item, call]),
      );
      assert.equal(
        JSON.stringify(await storage().conversations.getItem(conversation.owner, conversation.id, 'fc_ordered')),
        JSON.stringify(call),
      );
    });

    void test('a conversation id holding NUL reads as absent', async () => {
      const owner = newOwner();
      const id = 'conv_\u0000';
      assert.equal(await storage().conversations.get(owner, id), null);
      assert.equal(await storage().conversations.updateMetadata(owner, id, {}), null);
      assert.equal(await storage().conversations.delete(owner, id), false);
      assert.equal(await storage().conversations.appendItems(owner, id, [messageItem('msg_x', 'x')]), false);
      assert.deepEqual(await storage().conversations.allItems(owner, id), []);
      assert.deepEqual(await storage().conversations.listItems(owner, id, firstPage('asc')), {
        items: [],
        hasMore: false,
      });
      await assert.rejects(
        storage().conversations.listItems(owner, id, { ...firstPage('asc'), before: 'msg_x' }),
        CursorNotFoundError,
      );
      assert.equal(await storage().conversations.getItem(owner, id, 'msg_x'), null);
      assert.equal(await storage().conversations.deleteItem(owner, id, 'msg_x'), false);
    });
  });
}

function newConversation(owner: string, metadata: Record<string, string> = {}): StoredConversation {
  return { id: `conv_${randomUUID().replaceAll('-', '')}`, owner, createdAt: Math.floor(Date.now() / 1000), metadata };
}
