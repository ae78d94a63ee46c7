#!/usr/bin/env node
import { nearest } from './config/suggest.js';
import { hashPassword } from './crypto/password.js';
import { ADMIN_COMMANDS_USAGE, isAdminCommand, runAdminCommand } from './cli/run-admin-command.js';
import type { CliIo } from './cli/io.js';
import { runCommand } from './cli/run-command.js';

const USAGE = `usage: gatehouse <command>

commands:
  start [--config PATH] [--workers N|auto]
                          run the portal (the default when no command is given)
  hash-password           read a password on stdin, print its scrypt$… hash for the config
  login [URL] / logout    sign in to a portal as yourself (device flow; --browser), sign out
  fetch URL [--markdown]  fetch a page that needs you signed in (any RFC 9728 server)
  bridge URL              a stdio MCP server relaying to a portal's /mcp, as you
${ADMIN_COMMANDS_USAGE}  help                    show this text
`;

const COMMANDS = ['start', 'hash-password', 'login', 'logout', 'fetch', 'bridge', 'apps', 'grants', 'audit', 'tools', 'help'];

const io: CliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };

/** The `gatehouse` command: one verb, one function. */
async function cli(argv: string[]): Promise<number> {
  // Options alone (`gatehouse --config x.yaml`) are `start`'s; help is help, wherever it is asked for.
  const [command = 'start', ...rest] =
    argv[0] === '--help' || argv[0] === '-h' ? ['help'] : argv[0]?.startsWith('-') ? ['start', ...argv] : argv;
  switch (command) {
    // The portal, and each person's command below, loads only when run: `gatehouse help` or an
    // admin command starts in a tenth of the time.
    case 'start': {
      const { start } = await import('./start.js');
      await start(rest);
      return -1;
    }
    case 'hash-password': {
      const password = (await readStdin()).replace(/\r?\n$/, '');
      if (!password) {
        process.stderr.write('gatehouse hash-password: no password on stdin\n');
        return 2;
      }
      process.stdout.write(`${await hashPassword(password)}\n`);
      return 0;
    }
    case 'apps':
    case 'grants':
    case 'audit':
    case 'tools':
      if (!isAdminCommand(command)) return 2;
      return runAdminCommand(command, rest, io);
    case 'login':
    case 'logout': {
      const { LOGIN_USAGE, loginCommand } = await import('./cli/login-command.js');
      return runCommand(command, LOGIN_USAGE, (argv, commandIo) => loginCommand(command, argv, commandIo), rest, io);
    }
    case 'fetch': {
      const { FETCH_USAGE, fetchCommand } = await import('./cli/fetch-command.js');
      return runCommand(command, FETCH_USAGE, fetchCommand, rest, io);
    }
    case 'bridge': {
      const { BRIDGE_USAGE, bridgeCommand } = await import('./cli/bridge-command.js');
      return runCommand(command, BRIDGE_USAGE, bridgeCommand, rest, io);
    }
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return 0;
    default: {
      const meant = nearest(command, COMMANDS);
      process.stderr.write(`gatehouse: unknown command "${command}"${meant ? ` (did you mean "${meant}"?)` : ''}\n${USAGE}`);
      return 2;
    }
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const code = await cli(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
