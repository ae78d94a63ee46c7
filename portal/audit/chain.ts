import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { AuditEvent } from './event.js';

/** `prev` of the first event of every chain. */
export const GENESIS = '0'.repeat(64);

/** The chain key: derived from the root secret, so a forger who edits the store cannot recompute hashes. */
export function auditChainKey(rootSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', rootSecret, 'gatehouse', 'audit-chain', 32));
}

/**
 * JSON with object keys sorted at every depth: one byte string per value. Otherwise
 * `JSON.stringify`'s own rules (`toJSON`, `undefined`, functions and symbols left out of objects
 * and `null` in arrays), so that a value and its JSON round trip have the same canonical form.
 */
export function canonicalJson(value: unknown): string {
  return canonical(value, '') ?? 'null';
}

function canonical(value: unknown, key: string): string | undefined {
  if (typeof (value as { toJSON?: unknown } | null)?.toJSON === 'function') value = (value as { toJSON(key: string): unknown }).toJSON(key);
  if (value === null || typeof value !== 'object' || value instanceof Number || value instanceof String || value instanceof Boolean)
    return JSON.stringify(value);
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i++) text += (i ? ',' : '') + (canonical(value[i], String(i)) ?? 'null');
    return `${text}]`;
  }
  const object = value as Record<string, unknown>;
  let text = '{';
  for (const name of Object.keys(object).sort()) {
    const member = canonical(object[name], name);
    if (member !== undefined) text += `${text.length > 1 ? ',' : ''}${JSON.stringify(name)}:${member}`;
  }
  return `${text}}`;
}

/** The hash of an event: HMAC-SHA-256 over its canonical JSON without `hash` (which covers `prev`, `chain` and `seq`). */
export function hashEvent(key: Buffer, event: Omit<AuditEvent, 'hash'> | AuditEvent): string {
  const { hash: _ignored, ...body } = event as AuditEvent;
  return hmacHex(key, canonicalJson(body));
}

function hmacHex(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text).digest('hex');
}

/** A sealed event, and the JSON line every sink stores. */
export interface SealedEvent {
  /** As recorded (`details` as given: the line holds their JSON form, which is what the hash covers). */
  event: AuditEvent;
  /** The event's canonical JSON with `hash` last: parsed back, it verifies. */
  line: string;
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

  /** Seals `body`, which becomes the event (it is not copied). */
  seal(body: Omit<AuditEvent, 'chain' | 'seq' | 'prev' | 'hash'>): SealedEvent {
    const event = Object.assign(body, { chain: this.id, seq: this.#seq, prev: this.#prev }) as AuditEvent;
    // What is hashed is exactly what every sink stores: the canonical text is serialized once,
    // hashed, and written with the hash appended.
    const text = canonicalJson(event);
    event.hash = hmacHex(this.key, text);
    this.#seq += 1;
    this.#prev = event.hash;
    return { event, line: `${text.slice(0, -1)},"hash":"${event.hash}"}` };
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
      else if (previous ? event.prev !== previous.hash : event.seq === 0 && event.prev !== GENESIS)
        problems.push({ chain, seq: event.seq, problem: 'prev_mismatch', at });
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
