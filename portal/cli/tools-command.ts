import { createAdminClient } from './admin-client.js';
import { parseCommandArgs, UsageError } from './args.js';
import type { CliIo } from './io.js';
import { printJson, printTable } from './output.js';

export const TOOLS_USAGE = `usage: gatehouse tools <list|approve|reject> UPSTREAM [TOOL] [--json]

  tools list UPSTREAM            each tool against its pinned definition: pinned, changed, new, rejected
  tools approve UPSTREAM TOOL    pin what the upstream lists now; agents see the tool again
  tools reject UPSTREAM TOOL     keep the tool held
`;

interface ToolRow {
  name: string;
  status: string;
  pinned_hash: string | null;
  current_hash: string | null;
  since: string;
}

/** `gatehouse tools …`: pinned tool definitions, through the admin API. */
export async function toolsCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const [verb, ...rest] = argv;
  const args = parseCommandArgs(rest, { json: { type: 'boolean' } });
  const [upstream, tool] = args.positional;
  const client = createAdminClient(io);
  const toolsPath = (id: string) => `/upstreams/${encodeURIComponent(id)}/tools`;
  switch (verb) {
    case 'list': {
      if (!upstream || args.positional.length !== 1) throw new UsageError('tools list needs exactly one upstream id');
      const { tools } = await client.request<{ tools: ToolRow[] }>('GET', toolsPath(upstream));
      if (args.values.json) printJson(io.stdout, tools);
      else
        printTable(
          io.stdout,
          ['TOOL', 'STATUS', 'PINNED', 'CURRENT', 'SINCE'],
          tools.map((t) => [t.name, t.status, short(t.pinned_hash), short(t.current_hash), t.since]),
        );
      return 0;
    }
    case 'approve':
    case 'reject': {
      if (!upstream || !tool || args.positional.length !== 2) throw new UsageError(`tools ${verb} needs an upstream id and a tool name`);
      const pin = await client.request<ToolRow>('POST', `${toolsPath(upstream)}/${encodeURIComponent(tool)}/${verb}`);
      if (args.values.json) printJson(io.stdout, pin);
      else
        io.stdout.write(
          verb === 'approve'
            ? `approved tool "${tool}" of upstream "${upstream}": pinned ${short(pin.pinned_hash)}\n`
            : `rejected tool "${tool}" of upstream "${upstream}": it stays held\n`,
        );
      return 0;
    }
    default:
      throw new UsageError(verb ? `unknown tools command "${verb}"` : 'tools needs a command');
  }
}

function short(hash: string | null): string {
  return hash ? hash.slice(0, 12) : '-';
}
