import { createHash } from 'node:crypto';
import pg from 'pg';
import type { EventBus } from './event-bus.ts';

export interface PostgresEventBusOptions {
  /** A postgres:// URL; the bus opens one LISTEN connection and a small pool for NOTIFY. */
  connectionString: string;
  /** Told about connection losses, failed reconnects and listeners that threw. */
  onError?: (error: unknown) => void;
  /** First delay before reconnecting; doubles on each failure up to `maxReconnectDelayMs`. */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
}

interface Subscription {
  listener: (message: string) => void;
}

/** PostgreSQL truncates identifiers (and so LISTEN channels) to NAMEDATALEN - 1 bytes. */
const maxChannelBytes = 63;
/** NOTIFY refuses payloads of 8000 bytes or more. */
const maxMessageBytes = 7999;

/**
 * The channel PostgreSQL sees for `channel`: itself when it fits in an identifier, otherwise a
 * hash, so that two long names sharing their first 63 bytes never share a channel.
 */
export function postgresChannelName(channel: string): string {
  if (channel.length === 0 || channel.includes('\0'))
    throw new Error(`invalid event bus channel: ${JSON.stringify(channel)}`);
  if (Buffer.byteLength(channel) <= maxChannelBytes) return channel;
  return `riposte_h_${createHash('sha256').update(channel).digest('hex').slice(0, 48)}`;
}

/**
 * The event bus across replicas: PostgreSQL LISTEN/NOTIFY. One dedicated connection LISTENs to
 * every channel that has a listener in this process (a pooled connection could not, since
 * LISTEN belongs to a session); NOTIFY goes through a pool. When the LISTEN connection is lost,
 * the bus reconnects with backoff and LISTENs again; messages sent in between are lost, which
 * the EventBus contract allows (they are hints, the store is the truth).
 */
export class PostgresEventBus implements EventBus {
  readonly #options: PostgresEventBusOptions;
  readonly #pool: pg.Pool;
  readonly #onError: (error: unknown) => void;
  /** Subscriptions by PostgreSQL channel name. */
  readonly #channels = new Map<string, Set<Subscription>>();
  /** Channels LISTENed on the current connection. */
  readonly #listened = new Set<string>();
  #client: pg.Client | null = null;
  /** LISTEN, UNLISTEN and reconnecting run one at a time, in order, so they never race. */
  #serial: Promise<void> = Promise.resolve();
  #reconnectTimer: NodeJS.Timeout | null = null;
  #reconnectDelayMs: number;
  #closed = false;

  private constructor(options: PostgresEventBusOptions) {
    this.#options = options;
    this.#onError = options.onError ?? (() => undefined);
    this.#reconnectDelayMs = options.reconnectDelayMs ?? 100;
    this.#pool = new pg.Pool({ connectionString: options.connectionString, max: 2, connectionTimeoutMillis: 10_000 });
    // An idle pooled connection that drops emits 'error' on the pool; unhandled it would end the
    // process, and the pool has already discarded that client.
    this.#pool.on('error', () => undefined);
  }

  /** Connects the LISTEN connection, so an unreachable server fails the start-up. */
  static async open(options: PostgresEventBusOptions): Promise<PostgresEventBus> {
    const bus = new PostgresEventBus(options);
    try {
      bus.#client = await bus.#connect();
    } catch (error) {
      await bus.#pool.end();
      throw error;
    }
    return bus;
  }

