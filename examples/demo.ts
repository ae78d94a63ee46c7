import { deepFreeze } from '../portal/config/deep-freeze.js';
import type { Config } from '../portal/config/load.js';
import { upstreamSchema } from '../portal/config/schema.js';
import { randomToken } from '../portal/crypto/hash.js';
import { hashPassword } from '../portal/crypto/password.js';
import { startDemoMcpServer } from './demo-mcp-server.js';
import { startHandbookSite } from './handbook-site.js';

/** The built-in demo, running beside the portal in this process. */
export interface RunningDemo {
  /** The config the portal serves: the loaded one plus the demo's upstreams (and account), frozen as the loaded one is. */
  config: Config;
  /** The line that tells the person the demo account's password, when the demo added the account. */
  accountLine?: string;
  close(): Promise<void>;
}

/**
 * Starts what `gatehouse start` without a config file serves: a demo MCP upstream and an HTML
 * app (the handbook) on free loopback ports, and one account, an admin of the demo portal (so
 * that `/admin` shows something), unless the config has accounts of its own. The password comes
 * from `GATEHOUSE_DEMO_PASSWORD`, or is generated and shown once, on the terminal only.
 */
export async function startDemo(config: Config): Promise<RunningDemo> {
  const [tools, handbook] = await Promise.all([startDemoMcpServer(), startHandbookSite()]);
  const upstreams = [
    ...config.upstreams,
    upstreamSchema.parse({ id: 'demo', kind: 'mcp', title: 'Demo tools', url: tools.url }),
    upstreamSchema.parse({
      id: 'handbook',
      kind: 'http',
      title: 'Acme handbook',
      url: handbook.url,
      markdown: true,
      entry_pages: ['/', '/onboarding', '/policies/expenses', '/policies/time-off'],
    }),
  ];
  const close = async () => void (await Promise.allSettled([tools.close(), handbook.close()]));
  if (config.accounts.length > 0) return { config: deepFreeze({ ...config, upstreams }), close };

  const given = process.env.GATEHOUSE_DEMO_PASSWORD;
  const password = given || randomToken(12);
  const account = {
    username: 'demo',
    passwordHash: await hashPassword(password),
    name: 'Demo User',
    email: 'demo@example.com',
    groups: ['demo'],
  };
  const admins = config.admins.groups.includes('demo') ? config.admins : { ...config.admins, groups: [...config.admins.groups, 'demo'] };
  const accountLine = given
    ? `Demo account: username "demo", password from GATEHOUSE_DEMO_PASSWORD; sign in at ${config.issuer}/`
    : `Demo account: username "demo", password "${password}" (shown once; set GATEHOUSE_DEMO_PASSWORD to choose it); sign in at ${config.issuer}/`;
  return { config: deepFreeze({ ...config, upstreams, accounts: [account], admins }), accountLine, close };
}
