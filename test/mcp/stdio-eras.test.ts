import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectAgent, connectModernAgent, type Agent, type ModernAgent } from '../helpers/agent.js';
import { toolText } from '../helpers/mcp-wire.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

const MODERN_STDIO = fileURLToPath(new URL('../helpers/modern-stdio-server.mjs', import.meta.url));
const MEMORY_SERVER = fileURLToPath(new URL('../../node_modules/@modelcontextprotocol/server-memory/dist/index.js', import.meta.url));

/**
 * stdio upstreams of both eras behind `/mcp`: a v2-SDK `serveStdio` server is spoken to in MCP
 * 2026-07-28 (its era probed once, on a sibling process), `server-memory` in the session protocol.
 */
describe('stdio upstreams of both eras', () => {
  let portal: TestPortal;
  let legacy: Agent;
  let modern: ModernAgent;

  beforeAll(async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'gh-memory-'));
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [
          { id: 'fresh', kind: 'mcp', command: [process.execPath, MODERN_STDIO] },
          {
            id: 'memory',
            kind: 'mcp',
            command: [process.execPath, MEMORY_SERVER],
            env: { MEMORY_FILE_PATH: path.join(dataDir, '{owner}.jsonl') },
          },
        ],
      },
    });
    legacy = await connectAgent(portal.url, ALICE);
    modern = await connectModernAgent(portal.url, ALICE);
  });
  afterAll(async () => {
    await legacy?.client.close();
    await modern?.client.close();
    await portal?.close();
  });

  test('the 2026 stdio upstream is spoken to in 2026-07-28, for agents of both eras', async () => {
    expect(toolText(await legacy.client.callTool({ name: 'fresh__era', arguments: {} }))).toBe('2026-07-28');
    expect(toolText(await modern.client.callTool({ name: 'fresh__era', arguments: {} }))).toBe('2026-07-28');
  });

  test('the 2025 stdio upstream keeps the session protocol', async () => {
    const { tools } = await modern.client.listTools();
    expect(tools.map((t) => t.name)).toContain('memory__create_entities');
    const created = await legacy.client.callTool({
      name: 'memory__create_entities',
      arguments: { entities: [{ name: 'Ada', entityType: 'person', observations: [] }] },
    });
    expect(created.isError).toBeFalsy();
  });
});
