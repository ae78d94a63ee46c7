import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';

/** One page of the test app: its headers, and its body for the person asking (from the assertion's `name`). */
export interface Page {
  headers: Record<string, string>;
  body: (person: string) => string;
}

/** What the app saw of one request. */
export interface Seen {
  path: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  person: string;
}

/** A running {@link startPagesApp}. */
export interface PagesApp {
  url: string;
  /** The pages by request path (with query), rewritten by tests between requests. */
  pages: Map<string, Page>;
  /** What the app saw of `path` since the last call. */
  take(path: string): Seen[];
  close(): Promise<void>;
}

/**
 * An HTML app whose pages a test rewrites between requests. It answers `304` when the request's
 * `If-None-Match` names the page's current ETag (RFC 9110 §13.1.2), else the page, and records
 * what it saw.
 */
export async function startPagesApp(): Promise<PagesApp> {
  const pages = new Map<string, Page>();
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const assertion = req.headers['gatehouse-assertion'];
    const person = typeof assertion === 'string' ? String(decodeJwt(assertion).name) : 'nobody';
    seen.push({
      path: req.url ?? '',
      ifNoneMatch: req.headers['if-none-match'],
      ifModifiedSince: req.headers['if-modified-since'],
      person,
    });
    const page = pages.get(req.url ?? '');
    if (!page) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no such page');
    if (page.headers.etag && req.headers['if-none-match'] === page.headers.etag) return void res.writeHead(304, page.headers).end();
    const html = `<!doctype html><html><head><title>Page</title></head><body><nav><a href="/">Home</a></nav><main>${page.body(person)}</main></body></html>`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...page.headers }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    pages,
    take(path: string): Seen[] {
      const taken = seen.filter((entry) => entry.path === path);
      seen.splice(0, seen.length, ...seen.filter((entry) => entry.path !== path));
      return taken;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
