import { Router, type Request, type Response } from 'express';
import { callerSignal } from '../http/caller-signal.js';
import { HttpError, OAuthError } from '../http/errors.js';
import type { Prompt } from './authorization-requests.js';
import type { Client } from './clients.js';
import type { OAuthDeps } from './deps.js';
import { impliedApplicationType, redirectUriMatches, redirectUriProblem } from './redirect-uris.js';
import { DEFAULT_SCOPE, SCOPES, SUPPORTED_SCOPES, parseScope } from './scopes.js';

/**
 * `GET /authorize`: authorization code with PKCE (OAuth 2.1 §4.1). Errors come in two phases
 * (RFC 6749 §4.1.2.1): until client and redirect URI are trusted, a page for the person;
 * after, a redirect back to the client with `error`, `state` and `iss` (RFC 9207).
 *
 * A registered redirect URI alone is no trust: anyone may register a client (RFC 7591) or publish
 * a metadata document naming any URI, and an error redirect to it would make the portal an open
 * redirector (RFC 9700 §4.11.2). Errors go back to the client only when the signed-in person
 * approved that client before ({@link mayReceiveErrors}); otherwise the person sees the error.
 */
export function authorizeRoutes(deps: OAuthDeps): Router {
  const router = Router();
  router.get('/authorize', async (req, res) => {
    const query = singleValued(req);
    const client = await loadClient(query, deps, callerSignal(res));
    const redirectUri = checkRedirectUri(query, client, deps.config.clients.privateUseSchemes);
    const state = query.state;
    try {
      checkResponseType(query);
      const codeChallenge = checkPkce(query);
      const scope = checkScope(query, client);
      const resource = checkResource(query, deps);
      checkAdminScope(scope, resource, deps);
      const prompt = checkPrompt(query);
      const dpopJkt = checkDpopJkt(query);
      if (prompt?.includes('none') && !(await deps.sessions.read(req)))
        throw new OAuthError('login_required', 'the person is not signed in, and prompt=none forbids asking');
      const request = await deps.requests.create({
        clientId: client.clientId,
        redirectUri,
        state,
        scope,
        resource,
        codeChallenge,
        ...(prompt ? { prompt } : {}),
        ...(dpopJkt ? { dpopJkt } : {}),
      });
      res.redirect(303, `/consent?request=${encodeURIComponent(request.id)}`);
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      if (!(await mayReceiveErrors(req, client, deps))) throw shownToThePerson(error);
      redirectWithError(res, redirectUri, deps.issuer, error, state);
    }
  });
  return router;
}

/** Whether an error may be sent to the client's redirect URI: the signed-in person approved this client before. */
async function mayReceiveErrors(req: Request, client: Client, deps: OAuthDeps): Promise<boolean> {
  const session = await deps.sessions.read(req);
  return session !== undefined && (await deps.consents.consentedBefore(session.person.id, client.clientId));
}

/** The OAuth error as the person's error page (JSON for a non-browser), with the same code and status. */
function shownToThePerson(error: OAuthError): HttpError {
  return new HttpError(
    error.status,
    error.code,
    `The application's sign-in request was refused (${error.message}). You were not sent back to it. Tell its developers, or start again from the application.`,
  );
}

/** Sends the agent's browser back with an OAuth error (RFC 6749 §4.1.2.1, RFC 9207 `iss`). */
export function redirectWithError(res: Response, redirectUri: string, issuer: string, error: OAuthError, state?: string): void {
  const url = new URL(redirectUri);
  url.searchParams.set('error', error.code);
  url.searchParams.set('error_description', error.message);
  if (state !== undefined) url.searchParams.set('state', state);
  url.searchParams.set('iss', issuer);
  res.redirect(303, url.href);
}

