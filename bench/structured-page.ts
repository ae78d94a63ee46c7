/**
 * A documentation page holding every structure an agent needs kept when the page becomes
 * Markdown — the page's own table of contents, byline, asides, a table, code blocks with their
 * language, a definition list — inside `<main>`, around site chrome that must go (header,
 * navigation, sidebar, cookie banner, footer, scripts, styles). The converter test asserts on
 * each structure; the benchmark prints which ones each candidate converter keeps.
 */
export const STRUCTURED_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Deploying the ledger — Acme Docs</title>
<style>.note{border:1px solid}</style><script>window.analytics = { track() {} };</script>
<link rel="stylesheet" href="/site.css"></head>
<body>
<header class="site-header"><a href="/" class="logo">Acme Docs</a>
<nav aria-label="Site"><ul><li><a href="/guides">Guides</a></li><li><a href="/api">API reference</a></li><li><a href="/blog">Blog</a></li></ul></nav></header>
<div class="layout">
<aside class="sidebar"><nav aria-label="Section"><ul><li><a href="/guides/install">Install</a></li><li><a href="/guides/upgrade">Upgrade</a></li></ul></nav></aside>
<main id="content">
<h1>Deploying the ledger</h1>
<p class="byline">By <a rel="author" href="/people/ada">Ada Lovelace</a> · <time datetime="2026-11-30">30 November 2026</time></p>
<nav class="toc" aria-label="Table of contents"><h2>Contents</h2>
<ol><li><a href="#requirements">Requirements</a></li><li><a href="#configure">Configure</a></li><li><a href="#glossary">Glossary</a></li></ol></nav>
<p>The ledger runs as one service next to its database. This guide takes a new deployment from an empty
machine to a running ledger, in about twenty minutes, and says what to check before you let people in.</p>
<h2 id="requirements">Requirements</h2>
<p>Each environment needs a database and a queue of its own. Sizes that work for a team of fifty people:</p>
<table><thead><tr><th>Component</th><th>Version</th><th>Memory</th></tr></thead>
<tbody><tr><td>PostgreSQL</td><td>16</td><td>4 GiB</td></tr><tr><td>Redis</td><td>7.2</td><td>512 MiB</td></tr></tbody></table>
<aside class="note"><p><strong>Note:</strong> back up the database before every upgrade; migrations are not reversible.</p></aside>
<h2 id="configure">Configure</h2>
<p>Write the service's settings to <code>ledger.yaml</code>, then start it:</p>
<pre><code class="language-yaml">database:
  url: postgres://ledger@db/ledger
queue:
  url: redis://queue:6379
</code></pre>
<pre><code class="language-typescript">const ledger = await startLedger({ config: 'ledger.yaml' });
console.log(ledger.url);
</code></pre>
<h2 id="glossary">Glossary</h2>
<dl><dt>Entry</dt><dd>One movement of money between two accounts.</dd><dt>Period</dt><dd>A month of entries, closed once reconciled.</dd></dl>
</main>
</div>
<div class="cookie-banner" role="dialog" aria-label="Cookies"><p>We use cookies to improve the docs.</p><button>Accept all</button></div>
<footer class="site-footer"><p>© 2026 Acme Corp · <a href="/legal">Legal</a> · <a href="/privacy">Privacy</a></p></footer>
<script src="/tracking.js"></script>
</body></html>
`;

/** What must survive in the Markdown of {@link STRUCTURED_PAGE}, and the chrome that must not. */
export const STRUCTURE_CHECKS: ReadonlyArray<{ name: string; kept: (markdown: string) => boolean }> = [
  { name: 'title heading', kept: (md) => /^# Deploying the ledger$/m.test(md) },
  {
    name: 'table of contents',
    kept: (md) => /\[Requirements\]\([^)]*#requirements\)/.test(md) && /\[Glossary\]\([^)]*#glossary\)/.test(md),
  },
  { name: 'byline', kept: (md) => /By \[Ada Lovelace\]\([^)]+\)/.test(md) && md.includes('30 November 2026') },
  { name: 'aside', kept: (md) => md.includes('back up the database before every upgrade') },
  {
    name: 'table',
    kept: (md) =>
      /\|\s*Component\s*\|\s*Version\s*\|\s*Memory\s*\|/.test(md) &&
      /\|\s*PostgreSQL\s*\|\s*16\s*\|\s*4 GiB\s*\|/.test(md) &&
      /\|\s*-{3,}\s*\|/.test(md),
  },
  {
    name: 'code block with language',
    kept: (md) =>
      /```yaml\ndatabase:\n {2}url: postgres:\/\/ledger@db\/ledger\n/.test(md) &&
      /```typescript\nconst ledger = await startLedger\(\{ config: 'ledger\.yaml' \}\);/.test(md),
  },
  {
    name: 'definition list',
    kept: (md) =>
      /Entry[\s\S]{0,20}One movement of money between two accounts\./.test(md) && /Period[\s\S]{0,20}A month of entries/.test(md),
  },
  {
    name: 'no site chrome',
    kept: (md) =>
      !['API reference', 'Upgrade](', 'cookies to improve', 'Accept all', '© 2026 Acme Corp', 'window.analytics', 'border:1px'].some(
        (chrome) => md.includes(chrome),
      ),
  },
];
