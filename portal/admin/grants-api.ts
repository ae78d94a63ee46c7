import { Router, type Request } from 'express';
import { HttpError } from '../http/errors.js';
import type { Grant } from '../oauth/grant-store.js';
import { adminOf } from './admin-auth.js';
import type { AdminDeps } from './admin-deps.js';
import { clientView, grantView } from './views.js';
import { auditRequest } from '../audit/request-audit.js';

/** The grants `?person=` or `?client=` names (one of them is required: grants are indexed that way). */
async function grantsOf(deps: AdminDeps, filter: { person?: unknown; client?: unknown }): Promise<Grant[]> {
  const { grants } = deps;
  if (typeof filter.person === 'string' && filter.person) return grants.listByPerson(filter.person);
  if (typeof filter.client === 'string' && filter.client) return grants.listByClient(filter.client);
  throw new HttpError(400, 'invalid_request', 'person or client is required');
}

/**
 * `/clients` (list, delete: a deleted client's grants are revoked) and `/grants` (list by person
 * or client; revoke one, or all of a person's or a client's). Revoking a grant ends its access
 * and refresh tokens on every portal process at once.
 */
export function grantsApi(deps: AdminDeps): Router {
  const router = Router();
  const { clients, grants } = deps;
  const admin = (req: Request) => adminOf(req).person;

  router.get('/clients', async (_req, res) => {
    res.json({ clients: (await clients.list()).map(clientView) });
  });

  router.delete('/clients/:id', async (req, res) => {
    const clientId = req.params.id as string;
    const client = await clients.find(clientId);
    if (!client) throw new HttpError(404, 'not_found', `no client "${clientId}"`);
    if (client.kind === 'service') throw new HttpError(409, 'read_only', 'service clients are defined in the config file');
    const revoked = await grants.listByClient(clientId);
    await clients.delete(clientId);
    for (const grant of revoked) await grants.revoke(grant.id);
    auditRequest(req, {
      event: 'client_deleted',
      outcome: 'success',
      person: admin(req),
      client: { id: clientId, name: client.clientName },
      details: { by: 'admin', grants_revoked: revoked.length },
    });
    res.status(204).end();
  });

  router.get('/grants', async (req, res) => {
    const found = await grantsOf(deps, req.query);
    res.json({ grants: await Promise.all(found.map(async (g) => grantView(g, await deps.usage.lastUsed(g.id)))) });
  });

  router.delete('/grants/:id', async (req, res) => {
    const grant = await grants.find(req.params.id as string);
    if (!grant || !(await grants.revoke(grant.id))) throw new HttpError(404, 'not_found', `no grant "${req.params.id}"`);
    auditRevoke(req, grant);
    res.status(204).end();
  });

  router.post('/grants/revoke', deps.parsers.json, async (req, res) => {
    const found = await grantsOf(deps, (req.body ?? {}) as Record<string, unknown>);
    for (const grant of found) if (await grants.revoke(grant.id)) auditRevoke(req, grant);
    res.json({ revoked: found.length });
  });

  function auditRevoke(req: Request, grant: Grant) {
    auditRequest(req, {
      event: 'grant_revoked',
      outcome: 'success',
      person: grant.person,
      client: { id: grant.clientId, name: grant.clientName },
      details: { grant_id: grant.id, by: admin(req).id, via: 'admin' },
    });
  }
  return router;
}
