/**
 * A same-origin path to go back to after sign-in; anything else (`//evil`, `https://…`) becomes
 * `/`, the portal's home. No control characters, spaces or backslashes at all: a URL parser drops tabs
 * and newlines (`/\t/evil` becomes `//evil`) and reads `\` as `/`, so a path that carries one may
 * turn into another origin on its way to the browser.
 */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.length > 2000) return '/';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters and spaces are what it refuses.
  return /[\u0000-\u0020\u007f\\]/.test(value) ? '/' : value;
}
