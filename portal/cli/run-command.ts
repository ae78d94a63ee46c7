import { CliError, UsageError } from './args.js';
import type { CliIo } from './io.js';

/** A CLI command: resolves its exit code, throws {@link UsageError} or {@link CliError} to fail. */
export type CliCommand = (argv: readonly string[], io: CliIo) => Promise<number>;

/**
 * Runs `gatehouse <name> …` and maps failures to exit codes: 0 done, 1 failed, 2 usage (with the
 * usage text), 3 not authorized, 4 not found. `help` or `--help` prints the usage.
 */
export async function runCommand(name: string, usage: string, run: CliCommand, argv: readonly string[], io: CliIo): Promise<number> {
  if (argv[0] === 'help' || argv.includes('--help')) {
    io.stdout.write(usage);
    return 0;
  }
  try {
    return await run(argv, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`gatehouse ${name}: ${error.message}\n${usage}`);
      return 2;
    }
    if (error instanceof CliError) {
      io.stderr.write(`gatehouse ${name}: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}
