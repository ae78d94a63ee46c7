/**
 * Child process of the benchmarks: an HTML app on a free loopback port serving one page (argv[2] KB); prints its URL.
 * The first path segment picks the page's caching headers, for the Markdown cache's figures:
 * `/no-store/…` is never cached, `/max-age/…` stays fresh for an hour, `/no-cache/…` is revalidated
 * on every request (and answered `304` when `If-None-Match` names its ETag); any other path has none.
 */
import { createServer, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerCpuQueries } from './child-cpu.js';
import { wikiPage } from './html-page.js';

const page = Buffer.from(wikiPage(Number(process.argv[2] ?? 10)));
const ETAG = '"page-v1"';
const CACHING: Record<string, OutgoingHttpHeaders> = {
  'no-store': { 'cache-control': 'no-store' },
  'max-age': { 'cache-control': 'max-age=3600', etag: ETAG },
  'no-cache': { 'cache-control': 'no-cache', etag: ETAG },
};
const server = createServer((req, res) => {
  const caching = CACHING[(req.url ?? '').split('/')[1] ?? ''] ?? {};
  if (caching.etag && req.headers['if-none-match'] === caching.etag) return void res.writeHead(304, caching).end();
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': page.length, ...caching }).end(page);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify([`http://127.0.0.1:${(server.address() as AddressInfo).port}`])}\n`);
  answerCpuQueries();
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
