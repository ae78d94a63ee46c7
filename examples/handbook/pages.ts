/**
 * The pages of the demo "Acme handbook": plain server-rendered HTML with the chrome a real
 * intranet page has (navigation, a footer, a script, a stylesheet) around the content an agent
 * wants, relative links between pages, and a table.
 */

/** One handbook page: its title and the HTML of its main content. */
export interface HandbookPage {
  title: string;
  body: string;
}

export const PAGES: Record<string, HandbookPage> = {
  '/': {
    title: 'Acme Handbook',
    body: `
<h1>Acme Handbook</h1>
<p>Welcome to the Acme employee handbook. It is the single place where we write down how we work,
what we expect of each other and what the company offers in return. Everything here applies to
every employee unless a page says otherwise.</p>
<h2>Where to start</h2>
<ul>
  <li><a href="onboarding">Your first week</a> walks you through accounts, equipment and people to meet.</li>
  <li><a href="policies/expenses">Expenses</a> explains what you can claim and how fast it is paid.</li>
  <li><a href="policies/time-off">Time off</a> lists holidays, leave types and how to ask.</li>
</ul>
<p>Something missing or wrong? Every page has an owner; write to them, or open a change request in
the handbook repository. The handbook is reviewed every quarter by the people team.</p>`,
  },
  '/onboarding': {
    title: 'Your first week',
    body: `
<h1>Your first week</h1>
<p>Your manager and an onboarding buddy will meet you on your first morning. Before then, IT ships
your laptop to your home address, and your accounts are created the Friday before you start.</p>
<img src="/static/team-photo.svg" alt="The Acme team at the summer offsite">
<h2>Day one</h2>
<ol>
  <li>Sign in with the temporary password from your welcome e-mail and enrol a security key.</li>
  <li>Read the <a href="/policies/expenses#equipment">equipment allowance</a> before you buy a monitor.</li>
  <li>Join the <code>#welcome</code> channel and introduce yourself.</li>
</ol>
<h2>By the end of the week</h2>
<p>You should have shipped one small change to production, met your team's on-call rotation, and
booked a coffee with someone outside your team. Ask your buddy for names; it is what they are for.</p>
<p>Back to the <a href="./">handbook home</a>.</p>`,
  },
  '/policies/expenses': {
    title: 'Expenses',
    body: `
<h1>Expenses</h1>
<p>Spend company money as you would spend your own. Claims are filed in the finance tool with a
receipt photo and are paid with the next monthly salary run. The limits below are per person.</p>
<table>
  <caption>Expense limits</caption>
  <thead><tr><th>Category</th><th>Limit</th><th>Approval</th></tr></thead>
  <tbody>
    <tr><td>Meals while travelling</td><td>€60 per day</td><td>None</td></tr>
    <tr><td id="equipment">Home office equipment</td><td>€500 per year</td><td>Manager</td></tr>
    <tr><td>Conferences and training</td><td>€2,000 per year</td><td>Manager and finance</td></tr>
    <tr><td>Software subscriptions</td><td>€30 per month</td><td>None</td></tr>
  </tbody>
</table>
<p>Travel itself (flights, trains, hotels) is booked through the travel desk; see
<a href="time-off">time off</a> if a trip runs into a weekend you want to take as holiday, and
<a href="../onboarding">your first week</a> for the equipment you get without a claim.</p>`,
  },
  '/policies/time-off': {
    title: 'Time off',
    body: `
<h1>Time off</h1>
<p>Everyone gets 28 days of paid holiday a year plus public holidays where they live. We would
rather you take all of it: the people team sends a reminder in October to those who have more than
ten days left.</p>
<h2>Asking for leave</h2>
<p>Request leave in the HR tool at least two weeks ahead for anything longer than three days, and
tell your team in its channel. Sick days need no request; tell your manager the same morning.</p>
<h2>Other leave</h2>
<ul>
  <li>Parental leave: 20 weeks at full pay for every parent.</li>
  <li>Compassionate leave: up to 10 days, no questions asked.</li>
  <li>Volunteering: 2 days a year for a charity of your choice.</li>
</ul>
<p>See <a href="expenses">expenses</a> for what happens to travel booked before leave is cancelled.</p>`,
  },
  '/contact': {
    title: 'Contact the people team',
    body: `
<h1>Contact the people team</h1>
<p>Write to the people team in the <code>#people</code> channel, or stop by on the second floor. For
anything about pay or leave, they answer within one working day.</p>
<p>Back to the <a href="/">handbook home</a>.</p>`,
  },
};

/** A path the handbook used to live at: answered with a 301 to its new home. */
export const REDIRECTS: Record<string, string> = { '/old-handbook': '/', '/policies': '/policies/expenses' };

/** The stylesheet, script and picture the pages load (site-absolute paths, as the pages write them). */
export const ASSETS: Record<string, { type: string; body: string }> = {
  '/static/handbook.css': { type: 'text/css; charset=utf-8', body: '.site-header{display:flex;gap:2rem;align-items:baseline;border-bottom:1px solid #ccc}.logo{font-weight:bold}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem}img{max-width:100%}\n' },
  '/static/tracking.js': { type: 'text/javascript; charset=utf-8', body: 'window.analytics && (window.analytics.seen = true);\n' },
  '/static/team-photo.svg': {
    type: 'image/svg+xml',
    body: '<svg xmlns="http://www.w3.org/2000/svg" width="480" height="160" viewBox="0 0 480 160"><rect width="480" height="160" fill="#e8f0e8"/><g fill="#4a7a4a">' +
      [60, 150, 240, 330, 420].map((x) => `<circle cx="${x}" cy="70" r="24"/><rect x="${x - 28}" y="98" width="56" height="50" rx="12"/>`).join('') +
      '</g></svg>\n',
  },
};
