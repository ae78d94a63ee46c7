import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { selfSignedCertificate } from './tls.js';

/** An https server on 127.0.0.1 that serves client ID metadata documents a test publishes. */
export interface MetadataDocumentHost {
  origin: string;
  /** Its certificate: pass it as the portal's `metadataDocumentCa`. */
  cert: string;
  /** Serves `doc` at `path`, with `client_id` set to its own URL; resolves that URL (the client id). */
  publish(path: string, doc: Record<string, unknown>): string;
  close(): Promise<void>;
}

/** Starts a {@link MetadataDocumentHost} (a self-signed certificate for 127.0.0.1). */
export async function startMetadataDocumentHost(): Promise<MetadataDocumentHost> {
  const tls = selfSignedCertificate();
  const documents = new Map<string, string>();
  const server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const body = documents.get(req.url ?? '');
    if (body === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    cert: tls.cert,
    publish(path, doc) {
      const clientId = `${origin}${path}`;
      documents.set(path, JSON.stringify({ ...doc, client_id: clientId }));
      return clientId;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
