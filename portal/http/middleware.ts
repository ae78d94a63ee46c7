import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A step every request passes through, in express or outside it (the MCP endpoint): it calls
 * `next()` to go on, or `next(error)`, or throws.
 */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void | Promise<void>;

/**
 * Runs middleware in order outside express; resolves when the last one calls `next()`, rejects
 * with what any of them passed to `next` or threw.
 */
export function runMiddleware(steps: readonly Middleware[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    let index = 0;
    const next = (error?: unknown): void => {
      // As in express: anything truthy passed to `next` is an error.
      if (error) {
        reject(error);
        return;
      }
      const step = steps[index++];
      if (!step) {
        resolve();
        return;
      }
      try {
        const result = step(req, res, next);
        if (result) result.catch(reject);
      } catch (thrown) {
        reject(thrown);
      }
    };
    next();
  });
}
