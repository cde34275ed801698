import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { messageItem, newOwner, newResponse } from './store-contract-fixtures.ts';
import type { ResponseStatus, Storage, StoredEvent, StoredResponse } from './stores.ts';

/**
 * The BackgroundStore part of the contract, run by describeStoreContract inside its suite.
 * `storage` gives the suite's current Storage (the suite closes and reopens it).
 */
export function describeBackgroundStoreContract(storage: () => Storage): void {
  void describe('background', () => {
    /** A response with a saved request, as the job runner makes one. */
    const createBackground = async (
      owner: string,
      overrides: { status?: ResponseStatus; createdAt?: number } = {},
      request: Record<string, unknown> = { model: 'scripted', input: 'hello', background: true },
    ): Promise<StoredResponse> => {
      const record = newResponse(owner, { status: 'queued', ...overrides });
      await storage().responses.create(record, [messageItem(`msg_${record.id}`, 'input')]);
      await storage().background.saveRequest(owner, record.id, request);
      return record;
    };

    const end = async (record: StoredResponse, status: ResponseStatus): Promise<void> => {
      await storage().responses.finish(record.owner, record.id, status, { ...record.response, status }, []);
    };

    void test('saveRequest then getRequest gives the request back, to its owner only', async () => {
      const owner = newOwner();
      const request = { model: 'scripted', input: [messageItem('msg_in', 'hi')], background: true, store: true };
      const record = await createBackground(owner, {}, request);
      assert.deepEqual(await storage().background.getRequest(owner, record.id), request);
      assert.equal(await storage().background.getRequest(newOwner(), record.id), null);
      assert.equal(await storage().background.getRequest(owner, 'resp_missing'), null);
      // A response without a saved request has none.
      const plain = newResponse(owner);
      await storage().responses.create(plain, []);
      assert.equal(await storage().background.getRequest(owner, plain.id), null);
    });

    void test('saveRequest fails without the response, for another owner, and a second time', async () => {
      const owner = newOwner();
      await assert.rejects(storage().background.saveRequest(owner, 'resp_never_created', { a: 1 }));
      const record = await createBackground(owner, {}, { first: true });
      await assert.rejects(storage().background.saveRequest(newOwner(), record.id, { planted: true }));
      await assert.rejects(storage().background.saveRequest(owner, record.id, { second: true }));
      assert.deepEqual(await storage().background.getRequest(owner, record.id), { first: true });
    });

    void test('requests and events keep NUL, lone surrogates, escapes and key order', async () => {
      const awkward = 'nul \u0000 lone \ud800 low \udfff emoji 👩🏽‍💻 controls \u0001\u001f\u007f quote " back \\';
      const escapedLookalike = 'written out: \\u0000 \\ud800 "\\"';
      const owner = newOwner();
      // Keys out of alphabetical and length order (jsonb would sort them), nested too.
      const request = {
        zebra: 1,
        input: awkward,
        metadata: { [awkward]: escapedLookalike, zz: '1', a: '2' },
        text: { format: { type: 'json_schema', schema: { properties: { b: {}, a: {} } } } },
      };
      const record = await createBackground(owner, {}, request);
      const events: StoredEvent[] = [
        { sequenceNumber: 0, event: { type: 'response.created', sequence_number: 0, response: request } },
        {
          sequenceNumber: 1,
          event: { type: 'response.output_text.delta', sequence_number: 1, delta: awkward, item_id: 'msg\u0000' },
        },
        { sequenceNumber: 2, event: { z: escapedLookalike, sequence_number: 2, type: 'response.completed' } },
      ];
      await storage().background.appendEvents(record.id, events);
      const sameText = (actual: unknown, expected: unknown): void => {
        assert.deepEqual(actual, expected);
        assert.equal(JSON.stringify(actual), JSON.stringify(expected));
      };
      sameText(await storage().background.getRequest(owner, record.id), request);
      sameText(await storage().background.readEvents(record.id, -1, 10), events);
    });

    void test('readEvents gives events in sequence order, after an exclusive sequence number, at most limit', async () => {
      const record = await createBackground(newOwner());
      const event = (sequenceNumber: number): StoredEvent => ({
        sequenceNumber,
        event: { type: 'response.output_text.delta', sequence_number: sequenceNumber, delta: `d${sequenceNumber}` },
      });
      await storage().background.appendEvents(record.id, [event(0), event(1), event(2)]);
      await storage().background.appendEvents(record.id, []);
      await storage().background.appendEvents(record.id, [event(3), event(4)]);
      const sequences = async (afterSequence: number, limit: number): Promise<number[]> =>
        (await storage().background.readEvents(record.id, afterSequence, limit)).map((stored) => stored.sequenceNumber);

      assert.deepEqual(await storage().background.readEvents(record.id, -1, 10), [0, 1, 2, 3, 4].map(event));
      assert.deepEqual(await sequences(-1, 2), [0, 1]);
      assert.deepEqual(await sequences(1, 2), [2, 3]);
      assert.deepEqual(await sequences(2, 10), [3, 4]);
      assert.deepEqual(await sequences(4, 10), []);
      assert.deepEqual(await sequences(100, 10), []);
      assert.deepEqual(await storage().background.readEvents('resp_without_events', -1, 10), []);
    });

    void test('a sequence number already there fails the whole batch', async () => {
      const record = await createBackground(newOwner());
      const event = (sequenceNumber: number): StoredEvent => ({ sequenceNumber, event: { n: sequenceNumber } });
      await storage().background.appendEvents(record.id, [event(0), event(1), event(2)]);
      await assert.rejects(storage().background.appendEvents(record.id, [event(3), event(2)]));
      await assert.rejects(storage().background.appendEvents(record.id, [event(5), event(6), event(5)]));
      assert.deepEqual(await storage().background.readEvents(record.id, -1, 10), [event(0), event(1), event(2)]);
      // The log goes on where it stood.
      await storage().background.appendEvents(record.id, [event(3)]);
      assert.deepEqual(
        (await storage().background.readEvents(record.id, 1, 10)).map((stored) => stored.sequenceNumber),
        [2, 3],
      );
    });

    void test('appendEvents fails for a response without a saved request, and writes nothing', async () => {
      const owner = newOwner();
      const plain = newResponse(owner, { status: 'in_progress' });
      await storage().responses.create(plain, []);
      const events = [{ sequenceNumber: 0, event: { type: 'response.created' } }];
      await assert.rejects(storage().background.appendEvents(plain.id, events));
      await assert.rejects(storage().background.appendEvents('resp_never_created', events));
      assert.deepEqual(await storage().background.readEvents(plain.id, -1, 10), []);
    });

    void test('500 events in batches, paged back in order; two responses appending at once never mix', async () => {
      const first = await createBackground(newOwner());
      const second = await createBackground(newOwner());
      const event = (responseId: string, sequenceNumber: number): StoredEvent => ({
        sequenceNumber,
        event: {
          type: 'response.output_text.delta',
          sequence_number: sequenceNumber,
          delta: `${responseId}/${sequenceNumber}`,
        },
      });
      const batches = (responseId: string): StoredEvent[][] =>
        Array.from({ length: 10 }, (_, batch) =>
          Array.from({ length: 50 }, (_, index) => event(responseId, batch * 50 + index)),
        );
      const firstBatches = batches(first.id);
      const secondBatches = batches(second.id);
      for (const [index, firstBatch] of firstBatches.entries()) {
        await Promise.all([
          storage().background.appendEvents(first.id, firstBatch),
          storage().background.appendEvents(second.id, secondBatches[index] ?? []),
        ]);
      }

      for (const [record, expected] of [
        [first, firstBatches.flat()],
        [second, secondBatches.flat()],
      ] as const) {
        assert.deepEqual(await storage().background.readEvents(record.id, -1, 1000), expected);
        const paged: StoredEvent[] = [];
        let afterSequence = -1;
        for (;;) {
          const page = await storage().background.readEvents(record.id, afterSequence, 64);
          if (page.length === 0) break;
          paged.push(...page);
          afterSequence = page.at(-1)?.sequenceNumber ?? afterSequence;
        }
        assert.deepEqual(paged, expected);
      }
    });

    void test('requestCancel marks a background response of this owner, again and again', async () => {
      const owner = newOwner();
      const record = await createBackground(owner, { status: 'in_progress' });
      const other = await createBackground(owner);
      const plain = newResponse(owner, { status: 'in_progress' });
      await storage().responses.create(plain, []);

      assert.equal(await storage().background.isCancelRequested(record.id), false);
      assert.equal(await storage().background.requestCancel(newOwner(), record.id), false);
      assert.equal(await storage().background.isCancelRequested(record.id), false);
      assert.equal(await storage().background.requestCancel(owner, plain.id), false);
      assert.equal(await storage().background.isCancelRequested(plain.id), false);
      assert.equal(await storage().background.requestCancel(owner, 'resp_never_created'), false);

      assert.equal(await storage().background.requestCancel(owner, record.id), true);
      assert.equal(await storage().background.isCancelRequested(record.id), true);
      assert.equal(await storage().background.requestCancel(owner, record.id), true);
      assert.equal(await storage().background.isCancelRequested(record.id), true);
      assert.equal(await storage().background.isCancelRequested(other.id), false);
      // The response itself is the runner's to end.
      assert.equal((await storage().responses.get(owner, record.id))?.status, 'in_progress');
    });

    void test('listUnfinished gives queued and in-progress background responses, oldest first', async () => {
      const owner = newOwner();
      const now = Math.floor(Date.now() / 1000);
      // Saved out of age order; the two of the same second come in the order they were saved.
      const newest = await createBackground(owner, { status: 'queued', createdAt: now - 10 });
      const oldest = await createBackground(owner, { status: 'in_progress', createdAt: now - 30 });
      const middleFirst = await createBackground(owner, { status: 'queued', createdAt: now - 20 });
      const middleSecond = await createBackground(owner, { status: 'in_progress', createdAt: now - 20 });
      for (const status of ['completed', 'failed', 'incomplete', 'cancelled'] as const) {
        await end(await createBackground(owner, { status: 'in_progress', createdAt: now - 40 }), status);
      }
      await storage().responses.create(newResponse(owner, { status: 'in_progress', createdAt: now - 50 }), []);
      const movedOn = await createBackground(owner, { status: 'queued', createdAt: now - 25 });
      await storage().responses.updateStatus(owner, movedOn.id, 'in_progress', movedOn.response);

      const unfinished = (await storage().background.listUnfinished())
        .filter((entry) => entry.owner === owner)
        .map(({ responseId, owner: entryOwner, status }) => ({ responseId, owner: entryOwner, status }));
      assert.deepEqual(unfinished, [
        { responseId: oldest.id, owner, status: 'in_progress' },
        { responseId: movedOn.id, owner, status: 'in_progress' },
        { responseId: middleFirst.id, owner, status: 'queued' },
        { responseId: middleSecond.id, owner, status: 'in_progress' },
        { responseId: newest.id, owner, status: 'queued' },
      ]);
    });

    void test('listUnfinished tells when each last had an event or a heartbeat (touch)', async (context) => {
      // The store reads the clock; moving Date makes the ages exact without waiting.
      const now = Date.now();
      const secondsAgo = (seconds: number): number => now - seconds * 1000;
      context.mock.timers.enable({ apis: ['Date'], now: secondsAgo(600) });
      const owner = newOwner();
      const createdAt = Math.floor(secondsAgo(600) / 1000);
      const quiet = await createBackground(owner, { status: 'in_progress', createdAt });
      const appended = await createBackground(owner, { status: 'in_progress', createdAt });
      const touched = await createBackground(owner, { status: 'in_progress', createdAt });
      const waiting = await createBackground(owner, { status: 'queued', createdAt });

      context.mock.timers.setTime(secondsAgo(300));
      await storage().background.appendEvents(appended.id, [{ sequenceNumber: 0, event: { n: 0 } }]);
      await storage().background.appendEvents(touched.id, [{ sequenceNumber: 0, event: { n: 0 } }]);
      context.mock.timers.setTime(secondsAgo(30));
      await storage().background.touch(touched.id);
      // Touching nothing (no request, or an id that cannot be stored) is no error.
      await storage().background.touch('resp_without_request');
      await storage().background.touch('resp_\u0000');
      context.mock.timers.setTime(now);

      const ages = new Map(
        (await storage().background.listUnfinished())
          .filter((entry) => entry.owner === owner)
          .map((entry) => [entry.responseId, Math.floor(now / 1000) - entry.lastEventAt]),
      );
      assert.deepEqual(
        [quiet, appended, touched, waiting].map((record) => ages.get(record.id)),
        [600, 300, 30, 600],
      );
      // A heartbeat writes no event.
      assert.equal((await storage().background.readEvents(touched.id, -1, 10)).length, 1);
    });

    void test('failInterrupted leaves background responses to the job runner', async () => {
      const owner = newOwner();
      const old = Math.floor(Date.now() / 1000) - 7200;
      const queued = await createBackground(owner, { status: 'queued', createdAt: old });
      const running = await createBackground(owner, { status: 'in_progress', createdAt: old });
      const plain = newResponse(owner, { status: 'in_progress', createdAt: old });
      await storage().responses.create(plain, []);

      assert.equal(await storage().responses.failInterrupted('stopped', 3600), 1);
      assert.equal((await storage().responses.get(owner, plain.id))?.status, 'failed');
      assert.deepEqual(await storage().responses.get(owner, queued.id), queued);
      assert.deepEqual(await storage().responses.get(owner, running.id), running);
      const unfinished = (await storage().background.listUnfinished()).filter((entry) => entry.owner === owner);
      assert.deepEqual(
        unfinished.map((entry) => entry.responseId),
        [queued.id, running.id],
      );
    });

    void test('deleting the response deletes its request, events and cancel mark', async () => {
      const owner = newOwner();
      const record = await createBackground(owner, { status: 'in_progress' }, { original: true });
      await storage().background.appendEvents(record.id, [
        { sequenceNumber: 0, event: { type: 'response.created' } },
        { sequenceNumber: 1, event: { type: 'response.in_progress' } },
      ]);
      assert.equal(await storage().background.requestCancel(owner, record.id), true);

      assert.equal(await storage().responses.delete(owner, record.id), true);
      assert.equal(await storage().background.getRequest(owner, record.id), null);
      assert.deepEqual(await storage().background.readEvents(record.id, -1, 10), []);
      assert.equal(await storage().background.isCancelRequested(record.id), false);
      assert.equal(await storage().background.requestCancel(owner, record.id), false);
      assert.ok((await storage().background.listUnfinished()).every((entry) => entry.responseId !== record.id));

      // Gone, not hidden: the same id starts over with a fresh request and an empty log.
      await storage().responses.create(record, []);
      await storage().background.saveRequest(owner, record.id, { again: true });
      assert.equal(await storage().background.isCancelRequested(record.id), false);
      await storage().background.appendEvents(record.id, [{ sequenceNumber: 0, event: { type: 'again' } }]);
      assert.deepEqual(await storage().background.readEvents(record.id, -1, 10), [
        { sequenceNumber: 0, event: { type: 'again' } },
      ]);
    });

    void test('prune removes requests and events of responses that ended long enough ago, and only those', async (context) => {
      // The store reads the clock when it saves a request and appends events; moving Date makes
      // responses that ended in the past without waiting. Nothing else in the suite is that old.
      const now = Date.now();
      const hoursAgo = (hours: number): number => now - hours * 3600 * 1000;
      context.mock.timers.enable({ apis: ['Date'], now: hoursAgo(5) });
      const owner = newOwner();
      const event = (sequenceNumber: number): StoredEvent => ({ sequenceNumber, event: { n: sequenceNumber } });
      const createdAt = Math.floor(hoursAgo(5) / 1000);

      // Ended four hours ago: saved five hours ago, last event four hours ago.
      const completed = await createBackground(owner, { status: 'in_progress', createdAt });
      const failed = await createBackground(owner, { status: 'in_progress', createdAt });
      // Ended without events: cancelled while queued, its request saved five hours ago.
      const cancelled = await createBackground(owner, { status: 'queued', createdAt });
      // Ran for five hours and ended a moment ago: its last event is recent.
      const longRunning = await createBackground(owner, { status: 'in_progress', createdAt });
      // Still running after five hours.
      const stillRunning = await createBackground(owner, { status: 'in_progress', createdAt });
      const plain = newResponse(owner, { createdAt });
      await storage().responses.create(plain, []);

      context.mock.timers.setTime(hoursAgo(4));
      for (const record of [completed, failed, longRunning, stillRunning]) {
        await storage().background.appendEvents(record.id, [event(0), event(1)]);
      }
      await end(completed, 'completed');
      await end(failed, 'failed');
      await end(cancelled, 'cancelled');
      context.mock.timers.setTime(now);
      await storage().background.appendEvents(longRunning.id, [event(2)]);
      await end(longRunning, 'incomplete');

      assert.equal(await storage().background.prune(5 * 3600), 0);
      assert.equal(await storage().background.prune(3 * 3600), 3);
      for (const record of [completed, failed, cancelled]) {
        assert.equal(await storage().background.getRequest(owner, record.id), null);
        assert.deepEqual(await storage().background.readEvents(record.id, -1, 10), []);
        // The response itself stays.
        assert.equal((await storage().responses.get(owner, record.id))?.id, record.id);
      }
      for (const record of [longRunning, stillRunning]) {
        assert.notEqual(await storage().background.getRequest(owner, record.id), null);
        assert.equal((await storage().background.readEvents(record.id, -1, 10)).length, record === longRunning ? 3 : 2);
      }
      assert.deepEqual(await storage().responses.get(owner, plain.id), plain);
      assert.equal(await storage().background.prune(3 * 3600), 0);
    });

    void test('a response id holding NUL has no request, events or cancel mark', async () => {
      const owner = newOwner();
      const id = 'resp_\u0000';
      await assert.rejects(storage().background.saveRequest(owner, id, { a: 1 }));
      assert.equal(await storage().background.getRequest(owner, id), null);
      await assert.rejects(storage().background.appendEvents(id, [{ sequenceNumber: 0, event: {} }]));
      assert.deepEqual(await storage().background.readEvents(id, -1, 10), []);
      assert.equal(await storage().background.requestCancel(owner, id), false);
      assert.equal(await storage().background.isCancelRequested(id), false);
    });
  });
}
