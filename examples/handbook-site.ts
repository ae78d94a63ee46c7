import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { escapeHtml } from '../portal/web/html.js';
import { ASSETS, PAGES, REDIRECTS, type HandbookPage } from './handbook/pages.js';

/** A running handbook site. */
export interface HandbookSite {
  /** Its origin, e.g. `http://127.0.0.1:41234`. */
  url: string;
  close(): Promise<void>;
}

/** The preference cookie `/preferences` sets (the page that shows a proxied `Set-Cookie`). */
export const HANDBOOK_COOKIE = 'handbook_theme';

/**
 * Starts the demo "Acme handbook": a small legacy-style HTML site for the portal to front at
 * `/apps/handbook`. Pages have navigation, a footer, a stylesheet, a picture and relative links; `/policies/expenses` has a
 * table; `/old-handbook` redirects; `/preferences` sets a cookie (a form POST changes it).
 * Listens on 127.0.0.1 and a free port unless told otherwise.
 */
export async function startHandbookSite(options: { port?: number; host?: string } = {}): Promise<HandbookSite> {
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://handbook.invalid');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    const redirect = REDIRECTS[path];
    if (redirect) return void res.writeHead(301, { location: redirect }).end();
    if (path === '/preferences') return preferences(req, res, path);
    const asset = ASSETS[path];
    if (asset)
      return void res
        .writeHead(200, { 'content-type': asset.type, 'content-length': Buffer.byteLength(asset.body), 'cache-control': 'max-age=3600' })
        .end(asset.body);
    const page = PAGES[path];
    if (!page || (req.method !== 'GET' && req.method !== 'HEAD')) {
      return void send(res, path, page ? 405 : 404, {
        title: page ? 'Method not allowed' : 'Not found',
        body: '<h1>Not found</h1><p>No handbook page lives here. Try the <a href="/">home page</a>.</p>',
      });
    }
    send(res, path, 200, page);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function preferences(req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
  if (req.method === 'POST') {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (body = (body + chunk).slice(0, 1000)));
    req.on('end', () => {
      const theme = new URLSearchParams(body).get('theme') === 'dark' ? 'dark' : 'light';
      res.writeHead(303, { location: '/preferences', 'set-cookie': `${HANDBOOK_COOKIE}=${theme}; Path=/; HttpOnly; SameSite=Lax` }).end();
    });
    return;
  }
  const theme = /(?:^|;\s*)handbook_theme=(dark|light)/.exec(req.headers.cookie ?? '')?.[1];
  if (!theme) res.setHeader('set-cookie', `${HANDBOOK_COOKIE}=light; Path=/; HttpOnly; SameSite=Lax`);
  send(res, path, 200, {
    title: 'Preferences',
    body: `<h1>Preferences</h1><p>The handbook is shown in the <strong>${escapeHtml(theme ?? 'light')}</strong> theme.</p>
<form method="post" action="preferences"><label>Theme <select name="theme"><option>light</option><option>dark</option></select></label>
<button type="submit">Save</button></form>`,
  });
}

/**
 * Renders a page with every link and asset URL relative to the page, as the page is written with
 * site-absolute ones (`/policies/expenses`): relative links keep working wherever the site is
 * mounted, such as under the portal's `/apps/handbook/`.
 */
function send(res: http.ServerResponse, path: string, status: number, page: HandbookPage): void {
  const depth = path.split('/').length - 2;
  const root = depth > 0 ? '../'.repeat(depth) : './';
  const html = relativeTo(
    root,
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(page.title)} · Acme Handbook</title>
<link rel="stylesheet" href="/static/handbook.css">
<style>body{font-family:Georgia,serif;max-width:48rem;margin:auto}nav a{margin-right:1rem}</style>
<script>window.analytics = { page: ${JSON.stringify(page.title).replace(/</g, '\\u003c')} };</script>
</head>
<body>
<header class="site-header"><a href="/" class="logo">Acme</a>
<nav aria-label="Main"><a href="/">Home</a><a href="/onboarding">Onboarding</a><a href="/policies/expenses">Expenses</a><a href="/policies/time-off">Time off</a><a href="/preferences">Preferences</a></nav>
</header>
<main><article>${page.body}</article></main>
<footer class="site-footer"><p>© Acme Corp · Internal use only · <a href="/contact">Contact the people team</a></p></footer>
<script src="/static/tracking.js"></script>
</body>
</html>`,
  );
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-cache',
  });
  res.end(html);
}

function relativeTo(root: string, html: string): string {
  return html.replace(/(href|src|action)="\/([^"]*)"/g, (_all, attribute: string, rest: string) => `${attribute}="${root}${rest}"`);
}
