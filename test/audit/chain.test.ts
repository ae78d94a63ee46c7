import { Writable } from 'node:stream';
import { createAudit } from '../../portal/audit/audit.js';
import { AuditChain, auditChainKey, canonicalJson, GENESIS, verifyEvents } from '../../portal/audit/chain.js';
import type { AuditEvent } from '../../portal/audit/event.js';
import { redactAndTrim } from '../../portal/audit/redact.js';
import { resolveConfig } from '../../portal/config/load.js';
import { createLogger } from '../../portal/logger.js';
import { MemoryStore } from '../../portal/store/index.js';
import { LogCapture, TEST_SECRET } from '../helpers/portal.js';

const key = auditChainKey(TEST_SECRET);
const body = (n: number) => ({
  v: 1 as const,
  time: new Date(1_700_000_000_000 + n).toISOString(),
  event: 'mcp_tool_call',
  outcome: 'success' as const,
  person: 'local:alice',
  details: { tool: `t${n}` },
});

function chainOf(count: number, id = 'proc-a'): AuditEvent[] {
  const chain = new AuditChain(key, id);
  return Array.from({ length: count }, (_, n) => chain.seal(body(n)).event);
}

const found = (events: AuditEvent[]) => events.map((event, i) => ({ event: JSON.parse(JSON.stringify(event)) as unknown, at: String(i) }));

describe('the audit hash chain', () => {
  test('each event carries the previous hash; the first carries the genesis', () => {
    const events = chainOf(3);
    expect(events.map((e) => e.seq)).toEqual([0, 1, 2]);
    expect(events[0]!.prev).toBe(GENESIS);
    expect(events[1]!.prev).toBe(events[0]!.hash);
    expect(events[2]!.prev).toBe(events[1]!.hash);
    expect(verifyEvents(key, found(events))).toEqual({ ok: true, events: 3, chains: 1, problems: [] });
  });

  test('an edited event is a hash mismatch at that event', () => {
    const events = found(chainOf(4));
    (events[2]!.event as AuditEvent).person = 'local:mallory';
    const report = verifyEvents(key, events);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([{ chain: 'proc-a', seq: 2, problem: 'hash_mismatch', at: '2' }]);
  });

  test('a removed event is a gap; a rewritten chain without the secret does not verify', () => {
    const events = chainOf(4);
    expect(verifyEvents(key, found([events[0]!, events[1]!, events[3]!])).problems).toEqual([
      { chain: 'proc-a', seq: 3, problem: 'gap', at: '2' },
    ]);
    const forged = new AuditChain(auditChainKey('another-secret-0123456789abcdef-0123'), 'proc-a');
    expect(verifyEvents(key, found([forged.seal(body(0)).event])).problems[0]!.problem).toBe('hash_mismatch');
  });

  test('chains of several processes interleave in any order; a capped stream may start mid-chain', () => {
    const a = chainOf(3, 'proc-a');
    const b = chainOf(3, 'proc-b');
    const interleaved = [b[1]!, a[1]!, b[2]!, a[2]!, a[0]!, b[0]!];
    expect(verifyEvents(key, found(interleaved))).toMatchObject({ ok: true, chains: 2, events: 6 });
    // The oldest events were trimmed: the first kept one is trusted as a start.
    expect(verifyEvents(key, found(a.slice(1))).ok).toBe(true);
    // …but a seq 0 event must start from the genesis.
    const fake = { ...a[0]!, prev: 'f'.repeat(64) };
    expect(verifyEvents(key, found([{ ...fake, hash: fake.hash }])).ok).toBe(false);
  });

  test('malformed lines are reported', () => {
    expect(verifyEvents(key, [{ event: { hello: 'world' }, at: 'line 1' }]).problems).toEqual([
      { chain: '?', seq: -1, problem: 'malformed', at: 'line 1' },
    ]);
  });

  test('canonical JSON sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: undefined }], c: 'x' } })).toBe('{"a":{"c":"x","d":[1,{"z":1}]},"b":1}');
  });

  test('an event with absent fields and details JSON changes (a Date, undefined, NaN, a function) is stored as JSON, and verifies as stored', () => {
    const chain = new AuditChain(key, 'proc-json');
    const { event, line } = chain.seal({
      ...body(0),
      person: undefined,
      latency_ms: Number.NaN,
      details: { at: new Date(0), gone: undefined, call: () => 1, list: [undefined, 1] },
    });
    const stored = JSON.parse(line) as AuditEvent;
    expect(stored.details).toEqual({ at: '1970-01-01T00:00:00.000Z', list: [null, 1] });
    expect(stored).not.toHaveProperty('person');
    expect(stored).toEqual(JSON.parse(JSON.stringify(event)));
    expect(verifyEvents(key, [{ event: stored }])).toMatchObject({ ok: true, events: 1 });
    expect(canonicalJson(event)).toBe(canonicalJson(JSON.parse(JSON.stringify(event))));
  });
});

describe('audit redaction and sinks', () => {
  test('arguments and results are left out by default, and redacted when included', async () => {
    const out: string[] = [];
    const stdout = new Writable({
      write: (chunk: Buffer, _e, done) => {
        out.push(chunk.toString());
        done();
      },
    });
    const store = new MemoryStore();
    const logs = new LogCapture();
    const make = (document: Record<string, unknown>) =>
      createAudit({
        store,
        secret: TEST_SECRET,
        config: resolveConfig(document, { GATEHOUSE_SECRET: TEST_SECRET }, 'test').audit,
        logger: createLogger({ level: 'info', destination: logs }),
        stdout,
      });

    const quiet = make({ audit: { stdout: true } });
    const hidden = quiet.record({
      event: 'mcp_tool_call',
      outcome: 'success',
      arguments: { query: 'salaries' },
      result: [{ type: 'text', text: 'secret numbers' }],
    });
    expect(hidden.details).toBeUndefined();

    const verbose = make({ audit: { stdout: true, include_arguments: true, include_results: true } });
    const shown = verbose.record({
      event: 'mcp_tool_call',
      outcome: 'success',
      arguments: { query: 'q', api_key: 'k-123', nested: { password: 'p' } },
      result: { ok: true },
    });
    expect(shown.details).toEqual({
      arguments: { query: 'q', api_key: '[redacted]', nested: { password: '[redacted]' } },
      result: { ok: true },
    });
    await verbose.flush();
    await quiet.flush();

    // One JSON line per event on stdout, and one in the Store's stream; the log line names the event.
    const lines = out
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEvent);
    expect(lines.map((l) => l.hash)).toEqual([hidden.hash, shown.hash]);
    expect(await store.readStream('audit:{events}')).toHaveLength(2);
    expect(logs.lines.filter((l) => l.event === 'mcp_tool_call')).toHaveLength(2);
    expect(JSON.stringify(logs.lines)).not.toContain('k-123');
    await store.close();
  });

  test('long values are cut and marked', () => {
    const trimmed = redactAndTrim(
      { text: 'x'.repeat(10_000) },
      { includeArguments: true, includeResults: true, redactKeys: [], maxChars: 100 },
    );
    expect(typeof trimmed).toBe('string');
    expect(trimmed as string).toMatch(/…\[truncated \d+ chars\]$/);
  });
});
