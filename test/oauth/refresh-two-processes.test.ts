import { setTimeout as sleep } from 'node:timers/promises';
import {
  UNLIMITED,
  clientAuth,
  formPost,
  json,
  refresh,
  registerClient,
  tokensFor,
  type OAuthErrorBody,
  type RegisteredClient,
  type TokenBody,
} from '../helpers/oauth-flow.js';
import { startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { mcpStatus, startTwoPortals, type TwoPortals } from '../helpers/two-portals.js';
import { testClock } from '../helpers/test-clock.js';
import { createTestRedisStore } from '../helpers/redis.js';

/**
 * Refresh-token rotation (one read and one atomic write to the Store per refresh) and the
 * per-process cache of registered clients, across two portal processes on one Redis: they behave
 * as one authorization server, and a deleted client stops working on both.
 */
describe('refresh rotation and client changes, across two portal processes on one Redis', () => {
  let first: TestPortal;
  let second: TestPortal;
  let keyPrefix: string;
  let portals: TwoPortals;
  const clock = testClock();

  beforeAll(async () => {
    portals = await startTwoPortals(
      { login: { accounts: await testAccounts() }, rate_limits: UNLIMITED, tokens: { refresh_reuse_grace: '10s' } },
      clock,
    );
    ({ first, second, keyPrefix } = portals);
  });
  afterAll(() => portals?.close());
  const confidential = () => registerClient(first.url, { token_endpoint_auth_method: 'client_secret_basic' });
  const introspect = (portal: TestPortal, client: RegisteredClient, token: string) =>
    formPost(portal.url, { token }, clientAuth(client).headers, '/introspect');

  test('a refresh at one process rotates for both; the spent token presented at the other after the grace window revokes the grant everywhere', async () => {
    const client = await confidential();
    const tokens = await tokensFor(first.url, client);
    const rotated = await refresh(first.url, client, tokens.refresh_token!);
    expect(rotated.status).toBe(200);
    const next = await json<TokenBody>(rotated);
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    const again = await refresh(second.url, client, next.refresh_token!);
    expect(again.status).toBe(200);
    const latest = await json<TokenBody>(again);
    expect(await mcpStatus(first, latest.access_token)).toBe(200);

    clock.advance(11_000);
    const reused = await refresh(second.url, client, tokens.refresh_token!);
    expect(reused.status).toBe(400);
    expect((await json<OAuthErrorBody>(reused)).error).toBe('invalid_grant');
    // The whole grant is gone: the newest tokens too, on both processes.
    expect(await mcpStatus(first, latest.access_token)).toBe(401);
    const orphan = await refresh(first.url, client, latest.refresh_token!);
    expect((await json<OAuthErrorBody>(orphan)).error).toBe('invalid_grant');
  });

  test('one token refreshed at both processes at once: both succeed with different successors (the grace window), and both successors work', async () => {
    const client = await confidential();
    const tokens = await tokensFor(first.url, client);
    const answers = await Promise.all([
      refresh(first.url, client, tokens.refresh_token!),
      refresh(second.url, client, tokens.refresh_token!),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    const [a, b] = [await json<TokenBody>(answers[0]!), await json<TokenBody>(answers[1]!)];
    expect(a.refresh_token).not.toBe(b.refresh_token);
    for (const [portal, successor] of [
      [second, a],
      [first, b],
    ] as const) {
      expect((await refresh(portal.url, client, successor.refresh_token!)).status).toBe(200);
    }
  });

  test('a client deleted at one process is refused at the other, which had authenticated it (and cached it) before', async () => {
    const client = await confidential();
    const tokens = await tokensFor(first.url, client);
    const known = await introspect(second, client, tokens.access_token);
    expect(known.status).toBe(200);
    expect((await json<{ active: boolean }>(known)).active).toBe(true);

    const deleted = await fetch(`${first.url}/register/${client.client_id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${client.registration_access_token}` },
    });
    expect(deleted.status).toBe(204);
    // At the process that deleted it: refused at once.
    const here = await introspect(first, client, tokens.access_token);
    expect(here.status).toBe(401);
    expect((await json<OAuthErrorBody>(here)).error).toBe('invalid_client');
    // At the other: as soon as the change message arrives (pub/sub), never later than that.
    let refused: Response | undefined;
    for (let attempt = 0; attempt < 100 && !refused; attempt++) {
      const res = await introspect(second, client, tokens.access_token);
      if (res.status === 401) refused = res;
      else {
        await res.text();
        await sleep(50);
      }
    }
    expect(refused?.status).toBe(401);
    expect((await json<OAuthErrorBody>(refused!)).error).toBe('invalid_client');
    const refreshed = await refresh(second.url, client, tokens.refresh_token!);
    expect(refreshed.status).toBe(401);
    expect((await json<OAuthErrorBody>(refreshed)).error).toBe('invalid_client');
  });

  test('with its store down, a process fails closed (503) even for a client it has cached, and the refresh token is not spent', async () => {
    const client = await confidential();
    const tokens = await tokensFor(first.url, client);
    const own = await createTestRedisStore(keyPrefix);
    const third = await startTestPortal({
      document: { login: { accounts: await testAccounts() }, rate_limits: UNLIMITED },
      store: own.store,
      env: { PUBLIC_URL: first.url },
    });
    try {
      expect((await introspect(third, client, tokens.access_token)).status).toBe(200);
      await own.store.close();
      const res = await refresh(third.url, client, tokens.refresh_token!);
      expect(res.status).toBe(503);
      const body = await json<OAuthErrorBody & { access_token?: string }>(res);
      expect(body.error).toBe('temporarily_unavailable');
      expect(body.access_token).toBeUndefined();
    } finally {
      // Its store is closed, so its goodbyes to the store (unsubscribing) fail: that is expected here.
      await third.close().catch(() => {});
    }
    // Nothing was spent: the token rotates as usual at a process whose store answers.
    expect((await refresh(first.url, client, tokens.refresh_token!)).status).toBe(200);
  });
});
