import type { Middleware } from './middleware.js';

/**
 * Headers every portal response carries. Pages set their own `Content-Security-Policy`;
 * proxied apps' responses replace these with the app's own where it sends them.
 */
export function securityHeaders(options: { https: boolean }): Middleware {
  return (_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    if (options.https) res.setHeader('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    next();
  };
}
