import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { decodeJwt } from 'jose';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { answerDeviceCode } from '../helpers/device-flow.js';
import { CLI } from '../helpers/gatehouse-cli.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

/** `gatehouse bridge` driven over stdio by the MCP SDK's stdio client: the portal's tools, as the person. */
describe('gatehouse bridge', () => {
  let upstream: RecordingServer;
  let portal: TestPortal;
  let dir: string;

  beforeAll(async () => {
    upstream = await startRecordingMcpServer();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        tokens: { device_poll_interval: '1s' },
        upstreams: [{ id: 'echoes', kind: 'mcp', url: upstream.url }],
      },
    });
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-bridge-'));
  });
  afterAll(async () => {
    await portal?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The SDK's stdio client, starting `gatehouse bridge {portal}/mcp` with its config home in the test's directory. */
  function bridgeTransport(): { transport: StdioClientTransport; stderr: () => string } {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [resolve(CLI), 'bridge', `${portal.url}/mcp`],
      env: { PATH: process.env.PATH!, XDG_CONFIG_HOME: dir },
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return { transport, stderr: () => stderr };
  }

  test("signs the person in first (device flow on stderr), then lists and calls the portal's tools as them", async () => {
    const { transport, stderr } = bridgeTransport();
    const client = new Client({ name: 'stdio-only agent', version: '1.0.0' });
    const connected = client.connect(transport);
    let prompt: RegExpExecArray | null = null;
    while (!(prompt = /open (\S+) and enter the code (\S+)/.exec(stderr()))) await new Promise((r) => setTimeout(r, 50));
    await answerDeviceCode(new FormBrowser(portal.url), prompt[1]!, prompt[2]!, ALICE);
    await connected;

    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toContain('echoes__echo');
    const result = (await client.callTool({ name: 'echoes__echo', arguments: { message: 'through the bridge' } })) as CallToolResult;
    expect(result.content[0]).toMatchObject({ type: 'text', text: 'through the bridge' });
    // The upstream saw the person (the portal's assertion), never the bridge's token.
    const assertion = upstream.requests.at(-1)!.headers.authorization!.replace(/^Bearer /, '');
    expect(decodeJwt(assertion)).toMatchObject({ sub: 'local:alice', act: { sub: expect.any(String) } });
    await client.close();
  });

  test('with the token cached, it relays without asking anyone', async () => {
    const { transport, stderr } = bridgeTransport();
    const client = new Client({ name: 'stdio-only agent', version: '1.0.0' });
    await client.connect(transport);
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain('echoes__echo');
    await client.close();
    expect(stderr()).not.toContain('enter the code');
  });
});
