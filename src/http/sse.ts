import type { ServerResponse } from 'node:http';

/** Starts an SSE response. Streaming follows `stream: true` in the body, whatever Accept says. */
export function openEventStream(response: ServerResponse): void {
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  response.flushHeaders();
}

/**
 * Writes one event as one frame (`event:` + `data:` in a single write, so a frame is never torn
 * across writes). Resolves once the socket can take more, so a slow client slows the stream
 * rather than growing memory; resolves false when the client is gone.
 */
export function writeEvent(response: ServerResponse, event: { type: string }): Promise<boolean> {
  if (response.destroyed || response.writableEnded) return Promise.resolve(false);
  const ready = response.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
  if (ready) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (open: boolean) => (): void => {
      response.off('drain', onDrain);
      response.off('close', onClose);
      resolve(open);
    };
    const onDrain = done(true);
    const onClose = done(false);
    response.once('drain', onDrain);
    response.once('close', onClose);
  });
}
