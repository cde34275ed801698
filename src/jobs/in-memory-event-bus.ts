import type { EventBus } from './event-bus.ts';

interface Subscription {
  listener: (message: string) => void;
}

/**
 * The event bus of the embedded server: one process, so a map of listeners. Messages are
 * delivered on a later turn of the event loop, as they are over PostgreSQL, so code written
 * against one bus does not come to rely on the other's timing.
 */
export class InMemoryEventBus implements EventBus {
  readonly #channels = new Map<string, Set<Subscription>>();
  readonly #onListenerError: (error: unknown) => void;
  #closed = false;

  constructor(options: { onListenerError?: (error: unknown) => void } = {}) {
    this.#onListenerError = options.onListenerError ?? (() => undefined);
  }

  async publish(channel: string, message: string): Promise<void> {
    if (this.#closed) throw new Error('the event bus is closed');
    const subscriptions = this.#channels.get(channel);
    if (subscriptions === undefined) return;
    // Those subscribed now receive it, unless they unsubscribe first: after unsubscribe resolves,
    // a listener is never called again.
    const receivers = [...subscriptions];
    setImmediate(() => {
      if (this.#closed) return;
      for (const subscription of receivers) {
        if (!subscriptions.has(subscription)) continue;
        try {
          subscription.listener(message);
        } catch (error) {
          this.#onListenerError(error);
        }
      }
    });
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    if (this.#closed) throw new Error('the event bus is closed');
    // One object per subscription, so the same function subscribed twice is two subscriptions
    // and each unsubscribe removes only its own.
    const subscription: Subscription = { listener };
    let subscriptions = this.#channels.get(channel);
    if (subscriptions === undefined) {
      subscriptions = new Set();
      this.#channels.set(channel, subscriptions);
    }
    subscriptions.add(subscription);
    return async () => {
      const current = this.#channels.get(channel);
      if (current === undefined) return;
      current.delete(subscription);
      if (current.size === 0) this.#channels.delete(channel);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#channels.clear();
  }
}
