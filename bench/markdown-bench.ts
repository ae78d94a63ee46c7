/**
 * Benchmark of Markdown for agents, on loopback only:
 *  1. the candidate converters in this process on the same 100 KB page (pages/s), and which of
 *     the structures of the fixture page (bench/structured-page.ts) each keeps;
 *  2. the page through the portal (`GET /apps/{id}/…`, `Accept: text/markdown`, a bearer token,
 *     autocannon with 10 connections in a process of its own, the app in another): cold (the app
 *     says `no-store`: fetched and converted every time), revalidated (`no-cache` with an ETag:
 *     the app answers `304` and the cached Markdown is reused) and fresh (`max-age`: answered from
 *     the cache), with the portal's CPU time per page.
 * Rounds of every contender back to back (BENCH_ROUNDS, default 3), medians of the rounds: the
 * machine's speed drifts, and its cores are shared with whatever else runs.
 * Run: `npm run bench` (all benchmarks) or `BENCH_ONLY=markdown npm run bench`. Durations:
 * BENCH_SECONDS per load run (default 5); in-process runs take at most 3 s each.
 */
import kreuzberg from '@kreuzberg/html-to-markdown-node';
import { htmlToMarkdown as mdreamJs } from '@mdream/js';
import { htmlToMarkdownResult as mdreamWasm } from 'mdream/wasm';
import { NodeHtmlMarkdown } from 'node-html-markdown';
import { htmlToMarkdown } from '../portal/apps/markdown.js';
import { wikiPage } from './html-page.js';
import { serviceToken, startPortal } from './portal.js';
import { runLoad, startHtmlApp } from './processes.js';
import { STRUCTURED_PAGE, STRUCTURE_CHECKS } from './structured-page.js';
import { turndownToMarkdown } from './turndown-converter.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const IN_PROCESS_SECONDS = Math.min(SECONDS, 3);
const PAGE_KB = 100;
/** The issue's goal for Markdown through the portal. */
const GOAL_PAGES_PER_SECOND = 100;
const PAGE_URL = 'http://wiki.internal/policies/expenses';

interface Candidate {
  name: string;
  convert(html: string): string;
}

/** The candidates; mdream's native engine only where its package is installed (it declares Node ≥ 22, so npm leaves it out on Node 20). */
async function candidates(): Promise<{ list: Candidate[]; missing: string[] }> {
  const markdownOf = (result: ReturnType<typeof htmlToMarkdown>) => (result.ok ? result.markdown : '');
  const nodeHtmlMarkdown = new NodeHtmlMarkdown({ codeBlockStyle: 'fenced' });
  const list: Candidate[] = [
    {
      name: 'the portal: mdream WebAssembly, main content, links',
      convert: (html) => markdownOf(htmlToMarkdown(html, { pageUrl: PAGE_URL })),
    },
    { name: 'mdream, WebAssembly engine alone', convert: (html) => mdreamWasm(html, {}).markdown ?? '' },
    { name: 'mdream, JS engine (@mdream/js)', convert: (html) => mdreamJs(html) },
    { name: '@kreuzberg/html-to-markdown-node', convert: (html) => kreuzberg.convert(html, { extractMetadata: false }).content ?? '' },
    { name: 'node-html-markdown', convert: (html) => nodeHtmlMarkdown.translate(html) },
    { name: 'turndown + Readability on linkedom (before)', convert: (html) => markdownOf(turndownToMarkdown(html, { pageUrl: PAGE_URL })) },
  ];
  const missing: string[] = [];
  try {
    const native = await import('mdream');
    list.splice(1, 0, { name: 'mdream, native engine', convert: (html) => native.htmlToMarkdown(html) });
  } catch {
    missing.push('mdream, native engine: not installed (its package declares Node >= 22; npm skips it on this Node)');
  }
  return { list, missing };
}

/** One run of a converter: pages per second of wall-clock time, and CPU time per page (steadier when other work shares the cores). */
function run(candidate: Candidate, html: string): { rate: number; cpuMs: number } {
  const started = performance.now();
  const before = process.cpuUsage();
  let pages = 0;
  while (performance.now() - started < IN_PROCESS_SECONDS * 1000) {
    candidate.convert(html);
    pages++;
  }
  const used = process.cpuUsage(before);
  return { rate: pages / ((performance.now() - started) / 1000), cpuMs: (used.user + used.system) / 1000 / pages };
}

