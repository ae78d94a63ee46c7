export default async function globalTeardown() {
  const server = globalThis.__gatehouseRedisServer;
  if (!server) return;
  await new Promise((resolve) => {
    server.once('exit', resolve);
    server.kill('SIGTERM');
  });
}
