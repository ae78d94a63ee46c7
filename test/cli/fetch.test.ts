import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHandbookSite, type HandbookSite } from '../../examples/handbook-site.js';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { answerDeviceCode } from '../helpers/device-flow.js';
import {
  approveAtOidcProvider,
  startDeviceAuthorizationServer,
  startNotesServer,
  type DeviceAuthorizationServer,
  type NotesServer,
} from '../helpers/device-resource-server.js';
import { devicePrompt, runGatehouse, startGatehouse } from '../helpers/gatehouse-cli.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

/**
 * `gatehouse fetch` as an agent's web-fetch tool: on a 401 naming its resource metadata (RFC 9728)
 * it finds the authorization server (RFC 8414), signs the person in with the device flow, and
 * fetches again. Against an app behind the portal, and against a resource server of the test's
 * own whose authorization server is `oidc-provider` (no portal at all).
 */
describe('gatehouse fetch', () => {
  let handbook: HandbookSite;
  let portal: TestPortal;
  let as: DeviceAuthorizationServer;
  let notes: NotesServer;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    handbook = await startHandbookSite();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        tokens: { device_poll_interval: '1s' },
        upstreams: [{ id: 'handbook', kind: 'http', url: handbook.url, markdown: true }],
      },
    });
    notes = await startNotesServer(() => as.issuer);
    as = await startDeviceAuthorizationServer(() => notes.resource);
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-fetch-'));
    env = { XDG_CONFIG_HOME: dir };
  });
  afterAll(async () => {
    await portal?.close();
    await handbook?.close();
    await notes?.close();
    await as?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an app behind the portal: 401 → sign in on the pages → Markdown; the next fetch uses the cached token', async () => {
    const run = startGatehouse(['fetch', `${portal.url}/apps/handbook/`, '--markdown'], env);
    const prompt = await devicePrompt(run);
    expect(prompt.verificationUri).toBe(`${portal.url}/device`);
    await answerDeviceCode(new FormBrowser(portal.url), prompt.verificationUri, prompt.userCode, ALICE);
    const result = await run.exited;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^# Acme Handbook/);
    expect(result.stdout).toContain(`(${portal.url}/apps/handbook/onboarding)`);

    const output = join(dir, 'onboarding.md');
    const again = await runGatehouse(['fetch', `${portal.url}/apps/handbook/onboarding`, '--markdown', '-o', output], env);
    expect(again).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(readFileSync(output, 'utf8')).toMatch(/^# /);
    const credentials = JSON.parse(readFileSync(join(dir, 'gatehouse', 'credentials.json'), 'utf8')) as {
      issuers: Record<string, { tokens: Record<string, unknown> }>;
    };
    expect(Object.keys(credentials.issuers[portal.url]!.tokens)).toEqual([`${portal.url}/apps/handbook`]);
  });

  test('any RFC 9728 resource server: oidc-provider as its authorization server, with its device flow', async () => {
    const run = startGatehouse(['fetch', `${notes.url}/notes/today`, '--markdown'], env);
    const prompt = await devicePrompt(run);
    expect(prompt.verificationUri).toBe(`${as.issuer}/device`);
    expect(await approveAtOidcProvider(prompt.verificationUri, prompt.userCode, 'carol')).toContain('Sign-in Success');
    const result = await run.exited;
    expect(result).toMatchObject({ code: 0, stdout: '# Notes for today\n\n- ship the device flow\n' });

    // Cached for that issuer and resource: no second sign-in.
    expect(await runGatehouse(['fetch', `${notes.url}/notes/today`], env)).toMatchObject({
      code: 0,
      stdout: '<h1>Notes for today</h1>',
      stderr: '',
    });
  });

  test("a 401 without resource metadata, or whose metadata is another resource's: refused before any sign-in", async () => {
    const plain = await runGatehouse(['fetch', `${notes.url}/plain`], env);
    expect(plain.code).toBe(3);
    expect(plain.stderr).toContain('without naming its resource metadata');
    const borrowed = await runGatehouse(['fetch', `${notes.url}/borrowed`], env);
    expect(borrowed.code).toBe(1);
    expect(borrowed.stderr).toContain('names another resource');
    for (const result of [plain, borrowed]) expect(result.stderr).not.toContain('enter the code');
  });

  test('bad input: no URL, not a URL, an unknown option', async () => {
    for (const args of [['fetch'], ['fetch', 'not a url'], ['fetch', `${notes.url}/notes/today`, '--colour']]) {
      const result = await runGatehouse(args, env);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('usage: gatehouse fetch');
    }
  });
});
