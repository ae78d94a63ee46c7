import { parseArgs } from 'node:util';
import { APPS_USAGE, appsCommand } from './apps-command.js';
import { AUDIT_USAGE, auditCommand } from './audit-command.js';
import { GRANTS_USAGE, grantsCommand } from './grants-command.js';
import { UsageError } from './args.js';
import type { CliIo } from './io.js';
import { runCommand } from './run-command.js';
import { TOOLS_USAGE, toolsCommand } from './tools-command.js';

const COMMANDS = {
  apps: { run: appsCommand, usage: APPS_USAGE },
  grants: { run: grantsCommand, usage: GRANTS_USAGE },
  audit: { run: auditCommand, usage: AUDIT_USAGE },
  tools: { run: toolsCommand, usage: TOOLS_USAGE },
} as const;

/** The admin API commands' usage, for `gatehouse help`. */
export const ADMIN_COMMANDS_USAGE = `  apps list|add|remove    upstreams, through the admin API (GATEHOUSE_URL; --token, GATEHOUSE_TOKEN or gatehouse login --admin)
  grants list|revoke      what people authorized, by person or client
  audit tail|verify       read the audit log; check its hash chains
  tools list|approve|reject  tool definitions pinned at first sight; approve what changed
`;

/** Whether `command` is one of the admin API commands. */
export function isAdminCommand(command: string): command is keyof typeof COMMANDS {
  return Object.hasOwn(COMMANDS, command);
}

/**
 * Runs `gatehouse apps|grants|audit|tools …` (exit codes as {@link runCommand} says). `--token T`,
 * anywhere in the arguments, is `GATEHOUSE_TOKEN=T` for this run.
 */
export function runAdminCommand(command: keyof typeof COMMANDS, argv: readonly string[], io: CliIo): Promise<number> {
  const { run, usage } = COMMANDS[command];
  return runCommand(
    command,
    usage,
    (args, commandIo) => {
      const { rest, token } = withoutTokenFlag(args);
      return run(rest, token === undefined ? commandIo : { ...commandIo, env: { ...commandIo.env, GATEHOUSE_TOKEN: token } });
    },
    argv,
    io,
  );
}

/** The arguments without `--token T` (or `--token=T`), and T; the command reads the rest strictly. */
function withoutTokenFlag(argv: readonly string[]): { rest: string[]; token?: string } {
  const { tokens } = parseArgs({
    args: [...argv],
    options: { token: { type: 'string' } },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const taken = new Set<number>();
  let token: string | undefined;
  for (const item of tokens) {
    if (item.kind !== 'option' || item.name !== 'token') continue;
    token = item.value;
    taken.add(item.index);
    if (!item.inlineValue) taken.add(item.index + 1);
    if (!token || token.startsWith('-')) throw new UsageError('--token needs a value');
  }
  return { rest: argv.filter((_, index) => !taken.has(index)), token };
}
