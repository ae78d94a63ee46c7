import net from 'node:net';

/** A raw HTTP/1.1 exchange's answer, as text. */
export interface RawAnswer {
  /** Status code of the first response line, or 0 when the server closed without answering. */
  status: number;
  text: string;
}

/**
 * Writes `request` byte for byte to `host:port` and collects what comes back until the server
 * closes the connection (send `Connection: close`) or `idleMs` passes without data.
 * Raw sockets show what reaches the proxy, past the normalizing of `fetch` and `http.request`.
 */
export function rawRequest(port: number, request: string, idleMs = 1000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const done = () => {
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), text });
    };
    socket.setTimeout(idleMs, done);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', done);
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? done() : reject(error)));
    socket.on('connect', () => socket.write(request));
  });
}
