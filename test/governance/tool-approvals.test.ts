import { createSealer } from '../../portal/crypto/seal.js';
import { createToolApprovals, type ApprovalCall, type ToolApprovals } from '../../portal/governance/tool-approvals.js';
import { MemoryStore, storeKey, type Store } from '../../portal/store/index.js';
import { Redis } from 'ioredis';
import { createTestRedisStore, testKeyPrefix, testRedisUrl } from '../helpers/redis.js';
import { TEST_SECRET } from '../helpers/portal.js';

const ISSUER = 'https://gate.example';
const tools = (over: Partial<{ approvalTtlMs: number; approvalTimeoutMs: number }> = {}) =>
  ({ approval: ['*'], approvalTtlMs: 0, approvalTimeoutMs: 600_000, ...over }) as unknown as ApprovalCall['upstream']['tools'];
const callOf = (over: Partial<ApprovalCall> = {}): ApprovalCall => ({
  person: { id: 'local:alice', idp: 'local' },
  client: { id: 'agent-1', name: 'Agent' },
  upstream: { id: 'wiki', tools: tools() },
  tool: 'delete_page',
  arguments: { query: 'Home', secret: 'hunter2-in-the-arguments' },
  ...over,
});

/** The approvals' rules on the Store: one decision, one use, an identical call only, sealed at rest; across processes on one Redis. */
describe('tool approvals on the Store', () => {
  let store: Store;
  let clock: number;
  let approvals: ToolApprovals;

  beforeEach(() => {
    store = new MemoryStore();
    clock = Date.now();
    approvals = createToolApprovals({ store, sealer: createSealer(TEST_SECRET, 'tool-approval'), issuer: ISSUER, now: () => clock });
  });
  afterEach(async () => {
    await store.close();
  });

  async function asked(call = callOf()) {
    const gate = await approvals.gate(call);
    if (gate.kind !== 'ask') throw new Error(`expected a request, got ${gate.kind}`);
    return gate;
  }

  test('a call raises a request; an identical one finds it; an approval lets one identical call go, once', async () => {
    const first = await asked();
    expect(first.created).toBe(true);
    expect(first.url).toBe(`${ISSUER}/approve/${first.request.id}`);
    const again = await asked(callOf({ arguments: { secret: 'hunter2-in-the-arguments', query: 'Home' } }));
    // The same arguments in another key order are the same arguments.
    expect(again).toMatchObject({ created: false, request: { id: first.request.id } });
    expect(await approvals.decide(first.request.id, 'local:alice', 'allow')).toMatchObject({ decided: { status: 'approved' } });
    expect(await approvals.gate(callOf())).toMatchObject({ kind: 'go', via: 'approved', request: { id: first.request.id } });
    expect((await approvals.find(first.request.id))?.status).toBe('used');
    expect((await asked()).request.id).not.toBe(first.request.id);
  });

  test('of two identical calls that find one approval, one goes', async () => {
    const { request } = await asked();
    await approvals.decide(request.id, 'local:alice', 'allow');
    const gates = await Promise.all([approvals.gate(callOf()), approvals.gate(callOf())]);
    expect(gates.filter((gate) => gate.kind === 'go')).toHaveLength(1);
    expect(gates.filter((gate) => gate.kind === 'ask')).toHaveLength(1);
  });

  test('another person, agent, upstream, tool or arguments does not find the request', async () => {
    const { request } = await asked();
    await approvals.decide(request.id, 'local:alice', 'allow');
    for (const other of [
      callOf({ person: { id: 'local:bob', idp: 'local' } }),
      callOf({ client: { id: 'agent-2' } }),
      callOf({ upstream: { id: 'notes', tools: tools() } }),
      callOf({ tool: 'delete_space' }),
      callOf({ arguments: { query: 'Home' } }),
    ]) {
      expect(await asked(other)).toMatchObject({ created: true });
    }
    expect((await approvals.find(request.id))?.status).toBe('approved');
  });

  test('a decision is made once, by its person only, while the request lives', async () => {
    const { request } = await asked();
    expect(await approvals.decide(request.id, 'local:bob', 'allow')).toEqual({ refused: 'unknown' });
    expect((await approvals.find(request.id))?.status).toBe('pending');
    expect(await approvals.decide(request.id, 'local:alice', 'deny')).toMatchObject({ decided: { status: 'denied' } });
    expect(await approvals.decide(request.id, 'local:alice', 'allow')).toMatchObject({ refused: 'decided', request: { status: 'denied' } });
    // The denial is told to the next identical call, once; the one after asks anew.
    expect(await approvals.gate(callOf())).toMatchObject({ kind: 'denied', request: { id: request.id } });
    expect(await asked()).toMatchObject({ created: true });

    const late = await asked(callOf({ arguments: { query: 'late' } }));
    clock += 600_001;
    expect(await approvals.decide(late.request.id, 'local:alice', 'allow')).toEqual({ refused: 'unknown' });
    expect(await approvals.find(late.request.id)).toBeUndefined();
  });

  test('an approval waits approval_timeout for its call, then is gone', async () => {
    const { request } = await asked();
    clock += 500_000;
    await approvals.decide(request.id, 'local:alice', 'allow');
    clock += 500_000;
    expect(await approvals.gate(callOf())).toMatchObject({ kind: 'go' });
    const next = await asked();
    await approvals.decide(next.request.id, 'local:alice', 'allow');
    clock += 600_001;
    expect(await asked()).toMatchObject({ created: true });
  });

  test('approval_ttl: the same person and agent call the tool without asking that long; not another agent', async () => {
    const upstream = { id: 'wiki', tools: tools({ approvalTtlMs: 60_000 }) };
    const { request } = await asked(callOf({ upstream }));
    await approvals.decide(request.id, 'local:alice', 'allow');
    expect(await approvals.gate(callOf({ upstream, arguments: { anything: true } }))).toEqual({ kind: 'go', via: 'standing' });
    expect(await approvals.gate(callOf({ upstream, client: { id: 'agent-2' } }))).toMatchObject({ kind: 'ask' });
    // With approval_ttl back at 0 the standing approval counts no more.
    expect(await approvals.gate(callOf({ arguments: { anything: true } }))).toMatchObject({ kind: 'ask' });
  });

  test("a person's pending requests, oldest first; decided, expired and other people's are not among them, and leave the index", async () => {
    const older = await asked(callOf({ arguments: { n: 1 } }));
    clock += 1_000;
    const newer = await asked(callOf({ tool: 'delete_space' }));
    await asked(callOf({ person: { id: 'local:bob', idp: 'local' } }));
    expect((await approvals.pendingFor('local:alice')).map((r) => r.id)).toEqual([older.request.id, newer.request.id]);
    await approvals.decide(older.request.id, 'local:alice', 'deny');
    expect((await approvals.pendingFor('local:alice')).map((r) => r.id)).toEqual([newer.request.id]);
    clock += 600_001;
    expect(await approvals.pendingFor('local:alice')).toEqual([]);
    expect(await store.setMembers(storeKey('tool-approval-person', 'local:alice'))).toEqual([]);
  });

  test('a service client cannot be approved: nobody signs in as it', async () => {
    expect(await approvals.gate(callOf({ person: { id: 'service:nightly', idp: 'service' } }))).toEqual({ kind: 'refuse' });
  });

  test('a wait ends with the decision, at the timeout, or when the call is cancelled', async () => {
    const approved = await asked(callOf({ arguments: { n: 1 } }));
    const waiting = approvals.wait(approved.request, new AbortController().signal);
    await approvals.decide(approved.request.id, 'local:alice', 'allow');
    expect(await waiting).toBe('approved');
    expect((await approvals.find(approved.request.id))?.status).toBe('used');

    const denied = await asked(callOf({ arguments: { n: 2 } }));
    const refused = approvals.wait(denied.request, new AbortController().signal);
    await approvals.decide(denied.request.id, 'local:alice', 'deny');
    expect(await refused).toBe('denied');

    const cancelled = await asked(callOf({ arguments: { n: 3 } }));
    const controller = new AbortController();
    const stopping = approvals.wait(cancelled.request, controller.signal);
    controller.abort();
    expect(await stopping).toBe('cancelled');

    const expired = await asked(callOf({ arguments: { n: 4 } }));
    clock += 600_001;
    expect(await approvals.wait(expired.request, new AbortController().signal)).toBe('expired');
  });
});

