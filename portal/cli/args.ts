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

export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string | true>;
}

/** `--name value`, `--name=value` and boolean `--name` (for names in `booleans`); the rest is positional. */
export function parseArgs(argv: readonly string[], booleans: readonly string[] = ['json', 'follow', 'help']): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (inline !== undefined) flags.set(name, inline);
    else if (booleans.includes(name)) flags.set(name, true);
    else {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      flags.set(name, value);
      i++;
    }
  }
  return { positional, flags };
}

/** A string flag's value, or `undefined`. */
export function flag(args: ParsedArgs, name: string): string | undefined {
  const value = args.flags.get(name);
  if (value === true) throw new UsageError(`--${name} needs a value`);
  return value;
}

/** Refuses flags the command does not know (a typo should not silently do something else). */
export function allowOnly(args: ParsedArgs, names: readonly string[]): void {
  for (const name of args.flags.keys()) if (!names.includes(name)) throw new UsageError(`unknown option --${name}`);
}
