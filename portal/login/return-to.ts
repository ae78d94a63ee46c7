/** A same-origin path to go back to after sign-in; anything else (`//evil`, `https://…`) becomes `/connections`. */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\') || value.length > 2000) {
    return '/connections';
  }
  return /[\r\n]/.test(value) ? '/connections' : value;
}
