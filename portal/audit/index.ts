export { createAudit, type Audit, type AuditOptions, type RecordOptions } from './audit.js';
export { auditChainKey, verifyEvents, GENESIS, type VerifyReport, type ChainProblem } from './chain.js';
export type { AuditEvent, AuditInput, AuditOutcome, AuditEventName } from './event.js';
export { queryAudit, recentAudit, verifyAuditStream, type AuditFilter, type AuditPage, type StoredAuditEvent } from './query.js';
export { auditRequest, requestAudit, type RequestAuditor } from './request-audit.js';
export { AUDIT_STREAM } from './sinks.js';
