/** A realistic wiki page of about `kilobytes` KB: navigation, article with headings, paragraphs, a table, links, a footer. */
export function wikiPage(kilobytes: number): string {
  const sections: string[] = [];
  for (let i = 0; sections.join('').length < kilobytes * 1024; i++) {
    sections.push(`<h2 id="s${i}">Section ${i}</h2>
<p>Expense reports are due by the fifth working day of the month. See <a href="/policies/expenses#s${i}">the policy</a> and
<a href="../travel/${i}">travel rules</a>; approvals go to your manager, then finance. <em>Keep receipts</em> for seven years.</p>
<ul><li>Meals up to 40 EUR per day</li><li>Trains in second class</li><li>Hotels up to 150 EUR per night</li></ul>
<table><thead><tr><th>Item</th><th>Limit</th><th>Approver</th></tr></thead>
<tbody><tr><td>Meal</td><td>40</td><td>Manager</td></tr><tr><td>Hotel</td><td>150</td><td>Finance</td></tr></tbody></table>`);
  }
  return `<!doctype html><html><head><title>Handbook</title><style>body{font:16px sans-serif}</style><script>window.analytics=1</script></head>
<body><nav><a href="/">Home</a> · <a href="/policies">Policies</a> · <a href="/people">People</a></nav>
<main><article><h1>Expenses</h1>${sections.join('\n')}</article></main>
<footer>© Acme · <a href="/legal">Legal</a></footer></body></html>`;
}
