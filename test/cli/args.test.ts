import { describe, expect, test } from '@jest/globals';
import { parseCommandArgs, UsageError } from '../../portal/cli/args.js';

const OPTIONS = { json: { type: 'boolean' }, limit: { type: 'string' }, output: { type: 'string', short: 'o' } } as const;

describe('parseCommandArgs', () => {
  test('reads positional arguments, booleans, values and short options in any order', () => {
    const args = parseCommandArgs(['list', '--json', '--limit', '5', 'extra', '-o', 'out.md'], OPTIONS);
    expect(args.positional).toEqual(['list', 'extra']);
    expect(args.values).toEqual({ json: true, limit: '5', output: 'out.md' });
  });

  test('--name=value is a value, even one that starts with a dash', () => {
    expect(parseCommandArgs(['--limit=-1'], OPTIONS).values).toEqual({ limit: '-1' });
  });

  test.each([
    [['--colour', 'red'], 'unknown option "--colour"'],
    [['--lmit', '5'], 'unknown option "--lmit" (did you mean "--limit"?)'],
    [['--limit'], '--limit needs a value'],
    [['--limit', '--json'], '--limit needs a value'],
    [['-o'], '--output needs a value'],
    [['--json=yes'], '--json takes no value'],
  ])('bad input %j is a usage error: %s', (argv, message) => {
    expect(() => parseCommandArgs(argv, OPTIONS)).toThrow(new UsageError(message));
  });
});
