import { Agent, request, type Dispatcher } from 'undici';

/** One POST to an upstream. */
export interface UpstreamCall {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Aborts the call at any stage: before the answer, or while its body is read. */
  signal: AbortSignal;
}

/** An upstream's answer, its body not read yet. Read it to the end, or `discard` it. */
export interface UpstreamAnswer {
  status: number;
  /** A response header by lower-case name, or null when absent. */
  header(name: string): string | null;
  /** The body's bytes as they arrive; rejects when the call's signal aborts or the connection drops. */
  chunks(): AsyncIterable<Uint8Array>;
  /** The whole body as text. */
  text(): Promise<string>;
  /** Lets go of a body not read to its end, so the connection is closed rather than left hanging. */
  discard(): void;
  /**
   * The answer was complete by its own account (an SSE stream's `[DONE]`) though its body may not
   * have ended yet: what is left is read in the background, so the keep-alive connection goes
   * back to the pool instead of being closed.
   */
  drain(): void;
}

/** How an adapter reaches its upstream: an undici pool in production, a scripted fetch in tests. */
export type UpstreamTransport = (call: UpstreamCall) => Promise<UpstreamAnswer>;

/**
 * Calls through undici's dispatcher API (`request`) on a keep-alive pool of its own. This is the
 * default rather than the global fetch: fetch's WHATWG layer (Request/Response objects, web
 * streams, a DOMException per abort) cost more CPU per call than the rest of a request did. The
 * timeouts are undici's defaults, the same ones fetch has: 10 s to connect, 300 s to the headers
 * and between body chunks.
 */
export function undiciTransport(dispatcher: Dispatcher = new Agent()): UpstreamTransport {
  return async (call) => {
    const answer = await request(call.url, {
      method: 'POST',
      headers: call.headers,
      body: call.body,
      signal: call.signal,
      dispatcher,
    });
    const body = answer.body;
    return {
      status: answer.statusCode,
      header: (name) => {
        const value = answer.headers[name];
        if (value === undefined) return null;
        return Array.isArray(value) ? value.join(', ') : value;
      },
      chunks: () => body,
      text: () => body.text(),
      discard: () => {
        if (!body.readableEnded) body.destroy();
      },
      drain: () => {
        // More than a few frames after the end means something is wrong: dump closes it then.
        if (!body.readableEnded) body.dump({ limit: drainLimitBytes }).catch(() => undefined);
      },
    };
  };
}

const drainLimitBytes = 64 * 1024;

/**
 * Calls through a fetch function (an injected one in tests). Every wait also races the signal,
 * so an abort is prompt even when that fetch ignores it.
 */
export function fetchTransport(fetch: typeof globalThis.fetch): UpstreamTransport {
  return async (call) => {
    const response = await abortable(
      fetch(call.url, { method: 'POST', headers: call.headers, body: call.body, signal: call.signal }),
      call.signal,
    );
    let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
    const discard = (): void => {
      const cancelled = reader ? reader.cancel() : response.body?.cancel();
      void cancelled?.catch(() => undefined);
    };
    return {
      status: response.status,
      header: (name) => response.headers.get(name),
      chunks: () => ({
        async *[Symbol.asyncIterator]() {
          if (response.body === null) return;
          reader = response.body.getReader();
          for (;;) {
            const result = await abortable(reader.read(), call.signal);
            if (result.done) return;
            yield result.value;
          }
        },
      }),
      text: () => abortable(response.text(), call.signal),
      discard,
      drain: discard,
    };
  };
}

/**
 * Rejects with the signal's reason as soon as it aborts, whether or not the underlying operation
 * honours the signal, so an abort is always prompt.
 */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason as Error);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  // The losing side of the race may still reject later; that must not become an unhandled rejection.
  promise.catch(() => undefined);
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}
