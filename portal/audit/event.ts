import type { Person } from '../login/person.js';

/**
 * What an audited decision or action came to. `denied`: a rule refused it (policy, scope,
 * consent denied); `failure`: the caller got it wrong (bad password, replayed code); `error`:
 * the portal or an upstream could not do it.
 */
export type AuditOutcome = 'success' | 'denied' | 'failure' | 'error';

/**
 * The names of audit events. Other capabilities may record names of their own; these are
 * the ones the portal records today (README "Audit log" lists what each means).
 */
export type AuditEventName =
  | 'login'
  | 'login_failed'
  | 'logout'
  | 'consent_granted'
  | 'consent_denied'
  | 'token_issued'
  | 'token_refreshed'
  | 'token_revoked'
  | 'refresh_reused'
  | 'refresh_denied'
  | 'code_replayed'
  | 'client_registered'
  | 'client_deleted'
  | 'grant_revoked'
  | 'upstream_connected'
  | 'upstream_disconnected'
  | 'upstream_account_selected'
  | 'upstream_created'
  | 'upstream_updated'
  | 'upstream_deleted'
  | 'mcp_session_started'
  | 'mcp_session_ended'
  | 'mcp_tool_call'
  | 'mcp_resource_read'
  | 'mcp_prompt_get'
  | 'mcp_task'
  | 'tool_definition_changed'
  | 'tool_approved'
  | 'tool_rejected'
  | 'tool_call_approval_requested'
  | 'tool_call_approved'
  | 'tool_call_denied'
  | 'app_request'
  | 'policy_denied'
  | 'admin_denied'
  | 'dpop_refused'
  | (string & {});

/**
 * One audit record as written to every sink (JSON lines, the Store's stream). snake_case:
 * it is a wire format. `chain`, `seq`, `prev` and `hash` make the log tamper-evident
 * (see `chain.ts`).
 */
export interface AuditEvent {
  v: 1;
  /** ISO 8601, UTC, milliseconds. */
  time: string;
  event: AuditEventName;
  outcome: AuditOutcome;
  /** The person every action is attributed to (`local:alice`, `corp:1234`, `service:nightly`). */
  person?: string;
  person_name?: string;
  client_id?: string;
  client_name?: string;
  upstream?: string;
  latency_ms?: number;
  request_id?: string;
  source_ip?: string;
  /** What the event is about: method, tool, URI, path, status, grant id… (never secrets). */
  details?: Record<string, unknown>;
  /** The id of the chain this event belongs to: one per portal process run. */
  chain: string;
  /** Position in its chain, from 0. */
  seq: number;
  /** `hash` of the previous event of the chain (64 zeros for the first). */
  prev: string;
  /** HMAC-SHA-256 over every other field (hex). */
  hash: string;
}

/** What a caller hands {@link Audit.record}: the facts; time, chain and hashes are added. */
export interface AuditInput {
  event: AuditEventName;
  outcome: AuditOutcome;
  person?: Pick<Person, 'id'> & Partial<Pick<Person, 'name' | 'email' | 'username'>>;
  client?: { id: string; name?: string };
  upstream?: string;
  latencyMs?: number;
  requestId?: string;
  sourceIp?: string;
  details?: Record<string, unknown>;
  /** Tool or prompt arguments: kept only with `audit.include_arguments`, then redacted. */
  arguments?: unknown;
  /** A result: kept only with `audit.include_results`, then redacted and truncated. */
  result?: unknown;
}

/** Records an audit event for one request: request id, source IP, and (after the bearer check) person and client filled in. */
export type RequestAuditor = (input: AuditInput, message?: string) => AuditEvent | undefined;
