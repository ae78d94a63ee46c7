import http, { type IncomingHttpHeaders } from 'node:http';

/** One answer of {@link hostRequest}. */
export interface HostAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A request to `url` with an explicit `Host` header (fetch will not send one of our choosing), to
 * exercise host routing, or a page whose host name was rebound to 127.0.0.1. A GET unless `post` is given.
 */
export function hostRequest(url: string, host: string, headers: Record<string, string> = {}, post?: string): Promise<HostAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: post === undefined ? 'GET' : 'POST', headers: { ...headers, host }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(post);
  });
}
