import { APPS_USAGE, appsCommand } from './apps-command.js';
import { CliError, UsageError } from './args.js';
import { AUDIT_USAGE, auditCommand } from './audit-command.js';
import { GRANTS_USAGE, grantsCommand } from './grants-command.js';
import type { CliIo } from './io.js';
import { TOOLS_USAGE, toolsCommand } from './tools-command.js';

const COMMANDS = {
  apps: { run: appsCommand, usage: APPS_USAGE },
  grants: { run: grantsCommand, usage: GRANTS_USAGE },
  audit: { run: auditCommand, usage: AUDIT_USAGE },
  tools: { run: toolsCommand, usage: TOOLS_USAGE },
} as const;

/** The admin API commands' usage, for `gatehouse help`. */
export const ADMIN_COMMANDS_USAGE = `  apps list|add|remove    upstreams, through the admin API (GATEHOUSE_URL, GATEHOUSE_TOKEN)
  grants list|revoke      what people authorized, by person or client
  audit tail|verify       read the audit log; check its hash chains
  tools list|approve|reject  tool definitions pinned at first sight; approve what changed
`;

/** Whether `command` is one of the admin API commands. */
export function isAdminCommand(command: string): command is keyof typeof COMMANDS {
  return Object.hasOwn(COMMANDS, command);
}

/**
 * Runs `gatehouse apps|grants|audit|tools …` and maps failures to exit codes:
 * 0 done, 1 failed, 2 usage, 3 not authorized (401/403), 4 not found.
 */
export async function runAdminCommand(command: keyof typeof COMMANDS, argv: readonly string[], io: CliIo): Promise<number> {
  const { run, usage } = COMMANDS[command];
  if (argv[0] === 'help' || argv.includes('--help')) {
    io.stdout.write(usage);
    return 0;
  }
  try {
    return await run(argv, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`gatehouse ${command}: ${error.message}\n${usage}`);
      return 2;
    }
    if (error instanceof CliError) {
      io.stderr.write(`gatehouse ${command}: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}
