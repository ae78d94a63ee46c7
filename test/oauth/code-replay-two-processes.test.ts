import {
  UNLIMITED,
  authorizeCode,
  exchangeCode,
  json,
  registerClient,
  type RegisteredClient,
  type TokenBody,
} from '../helpers/oauth-flow.js';
import { testAccounts, type TestPortal } from '../helpers/portal.js';
import { mcpStatus, startTwoPortals, type TwoPortals } from '../helpers/two-portals.js';

/**
 * The spent-code trade-off across processes: two portal processes on one Redis are one
 * authorization server. A code is exchanged once, wherever it is presented; a replay at the other
 * process revokes the grant the first exchange produced, on both.
 */
describe('a replayed authorization code, across two portal processes on one Redis', () => {
  let first: TestPortal;
  let second: TestPortal;
  let client: RegisteredClient;
  let portals: TwoPortals;

  beforeAll(async () => {
    portals = await startTwoPortals({ login: { accounts: await testAccounts() }, rate_limits: UNLIMITED });
    ({ first, second } = portals);
    client = await registerClient(first.url);
  });
  afterAll(() => portals?.close());

  test('replayed at the other process: invalid_grant, and the first exchange’s tokens stop working on both', async () => {
    const authorized = await authorizeCode(first.url, client.client_id);
    const res = await exchangeCode(first.url, client, authorized);
    expect(res.status).toBe(200);
    const tokens = await json<TokenBody>(res);
    expect(await mcpStatus(second, tokens.access_token)).toBe(200);

    const replay = await exchangeCode(second.url, client, authorized);
    expect(replay.status).toBe(400);
    expect((await json<{ error: string }>(replay)).error).toBe('invalid_grant');
    expect(await mcpStatus(first, tokens.access_token)).toBe(401);
    expect(await mcpStatus(second, tokens.access_token)).toBe(401);
  });

  test('presented to both at once: exactly one exchange succeeds, and its grant is revoked by the other', async () => {
    const authorized = await authorizeCode(first.url, client.client_id);
    const answers = await Promise.all([exchangeCode(first.url, client, authorized), exchangeCode(second.url, client, authorized)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 400]);
    const winner = await json<TokenBody>(answers.find((a) => a.status === 200)!);
    await answers.find((a) => a.status === 400)!.text();
    expect(await mcpStatus(first, winner.access_token)).toBe(401);
  });
});