describe('tool approvals across two portal processes on one Redis', () => {
  const cleanups: Array<() => Promise<void>> = [];
  let first: ToolApprovals;
  let second: ToolApprovals;
  const keyPrefix = testKeyPrefix();

  beforeAll(async () => {
    const [a, b] = [await createTestRedisStore(keyPrefix), await createTestRedisStore(keyPrefix)];
    cleanups.push(a.cleanup, b.cleanup);
    // Polling far slower than any test may take: only the other process's message can end the wait.
    first = createToolApprovals({ store: a.store, sealer: createSealer(TEST_SECRET, 'tool-approval'), issuer: ISSUER, pollMs: 3_600_000 });
    second = createToolApprovals({ store: b.store, sealer: createSealer(TEST_SECRET, 'tool-approval'), issuer: ISSUER, pollMs: 3_600_000 });
  });
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  test('a call waiting in one process goes when its person allows it in the other', async () => {
    const gate = await first.gate(callOf());
    if (gate.kind !== 'ask') throw new Error('expected a request');
    expect((await second.find(gate.request.id))?.arguments).toEqual(callOf().arguments);
    const waiting = first.wait(gate.request, new AbortController().signal);
    expect(await second.decide(gate.request.id, 'local:alice', 'allow')).toMatchObject({ decided: { status: 'approved' } });
    expect(await waiting).toBe('approved');
    // Used up, as seen from the other process too.
    expect((await second.find(gate.request.id))?.status).toBe('used');
    expect(await second.decide(gate.request.id, 'local:alice', 'allow')).toMatchObject({ refused: 'decided' });
  });

  test('the arguments are sealed at rest: no key or value in Redis shows them', async () => {
    const gate = await first.gate(callOf({ arguments: { secret: 'hunter2-in-the-arguments' } }));
    expect(gate.kind).toBe('ask');
    const redis = new Redis(testRedisUrl());
    try {
      const keys = await redis.keys(`${keyPrefix}*`);
      const strings = (await Promise.all(keys.map(async (key) => ((await redis.type(key)) === 'string' ? redis.get(key) : '')))).join('\n');
      expect(keys.length).toBeGreaterThan(0);
      expect(`${keys.join('\n')}\n${strings}`).not.toContain('hunter2');
    } finally {
      redis.disconnect();
    }
  });

  test('an approval given in one process is used by the retry in the other, once', async () => {
    const call = callOf({ arguments: { query: 'retry' } });
    const gate = await first.gate(call);
    if (gate.kind !== 'ask') throw new Error('expected a request');
    await first.decide(gate.request.id, 'local:alice', 'allow');
    const retries = await Promise.all([second.gate(call), first.gate(call)]);
    expect(retries.filter((retry) => retry.kind === 'go')).toHaveLength(1);
  });
});
