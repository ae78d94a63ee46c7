import { parseArgs, type ParseArgsConfig } from 'node:util';
import { nearest } from '../config/suggest.js';

/** A usage mistake: the CLI prints it with the command's usage and exits 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
}

/** A failure the CLI reports in one line and exits with `exitCode` (1: failed, 3: not authorized, 4: not found). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** The options a command takes, as `node:util` `parseArgs` declares them. */
export type CommandOptions = NonNullable<ParseArgsConfig['options']>;

/** What {@link parseCommandArgs} read: the positional arguments and each given option's value. */
export interface CommandArgs<O extends CommandOptions> {
  positional: string[];
  values: { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };
}

/**
 * Reads a command's arguments with `node:util` `parseArgs` (strict: an option the command does not
 * declare is a mistake, since a typo should not silently do something else), and turns its errors
 * into a {@link UsageError} that says what was wrong in our words, with the option probably meant.
 */
export function parseCommandArgs<const O extends CommandOptions>(argv: readonly string[], options: O): CommandArgs<O> {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
    return { positional: positionals, values: values as CommandArgs<O>['values'] };
  } catch (error) {
    throw new UsageError(usageProblem(error as NodeJS.ErrnoException, argv, options));
  }
}

/** The one-line problem for a `parseArgs` error, found from its `code` and the arguments (its messages are Node's, not ours). */
function usageProblem(error: NodeJS.ErrnoException, argv: readonly string[], options: CommandOptions): string {
  const known = Object.keys(options).map((name) => `--${name}`);
  const given = argv.filter((arg) => arg.startsWith('-')).map((arg) => arg.split('=')[0]!);
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const unknown = given.find((name) => !known.includes(name) && !isShortOf(name, options)) ?? given[0] ?? '';
      const meant = nearest(unknown, known);
      return `unknown option "${unknown}"${meant ? ` (did you mean "${meant}"?)` : ''}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return misusedValue(argv, options) ?? 'an option is missing its value';
    default:
      throw error;
  }
}

/** The option given a value it does not take (`--json=x`) or given none where it needs one (`--limit` last, or before another option). */
function misusedValue(argv: readonly string[], options: CommandOptions): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const [arg, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const name = Object.keys(options).find((key) => arg === `--${key}` || arg === `-${options[key]!.short}`);
    if (!name) continue;
    if (options[name]!.type === 'boolean') {
      if (inline !== undefined) return `--${name} takes no value`;
      continue;
    }
    const value = inline ?? argv[i + 1];
    if (value === undefined || (inline === undefined && value.startsWith('-'))) return `--${name} needs a value`;
    if (inline === undefined) i++;
  }
  return undefined;
}

function isShortOf(arg: string, options: CommandOptions): boolean {
  return Object.values(options).some((option) => option.short !== undefined && arg === `-${option.short}`);
}
