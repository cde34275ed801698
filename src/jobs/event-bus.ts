/**
 * Fan-out of small notifications between the parts of one process, or across replicas
 * (PostgreSQL LISTEN/NOTIFY). Messages are hints ("new events", "cancel"); the store stays the
 * source of truth, so a missed message costs latency, never data.
 */
export interface EventBus {
  publish(channel: string, message: string): Promise<void>;
  /** Calls `listener` for each message on `channel`; the returned function unsubscribes. */
  subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
