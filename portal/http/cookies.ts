import type { Request, Response } from 'express';

/** The value of one cookie from the request's `Cookie` header. */
export function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) {
      try {
        return decodeURIComponent(part.slice(index + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Sets an HttpOnly, SameSite=Lax cookie on path `/` (Secure under https). */
export function writeCookie(res: Response, name: string, value: string, options: { secure: boolean; maxAgeMs?: number }): void {
  res.cookie(name, value, { httpOnly: true, sameSite: 'lax', secure: options.secure, path: '/', maxAge: options.maxAgeMs });
}

export function clearCookie(res: Response, name: string, options: { secure: boolean }): void {
  res.clearCookie(name, { httpOnly: true, sameSite: 'lax', secure: options.secure, path: '/' });
}
