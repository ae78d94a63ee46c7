import { createAdminClient } from './admin-client.js';
import { parseCommandArgs, UsageError, type CommandArgs } from './args.js';
import type { CliIo } from './io.js';
import { printJson, printTable } from './output.js';

export const GRANTS_USAGE = `usage: gatehouse grants <list|revoke> [options]

  grants list --person PERSON_ID | --client CLIENT_ID [--json]
  grants revoke GRANT_ID
  grants revoke --person PERSON_ID | --client CLIENT_ID     (every grant of one person or client)
`;

interface GrantRow {
  id: string;
  person: string;
  client_id: string;
  client_name?: string;
  resource: string;
  created_at: string;
  last_used_at?: string;
}

const GRANTS_OPTIONS = { json: { type: 'boolean' }, person: { type: 'string' }, client: { type: 'string' } } as const;

/** The one `--person`/`--client` filter, as a query or body. */
function filterOf(args: CommandArgs<typeof GRANTS_OPTIONS>): { person: string } | { client: string } {
  const { person, client } = args.values;
  if (!person === !client) throw new UsageError('give exactly one of --person or --client');
  return person ? { person } : { client: client! };
}

/** `gatehouse grants …`: what people authorized which agents to do, and revoking it. */
export async function grantsCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const [verb, ...rest] = argv;
  const args = parseCommandArgs(rest, GRANTS_OPTIONS);
  const client = () => createAdminClient(io);
  switch (verb) {
    case 'list': {
      const filter = filterOf(args);
      const { grants } = await client().request<{ grants: GrantRow[] }>('GET', `/grants?${new URLSearchParams(filter)}`);
      if (args.values.json) printJson(io.stdout, grants);
      else
        printTable(
          io.stdout,
          ['GRANT', 'PERSON', 'CLIENT', 'RESOURCE', 'CREATED', 'LAST USED'],
          grants.map((g) => [
            g.id,
            g.person,
            g.client_name ? `${g.client_name} (${g.client_id})` : g.client_id,
            g.resource,
            g.created_at,
            g.last_used_at ?? '-',
          ]),
        );
      return 0;
    }
    case 'revoke': {
      const id = args.positional[0];
      if (id) {
        if (args.values.person !== undefined || args.values.client !== undefined || args.positional.length > 1)
          throw new UsageError('give one grant id, or --person/--client, not both');
        await client().request('DELETE', `/grants/${encodeURIComponent(id)}`);
        if (args.values.json) printJson(io.stdout, { revoked: 1 });
        else io.stdout.write(`revoked grant ${id}: its tokens stop working now\n`);
        return 0;
      }
      const result = await client().request<{ revoked: number }>('POST', '/grants/revoke', filterOf(args));
      if (args.values.json) printJson(io.stdout, result);
      else io.stdout.write(`revoked ${result.revoked} grant(s)\n`);
      return 0;
    }
    default:
      throw new UsageError(verb ? `unknown grants command "${verb}"` : 'grants needs a command');
  }
}
