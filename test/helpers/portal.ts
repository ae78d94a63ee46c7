import { Writable } from 'node:stream';
import type { RequestListener } from 'node:http';
import { createPortal } from '../../portal/app.js';
import type { Portal } from '../../portal/app.js';
import { resolveConfig, type Config } from '../../portal/config/load.js';
import { limitConnections, listen } from '../../portal/http/server.js';
import { createLogger } from '../../portal/logger.js';
import { MemoryStore, type Store } from '../../portal/store/index.js';
import type { Clock } from '../../portal/clock.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef-0123456789';

/** Collects a portal's JSON log lines, so tests can read what was logged. */
export class LogCapture extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly raw: string[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      this.raw.push(line);
      this.lines.push(JSON.parse(line));
    }
    done();
  }
}

export interface TestPortal {
  url: string;
  config: Config;
  store: Store;
  logs: LogCapture;
  oauth: Portal['oauth'];
  /** The portal's own collaborators, for tests that look behind the HTTP interface. */
  keys: Portal['keys'];
  grants: Portal['grants'];
  consents: Portal['consents'];
  credentials: Portal['credentials'];
  close(): Promise<void>;
}

/** A config document, or one made from the portal's URL (for keys that name its port, such as an app's `host`). */
export type TestConfigDocument = Record<string, unknown> | ((portalUrl: string) => Record<string, unknown>);

/**
 * A real portal on 127.0.0.1 and a free port, built from a config document (as in gatehouse.yaml).
 * `adjust` derives the config it runs with from the loaded one: for a config the loader would refuse.
 */
export async function startTestPortal(
  options: {
    document?: TestConfigDocument;
    adjust?: (loaded: Config) => Config;
    env?: NodeJS.ProcessEnv;
    store?: Store;
    metadataDocumentCa?: string;
    clock?: Clock;
  } = {},
): Promise<TestPortal> {
  // Listen first, so that the issuer (PUBLIC_URL) can be the address actually bound.
  let handle: RequestListener | undefined;
  const running = await listen((req, res) => handle!(req, res), { host: '127.0.0.1', port: 0 });
  const env = { GATEHOUSE_SECRET: TEST_SECRET, LOG_LEVEL: 'info', PUBLIC_URL: running.url, ...options.env };
  const document = typeof options.document === 'function' ? options.document(running.url) : options.document;
  const loaded = resolveConfig(document ?? {}, env, 'test');
  const config = options.adjust ? options.adjust(loaded) : loaded;
  limitConnections(running.server, config.http.connections);
  // The portal's own memory store reads the portal's clock: a test that moves it expires entries too.
  const store = options.store ?? new MemoryStore({ clock: options.clock });
  const logs = new LogCapture();
  const logger = createLogger({ level: config.logLevel, destination: logs });
  const portal = createPortal({ config, store, logger, env, metadataDocumentCa: options.metadataDocumentCa, clock: options.clock });
  handle = portal.handle;
  running.server.on('upgrade', portal.onUpgrade);
  return {
    url: running.url,
    config,
    store,
    logs,
    oauth: portal.oauth,
    keys: portal.keys,
    grants: portal.grants,
    consents: portal.consents,
    credentials: portal.credentials,
    close: async () => {
      await running.close(1_000);
      await portal.close();
      if (!options.store) await store.close();
    },
  };
}

/** A built-in account for tests: `alice` / `alice-password`, in group `eng`. */
export const ALICE = { username: 'alice', password: 'alice-password' };
export const BOB = { username: 'bob', password: 'bob-password' };

/**
 * A scrypt cost for tests' passwords and client secrets: a sign-in checks it in a few ms rather
 * than ~80 ms, and suites sign in often. Real hashes keep the default cost.
 */
export const TEST_PASSWORD_COST = { N: 1024, r: 8, p: 1 };

/** `login.accounts` entries for ALICE and BOB (hashed once per test file). */
export async function testAccounts(): Promise<Array<Record<string, unknown>>> {
  const { hashPassword } = await import('../../portal/crypto/password.js');
  return [
    {
      username: ALICE.username,
      password_hash: await hashPassword(ALICE.password, TEST_PASSWORD_COST),
      email: 'alice@example.com',
      name: 'Alice',
      groups: ['eng'],
    },
    {
      username: BOB.username,
      password_hash: await hashPassword(BOB.password, TEST_PASSWORD_COST),
      email: 'bob@example.com',
      name: 'Bob',
      groups: ['sales'],
    },
  ];
}
