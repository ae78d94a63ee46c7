import express from 'express';
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { bodyParsers } from '../../portal/http/body.js';
import { errorHandler } from '../../portal/http/errors.js';
import { requestContext } from '../../portal/http/request-context.js';
import { listen } from '../../portal/http/server.js';
import { createLogger } from '../../portal/logger.js';
import { createRedisStore } from '../../portal/store/index.js';
import { LogCapture, startTestPortal, type TestPortal } from '../helpers/portal.js';
import { DisposableRedis } from '../helpers/redis-server.js';

describe('portal HTTP server', () => {
  let portal: TestPortal;
  beforeAll(async () => {
    portal = await startTestPortal();
  });
  afterAll(() => portal.close());

  test('/healthz answers with security headers and a request id', async () => {
    const res = await fetch(`${portal.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  test('a well-formed X-Request-Id is kept and logged; a malformed one is replaced', async () => {
    const kept = await fetch(`${portal.url}/healthz`, { headers: { 'x-request-id': 'trace-abc.123' } });
    expect(kept.headers.get('x-request-id')).toBe('trace-abc.123');
    const replaced = await fetch(`${portal.url}/healthz`, { headers: { 'x-request-id': 'bad id <script>' } });
    expect(replaced.headers.get('x-request-id')).not.toContain('script');
    expect(portal.logs.lines.some((line) => line.reqId === 'trace-abc.123' && line.status === 200)).toBe(true);
  });

  test('/readyz answers 200 while the store answers', async () => {
    const res = await fetch(`${portal.url}/readyz`);
    expect(res.status).toBe(200);
  });

  test('/metrics counts requests by route pattern', async () => {
    await fetch(`${portal.url}/healthz`);
    const text = await (await fetch(`${portal.url}/metrics`)).text();
    expect(text).toMatch(/gatehouse_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(text).toContain('gatehouse_http_request_duration_seconds_bucket');
  });

  test('an unknown path is a JSON 404 for programs and an HTML page for browsers', async () => {
    const api = await fetch(`${portal.url}/nope`);
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ error: 'not_found' });
    const page = await fetch(`${portal.url}/nope?<b>x</b>`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(404);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('no route for GET /nope');
  });

  test('logs never carry authorization headers, cookies or query strings', async () => {
    await fetch(`${portal.url}/healthz?code=SECRET-CODE-123`, {
      headers: { authorization: 'Bearer SECRET-TOKEN-456', cookie: 'gh=SECRET-COOKIE-789' },
    });
    const all = portal.logs.raw.join('\n');
    expect(all).toContain('/healthz');
    expect(all).not.toMatch(/SECRET-(CODE|TOKEN|COOKIE)/);
  });
});

describe('body limits and error mapping', () => {
  const logs = new LogCapture();
  const logger = createLogger({ level: 'info', destination: logs });
  let url: string;
  let close: (graceMs: number) => Promise<void>;

  beforeAll(async () => {
    const parsers = bodyParsers({ bodyLimitBytes: 1_024, jsonDepthLimit: 64 });
    const app = express();
    app.use(requestContext(logger));
    app.post('/echo', parsers.json, (req, res) => {
      res.json(req.body);
    });
    app.get('/boom', () => {
      throw new Error('database password is hunter2');
    });
    app.use(errorHandler(logger));
    ({ url, close } = await listen(app, { host: '127.0.0.1', port: 0 }));
  });
  afterAll(() => close(100));

  test('a body over the limit is 413', async () => {
    const res = await fetch(`${url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ x: 'a'.repeat(2048) }),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: 'request body too large' });
  });

  test('malformed JSON is 400', async () => {
    const res = await fetch(`${url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"x":' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });

  test('an unexpected error is a generic 500: its message reaches the log only', async () => {
    const res = await fetch(`${url}/boom`);
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).not.toContain('hunter2');
    expect(JSON.parse(body)).toEqual({ error: 'server_error', error_description: 'internal error' });
    expect(logs.raw.some((line) => line.includes('hunter2'))).toBe(true);
  });
});

describe('a store outage', () => {
  let redis: DisposableRedis;
  beforeAll(async () => {
    redis = await DisposableRedis.start();
  });
  afterAll(() => redis.stop());

  test('makes /readyz 503 and store-backed routes fail closed with 503, and both recover', async () => {
    const store = await createRedisStore({ url: redis.url, keyPrefix: 'outage:' });
    const logger = createLogger({ level: 'silent' });
    const app = express();
    app.use(requestContext(logger));
    app.get('/protected', async (_req, res) => {
      res.json({ value: await store.get('anything') });
    });
    app.use(errorHandler(logger));
    const portal = await startTestPortal({ store });
    const side = await listen(app, { host: '127.0.0.1', port: 0 });
    try {
      expect((await fetch(`${portal.url}/readyz`)).status).toBe(200);
      await redis.stop();
      const ready = await fetch(`${portal.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'unavailable', reason: 'store unreachable' });
      const denied = await fetch(`${side.url}/protected`);
      expect(denied.status).toBe(503);
      expect(denied.headers.get('retry-after')).toBe('5');
      expect(await denied.json()).toMatchObject({ error: 'temporarily_unavailable' });

      await redis.resume();
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        await sleep(100);
        status = (await fetch(`${portal.url}/readyz`)).status;
      }
      expect(status).toBe(200);
    } finally {
      await side.close(100);
      await portal.close();
      await store.close();
    }
  });
});

describe('graceful shutdown', () => {
  test('finishes in-flight requests, refuses new connections, and cuts streams at the grace bound', async () => {
    const app = express();
    app.get('/slow', async (_req, res) => {
      await sleep(300);
      res.send('done');
    });
    app.get('/stream', (_req, res) => {
      res.write('open');
    });
    const running = await listen(app, { host: '127.0.0.1', port: 0 });
    const slow = fetch(`${running.url}/slow`).then((res) => res.text());
    const stream = new Promise<string>((resolve) => {
      httpRequest(`${running.url}/stream`, (res) => {
        res.on('data', () => {});
        res.on('close', () => resolve('closed'));
      }).end();
    });
    await sleep(50);
    const closed = running.close(800);
    await sleep(20);
    await expect(fetch(`${running.url}/healthz`)).rejects.toThrow();
    expect(await slow).toBe('done');
    expect(await stream).toBe('closed');
    await closed;
  });
});
