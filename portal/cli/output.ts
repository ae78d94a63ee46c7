/** Writes `value` as JSON (for `--json`). */
export function printJson(out: NodeJS.WritableStream, value: unknown): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain text table: a header row and aligned columns; control characters in cells are shown escaped. */
export function printTable(out: NodeJS.WritableStream, headers: string[], rows: Array<Array<string | number | undefined>>): void {
  const cells = [headers, ...rows.map((row) => row.map((cell) => clean(cell === undefined ? '' : String(cell))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  for (const row of cells)
    out.write(`${row.map((cell, i) => (i === row.length - 1 ? cell : (cell ?? '').padEnd(widths[i]!))).join('  ')}\n`);
}

/** C0 and C1 control characters: a terminal must not be steered by what an agent named itself. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

/** Escapes control characters, so that a name prints as it is. */
function clean(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
