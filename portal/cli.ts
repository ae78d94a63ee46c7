#!/usr/bin/env node
import { start } from './start.js';

const USAGE = `usage: gatehouse <command>

commands:
  start [--config PATH]   run the portal (the default when no command is given)
  help                    show this text
`;

/** The `gatehouse` command: one verb, one function. */
async function cli(argv: string[]): Promise<number> {
  const [command = 'start', ...rest] = argv[0]?.startsWith('-') ? ['start', ...argv] : argv;
  switch (command) {
    case 'start':
      await start(rest);
      return -1;
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`gatehouse: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

const code = await cli(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
