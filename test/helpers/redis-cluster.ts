import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createRedisStore, type RedisStore } from '../../portal/store/index.js';
import { freePort, waitUntilListening } from './redis-server.js';

const SLOTS = 16384;

/** The first slot of the `i`th of `size` masters (each holds an equal range). */
const firstSlot = (i: number, size: number) => Math.floor((i * SLOTS) / size);

/**
 * A Redis Cluster of a test's own: `size` masters (`redis-server --cluster-enabled`) on free
 * loopback ports, the slots split between them, joined and ready. Stop it in `afterAll`.
 */
export class TestRedisCluster {
  private constructor(
    readonly ports: number[],
    private readonly processes: ChildProcess[],
    private readonly dir: string,
  ) {}

  /** A URL of one node: a cluster client discovers the rest. */
  get url(): string {
    return `redis://127.0.0.1:${this.ports[0]}`;
  }

  /** A store on this cluster under `keyPrefix` (one per portal process it stands for); close it before `stop`. */
  openStore(keyPrefix: string): Promise<RedisStore> {
    return createRedisStore({ url: this.url, cluster: true, keyPrefix });
  }

  static async start(size = 3): Promise<TestRedisCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-cluster-'));
    const nodes: Array<{ port: number; bus: number }> = [];
    for (let i = 0; i < size; i++) nodes.push({ port: await freePort(), bus: await freePort() });
    const processes = nodes.map(({ port, bus }) =>
      spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--cluster-port',
          String(bus),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
        ],
        { stdio: 'ignore' },
      ),
    );
    const cluster = new TestRedisCluster(
      nodes.map((n) => n.port),
      processes,
      dir,
    );
    const clients = nodes.map(({ port }) => new Redis({ host: '127.0.0.1', port, lazyConnect: true }));
    try {
      await Promise.all(nodes.map(({ port }) => waitUntilListening(port)));
      await Promise.all(clients.map((client) => client.connect()));
      // Each master takes an equal range of slots, then the first meets the others.
      await Promise.all(
        clients.map((client, i) => client.call('CLUSTER', 'ADDSLOTSRANGE', String(firstSlot(i, size)), String(firstSlot(i + 1, size) - 1))),
      );
      for (const { port, bus } of nodes.slice(1)) await clients[0]!.call('CLUSTER', 'MEET', '127.0.0.1', String(port), String(bus));
      for (let i = 0; !(await allReady(clients, cluster.ports)); i++) {
        if (i > 400) throw new Error('the test Redis Cluster never became ready');
        await sleep(25);
      }
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    } finally {
      for (const client of clients) client.disconnect();
    }
  }

  /** Kills the master holding `key` (a full key, prefix included), as an outage would. */
  async stopNodeOf(key: string): Promise<void> {
    const probe = new Redis({ host: '127.0.0.1', port: this.ports[0] });
    try {
      const slot = Number(await probe.call('CLUSTER', 'KEYSLOT', key));
      const size = this.ports.length;
      await kill(this.processes[this.ports.findIndex((_, i) => slot >= firstSlot(i, size) && slot < firstSlot(i + 1, size))]!);
    } finally {
      probe.disconnect();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map(kill));
    await rm(this.dir, { recursive: true, force: true });
  }
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Every node sees the whole cluster, and the same owner of every slot (clients read the slot map from any of them). */
async function allReady(clients: Redis[], ports: number[]): Promise<boolean> {
  const size = ports.length;
  const infos = await Promise.all(clients.map((client) => client.call('CLUSTER', 'INFO') as Promise<string>));
  if (!infos.every((info) => info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${size}`))) return false;
  const maps = await Promise.all(
    clients.map((client) => client.call('CLUSTER', 'SLOTS') as Promise<Array<[number, number, [string, number]]>>),
  );
  return maps.every(
    (ranges) =>
      ranges.length === size &&
      ranges.every(([start, , [, port]]) => port === ports[ports.findIndex((_, i) => start === firstSlot(i, size))]),
  );
}
