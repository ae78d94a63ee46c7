import type { ServerResponse } from 'node:http';

/**
 * A signal that aborts when the connection closes before the response was sent: the caller went
 * away, so work done only for its answer (fetching a client's metadata document) can stop.
 */
export function callerSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}
