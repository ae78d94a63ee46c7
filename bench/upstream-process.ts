/** Child process of the benchmarks: starts argv[2] demo MCP servers and prints their URLs as JSON; stops on SIGTERM. */
import { startDemoMcpServer } from '../examples/demo-mcp-server.js';
import { answerCpuQueries } from './child-cpu.js';

const servers = await Promise.all(Array.from({ length: Number(process.argv[2] ?? 1) }, () => startDemoMcpServer()));
process.stdout.write(`${JSON.stringify(servers.map((s) => s.url))}\n`);
answerCpuQueries();
process.on('SIGTERM', () => void Promise.all(servers.map((s) => s.close())).then(() => process.exit(0)));