  async publish(channel: string, message: string): Promise<void> {
    if (this.#closed) throw new Error('the event bus is closed');
    if (Buffer.byteLength(message) > maxMessageBytes)
      throw new Error(`event bus messages are limited to ${maxMessageBytes} bytes (NOTIFY's limit)`);
    await this.#pool.query('SELECT pg_notify($1, $2)', [postgresChannelName(channel), message]);
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    if (this.#closed) throw new Error('the event bus is closed');
    const name = postgresChannelName(channel);
    // One object per subscription, so the same function subscribed twice is two subscriptions.
    const subscription: Subscription = { listener };
    let subscriptions = this.#channels.get(name);
    if (subscriptions === undefined) {
      subscriptions = new Set();
      this.#channels.set(name, subscriptions);
    }
    subscriptions.add(subscription);
    await this.#synchronise(name);
    let unsubscribed = false;
    return async () => {
      if (unsubscribed) return;
      unsubscribed = true;
      const current = this.#channels.get(name);
      if (current === undefined) return;
      current.delete(subscription);
      if (current.size > 0) return;
      this.#channels.delete(name);
      await this.#synchronise(name);
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
    this.#channels.clear();
    await this.#serial;
    const client = this.#client;
    this.#client = null;
    this.#listened.clear();
    if (client !== null) await client.end().catch(() => undefined);
    await this.#pool.end();
  }

  /**
   * Brings the connection's LISTEN for one channel in line with whether it has listeners. Decided
   * when the turn comes rather than when asked, so a subscribe and an unsubscribe in quick
   * succession end in the right state whatever their order. Without a live connection there is
   * nothing to do: the reconnect LISTENs every channel that has listeners by then.
   */
  async #synchronise(name: string): Promise<void> {
    await this.#inTurn(async () => {
      const client = this.#client;
      if (client === null) return;
      const wanted = this.#channels.has(name);
      if (wanted === this.#listened.has(name)) return;
      try {
        await client.query(`${wanted ? 'LISTEN' : 'UNLISTEN'} ${client.escapeIdentifier(name)}`);
        if (wanted) this.#listened.add(name);
        else this.#listened.delete(name);
      } catch (error) {
        // A failure here is the connection going away; its 'error'/'end' starts the reconnect.
        this.#onError(error);
      }
    });
  }

  #inTurn(task: () => Promise<void>): Promise<void> {
    const next = this.#serial.then(task, task);
    this.#serial = next.catch(() => undefined);
    return next;
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.#options.connectionString,
      connectionTimeoutMillis: 10_000,
      // Keepalives notice a peer that vanished without closing the socket (a cut network).
      keepAlive: true,
      application_name: 'riposte-event-bus',
    });
    client.on('notification', (notification) => this.#deliver(notification.channel, notification.payload ?? ''));
    let lost = false;
    const onLost = (error?: unknown) => {
      if (lost) return;
      lost = true;
      if (error !== undefined) this.#onError(error);
      this.#connectionLost(client);
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    try {
      await client.connect();
    } catch (error) {
      lost = true;
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  #connectionLost(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = null;
    this.#listened.clear();
    client.end().catch(() => undefined);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer !== null) return;
    const delay = this.#reconnectDelayMs;
    // Jitter, so replicas that lost the server together do not all come back in the same instant.
    const jittered = delay / 2 + Math.random() * (delay / 2);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      void this.#inTurn(() => this.#reconnect());
    }, jittered);
    this.#reconnectTimer.unref();
  }

  async #reconnect(): Promise<void> {
    if (this.#closed || this.#client !== null) return;
    let client: pg.Client | null = null;
    const listened: string[] = [];
    try {
      client = await this.#connect();
      for (const name of this.#channels.keys()) {
        await client.query(`LISTEN ${client.escapeIdentifier(name)}`);
        listened.push(name);
      }
    } catch (error) {
      this.#onError(error);
      // A half-made connection never became current, so its 'end' starts nothing.
      if (client !== null) await client.end().catch(() => undefined);
      this.#reconnectDelayMs = Math.min(this.#reconnectDelayMs * 2, this.#options.maxReconnectDelayMs ?? 5_000);
      this.#scheduleReconnect();
      return;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    // Channels subscribed or left during the loop are brought in line by their own
    // #synchronise, queued behind this turn.
    for (const name of listened) this.#listened.add(name);
    this.#reconnectDelayMs = this.#options.reconnectDelayMs ?? 100;
  }

  #deliver(name: string, message: string): void {
    const subscriptions = this.#channels.get(name);
    if (subscriptions === undefined) return;
    for (const subscription of [...subscriptions]) {
      if (!subscriptions.has(subscription)) continue;
      try {
        subscription.listener(message);
      } catch (error) {
        this.#onError(error);
      }
    }
  }
}
