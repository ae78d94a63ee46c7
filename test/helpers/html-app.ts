import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A tiny HTML app for what the other test apps lack: a page far over the Markdown bound. */
export interface HugeHtmlApp {
  url: string;
  close(): Promise<void>;
}

/** Serves `/huge`: a `text/html` page of `bytes` bytes (paragraphs), on 127.0.0.1. */
export async function startHugeHtmlApp(bytes: number): Promise<HugeHtmlApp> {
  const paragraph = `<p>${'All work and no play makes Jack a dull boy. '.repeat(20)}</p>\n`;
  const body = `<!doctype html><html><head><title>Huge</title></head><body><h1>Huge</h1>${paragraph.repeat(Math.ceil(bytes / paragraph.length))}</body></html>`;
  const sockets = new Set<Socket>();
  const server = http.createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body),
  );
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
