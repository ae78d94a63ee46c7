import { Router } from 'express';
import { HttpError } from '../http/errors.js';
import type { AdminDeps } from './admin-deps.js';
import { adminOf, requireAdmin } from './admin-auth.js';
import { auditApi } from './audit-api.js';
import { grantsApi } from './grants-api.js';
import { toolsApi } from './tools-api.js';
import { upstreamsApi } from './upstreams-api.js';

/** The admin API, `/admin/api/v1/…` (JSON), for admins by session or `admin`-scoped bearer token. */
export function adminApi(deps: AdminDeps): Router {
  const api = Router();
  api.use(...requireAdmin(deps));
  api.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  api.get('/me', (req, res) => {
    const { person, via } = adminOf(req);
    res.json({ person: person.id, name: person.name, email: person.email, via });
  });
  api.use(upstreamsApi(deps), toolsApi(deps), grantsApi(deps), auditApi(deps));
  api.use((req) => {
    throw new HttpError(404, 'not_found', `no admin API route for ${req.method} ${req.path}`);
  });
  const router = Router();
  router.use('/admin/api/v1', api);
  return router;
}
