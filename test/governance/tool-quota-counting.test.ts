import { createToolQuotas } from '../../portal/governance/tool-quotas.js';
import { upstreamSchema } from '../../portal/config/schema.js';
import { MemoryStore, storeKey } from '../../portal/store/index.js';
import { createTestRedisStore } from '../helpers/redis.js';
import { testClock } from '../helpers/test-clock.js';

const upstream = upstreamSchema.parse({
  id: 'wiki',
  kind: 'mcp',
  url: 'http://127.0.0.1:1/mcp',
  tools: { limits: { search: { per_day: 3 }, '*': { per_minute: 1 } } },
});

/**
 * What a call refused by one limit costs the others: nothing. An agent that retries against a
 * per-minute limit keeps its daily quota for the calls that go through.
 */
describe('a refused call uses up no quota', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  test('calls refused by the per-minute limit leave the per-day count as it was', async () => {
    const clock = testClock();
    const store = new MemoryStore({ clock });
    cleanups.push(() => store.close());
    const refused: string[] = [];
    const quotas = createToolQuotas({ store, onRefused: (_upstream, tool) => refused.push(tool) });

    expect(await quotas.take(upstream, 'search', 'local:alice')).toBeUndefined();
    for (let i = 0; i < 5; i++) expect((await quotas.take(upstream, 'search', 'local:alice'))?.limit).toBe('* per_minute 1');
    clock.advance(61_000);
    expect(await quotas.take(upstream, 'search', 'local:alice')).toBeUndefined();
    clock.advance(61_000);
    expect(await quotas.take(upstream, 'search', 'local:alice')).toBeUndefined();
    clock.advance(61_000);
    // The fourth call that went through today: the daily limit, not the minute's.
    const daily = await quotas.take(upstream, 'search', 'local:alice');
    expect(daily?.limit).toBe('search per_day 3');
    expect(daily?.retryAfterSeconds).toBeGreaterThan(23 * 3600);
    expect(refused).toHaveLength(6);
  });

  test('on Redis: concurrent calls get exactly the limit, and refusals leave the count unchanged', async () => {
    const { store, cleanup } = await createTestRedisStore();
    cleanups.push(cleanup);
    const quotas = createToolQuotas({ store });
    const docs = upstreamSchema.parse({
      id: 'docs',
      kind: 'mcp',
      url: 'http://127.0.0.1:1/mcp',
      tools: { limits: { '*': { per_day: 2 } } },
    });
    const answers = await Promise.all(Array.from({ length: 6 }, () => quotas.take(docs, 'read', 'local:bob')));
    expect(answers.filter((a) => a === undefined)).toHaveLength(2);
    const counter = storeKey('tool-quota', 'docs:local:carol', '*', 'per_day');
    for (let i = 0; i < 2; i++) expect(await quotas.take(docs, 'read', 'local:carol')).toBeUndefined();
    for (let i = 0; i < 3; i++) expect((await quotas.take(docs, 'read', 'local:carol'))?.limit).toBe('* per_day 2');
    expect(await store.get(counter)).toBe('2');
  });
});