async function inProcess(): Promise<number> {
  const html = wikiPage(PAGE_KB);
  const { list, missing } = await candidates();
  const runs = new Map<Candidate, Array<{ rate: number; cpuMs: number }>>(list.map((candidate) => [candidate, []]));
  for (const candidate of list) candidate.convert(html); // warm-up (and the WebAssembly instance)
  for (let round = 0; round < ROUNDS; round++) {
    for (const candidate of list) runs.get(candidate)!.push(run(candidate, html));
  }
  const rateOf = (candidate: Candidate) => median(runs.get(candidate)!.map((r) => r.rate));
  const portal = rateOf(list[0]!);
  console.log(
    `Markdown conversion in this process, a ${(html.length / 1024).toFixed(0)} KB page, ${ROUNDS} rounds of ${IN_PROCESS_SECONDS}s runs (medians; ratio to the portal's converter); structures kept of the fixture page's ${STRUCTURE_CHECKS.length}:`,
  );
  for (const candidate of list) {
    const rate = rateOf(candidate);
    const cpuMs = median(runs.get(candidate)!.map((r) => r.cpuMs));
    const markdown = candidate.convert(STRUCTURED_PAGE);
    const lost = STRUCTURE_CHECKS.filter((check) => !check.kept(markdown)).map((check) => check.name);
    console.log(
      `  ${candidate.name.padEnd(54)} ${rate.toFixed(1).padStart(7)} pages/s (CPU ${cpuMs.toFixed(2).padStart(6)} ms/page)  ratio ${(rate / portal).toFixed(2).padStart(5)}  keeps ${STRUCTURE_CHECKS.length - lost.length}/${STRUCTURE_CHECKS.length}${lost.length ? ` (not: ${lost.join(', ')})` : ''}`,
    );
  }
  for (const line of missing) console.log(`  ${line}`);
  return portal;
}

/** The three cache situations, by the app's path prefix (see html-upstream-process.ts). */
const SITUATIONS = [
  { name: 'cold (no-store)', path: '/no-store/page' },
  { name: 'revalidated (no-cache, 304)', path: '/no-cache/page' },
  { name: 'cached (max-age)', path: '/max-age/page' },
] as const;

async function throughPortal(inProcessRate: number): Promise<void> {
  const app = await startHtmlApp(PAGE_KB);
  const portal = await startPortal([{ id: 'wiki', kind: 'http', url: app.urls[0]!, markdown: true }]);
  try {
    const token = await serviceToken(portal.running.url, `${portal.running.url}/apps/wiki`);
    const headers = { authorization: `Bearer ${token}`, accept: 'text/markdown' };
    const url = (path: string) => `${portal.running.url}/apps/wiki${path}`;
    await runLoad({ url: url('/no-store/page'), method: 'GET', headers, seconds: 2 });
    const results = new Map<string, { rps: number[]; cpu: number[]; p50: number[] }>(
      SITUATIONS.map((s) => [s.name, { rps: [], cpu: [], p50: [] }]),
    );
    console.log(
      `Markdown through the portal: GET /apps/{id}/… with a bearer token, Accept: text/markdown, 10 connections, ${ROUNDS} rounds of ${SECONDS}s runs`,
    );
    for (let round = 1; round <= ROUNDS; round++) {
      const line: string[] = [];
      for (const situation of SITUATIONS) {
        const before = process.cpuUsage();
        const load = await runLoad({ url: url(situation.path), method: 'GET', headers, seconds: SECONDS });
        const used = process.cpuUsage(before);
        const cpu = (used.user + used.system) / 1000 / Math.max(1, load.total);
        const figures = results.get(situation.name)!;
        figures.rps.push(load.rps);
        figures.cpu.push(cpu);
        figures.p50.push(load.p50);
        line.push(`${situation.name} ${load.rps.toFixed(0)} pages/s (p50 ${load.p50} ms, errors ${load.errors})`);
      }
      console.log(`  round ${round}: ${line.join('; ')}`);
    }
    const cold = median(results.get(SITUATIONS[0].name)!.rps);
    for (const situation of SITUATIONS) {
      const figures = results.get(situation.name)!;
      const rps = median(figures.rps);
      console.log(
        `  ${situation.name.padEnd(28)} median ${rps.toFixed(0).padStart(6)} pages/s, p50 ${median(figures.p50)} ms, portal CPU ${median(figures.cpu).toFixed(2)} ms/page; ${(rps / GOAL_PAGES_PER_SECOND).toFixed(1)} × the goal (${GOAL_PAGES_PER_SECOND}/s), ${(rps / cold).toFixed(1)} × cold, ${(rps / inProcessRate).toFixed(2)} × the converter alone in-process`,
      );
    }
  } finally {
    await portal.close();
    await app.stop();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY === 'markdown') {
  console.log('(2 cores shared with the load generator, the app and anything else running: read the medians, not single runs)');
  await throughPortal(await inProcess());
}
