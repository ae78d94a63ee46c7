import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { adminDocument } from '../helpers/admin.js';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { answerDeviceCode } from '../helpers/device-flow.js';
import { devicePrompt, runGatehouse, startGatehouse } from '../helpers/gatehouse-cli.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { formPost, json, mcpInitialize, type OAuthErrorBody } from '../helpers/oauth-flow.js';
import { ALICE, startTestPortal, type TestPortal } from '../helpers/portal.js';

interface CredentialsFile {
  default_issuer?: string;
  issuers: Record<
    string,
    { client_id: string; tokens: Record<string, { access_token: string; refresh_token?: string; expires_at?: number }> }
  >;
}

/**
 * `gatehouse login`, `logout` and the admin commands on the person's own tokens: the CLI runs as
 * a child process with its config home in a temporary directory; the person's approval goes
 * through the portal's real pages.
 */
describe('gatehouse login and logout', () => {
  let upstream: RecordingServer;
  let portal: TestPortal;
  let dir: string;
  let env: Record<string, string>;
  let file: string;
  const read = () => JSON.parse(readFileSync(file, 'utf8')) as CredentialsFile;

  beforeAll(async () => {
    upstream = await startRecordingMcpServer();
    portal = await startTestPortal({
      document: await adminDocument({
        tokens: { device_poll_interval: '1s' },
        upstreams: [{ id: 'echoes', kind: 'mcp', url: upstream.url }],
      }),
    });
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-login-'));
    env = { XDG_CONFIG_HOME: dir };
    file = join(dir, 'gatehouse', 'credentials.json');
  });
  afterAll(async () => {
    await portal?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('device flow: the person approves the code on the pages; tokens for /mcp land in a 0600 file and work', async () => {
    const run = startGatehouse(['login', portal.url], env);
    const prompt = await devicePrompt(run);
    expect(prompt.verificationUri).toBe(`${portal.url}/device`);
    expect((await answerDeviceCode(new FormBrowser(portal.url), prompt.verificationUri, prompt.userCode, ALICE)).page).toContain(
      'Device connected',
    );
    const result = await run.exited;
    expect(result).toMatchObject({ code: 0, stdout: `signed in to ${portal.url} as local:alice for ${portal.url}/mcp\n` });

    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'gatehouse')).mode & 0o777).toBe(0o700);
    const credentials = read();
    expect(credentials.default_issuer).toBe(portal.url);
    const tokens = credentials.issuers[portal.url]!.tokens[`${portal.url}/mcp`]!;
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      sub: 'local:alice',
      aud: `${portal.url}/mcp`,
      client_id: credentials.issuers[portal.url]!.client_id,
    });
    expect((await mcpInitialize(`${portal.url}/mcp`, tokens.access_token)).status).toBe(200);
  });

  test('admin commands: not signed in for the admin API, they say how, and start no sign-in', async () => {
    const result = await runGatehouse(['apps', 'list'], env);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`gatehouse login ${portal.url} --admin`);
    expect(result.stderr).not.toContain('enter the code');
  });

  test('login --admin through a browser (loopback redirect, PKCE); the admin commands then use it, and refresh it once expired', async () => {
    const run = startGatehouse(['login', '--admin', '--browser'], env);
    const [authorizeUrl] = await run.waitForStderr(/http:\/\/\S+\/authorize\?\S+/);
    const url = new URL(authorizeUrl);
    expect(url.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('resource')).toBe(`${portal.url}/admin`);
    const callback = await new FormBrowser(portal.url).authorize(authorizeUrl, ALICE);
    // Only the exact callback path answers.
    expect((await fetch(new URL('/elsewhere', callback))).status).toBe(404);
    expect((await fetch(callback)).status).toBe(200);
    expect(await run.exited).toMatchObject({ code: 0, stdout: `signed in to ${portal.url} as local:alice for ${portal.url}/admin\n` });

    const listed = await runGatehouse(['apps', 'list', '--json'], env);
    expect(listed).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id: 'echoes' })]);

    // The access token "expires": the next command refreshes it (rotating the refresh token) and goes on.
    const before = read();
    const admin = before.issuers[portal.url]!.tokens[`${portal.url}/admin`]!;
    admin.expires_at = Math.floor(Date.now() / 1000) - 1;
    writeFileSync(file, JSON.stringify(before), { mode: 0o600 });
    expect((await runGatehouse(['grants', 'list', '--person', 'local:alice', '--json'], env)).code).toBe(0);
    const after = read().issuers[portal.url]!.tokens[`${portal.url}/admin`]!;
    expect(after.access_token).not.toBe(admin.access_token);
    expect(after.refresh_token).not.toBe(admin.refresh_token);
    // A token given (--token or GATEHOUSE_TOKEN) still wins over the person's.
    for (const [args, extra] of [
      [['apps', 'list', '--token', 'nope'], {}],
      [['apps', 'list'], { GATEHOUSE_TOKEN: 'nope' }],
    ] as const) {
      const withToken = await runGatehouse([...args], { ...env, ...extra });
      expect(withToken.code).toBe(3);
      expect(withToken.stderr).toContain('invalid_token');
    }
  });

  test('a credentials file others may read is refused with a message, and left as it is', async () => {
    const content = readFileSync(file, 'utf8');
    chmodSync(file, 0o644);
    try {
      for (const args of [['apps', 'list'], ['login', portal.url], ['fetch', `${portal.url}/mcp`], ['logout']]) {
        const result = await runGatehouse(args, env);
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(`refusing to use ${file}: its permissions are 0644`);
        expect(result.stderr).toContain('chmod 600');
      }
      expect(readFileSync(file, 'utf8')).toBe(content);
      expect(statSync(file).mode & 0o777).toBe(0o644);
    } finally {
      chmodSync(file, 0o600);
    }
  });

  test('a denied device sign-in exits 3 with access_denied and stores nothing new', async () => {
    const before = readFileSync(file, 'utf8');
    const run = startGatehouse(['login', portal.url, '--resource', `${portal.url}/mcp/echoes`], env);
    const prompt = await devicePrompt(run);
    await answerDeviceCode(new FormBrowser(portal.url), prompt.verificationUri, prompt.userCode, ALICE, 'deny');
    const result = await run.exited;
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('sign-in failed: access_denied');
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  test('logout revokes the grants (RFC 7009) and forgets the portal', async () => {
    const credentials = read();
    const { client_id: clientId, tokens } = credentials.issuers[portal.url]!;
    const result = await runGatehouse(['logout', portal.url], env);
    expect(result).toMatchObject({ code: 0, stdout: `signed out of ${portal.url}\n` });
    expect(read()).toEqual({ issuers: {} });
    for (const { access_token: access, refresh_token: refresh } of Object.values(tokens)) {
      const refreshed = await formPost(portal.url, { grant_type: 'refresh_token', refresh_token: refresh!, client_id: clientId });
      expect((await json<OAuthErrorBody>(refreshed)).error).toBe('invalid_grant');
      expect((await mcpInitialize(`${portal.url}/mcp`, access)).status).toBe(401);
    }
    expect(await runGatehouse(['logout', portal.url], env)).toMatchObject({ code: 0, stdout: `not signed in to ${portal.url}\n` });
  });
});
