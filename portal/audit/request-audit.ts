import type { IncomingMessage } from 'node:http';
import { clientIp, type TrustProxy } from '../http/client-ip.js';
import type { Middleware } from '../http/middleware.js';
import type { Audit } from './audit.js';
import { contextOf, findContext } from '../http/request-context.js';
import type { AuditInput } from './event.js';

export type { RequestAuditor } from './event.js';

/** Gives each request's context its `audit(...)`, bound to the request (mount after `requestContext`). */
export function requestAudit(audit: Audit, trust: TrustProxy): Middleware {
  return (req, _res, next) => {
    const context = contextOf(req);
    context.audit = (input, message) => {
      // What the caller says wins; what it leaves out comes from the request and the bearer check.
      const { auth } = context;
      const recorded: AuditInput = {
        ...input,
        requestId: input.requestId ?? context.id,
        sourceIp: input.sourceIp ?? clientIp(req, trust),
        person: input.person ?? auth?.person,
        client: input.client ?? (auth ? { id: auth.clientId, name: auth.clientName } : undefined),
      };
      return audit.record(recorded, { log: context.log, message });
    };
    next();
  };
}

/**
 * Records through the request's auditor when the portal wired it; otherwise only logs the line, so
 * that routers mounted without the audit service (some tests) still work.
 */
export function auditRequest(req: IncomingMessage, input: AuditInput, message?: string): void {
  const context = findContext(req);
  if (context?.audit) {
    context.audit(input, message);
    return;
  }
  context?.log.info(
    {
      event: input.event,
      outcome: input.outcome,
      person: input.person?.id,
      clientId: input.client?.id,
      upstream: input.upstream,
      ...input.details,
    },
    message ?? input.event,
  );
}
