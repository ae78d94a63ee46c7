import type { ServerResponse } from 'node:http';

/** What a hostile server answers with: 200 MB of JSON-typed spaces. */
export const HUGE_ANSWER_BYTES = 200 * 1024 * 1024;

/**
 * Streams `total` bytes (200 MB unless told) in 64 KiB chunks, waiting for the client to take
 * each, as a hostile server would; stops when the client hangs up, and says so to `onHungUp`.
 */
export function streamHugeAnswer(res: ServerResponse, options: { total?: number; onHungUp?: () => void } = {}): void {
  const total = options.total ?? HUGE_ANSWER_BYTES;
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  res.on('close', () => {
    if (!res.writableFinished) options.onHungUp?.();
  });
  res.writeHead(200, { 'content-type': 'application/json' });
  const pump = () => {
    while (sent < total && !res.destroyed) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}
