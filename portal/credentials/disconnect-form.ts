import type { Request } from 'express';
import { auditRequest } from '../audit/request-audit.js';
import { HttpError } from '../http/errors.js';
import type { Person } from '../login/person.js';
import type { AccountSummary } from './connections.js';
import type { NamedAccount } from './upstream-accounts.js';

/**
 * The account a disconnect form means: its `account` field, else the person's only account there;
 * `undefined` when they hold none (or not that one).
 * @throws {HttpError} 400 when they hold several and the form does not say which: never a guess that ends the wrong one.
 */
export function accountToDisconnect(held: AccountSummary[], field: unknown): string | undefined {
  if (field === undefined || field === '') {
    if (held.length > 1) throw new HttpError(400, 'invalid_request', 'You connected several accounts there: say which one to disconnect.');
    return held[0]?.accountId;
  }
  return held.find((a) => a.accountId === field)?.accountId;
}

/** `upstream_disconnected`, naming the account. */
export function auditDisconnect(
  req: Request,
  person: Person,
  upstreamId: string,
  result: { account: NamedAccount; revoked: boolean },
  via: string,
): void {
  auditRequest(
    req,
    {
      event: 'upstream_disconnected',
      outcome: 'success',
      person,
      upstream: upstreamId,
      details: { account: result.account.key.accountId, account_name: result.account.name, revoked: result.revoked, via },
    },
    'upstream account disconnected',
  );
}
