import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createMcpUpstream, type McpUpstream, type McpUpstreamOptions, type UpstreamProcessEvent } from '../../adapters/mcp-upstream.js';
import type { UpstreamError } from '../../adapters/upstream-errors.js';
import { captureLogger } from '../helpers/mcp-test-servers.js';

const MEMORY_SERVER = fileURLToPath(new URL('../../node_modules/@modelcontextprotocol/server-memory/dist/index.js', import.meta.url));

/** Against `@modelcontextprotocol/server-memory`, one process per owner, each with its own memory file. */
describe('stdio upstream (server-memory)', () => {
  let dataDir: string;
  const upstreams: McpUpstream[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-stdio-'));
  });

  afterAll(async () => {
    await Promise.allSettled(upstreams.map((upstream) => upstream.close()));
    await rm(dataDir, { recursive: true, force: true });
  });

  function memoryUpstream(options: Partial<McpUpstreamOptions> = {}, deps: Partial<Parameters<typeof createMcpUpstream>[1]> = {}) {
    const events: UpstreamProcessEvent[] = [];
    const upstream = createMcpUpstream(
      {
        id: 'memory',
        command: [process.execPath, MEMORY_SERVER],
        ownerEnv: (ownerKey) => ({ MEMORY_FILE_PATH: join(dataDir, `${ownerKey}.jsonl`) }),
        connectTimeoutMs: 10_000,
        callTimeoutMs: 10_000,
        ...options,
      },
      { logger: pino({ level: 'silent' }), onProcessEvent: (event) => void events.push(event), ...deps },
    );
    upstreams.push(upstream);
    return { upstream, events, next: (type: UpstreamProcessEvent['type']) => nextEvent(events, type) };
  }

  it("gives each owner a process of their own, shared by that owner's connections", async () => {
    const { upstream } = memoryUpstream();
    const alice = await upstream.connect({ ownerKey: 'alice' });
    const bob = await upstream.connect({ ownerKey: 'bob' });
    expect(alice.transportKind).toBe('stdio');
    expect(alice.pid).toEqual(expect.any(Number));
    expect(bob.pid).not.toBe(alice.pid);

    await alice.client.callTool({
      name: 'create_entities',
      arguments: { entities: [{ name: 'alice-secret', entityType: 'note', observations: ['only for alice'] }] },
    });
    expect(await graphText(bob)).not.toContain('alice-secret');
    expect(await graphText(alice)).toContain('alice-secret');

    const aliceAgain = await upstream.connect({ ownerKey: 'alice' });
    expect(aliceAgain.pid).toBe(alice.pid);
    expect(await graphText(aliceAgain)).toContain('alice-secret');
    // The owner's env reached the child: alice's file holds alice's entity.
    expect(await readFile(join(dataDir, 'alice.jsonl'), 'utf8')).toContain('alice-secret');
    await upstream.close();
  });

  it("logs the child's stderr instead of inheriting it", async () => {
    const { logger, lines } = captureLogger();
    const { upstream } = memoryUpstream({}, { logger });
    const connection = await upstream.connect({ ownerKey: 'carol' });
    await connection.client.listTools();
    await waitFor(() => lines.some((line) => line.stream === 'stderr' && String(line.msg).includes('running on stdio')));
    expect(lines.find((line) => line.stream === 'stderr')).toMatchObject({ upstream: 'memory', ownerKey: 'carol' });
    await upstream.close();
  });

  it('stops a process nobody holds after the idle time, and starts a new one on next use', async () => {
    const { upstream, next } = memoryUpstream({ idleTimeoutMs: 50 });
    const first = await upstream.connect({ ownerKey: 'dave' });
    const stopped = next('stopped-idle');
    await first.close();
    expect(await stopped).toMatchObject({ ownerKey: 'dave', pid: first.pid });
    const second = await upstream.connect({ ownerKey: 'dave' });
    expect(second.pid).not.toBe(first.pid);
    await expect(second.client.listTools()).resolves.toMatchObject({ tools: expect.any(Array) });
    await upstream.close();
  });

  it('reports a crash to connections and calls, and restarts the process on next use', async () => {
    const { upstream, next } = memoryUpstream();
    let closedWith: UpstreamError | undefined;
    const connection = await upstream.connect({
      ownerKey: 'erin',
      onClose: (error) => {
        closedWith = error;
      },
    });
    const crashed = next('crashed');
    process.kill(connection.pid!, 'SIGKILL');
    expect(await crashed).toMatchObject({ ownerKey: 'erin', error: { code: 'ERR_UPSTREAM_CRASHED' } });
    expect(closedWith).toMatchObject({ code: 'ERR_UPSTREAM_CRASHED', upstreamId: 'memory' });
    await expect(connection.client.listTools()).rejects.toMatchObject({ code: 'ERR_UPSTREAM_CRASHED' });

    const restarted = await upstream.connect({ ownerKey: 'erin' });
    expect(restarted.pid).not.toBe(connection.pid);
    await expect(restarted.client.listTools()).resolves.toMatchObject({ tools: expect.any(Array) });
    await upstream.close();
  });

  it('bounds the number of processes: evicts the oldest idle one, refuses when all are in use', async () => {
    const { upstream, events } = memoryUpstream({ maxProcesses: 2 });
    const frank = await upstream.connect({ ownerKey: 'frank' });
    const grace = await upstream.connect({ ownerKey: 'grace' });
    await expect(upstream.connect({ ownerKey: 'heidi' })).rejects.toMatchObject({ code: 'ERR_UPSTREAM_BUSY', upstreamId: 'memory' });

    await frank.close();
    const heidi = await upstream.connect({ ownerKey: 'heidi' });
    expect(events.filter((event) => event.type === 'evicted').map((event) => event.ownerKey)).toEqual(['frank']);
    await expect(heidi.client.listTools()).resolves.toMatchObject({ tools: expect.any(Array) });
    await expect(grace.client.listTools()).resolves.toMatchObject({ tools: expect.any(Array) });
    await upstream.close();
  });

  it('terminate stops the process at once when no one else holds it', async () => {
    const { upstream, next } = memoryUpstream();
    const connection = await upstream.connect({ ownerKey: 'ivan' });
    const stopped = next('stopped');
    await connection.terminate();
    expect(await stopped).toMatchObject({ ownerKey: 'ivan', pid: connection.pid });
  });

  it('reports ERR_UPSTREAM_UNAVAILABLE when the command cannot be started', async () => {
    const { upstream } = memoryUpstream({ command: ['/nonexistent/gatehouse-test-binary'] });
    await expect(upstream.connect({ ownerKey: 'judy' })).rejects.toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
  });
});

async function graphText(connection: {
  client: { callTool: (params: { name: string; arguments: Record<string, unknown> }) => Promise<unknown> };
}): Promise<string> {
  return JSON.stringify(await connection.client.callTool({ name: 'read_graph', arguments: {} }));
}

/** Resolves with the first event of `type` from now on. */
function nextEvent(events: UpstreamProcessEvent[], type: UpstreamProcessEvent['type']): Promise<UpstreamProcessEvent> {
  const seen = events.length;
  return new Promise((resolve) => {
    const poll = setInterval(() => {
      const found = events.slice(seen).find((event) => event.type === type);
      if (found) {
        clearInterval(poll);
        resolve(found);
      }
    }, 10);
  });
}

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}
