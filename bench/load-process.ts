/** Child process of the benchmarks: applies autocannon load described by argv[2] (JSON) and prints the result (and its own CPU time) as JSON. */
import autocannon from 'autocannon';

const options = JSON.parse(process.argv[2]!) as autocannon.Options;
const before = process.cpuUsage();
const result = await autocannon(options);
const used = process.cpuUsage(before);
process.stdout.write(
  JSON.stringify({
    rps: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
    cpuMs: (used.user + used.system) / 1000,
  }),
);
