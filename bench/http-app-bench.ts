/**
 * Benchmark of the HTTP-app gateway (issue 7), on loopback only:
 *  1. a plain GET through `/apps/{id}/` versus directly to the same app (autocannon, 10
 *     connections, load generator and app in processes of their own): throughput ratio and
 *     added latency;
 *  2. Markdown conversion throughput on a 100 KB page (pages/s, in this process).
 * Run: `npm run bench:http-app` (builds first). Durations: BENCH_SECONDS (default 10).
 */
import { htmlToMarkdown } from '../portal/apps/markdown.js';
import { wikiPage } from './html-page.js';
import { serviceToken, startPortal } from './portal.js';
import { runLoad, startHtmlApp } from './processes.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

async function proxyOverhead(): Promise<void> {
  const app = await startHtmlApp(10);
  const url = app.urls[0]!;
  const portal = await startPortal([{ id: 'wiki', kind: 'http', url, markdown: true }]);
  try {
    const token = await serviceToken(portal.running.url, `${portal.running.url}/apps/wiki`);
    const direct = await runLoad({ url: `${url}/page`, method: 'GET', headers: {}, seconds: SECONDS });
    const through = await runLoad({ url: `${portal.running.url}/apps/wiki/page`, method: 'GET', headers: { authorization: `Bearer ${token}` }, seconds: SECONDS });
    const markdown = await runLoad({ url: `${portal.running.url}/apps/wiki/page`, method: 'GET', headers: { authorization: `Bearer ${token}`, accept: 'text/markdown' }, seconds: SECONDS });
    console.log(`GET of a 10 KB page, 10 connections, ${SECONDS}s each`);
    console.log(`  direct          ${direct.rps.toFixed(0)} req/s  p50 ${direct.p50} ms  p99 ${direct.p99} ms  errors ${direct.errors}`);
    console.log(`  /apps/{id}      ${through.rps.toFixed(0)} req/s  p50 ${through.p50} ms  p99 ${through.p99} ms  errors ${through.errors}`);
    console.log(`  as Markdown     ${markdown.rps.toFixed(0)} req/s  p50 ${markdown.p50} ms  p99 ${markdown.p99} ms  errors ${markdown.errors}`);
    console.log(`  throughput ratio ${(through.rps / direct.rps).toFixed(2)}, added p50 ${through.p50 - direct.p50} ms, added p99 ${through.p99 - direct.p99} ms`);
  } finally {
    await portal.close();
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
  console.log(`Markdown conversion of a ${(html.length / 1024).toFixed(0)} KB page: ${(pages / SECONDS).toFixed(1)} pages/s (${(bytes / 1024).toFixed(0)} KB of Markdown each)`);
}

await proxyOverhead();
markdownThroughput();
