import { APPS_USAGE, appsCommand } from './apps-command.js';
import { AUDIT_USAGE, auditCommand } from './audit-command.js';
import { GRANTS_USAGE, grantsCommand } from './grants-command.js';
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
export const ADMIN_COMMANDS_USAGE = `  apps list|add|remove    upstreams, through the admin API (GATEHOUSE_URL; GATEHOUSE_TOKEN or gatehouse login --admin)
  grants list|revoke      what people authorized, by person or client
  audit tail|verify       read the audit log; check its hash chains
  tools list|approve|reject  tool definitions pinned at first sight; approve what changed
`;

/** Whether `command` is one of the admin API commands. */
export function isAdminCommand(command: string): command is keyof typeof COMMANDS {
  return Object.hasOwn(COMMANDS, command);
}

/** Runs `gatehouse apps|grants|audit|tools …` (exit codes as {@link runCommand} says). */
export function runAdminCommand(command: keyof typeof COMMANDS, argv: readonly string[], io: CliIo): Promise<number> {
  const { run, usage } = COMMANDS[command];
  return runCommand(command, usage, run, argv, io);
}
