/**
 * Benchmark of the HTTP-app gateway, on loopback only:
 *  1. a plain GET through `/apps/{id}/` versus directly to the same app, a bare `node:http`
 *     proxy and nginx, in BENCH_ROUNDS rounds (default 3; medians), with each proxy's CPU time
 *     per request; then `gatehouse start --workers 1` vs `--workers 2` on Redis (BENCH_REDIS_URL,
 *     default redis://127.0.0.1:6379); see app-proxy-rounds.ts. Load generator and app run in
 *     processes of their own (autocannon, 10 connections); then the page as Markdown;
 *  2. Markdown conversion throughput on a 100 KB page (pages/s, in this process).
 * Run: `npm run bench:http-app` (builds first). Durations: BENCH_SECONDS (default 10; BENCH_PROXY_SECONDS for
 * each proxy run, default 5). BENCH_ONLY=proxy runs part 1 alone.
 */
import { compareAppProxies, compareWorkers } from './app-proxy-rounds.js';
import { htmlToMarkdown } from '../portal/apps/markdown.js';
import { wikiPage } from './html-page.js';
import { serviceToken, startPortal } from './portal.js';
import { runLoad, startHtmlApp } from './processes.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const PROXY_SECONDS = Number(process.env.BENCH_PROXY_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function proxyOverhead(): Promise<void> {
  const app = await startHtmlApp(10);
  const url = app.urls[0]!;
  try {
    const rounds = { seconds: PROXY_SECONDS, rounds: ROUNDS };
    await compareAppProxies(app, rounds);
    await compareWorkers(app, rounds);
    if (process.env.BENCH_ONLY === 'proxy') return;
    const portal = await startPortal([{ id: 'wiki', kind: 'http', url, markdown: true }]);
    try {
      const token = await serviceToken(portal.running.url, `${portal.running.url}/apps/wiki`);
      const markdown = await runLoad({
        url: `${portal.running.url}/apps/wiki/page`,
        method: 'GET',
        headers: { authorization: `Bearer ${token}`, accept: 'text/markdown' },
        seconds: SECONDS,
      });
      console.log(`GET of a 10 KB page as Markdown through /apps/{id}, 10 connections, ${SECONDS}s`);
      console.log(
        `  as Markdown     ${markdown.rps.toFixed(0)} req/s  p50 ${markdown.p50} ms  p99 ${markdown.p99} ms  errors ${markdown.errors}`,
      );
    } finally {
      await portal.close();
    }
  } finally {
    await app.stop();
  }
}

function markdownThroughput(): void {
  const html = wikiPage(100);
  const deadline = Date.now() + SECONDS * 1000;
  let pages = 0;
  let bytes = 0;
  while (Date.now() < deadline) {
    const result = htmlToMarkdown(html, { pageUrl: 'http://wiki.internal/policies/expenses' });
    if (!result.ok) throw new Error('page refused');
    bytes = result.markdown.length;
    pages++;
  }
  console.log(
    `Markdown conversion of a ${(html.length / 1024).toFixed(0)} KB page: ${(pages / SECONDS).toFixed(1)} pages/s (${(bytes / 1024).toFixed(0)} KB of Markdown each)`,
  );
}

await proxyOverhead();
if (process.env.BENCH_ONLY !== 'proxy') markdownThroughput();
