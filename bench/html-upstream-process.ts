/** Child process of the benchmarks: an HTML app on a free loopback port serving one page (argv[2] KB); prints its URL. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerCpuQueries } from './child-cpu.js';
import { wikiPage } from './html-page.js';

const page = Buffer.from(wikiPage(Number(process.argv[2] ?? 10)));
const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': page.length }).end(page));
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify([`http://127.0.0.1:${(server.address() as AddressInfo).port}`])}\n`);
  answerCpuQueries();
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
