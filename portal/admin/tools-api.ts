import { Router, type Request } from 'express';
import type { ToolPin } from '../governance/tool-pins.js';
import { HttpError } from '../http/errors.js';
import { adminOf } from './admin-auth.js';
import type { AdminDeps } from './admin-deps.js';
import { auditRequest } from '../audit/request-audit.js';

/** One tool's pin as the admin API shows it (snake_case: a wire format). */
export function toolPinView(name: string, pin: ToolPin) {
  return {
    name,
    status: pin.status,
    pinned_hash: pin.pinned?.hash ?? null,
    current_hash: pin.current?.hash ?? pin.pinned?.hash ?? null,
    since: pin.since,
    pinned: pin.pinned?.definition ?? null,
    current: pin.current?.definition ?? null,
  };
}

/**
 * `/upstreams/{id}/tools`: each tool of an MCP upstream against its pin (`pinned`, `changed`,
 * `new`, `rejected`), and `POST …/tools/{name}/approve` (pins what the upstream lists now; agents
 * get `list_changed`) or `/reject`. Unknown upstream or tool: 404; nothing to approve: 409.
 */
export function toolsApi(deps: AdminDeps): Router {
  const router = Router();
  const { upstreams, pins } = deps;

  function mcpUpstream(req: Request): string {
    const id = req.params.id as string;
    if (!upstreams.all().some((u) => u.id === id && u.kind === 'mcp')) throw new HttpError(404, 'not_found', `no MCP upstream "${id}"`);
    return id;
  }

  router.get('/upstreams/:id/tools', async (req, res) => {
    const id = mcpUpstream(req);
    const tools = Object.entries(await pins.list(id)).sort(([a], [b]) => a.localeCompare(b));
    res.json({ upstream: id, tools: tools.map(([name, pin]) => toolPinView(name, pin)) });
  });

  for (const verdict of ['approve', 'reject'] as const) {
    router.post(`/upstreams/:id/tools/:name/${verdict}`, async (req, res) => {
      const id = mcpUpstream(req);
      const name = req.params.name as string;
      const known = (await pins.list(id))[name];
      if (!known) throw new HttpError(404, 'not_found', `upstream "${id}" has no tool "${name}"`);
      const pin = verdict === 'approve' ? await pins.approve(id, name) : await pins.reject(id, name);
      if (!pin)
        throw new HttpError(
          409,
          'nothing_to_approve',
          `tool "${name}" of upstream "${id}" is pinned as it is listed: there is nothing to approve`,
        );
      auditRequest(req, {
        event: verdict === 'approve' ? 'tool_approved' : 'tool_rejected',
        outcome: 'success',
        person: adminOf(req).person,
        upstream: id,
        details: { tool: name, hash: pin.current?.hash ?? pin.pinned?.hash },
      });
      res.json(toolPinView(name, pin));
    });
  }
  return router;
}
