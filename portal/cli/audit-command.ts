import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { auditChainKey, verifyEvents, type VerifyReport } from '../audit/chain.js';
import type { StoredAuditEvent } from '../audit/query.js';
import { parseDuration } from '../config/duration.js';
import { createAdminClient } from './admin-client.js';
import { CliError, parseCommandArgs, UsageError, type CommandArgs } from './args.js';
import type { CliIo } from './io.js';
import { CONTROL_CHARACTERS, printJson } from './output.js';

export const AUDIT_USAGE = `usage: gatehouse audit <tail|verify> [options]

  audit tail [--person ID] [--client ID] [--upstream ID] [--event NAME] [--outcome O]
             [--since 15m|ISO-TIME] [--limit N] [--follow] [--json]
  audit verify                 check the hash chains of the portal's audit stream (admin API)
  audit verify --file PATH     check a JSON-lines audit file locally (needs GATEHOUSE_SECRET)

exit codes: 0 intact, 1 tampering found (or the check failed)
`;

const FILTERS = ['person', 'client', 'upstream', 'event', 'outcome'] as const;

const TAIL_OPTIONS = {
  json: { type: 'boolean' },
  follow: { type: 'boolean' },
  since: { type: 'string' },
  limit: { type: 'string' },
  person: { type: 'string' },
  client: { type: 'string' },
  upstream: { type: 'string' },
  event: { type: 'string' },
  outcome: { type: 'string' },
} as const;

const VERIFY_OPTIONS = { json: { type: 'boolean' }, file: { type: 'string' } } as const;

/** `gatehouse audit …`: read the audit log, and check that nobody edited it. */
export async function auditCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'tail':
      return tail(parseCommandArgs(rest, TAIL_OPTIONS), io);
    case 'verify':
      return verify(parseCommandArgs(rest, VERIFY_OPTIONS), io);
    default:
      throw new UsageError(verb ? `unknown audit command "${verb}"` : 'audit needs a command');
  }
}

async function tail(args: CommandArgs<typeof TAIL_OPTIONS>, io: CliIo): Promise<number> {
  const client = createAdminClient(io);
  const limit = Number(args.values.limit ?? 50);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError('--limit must be an integer from 1 to 10000');
  const since = args.values.since ?? '1h';
  const sinceMs = parseDuration(since);
  const from = sinceMs !== undefined ? Date.now() - sinceMs : Date.parse(since);
  if (!Number.isFinite(from)) throw new UsageError('--since must be a duration (30s, 15m, 12h, 7d) or an ISO 8601 time');
  const query = new URLSearchParams({ from: String(from), limit: '1000' });
  for (const name of FILTERS) {
    const value = args.values[name];
    if (value) query.set(name, value);
  }

  let kept: StoredAuditEvent[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.request<{ events: StoredAuditEvent[]; next_cursor?: string }>(
      'GET',
      `/audit?${query}${cursor ? `&cursor=${cursor}` : ''}`,
    );
    kept = [...kept, ...page.events].slice(-limit);
    cursor = page.next_cursor;
  } while (cursor);
  for (const event of kept) print(io, event, args.values.json === true);
  if (!args.values.follow) return 0;

  let last = kept.at(-1)?.id;
  for (;;) {
    await sleep(2_000);
    const page = await client.request<{ events: StoredAuditEvent[] }>('GET', `/audit?${query}${last ? `&cursor=${last}` : ''}`);
    for (const event of page.events) print(io, event, args.values.json === true);
    last = page.events.at(-1)?.id ?? last;
  }
}

function print(io: CliIo, event: StoredAuditEvent, json: boolean): void {
  if (json) {
    io.stdout.write(`${JSON.stringify(event)}\n`);
    return;
  }
  const who = event.person ?? '-';
  const agent = event.client_id ? `${event.client_name ?? ''}${event.client_name ? ` (${event.client_id})` : event.client_id}` : '-';
  const detail = Object.entries(event.details ?? {})
    .filter(([, v]) => v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  const line = [
    event.time,
    event.event,
    event.outcome,
    who,
    agent,
    event.upstream ?? '-',
    event.latency_ms === undefined ? '' : `${event.latency_ms}ms`,
    detail,
  ]
    .join('  ')
    .replace(CONTROL_CHARACTERS, '?');
  io.stdout.write(`${line}\n`);
}

async function verify(args: CommandArgs<typeof VERIFY_OPTIONS>, io: CliIo): Promise<number> {
  const file = args.values.file;
  const report = file ? verifyFile(file, io.env) : await createAdminClient(io).request<VerifyReport>('GET', '/audit/verify');
  if (args.values.json === true) printJson(io.stdout, report);
  else if (report.ok) io.stdout.write(`audit log intact: ${report.events} event(s) in ${report.chains} chain(s) verified\n`);
  else {
    io.stdout.write(`audit log TAMPERED: ${report.problems.length} problem(s) in ${report.events} event(s)\n`);
    for (const p of report.problems) io.stdout.write(`  ${p.problem} at chain ${p.chain} seq ${p.seq}${p.at ? ` (${p.at})` : ''}\n`);
  }
  return report.ok ? 0 : 1;
}

/** Verifies a JSON-lines file; lines that are not audit events (other log lines) are skipped. */
function verifyFile(file: string, env: NodeJS.ProcessEnv): VerifyReport {
  const secret = env.GATEHOUSE_SECRET;
  if (!secret) throw new UsageError('verifying a file needs GATEHOUSE_SECRET: the portal secret the events were hashed with');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 1);
  }
  const found: Array<{ event: unknown; at: string }> = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      // A line that is not JSON at all is damage in an audit file.
      found.push({ event: undefined, at: `line ${i + 1}` });
      return;
    }
    if (parsed && typeof parsed === 'object' && 'hash' in parsed && 'chain' in parsed) found.push({ event: parsed, at: `line ${i + 1}` });
  });
  return verifyEvents(auditChainKey(secret), found);
}
