import type { Request, RequestHandler } from 'express';
import type { Audit } from './audit.js';
import type { AuditEvent, AuditInput } from './event.js';

/** Records an audit event for this request: request id, source IP, and (after the bearer check) person and client filled in. */
export type RequestAuditor = (input: AuditInput, message?: string) => AuditEvent | undefined;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by {@link requestAudit}: `req.audit({ event, outcome, … })`. */
      audit?: RequestAuditor;
    }
  }
}

/** The request's facts every event carries, with whoever the bearer check established as the default actor. */
export function requestFacts(req: Request): Pick<AuditInput, 'requestId' | 'sourceIp' | 'person' | 'client'> {
  const auth = req.authContext;
  return {
    requestId: req.id,
    sourceIp: req.ip,
    person: auth?.person,
    client: auth ? { id: auth.clientId, name: auth.clientName } : undefined,
  };
}

/** Gives each request `req.audit(...)`, bound to the request (mount after `requestContext`). */
export function requestAudit(audit: Audit): RequestHandler {
  return (req, _res, next) => {
    req.audit = (input, message) => {
      // What the caller says wins; what it leaves out comes from the request.
      const facts = requestFacts(req);
      const recorded: AuditInput = { ...input, requestId: input.requestId ?? facts.requestId, sourceIp: input.sourceIp ?? facts.sourceIp, person: input.person ?? facts.person, client: input.client ?? facts.client };
      return audit.record(recorded, { log: req.log, message });
    };
    next();
  };
}

/**
 * Records through `req.audit` when the portal wired it; otherwise only logs the line, so that
 * routers mounted without the audit service (some tests) still work.
 */
export function auditRequest(req: Request, input: AuditInput, message?: string): void {
  if (req.audit) {
    req.audit(input, message);
    return;
  }
  req.log?.info({ event: input.event, outcome: input.outcome, person: input.person?.id, clientId: input.client?.id, upstream: input.upstream, ...input.details }, message ?? input.event);
}
