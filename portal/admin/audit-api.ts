import { Router } from 'express';
import { queryAudit, verifyAuditStream, type AuditFilter } from '../audit/query.js';
import { HttpError } from '../http/errors.js';
import type { AdminDeps } from './admin-deps.js';

const MAX_LIMIT = 1_000;

/**
 * `GET /audit?person=&client=&upstream=&event=&outcome=&from=&to=&limit=&cursor=`: events oldest
 * first; `next_cursor` continues. `from`/`to` are ISO 8601 times or epoch milliseconds.
 * `GET /audit/verify`: checks the hash chains of the stream.
 */
export function auditApi(deps: AdminDeps): Router {
  const router = Router();
  router.get('/audit', async (req, res) => {
    const q = req.query as Record<string, unknown>;
    const filter: AuditFilter = {
      person: text(q.person, 'person'),
      client: text(q.client, 'client'),
      upstream: text(q.upstream, 'upstream'),
      event: text(q.event, 'event'),
      outcome: text(q.outcome, 'outcome'),
      from: time(q.from, 'from'),
      to: time(q.to, 'to'),
    };
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
      throw new HttpError(400, 'invalid_request', `limit: must be an integer from 1 to ${MAX_LIMIT}`);
    const cursor = text(q.cursor, 'cursor');
    if (cursor !== undefined && !/^\d+-\d+$/.test(cursor))
      throw new HttpError(400, 'invalid_request', 'cursor: must be a next_cursor this API returned');
    const page = await queryAudit(deps.store, filter, { cursor, limit });
    res.setHeader('Cache-Control', 'no-store');
    res.json({ events: page.events, ...(page.nextCursor ? { next_cursor: page.nextCursor } : {}) });
  });

  router.get('/audit/verify', async (_req, res) => {
    await deps.audit.flush();
    const report = await verifyAuditStream(deps.store, deps.audit.key);
    res.setHeader('Cache-Control', 'no-store');
    res.json(report);
  });
  return router;
}

function text(value: unknown, name: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || value.length > 512) throw new HttpError(400, 'invalid_request', `${name}: must be one short string`);
  return value;
}

function time(value: unknown, name: string): number | undefined {
  const given = text(value, name);
  if (given === undefined) return undefined;
  const ms = /^\d+$/.test(given) ? Number(given) : Date.parse(given);
  if (!Number.isFinite(ms)) throw new HttpError(400, 'invalid_request', `${name}: must be an ISO 8601 time or epoch milliseconds`);
  return ms;
}
