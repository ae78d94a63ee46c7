import type { IncomingMessage } from 'node:http';
import { clientIp, type TrustProxy } from '../http/client-ip.js';
import type { Middleware } from '../http/middleware.js';
import type { Audit } from './audit.js';
import type { AuditEvent, AuditInput } from './event.js';

/** Records an audit event for this request: request id, source IP, and (after the bearer check) person and client filled in. */
export type RequestAuditor = (input: AuditInput, message?: string) => AuditEvent | undefined;

declare module 'http' {
  interface IncomingMessage {
    /** Set by {@link requestAudit}: `req.audit({ event, outcome, … })`. */
    audit?: RequestAuditor;
  }
}

/** Gives each request `req.audit(...)`, bound to the request (mount after `requestContext`). */
export function requestAudit(audit: Audit, trust: TrustProxy): Middleware {
  return (req, _res, next) => {
    req.audit = (input, message) => {
      // What the caller says wins; what it leaves out comes from the request and the bearer check.
      const auth = req.authContext;
      const recorded: AuditInput = {
        ...input,
        requestId: input.requestId ?? req.id,
        sourceIp: input.sourceIp ?? clientIp(req, trust),
        person: input.person ?? auth?.person,
        client: input.client ?? (auth ? { id: auth.clientId, name: auth.clientName } : undefined),
      };
      return audit.record(recorded, { log: req.log, message });
    };
    next();
  };
}

/**
 * Records through `req.audit` when the portal wired it; otherwise only logs the line, so that
 * routers mounted without the audit service (some tests) still work.
 */
export function auditRequest(req: IncomingMessage, input: AuditInput, message?: string): void {
  if (req.audit) {
    req.audit(input, message);
    return;
  }
  req.log?.info({ event: input.event, outcome: input.outcome, person: input.person?.id, clientId: input.client?.id, upstream: input.upstream, ...input.details }, message ?? input.event);
}
