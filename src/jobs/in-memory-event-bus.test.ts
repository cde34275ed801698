import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { InMemoryEventBus } from './in-memory-event-bus.ts';

test('delivers to every listener of the channel, in order, and not to other channels', async () => {
  const bus = new InMemoryEventBus();
  const first: string[] = [];
  const second: string[] = [];
  const other: string[] = [];
  await bus.subscribe('a', (message) => first.push(message));
  await bus.subscribe('a', (message) => second.push(message));
  await bus.subscribe('b', (message) => other.push(message));
  await bus.publish('a', '1');
  await bus.publish('a', '2');
  assert.deepEqual(first, [], 'delivery happens on a later turn, as over PostgreSQL');
  await nextTurn();
  assert.deepEqual(first, ['1', '2']);
  assert.deepEqual(second, ['1', '2']);
  assert.deepEqual(other, []);
  await bus.close();
});

test('unsubscribe stops delivery to that subscription only, even for a message already published', async () => {
  const bus = new InMemoryEventBus();
  const received: string[] = [];
  const listener = (message: string) => received.push(message);
  const unsubscribeFirst = await bus.subscribe('a', listener);
  await bus.subscribe('a', listener);
  await bus.publish('a', 'x');
  await unsubscribeFirst();
  await unsubscribeFirst();
  await nextTurn();
  assert.deepEqual(received, ['x']);
  await bus.close();
});

test('a listener that throws is reported and does not keep the message from the others', async () => {
  const errors: unknown[] = [];
  const bus = new InMemoryEventBus({ onListenerError: (error) => errors.push(error) });
  const received: string[] = [];
  await bus.subscribe('a', () => {
    throw new Error('listener failed');
  });
  await bus.subscribe('a', (message) => received.push(message));
  await bus.publish('a', 'x');
  await nextTurn();
  assert.deepEqual(received, ['x']);
  assert.equal(errors.length, 1);
  await bus.close();
  await assert.rejects(bus.publish('a', 'y'));
});
