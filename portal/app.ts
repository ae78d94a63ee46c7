import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { Config } from './config/load.js';
import type { Store } from './store/store.js';
import { errorHandler, HttpError } from './http/errors.js';
import { healthRoutes } from './http/health.js';
import { createMetrics } from './http/metrics.js';
import { requestContext } from './http/request-context.js';
import { securityHeaders } from './http/security-headers.js';

/** What a portal is built from; `createApp` does no I/O, so tests build a portal in one call. */
export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
}

/** Wires the portal: request context, metrics, security headers, capability routes, one error handler. */
export function createApp(deps: AppDeps): Express {
  const { config, store, logger } = deps;
  const metrics = createMetrics();
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.http.trustProxy);
  app.set('query parser', 'simple');

  app.use(requestContext(logger));
  app.use(metrics.middleware);
  app.use(securityHeaders({ https: config.issuer.startsWith('https:') }));
  app.use(healthRoutes({ store, metrics }));

  app.use((req) => {
    throw new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`);
  });
  app.use(errorHandler(logger));
  return app;
}
