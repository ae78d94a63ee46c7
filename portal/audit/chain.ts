import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { AuditEvent } from './event.js';

/** `prev` of the first event of every chain. */
export const GENESIS = '0'.repeat(64);

/** The chain key: derived from the root secret, so a forger who edits the store cannot recompute hashes. */
export function auditChainKey(rootSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', rootSecret, 'gatehouse', 'audit-chain', 32));
}

/** JSON with object keys sorted at every depth and `undefined` left out: one byte string per value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i++) text += (i ? ',' : '') + (value[i] === undefined ? 'null' : canonicalJson(value[i]));
    return `${text}]`;
  }
  const object = value as Record<string, unknown>;
  let text = '{';
  for (const key of Object.keys(object).sort()) {
    if (object[key] === undefined) continue;
    text += `${text.length > 1 ? ',' : ''}${JSON.stringify(key)}:${canonicalJson(object[key])}`;
  }
  return `${text}}`;
}

/** The hash of an event: HMAC-SHA-256 over its canonical JSON without `hash` (which covers `prev`, `chain` and `seq`). */
export function hashEvent(key: Buffer, event: Omit<AuditEvent, 'hash'> | AuditEvent): string {
  const { hash: _ignored, ...body } = event as AuditEvent;
  return hmacHex(key, body);
}

function hmacHex(key: Buffer, body: object): string {
  return createHmac('sha256', key).update(canonicalJson(body)).digest('hex');
}

/**
 * One process's hash chain. Sealing is synchronous, so events are chained in the order this
 * process records them, whatever order its asynchronous sink writes complete in.
 */
export class AuditChain {
  #seq = 0;
  #prev = GENESIS;

  constructor(
    private readonly key: Buffer,
    readonly id: string,
  ) {}

  seal(body: Omit<AuditEvent, 'chain' | 'seq' | 'prev' | 'hash'>): AuditEvent {
    // What is hashed must be exactly what every sink will store. The fields are strings and
    // numbers, which JSON keeps as they are (an `undefined` one is left out by both); only
    // `details` may hold what JSON changes (Dates, undefined, class instances), so it goes
    // through JSON first.
    const event = { ...body, chain: this.id, seq: this.#seq, prev: this.#prev } as AuditEvent;
    if (body.details !== undefined) event.details = JSON.parse(JSON.stringify(body.details)) as AuditEvent['details'];
    event.hash = hmacHex(this.key, event);
    this.#seq += 1;
    this.#prev = event.hash;
    return event;
  }
}

/** What verification found wrong, at which event. */
export interface ChainProblem {
  chain: string;
  seq: number;
  /** `hash_mismatch`: the event was edited; `prev_mismatch` or `gap`: an event before it was removed or reordered; `malformed`: not an audit event. */
  problem: 'hash_mismatch' | 'prev_mismatch' | 'gap' | 'duplicate' | 'malformed';
  /** Where the event was found (stream id or file line), for the operator. */
  at?: string;
}

export interface VerifyReport {
  ok: boolean;
  /** Events checked. */
  events: number;
  chains: number;
  problems: ChainProblem[];
}

/**
 * Verifies events (in any order) chain by chain. The first event seen of a chain is trusted
 * to start it unless it is `seq: 0`, whose `prev` must be {@link GENESIS}: the capped stream
 * drops the oldest events, so a chain may legitimately begin mid-way. Deleting the newest
 * events of a chain leaves no trace in it (as with any hash chain): compare with the file sink.
 */
export function verifyEvents(key: Buffer, found: Array<{ event: unknown; at?: string }>): VerifyReport {
  const problems: ChainProblem[] = [];
  const chains = new Map<string, Array<{ event: AuditEvent; at?: string }>>();
  for (const item of found) {
    const event = item.event as AuditEvent;
    if (!isAuditEvent(event)) {
      problems.push({ chain: '?', seq: -1, problem: 'malformed', at: item.at });
      continue;
    }
    const list = chains.get(event.chain) ?? [];
    list.push({ event, at: item.at });
    chains.set(event.chain, list);
  }
  for (const [chain, list] of chains) {
    list.sort((a, b) => a.event.seq - b.event.seq);
    let previous: AuditEvent | undefined;
    for (const { event, at } of list) {
      if (!safeEqual(hashEvent(key, event), event.hash)) problems.push({ chain, seq: event.seq, problem: 'hash_mismatch', at });
      if (previous && event.seq === previous.seq) problems.push({ chain, seq: event.seq, problem: 'duplicate', at });
      else if (previous && event.seq !== previous.seq + 1) problems.push({ chain, seq: event.seq, problem: 'gap', at });
      else if (previous ? event.prev !== previous.hash : event.seq === 0 && event.prev !== GENESIS) problems.push({ chain, seq: event.seq, problem: 'prev_mismatch', at });
      previous = event;
    }
  }
  return { ok: problems.length === 0, events: found.length, chains: chains.size, problems };
}

function isAuditEvent(value: AuditEvent | undefined): value is AuditEvent {
  return (
    !!value &&
    typeof value === 'object' &&
    typeof value.chain === 'string' &&
    Number.isInteger(value.seq) &&
    typeof value.prev === 'string' &&
    typeof value.hash === 'string' &&
    typeof value.event === 'string'
  );
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
