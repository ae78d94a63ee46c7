import { Router, type Request, type RequestHandler, type Response } from 'express';
import { auditRequest } from '../audit/request-audit.js';
import type { UpstreamConfig } from '../config/schema.js';
import { HttpError } from '../http/errors.js';
import { displayName } from '../login/person.js';
import type { Session, SessionManager } from '../login/sessions.js';
import { renderApprovalPage } from '../web/approval-page.js';
import { createPageCsrf, PAGE_CSP, signedInHeader } from '../web/page-csrf.js';
import type { ApprovalRequest, ToolApprovals } from './tool-approvals.js';

export interface ApprovalRoutesDeps {
  issuer: string;
  secret: string;
  sessions: SessionManager;
  approvals: ToolApprovals;
  upstreams: () => UpstreamConfig[];
  form: RequestHandler;
}

/** What a request id looks like (tool-approvals.ts makes them): anything else is not looked up. */
const REQUEST_ID = /^[A-Za-z0-9_-]{16,64}$/;

const PAST: Record<ApprovalRequest['status'], string> = {
  pending: 'pending',
  approved: 'allowed',
  used: 'allowed and made',
  denied: 'denied',
};

/**
 * `GET /approve/{request}` shows a tool call waiting for its person; `POST /approve/{request}`
 * (the page's CSRF token, `decision=allow|deny`) decides it, once. Only the person the call acts
 * as may see or decide it: anyone else gets 404, as for a request that never existed or expired;
 * someone signed out signs in first. Deciding twice, or replaying a decision, answers 409 and
 * changes nothing.
 */
export function approvalRoutes(deps: ApprovalRoutesDeps): Router {
  const router = Router();
  const csrf = createPageCsrf({ secret: deps.secret, issuer: deps.issuer });
  // The form's token is good for this request only, in this browser session.
  const subject = (id: string) => `approve\n${id}`;

  async function signedIn(req: Request, res: Response): Promise<Session | undefined> {
    const session = await deps.sessions.read(req);
    if (!session) res.redirect(303, `/login?return_to=${encodeURIComponent(`/approve/${encodeURIComponent(String(req.params.request))}`)}`);
    return session;
  }

  async function ownRequest(req: Request, session: Session): Promise<ApprovalRequest> {
    const id = String(req.params.request);
    const request = REQUEST_ID.test(id) ? await deps.approvals.find(id) : undefined;
    // Another person's request is "not found": never a hint that it exists.
    if (!request || request.personId !== session.person.id) throw notFound();
    return request;
  }

  router.get('/approve/:request', async (req, res) => {
    const session = await signedIn(req, res);
    if (!session) return;
    const request = await ownRequest(req, session);
    const upstream = deps.upstreams().find((u) => u.id === request.upstreamId);
    res.setHeader('Content-Security-Policy', PAGE_CSP);
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(
      renderApprovalPage({
        requestId: request.id,
        csrf: csrf.token(session, subject(request.id)),
        signedIn: signedInHeader(csrf, session, displayName(session.person)),
        clientName: request.client.name ?? request.client.id,
        clientId: request.client.id,
        upstreamTitle: upstream?.title ?? request.upstreamId,
        upstreamId: request.upstreamId,
        tool: request.tool,
        arguments: request.arguments,
        status: request.status,
        expiresAt: request.expiresAt,
        standingMs: request.standingMs,
      }),
    );
  });

  router.post('/approve/:request', deps.form, async (req, res) => {
    const session = await signedIn(req, res);
    if (!session) return;
    const request = await ownRequest(req, session);
    const { decision } = csrf.form(req, session, { subject: subject(request.id) });
    if (decision !== 'allow' && decision !== 'deny') throw new HttpError(400, 'invalid_request', 'Choose Allow or Deny.');
    const outcome = await deps.approvals.decide(request.id, session.person.id, decision);
    if ('refused' in outcome) {
      if (outcome.refused === 'unknown') throw notFound();
      throw new HttpError(
        409,
        'already_decided',
        `This call was already ${PAST[outcome.request.status]}. A decision is made once; nothing changed.`,
      );
    }
    const { decided } = outcome;
    auditRequest(
      req,
      {
        event: decision === 'allow' ? 'tool_call_approved' : 'tool_call_denied',
        outcome: decision === 'allow' ? 'success' : 'denied',
        person: session.person,
        client: decided.client,
        upstream: decided.upstreamId,
        arguments: decided.arguments,
        details: {
          tool: decided.tool,
          request: decided.id,
          argumentsHash: decided.argumentsHash,
          decidedAt: new Date(decided.decidedAt!).toISOString(),
        },
      },
      decision === 'allow' ? 'tool call approved' : 'tool call denied',
    );
    res.redirect(303, `/approve/${decided.id}`);
  });
  return router;
}

function notFound(): HttpError {
  return new HttpError(404, 'not_found', 'There is no such approval request for you. It may have expired.');
}
