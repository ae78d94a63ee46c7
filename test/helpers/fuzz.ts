import fc from 'fast-check';

/**
 * Property-based fuzzing against a live portal (fast-check): each target starts from a valid
 * input, applies generated edits, sends it, and checks what must hold whatever the input.
 *
 * Environment (read here, documented at the top of every test/fuzz file):
 * - `FUZZ_SEED`: the seed of every property in the run (default: a fresh one, printed in the summary).
 * - `FUZZ_PATH`: with `FUZZ_SEED`, replays one counterexample (select its test with `-t`).
 * - `FUZZ_RUNS`: a multiplier on every target's number of runs (default 1; e.g. 20 for a long local run).
 */
export const FUZZ_SEED =
  process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;
const FUZZ_PATH = process.env.FUZZ_PATH || undefined;
const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 1);
/** Jest's limit for one fuzz test: generous, as the machine may be busy; it grows with FUZZ_RUNS. */
export const FUZZ_TIMEOUT_MS = 60_000 * Math.max(1, FUZZ_RUNS);

/** How many inputs each target was given, printed once per suite. */
export class FuzzTally {
  readonly #tried = new Map<string, number>();

  constructor(readonly suite: string) {}

  add(target: string, tried: number): void {
    this.#tried.set(target, (this.#tried.get(target) ?? 0) + tried);
  }

  /** One console line per suite: inputs tried per target, and the seed that replays them. */
  print(): void {
    const targets = [...this.#tried].map(([target, tried]) => `${target}: ${tried}`).join(', ');
    console.log(`fuzz ${this.suite} (FUZZ_SEED=${FUZZ_SEED}): inputs tried: ${targets || 'none'}`);
  }
}

/**
 * Runs `check` on `numRuns` inputs drawn from `arbitrary` (shrinking on failure), with the run's
 * seed. A failure names the seed and path that replay it, and the test: name each test
 * `${target}: …`.
 */
export async function fuzz<T>(
  tally: FuzzTally,
  target: string,
  arbitrary: fc.Arbitrary<T>,
  check: (input: T) => Promise<void>,
  numRuns: number,
): Promise<void> {
  let tried = 0;
  const details = await fc.check(
    fc.asyncProperty(arbitrary, async (input) => {
      tried++;
      await check(input);
    }),
    { seed: FUZZ_SEED, path: FUZZ_PATH, numRuns: Math.max(1, Math.round(numRuns * FUZZ_RUNS)), endOnFailure: FUZZ_PATH !== undefined },
  );
  tally.add(target, tried);
  if (details.failed) {
    const replay = `FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath ?? ''} npm test -- ${tally.suite} -t '${target}:'`;
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`fuzz ${target} failed; replay with: ${replay}\n${fc.defaultReportMessage(details) ?? ''}\n${cause}`);
  }
}

/** An edit of a string: where (a fraction of its length) and what. */
export type StringEdit =
  | { kind: 'replace'; at: number; text: string }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'case' }
  | { kind: 'repeat'; times: number }
  | { kind: 'encode' }
  | { kind: 'whole'; text: string };

/** Text that breaks parsers: separators, escapes, control and non-ASCII characters, long runs. */
const NASTY = [
  '',
  ' ',
  '\0',
  '\r\n',
  '\t',
  '%',
  '%00',
  '%zz',
  '%2e%2e',
  '../',
  '..;',
  '"',
  "'",
  '\\',
  '<script>',
  '&',
  '=',
  '#',
  '?',
  '+',
  ';',
  '*',
  '\u202e',
  '\ud800',
  '🙂',
  'é',
  '\u0000\u0001',
  'null',
  '[]',
  '{}',
  'a'.repeat(3000),
];

/** Short strings, from printable to any code point, and the {@link NASTY} ones. */
export const nastyText: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string({ maxLength: 24 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 12 }), weight: 2 },
  { arbitrary: fc.constantFrom(...NASTY), weight: 2 },
);

const fraction = fc.double({ min: 0, max: 1, noNaN: true });

export const stringEdit: fc.Arbitrary<StringEdit> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), at: fraction, text: nastyText }),
  fc.record({ kind: fc.constant('insert' as const), at: fraction, text: nastyText }),
  fc.record({ kind: fc.constant('delete' as const), at: fraction, length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fraction }),
  fc.record({ kind: fc.constant('case' as const) }),
  fc.record({ kind: fc.constant('repeat' as const), times: fc.integer({ min: 2, max: 3 }) }),
  fc.record({ kind: fc.constant('encode' as const) }),
  fc.record({ kind: fc.constant('whole' as const), text: nastyText }),
);