/** Query parameters, each at most once (RFC 6749 §3.1: repeated parameters are an error). */
function singleValued(req: Request): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.query)) {
    if (Array.isArray(value))
      throw new HttpError(400, 'invalid_request', `The sign-in link is malformed: "${name}" appears more than once.`);
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

async function loadClient(query: Record<string, string | undefined>, deps: OAuthDeps, signal: AbortSignal): Promise<Client> {
  const clientId = query.client_id;
  if (!clientId) throw new HttpError(400, 'invalid_request', 'The sign-in link is missing its client_id.');
  const client = await deps.clients.find(clientId, { signal });
  if (!client || client.kind === 'service') {
    throw new HttpError(
      400,
      'invalid_client',
      'The application that sent you here is not registered with this portal (or its registration expired).',
    );
  }
  return client;
}

function checkRedirectUri(query: Record<string, string | undefined>, client: Client, oneWordSchemes: readonly string[]): string {
  const requested = query.redirect_uri;
  if (!requested) throw new HttpError(400, 'invalid_request', 'The sign-in link is missing its redirect_uri.');
  // Never redirect to an unregistered URI (that is how codes get stolen), nor to one registered
  // before today's rules refused it.
  const applicationType = client.applicationType ?? impliedApplicationType(client.redirectUris);
  if (
    !client.redirectUris.some((registered) => redirectUriMatches(requested, registered)) ||
    redirectUriProblem(requested, applicationType, oneWordSchemes)
  ) {
    throw new HttpError(
      400,
      'invalid_redirect_uri',
      'The application asked to send you to an address it did not register. Nothing was shared.',
    );
  }
  return requested;
}

function checkResponseType(query: Record<string, string | undefined>): void {
  if (query.response_type !== 'code') throw new OAuthError('unsupported_response_type', 'response_type must be code');
}

function checkPkce(query: Record<string, string | undefined>): string {
  const challenge = query.code_challenge;
  if (!challenge) throw new OAuthError('invalid_request', 'code_challenge is required (PKCE, RFC 7636)');
  if (query.code_challenge_method !== 'S256') throw new OAuthError('invalid_request', 'code_challenge_method must be S256');
  if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) throw new OAuthError('invalid_request', 'code_challenge must be a base64url SHA-256 hash');
  return challenge;
}

/** The requested scope (the client's registered one by default), every value supported. Shared with the device flow. */
export function checkScope(query: Record<string, string | undefined>, client: Client): string[] {
  const scope = parseScope(query.scope ?? client.scope ?? DEFAULT_SCOPE);
  const unknown = scope.find((s) => !SUPPORTED_SCOPES.includes(s));
  if (unknown) throw new OAuthError('invalid_scope', `scope "${unknown}" is not supported`);
  return scope.length ? scope : [DEFAULT_SCOPE];
}

/** The `admin` scope goes with the admin resource only, and that resource needs it. */
export function checkAdminScope(scope: string[], resource: string, deps: OAuthDeps): void {
  const forAdmin = deps.resources.find(resource)?.kind === 'admin';
  if (forAdmin !== scope.includes(SCOPES.admin))
    throw new OAuthError('invalid_scope', forAdmin ? 'the admin API needs scope "admin"' : 'scope "admin" is only for the admin resource');
}

/**
 * `prompt` (OpenID Connect Core §3.1.2.1, which OAuth clients such as the MCP Inspector send):
 * `login` signs the person in again, `consent` shows the consent page even when it is remembered,
 * `none` shows nothing (an error instead of a page). `select_account` is accepted and means
 * nothing here (one account per browser). `none` with anything else is `invalid_request`.
 */
function checkPrompt(query: Record<string, string | undefined>): Prompt[] | undefined {
  if (query.prompt === undefined) return undefined;
  const values = query.prompt.split(' ').filter(Boolean);
  const unknown = values.find((value) => !['login', 'consent', 'none', 'select_account'].includes(value));
  if (unknown) throw new OAuthError('invalid_request', `prompt "${unknown}" is not supported`);
  if (values.includes('none') && values.length > 1)
    throw new OAuthError('invalid_request', 'prompt=none cannot be combined with other values');
  const kept = values.filter((value): value is Prompt => value !== 'select_account');
  return kept.length ? kept : undefined;
}

/** RFC 9449 §10 `dpop_jkt`: the JWK SHA-256 thumbprint (RFC 7638) of the key the code's exchange must prove. */
function checkDpopJkt(query: Record<string, string | undefined>): string | undefined {
  const jkt = query.dpop_jkt;
  if (jkt !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(jkt))
    throw new OAuthError('invalid_request', 'dpop_jkt must be a base64url SHA-256 JWK thumbprint');
  return jkt;
}

/** The RFC 8707 `resource`, one this portal serves (the aggregate when absent). Shared with the device flow. */
export function checkResource(query: Record<string, string | undefined>, deps: OAuthDeps): string {
  if (query.resource === undefined) return deps.resources.aggregate().url;
  const resource = deps.resources.find(query.resource);
  if (!resource) throw new OAuthError('invalid_target', 'resource is not served by this portal');
  return resource.url;
}
