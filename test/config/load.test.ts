import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, resolveConfig } from '../../portal/config/load.js';
import { parseDuration } from '../../portal/config/duration.js';
import { configError } from '../helpers/config-error.js';

const SECRET = 'x'.repeat(32);

describe('config', () => {
  test('no file gives the built-in demo on 8787 with the memory store and a generated secret', () => {
    const config = loadConfig({ env: {}, cwd: mkdtempSync(path.join(tmpdir(), 'gh-')) });
    expect(config).toMatchObject({ demo: true, port: 8787, host: '127.0.0.1', issuer: 'http://localhost:8787', secretGenerated: true });
    expect(config.store.redisUrl).toBeUndefined();
    expect(config.secret.length).toBeGreaterThanOrEqual(32);
    expect(config.tokens).toEqual({
      accessTtlMs: 600_000,
      refreshTtlMs: 30 * 86_400_000,
      codeTtlMs: 60_000,
      refreshReuseGraceMs: 10_000,
      keyRotationMs: 30 * 86_400_000,
      deviceCodeTtlMs: 600_000,
      devicePollIntervalMs: 5_000,
    });
  });

  test('reads --config, interpolates ${VAR} and applies the environment', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gh-'));
    writeFileSync(
      path.join(dir, 'custom.yaml'),
      [
        'issuer: https://gate.example.com/',
        'tokens: { access_ttl: 5m }',
        'upstreams:',
        '  - { id: wiki, kind: http, url: "${WIKI_URL}" }',
      ].join('\n'),
    );
    const config = loadConfig({
      configFile: 'custom.yaml',
      env: {
        WIKI_URL: 'http://127.0.0.1:4000',
        PORT: '9000',
        REDIS_URL: 'redis://127.0.0.1:6379',
        GATEHOUSE_SECRET: SECRET,
        LOG_LEVEL: 'debug',
      },
      cwd: dir,
    });
    expect(config.issuer).toBe('https://gate.example.com');
    expect(config.port).toBe(9000);
    expect(config.store.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.tokens.accessTtlMs).toBe(300_000);
    expect(config.upstreams[0]).toMatchObject({ id: 'wiki', url: 'http://127.0.0.1:4000', credentials: { type: 'portal-jwt' } });
    expect(config.logLevel).toBe('debug');
  });

  test('keys are camelCase with units in the names, and the loaded config is frozen', () => {
    const config = resolveConfig(
      {
        login: { accounts: [{ username: 'a', password_hash: 'scrypt$x' }] },
        upstreams: [
          {
            id: 'w',
            kind: 'mcp',
            url: 'http://w',
            connect_timeout: '2s',
            call_timeout: '30s',
            entry_pages: ['/'],
            tools: { limits: { '*': { per_minute: 5 } } },
          },
        ],
      },
      { GATEHOUSE_SECRET: SECRET },
      't',
    );
    expect(config.upstreams[0]).toMatchObject({
      connectTimeoutMs: 2_000,
      callTimeoutMs: 30_000,
      entryPages: ['/'],
      tools: { limits: { '*': { perMinute: 5 } } },
    });
    expect(config.accounts[0]).toMatchObject({ username: 'a', passwordHash: 'scrypt$x' });
    expect(config.http.bodyLimitBytes).toBe(1_048_576);
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => (config.upstreams as unknown[]).push({})).toThrow(TypeError);
    expect(() => Object.assign(config.upstreams[0]!.tools, { approvalTtlMs: 1 })).toThrow(TypeError);
  });

  test('a Redis Cluster: store.cluster in the file, REDIS_CLUSTER in the environment winning', () => {
    const env = { REDIS_URL: 'redis://10.0.0.1:7000', GATEHOUSE_SECRET: SECRET };
    expect(resolveConfig({}, env, 't').store.cluster).toBe(false);
    expect(resolveConfig({ store: { cluster: true } }, env, 't').store.cluster).toBe(true);
    expect(resolveConfig({ store: { cluster: true } }, { ...env, REDIS_CLUSTER: 'false' }, 't').store.cluster).toBe(false);
    expect(resolveConfig({}, { ...env, REDIS_CLUSTER: '1' }, 't').store.cluster).toBe(true);
    expect(configError({}, { ...env, REDIS_URL: 'redis://10.0.0.1:7000/2', REDIS_CLUSTER: 'true' })).toBe(
      'config: REDIS_URL: a Redis Cluster has only database 0: leave the path out of the URL',
    );
  });

  test('PUBLIC_URL wins over the file issuer and loses its trailing slash', () => {
    expect(resolveConfig({ issuer: 'https://a.example' }, { PUBLIC_URL: 'https://b.example/gate/' }, 't').issuer).toBe(
      'https://b.example/gate',
    );
  });

  test('http: connection limits and the JSON depth limit have bounded defaults and can be set', () => {
    expect(resolveConfig({}, {}, 't').http).toMatchObject({
      jsonDepthLimit: 64,
      connections: {
        headersTimeoutMs: 20_000,
        requestTimeoutMs: 120_000,
        keepAliveTimeoutMs: 5_000,
        idleTimeoutMs: 120_000,
        maxConnections: 4096,
      },
    });
    const http = {
      headers_timeout: '5s',
      request_timeout: '30s',
      keep_alive_timeout: '65s',
      idle_timeout: '90s',
      max_connections: 100,
      json_depth_limit: 32,
    };
    expect(resolveConfig({ http }, {}, 't').http).toMatchObject({
      jsonDepthLimit: 32,
      connections: {
        headersTimeoutMs: 5_000,
        requestTimeoutMs: 30_000,
        keepAliveTimeoutMs: 65_000,
        idleTimeoutMs: 90_000,
        maxConnections: 100,
      },
    });
  });

  test('tool approval: no tool asks by default; approval_ttl 0 (every call asks) and approval_timeout 10m unless set', () => {
    const [plain, set, zero] = resolveConfig(
      {
        upstreams: [
          { id: 'a', kind: 'mcp', url: 'http://a' },
          { id: 'b', kind: 'mcp', url: 'http://b', tools: { approval: ['delete_*'], approval_ttl: '10m', approval_timeout: '2m' } },
          { id: 'c', kind: 'mcp', url: 'http://c', tools: { approval_ttl: 0 } },
        ],
      },
      {},
      't',
    ).upstreams;
    expect(plain!.tools).toMatchObject({ approval: [], approvalTtlMs: 0, approvalTimeoutMs: 600_000 });
    expect(set!.tools).toMatchObject({ approval: ['delete_*'], approvalTtlMs: 600_000, approvalTimeoutMs: 120_000 });
    expect(zero!.tools.approvalTtlMs).toBe(0);
  });

  test('durations accept ms, s, m, h and d', () => {
    expect([parseDuration('250ms'), parseDuration('30s'), parseDuration('10m'), parseDuration('12h'), parseDuration('30d')]).toEqual([
      250, 30_000, 600_000, 43_200_000, 2_592_000_000,
    ]);
    expect(parseDuration('10 minutes')).toBeUndefined();
  });

  describe('bad config stops with one line naming the key', () => {
    test.each<[string, unknown, string]>([
      [
        'an upstream id with "_"',
        {
          upstreams: [
            { id: 'ok', kind: 'http', url: 'http://a' },
            { id: 'Bad_id', kind: 'http', url: 'http://a' },
          ],
        },
        'config: upstreams[1].id: must match ^[a-z0-9][a-z0-9-]{0,30}$',
      ],
      [
        'the upstream id the aggregate endpoint goes by',
        { upstreams: [{ id: 'aggregate', kind: 'mcp', url: 'http://a' }] },
        'config: upstreams[0].id: is reserved for the aggregate endpoint',
      ],
      [
        'an unknown key, with the nearest valid one',
        { tokens: { acess_ttl: '5m' } },
        'config: tokens.acess_ttl: unknown key (did you mean "access_ttl"?)',
      ],
      ['an unknown top-level key', { upstream: [] }, 'config: upstream: unknown key (did you mean "upstreams"?)'],
      [
        'a malformed duration',
        { tokens: { refresh_ttl: 'forever' } },
        'config: tokens.refresh_ttl: must be a duration such as 30s, 10m, 12h or 30d',
      ],
      ['a missing required key', { upstreams: [{ kind: 'mcp', url: 'http://a' }] }, 'config: upstreams[0].id: is required'],
      [
        'an mcp upstream with neither url nor command',
        { upstreams: [{ id: 'a', kind: 'mcp' }] },
        'config: upstreams[0].url: kind mcp needs exactly one of url or command',
      ],
      [
        'a duplicate upstream id',
        {
          upstreams: [
            { id: 'a', kind: 'http', url: 'http://a' },
            { id: 'a', kind: 'http', url: 'http://b' },
          ],
        },
        'config: upstreams[1].id: duplicates upstream "a"',
      ],
      [
        'a service client naming no upstream',
        { service_clients: [{ client_id: 'n', secret_hash: 'scrypt$x', upstreams: ['wiki'] }] },
        'config: service_clients[0].upstreams[0]: names no upstream "wiki"',
      ],
      ['a key prefix with a hash tag brace', { store: { key_prefix: 'gh{1}:' } }, 'config: store.key_prefix: must not contain { or }'],
      [
        'a tool name budget too short for a name and its hash',
        { aggregate: { max_tool_name_length: 8 } },
        'config: aggregate.max_tool_name_length: must be between 16 and 128',
      ],
      [
        'a tool name budget that is not a number',
        { aggregate: { max_tool_name_length: '64' } },
        'config: aggregate.max_tool_name_length: Invalid input: expected number, received string',
      ],
      ['an unknown aggregate tool mode', { aggregate: { tool_mode: 'lazy' } }, 'config: aggregate.tool_mode: must be one of all, search'],
      [
        "the upstream id of the portal's own tools",
        { upstreams: [{ id: 'gatehouse', kind: 'mcp', url: 'http://a' }] },
        "config: upstreams[0].id: is reserved for the portal's own tools (gatehouse__search_tools)",
      ],
      [
        'an unknown tool pinning mode',
        { upstreams: [{ id: 'a', kind: 'mcp', url: 'http://a', tools: { pinning: 'trust' } }] },
        'config: upstreams[0].tools.pinning: must be one of enforce, warn, off',
      ],
      [
        'an approval list that is not a list',
        { upstreams: [{ id: 'a', kind: 'mcp', url: 'http://a', tools: { approval: 'delete_*' } }] },
        'config: upstreams[0].tools.approval: Invalid input: expected array, received string',
      ],
      [
        'a malformed approval_ttl',
        { upstreams: [{ id: 'a', kind: 'mcp', url: 'http://a', tools: { approval_ttl: 'ten minutes' } }] },
        'config: upstreams[0].tools.approval_ttl: must be a duration such as 30s, 10m, 12h or 30d',
      ],
      [
        'an approval_timeout past a day',
        { upstreams: [{ id: 'a', kind: 'mcp', url: 'http://a', tools: { approval_timeout: '2d' } }] },
        'config: upstreams[0].tools.approval_timeout: must be between 1s and 24h',
      ],
      [
        'a tool limit with no period',
        { upstreams: [{ id: 'a', kind: 'mcp', url: 'http://a', tools: { limits: { search: {} } } }] },
        'config: upstreams[0].tools.limits.search: needs per_minute or per_day',
      ],
      [
        'a request head allowed longer than the whole request',
        { http: { headers_timeout: '3m', request_timeout: '2m' } },
        'config: http.headers_timeout: must not be longer than request_timeout',
      ],
      [
        'an idle timeout that would cut MCP event streams',
        { http: { idle_timeout: '10s' } },
        'config: http.idle_timeout: must be at least 20s (MCP event streams send a keep-alive every 15s)',
      ],
      ['no connections allowed', { http: { max_connections: 0 } }, 'config: http.max_connections: must be a positive number'],
      [
        'a password where its hash belongs',
        { login: { accounts: [{ username: 'a', password: 'hunter2' }] } },
        'config: login.accounts[0].password: the config keeps a hash, never the password: run `gatehouse hash-password`, type the password, and put its output in password_hash',
      ],
      [
        'a password hash that is not scrypt',
        { login: { accounts: [{ username: 'a', password_hash: 'hunter2' }] } },
        'config: login.accounts[0].password_hash: must be a scrypt$… string from `gatehouse hash-password`',
      ],
    ])('%s', (_name, document, message) => {
      expect(configError(document)).toBe(message);
    });

    test('an unset ${VAR}', () => {
      expect(configError({ upstreams: [{ id: 'a', kind: 'http', url: '${NOPE}' }] })).toBe(
        'config: upstreams[0].url: environment variable NOPE is not set',
      );
    });

    test('Redis without a shared secret', () => {
      expect(configError({}, { REDIS_URL: 'redis://127.0.0.1:6379' })).toBe(
        'config: GATEHOUSE_SECRET: must be set when the store is Redis (every portal process must share it)',
      );
    });

    test('a short secret, and the message never contains it', () => {
      const message = configError({}, { GATEHOUSE_SECRET: 'short-secret' });
      expect(message).toMatch(/^config: GATEHOUSE_SECRET: must be at least 32 characters/);
      expect(message).not.toContain('short-secret');
    });

    test('a bad PORT, PUBLIC_URL, LOG_LEVEL, REDIS_URL or REDIS_CLUSTER', () => {
      expect(configError({}, { PORT: 'eighty' })).toBe('config: PORT: must be a port number (0-65535)');
      expect(configError({}, { PUBLIC_URL: 'https://gate.example/?x=1' })).toMatch(/^config: PUBLIC_URL: /);
      expect(configError({}, { LOG_LEVEL: 'loud' })).toMatch(/^config: LOG_LEVEL: must be one of/);
      expect(configError({}, { REDIS_CLUSTER: 'yes' })).toBe('config: REDIS_CLUSTER: must be true, false, 1 or 0');
      expect(configError({}, { REDIS_URL: 'redis://[::1', GATEHOUSE_SECRET: SECRET })).toBe(
        'config: REDIS_URL: must be a redis:// or rediss:// URL',
      );
    });

    test("an app on the portal's own host: the issuer's host in any case, its default port spelt out, or a loopback alias", () => {
      const app = (host: string) => ({
        upstreams: [
          { id: 'wiki', kind: 'http', url: 'http://127.0.0.1:4000' },
          { id: 'takeover', kind: 'http', url: 'http://127.0.0.1:4001', host },
        ],
      });
      const message =
        "config: upstreams[1].host: is the portal's own host; an app there would take over the portal's sign-in and OAuth routes (give it a host of its own, or serve it under /apps/takeover)";
      expect(configError(app('gate.example.com'), { PUBLIC_URL: 'https://Gate.Example.COM' })).toBe(message);
      expect(configError(app('gate.example.com:443'), { PUBLIC_URL: 'https://gate.example.com' })).toBe(message);
      expect(configError({ issuer: 'http://gate.example.com:8080', ...app('gate.example.com:8080') })).toBe(message);
      expect(configError(app('localhost:8787'), {})).toBe(message);
      expect(configError(app('127.0.0.1:8787'), {})).toBe(message);
      expect(configError(app('localhost:9000'), { PUBLIC_URL: 'http://127.0.0.1:9000' })).toBe(message);
      // Another port or another name is another host: allowed.
      expect(resolveConfig(app('gate.example.com:8443'), { PUBLIC_URL: 'https://gate.example.com' }, 't').upstreams[1]!.host).toBe(
        'gate.example.com:8443',
      );
      expect(resolveConfig(app('wiki.localhost:8787'), {}, 't').upstreams[1]!.host).toBe('wiki.localhost:8787');
    });

    test('a missing file named by --config, and a file that is not YAML', () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'gh-'));
      expect(() => loadConfig({ configFile: 'nope.yaml', env: {}, cwd: dir })).toThrow(/^config: cannot read .*nope\.yaml: ENOENT$/);
      writeFileSync(path.join(dir, 'gatehouse.yaml'), 'upstreams: [unclosed');
      expect(() => loadConfig({ env: {}, cwd: dir })).toThrow(/^config: .*gatehouse\.yaml is not valid YAML/);
    });
  });
});
