import { Router } from 'express';
import type { Store } from '../store/store.js';
import type { Metrics } from './metrics.js';
import { contextOf } from './request-context.js';

/** `/healthz` (the process answers), `/readyz` (its store answers), `/metrics` (Prometheus). */
export function healthRoutes(deps: { store: Store; metrics: Metrics }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    try {
      await deps.store.ping();
      res.json({ status: 'ok' });
    } catch (error) {
      contextOf(req).log.warn({ err: error }, 'readiness check failed: store unreachable');
      res.status(503).json({ status: 'unavailable', reason: 'store unreachable' });
    }
  });
  router.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return router;
}
