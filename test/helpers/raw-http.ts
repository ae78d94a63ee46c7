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

/** A raw connection kept open: what it received so far, and whether the server closed it. */
export interface RawConnection {
  socket: net.Socket;
  /** Everything received so far, as text. */
  received(): string;
  /** Whether the server has closed (or reset) the connection. */
  closed(): boolean;
  /** Resolves once `text` has arrived. */
  next(text: string): Promise<void>;
}

/** Opens a connection to `127.0.0.1:port`, writes `initial` (if any), and keeps it open. */
export function openConnection(port: number, initial = ''): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    let ended = false;
    const waiters: Array<{ text: string; done: () => void }> = [];
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      for (const waiter of waiters.filter((w) => text.includes(w.text))) waiter.done();
    });
    socket.on('close', () => (ended = true));
    socket.on('error', () => (ended = true));
    socket.once('error', reject);
    socket.on('connect', () => {
      socket.off('error', reject);
      if (initial) socket.write(initial);
      resolve({
        socket,
        received: () => text,
        closed: () => ended,
        next: (wanted) => new Promise<void>((done) => (text.includes(wanted) ? done() : waiters.push({ text: wanted, done }))),
      });
    });
  });
}