/** `base` with `edit` applied (possibly unchanged: `replace` may put back what was there). */
export function applyEdit(base: string, edit: StringEdit): string {
  const at = 'at' in edit ? Math.floor(edit.at * base.length) : 0;
  switch (edit.kind) {
    case 'replace':
      return base.slice(0, at) + edit.text + base.slice(at + Math.max(1, edit.text.length));
    case 'insert':
      return base.slice(0, at) + edit.text + base.slice(at);
    case 'delete':
      return base.slice(0, at) + base.slice(at + edit.length);
    case 'truncate':
      return base.slice(0, at);
    case 'case':
      return [...base].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
    case 'repeat':
      return base.repeat(edit.times);
    case 'encode':
      return [...base].map((c, i) => (i % 2 === 0 ? `%${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c)).join('');
    case 'whole':
      return edit.text;
  }
}

/** `base` with `edit` applied, and certainly different from it. */
export function changed(base: string, edit: StringEdit): string {
  const out = applyEdit(base, edit);
  return out === base ? `${base}x` : out;
}

/** An edit of form or query parameters: drop one, edit its value, send it twice, or add another. */
export type FieldEdit =
  | { kind: 'drop'; field: string }
  | { kind: 'edit'; field: string; edit: StringEdit }
  | { kind: 'repeat'; field: string }
  | { kind: 'add'; field: string; value: string };

/** One to three edits of the fields named (`add` also invents names, or reuses `extraNames`). */
export function fieldEdits(fields: readonly string[], extraNames: readonly string[] = []): fc.Arbitrary<FieldEdit[]> {
  const field = fc.constantFrom(...fields);
  const edit: fc.Arbitrary<FieldEdit> = fc.oneof(
    fc.record({ kind: fc.constant('drop' as const), field }),
    { arbitrary: fc.record({ kind: fc.constant('edit' as const), field, edit: stringEdit }), weight: 3 },
    fc.record({ kind: fc.constant('repeat' as const), field }),
    fc.record({
      kind: fc.constant('add' as const),
      field: fc.oneof(nastyText, fc.constantFrom(...fields, ...extraNames)),
      value: nastyText,
    }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 3 });
}

/** The fields as sent after `edits`, in order (a name may appear more than once). */
export function applyFieldEdits(base: Record<string, string>, edits: readonly FieldEdit[]): Array<[string, string]> {
  let entries = Object.entries(base);
  for (const edit of edits) {
    if (edit.kind === 'drop') entries = entries.filter(([name]) => name !== edit.field);
    else if (edit.kind === 'edit')
      entries = entries.map(([name, value]) => [name, name === edit.field ? applyEdit(value, edit.edit) : value]);
    else if (edit.kind === 'repeat') entries = entries.flatMap((entry) => (entry[0] === edit.field ? [entry, entry] : [entry]));
    else entries = [...entries, [edit.field, edit.value]];
  }
  return entries;
}

/** The single value of `name` among `entries`, or `undefined` when it is absent or repeated. */
export function single(entries: ReadonlyArray<[string, string]>, name: string): string | undefined {
  const values = entries.filter(([n]) => n === name).map(([, value]) => value);
  return values.length === 1 ? values[0] : undefined;
}

/** Whether any name appears twice. */
export function anyRepeated(entries: ReadonlyArray<[string, string]>): boolean {
  return new Set(entries.map(([name]) => name)).size !== entries.length;
}

/** `text` as it travels in UTF-8: a lone surrogate becomes U+FFFD (as URLSearchParams and TextEncoder send it). */
export function wellFormed(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/** `application/x-www-form-urlencoded` text of `entries`. */
export function formBody(entries: ReadonlyArray<[string, string]>): string {
  const body = new URLSearchParams();
  for (const [name, value] of entries) body.append(name, value);
  return body.toString();
}

/** `text` as a header value `fetch` will send: characters outside printable ASCII percent-encoded. */
export function headerValue(text: string): string {
  return wellFormed(text).replace(/[^\x20-\x7e]/gu, (c) => encodeURIComponent(c));
}

/** `arbitrary` once in `oneIn` draws, `null` otherwise. */
export function oneIn<T>(oneIn: number, arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | null> {
  return fc.oneof({ arbitrary: fc.constant(null), weight: oneIn - 1 }, { arbitrary, weight: 1 });
}
