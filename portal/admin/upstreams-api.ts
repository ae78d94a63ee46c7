import { Router } from 'express';
import { HttpError } from '../http/errors.js';
import { adminOf } from './admin-auth.js';
import type { AdminDeps } from './admin-deps.js';
import { upstreamView } from './views.js';
import { auditRequest } from '../audit/request-audit.js';

/**
 * `/upstreams`: list, read, create (`POST`, 201), replace (`PUT`), delete. Definitions are
 * validated like the config file (400 naming the field); an id that exists is 409; config-file
 * upstreams are read-only here (409 `read_only`). Changes reach every portal process at once.
 */
export function upstreamsApi(deps: AdminDeps): Router {
  const router = Router();
  const { upstreams } = deps;
  const by = (req: import('express').Request) => adminOf(req).person;

  router.get('/upstreams', (_req, res) => {
    res.json({ upstreams: upstreams.all().map((u) => upstreamView(u, upstreams.source(u.id))) });
  });

  router.get('/upstreams/:id', (req, res) => {
    const upstream = upstreams.all().find((u) => u.id === req.params.id);
    if (!upstream) throw new HttpError(404, 'not_found', `no upstream "${req.params.id}"`);
    res.json(upstreamView(upstream, upstreams.source(upstream.id)));
  });

  router.post('/upstreams', deps.parsers.json, async (req, res) => {
    const upstream = await upstreams.create(req.body, by(req).id);
    auditRequest(req, {
      event: 'upstream_created',
      outcome: 'success',
      person: by(req),
      upstream: upstream.id,
      details: { kind: upstream.kind, url: upstream.url },
    });
    res.status(201).location(`/admin/api/v1/upstreams/${upstream.id}`).json(upstreamView(upstream, 'admin'));
  });

  router.put('/upstreams/:id', deps.parsers.json, async (req, res) => {
    const upstream = await upstreams.update(req.params.id as string, req.body);
    auditRequest(req, {
      event: 'upstream_updated',
      outcome: 'success',
      person: by(req),
      upstream: upstream.id,
      details: { kind: upstream.kind, url: upstream.url },
    });
    res.json(upstreamView(upstream, 'admin'));
  });

  router.delete('/upstreams/:id', async (req, res) => {
    await upstreams.remove(req.params.id as string);
    auditRequest(req, { event: 'upstream_deleted', outcome: 'success', person: by(req), upstream: req.params.id as string });
    res.status(204).end();
  });
  return router;
}
