// Job round trips through the Camunda 7 facade with Camunda's official
// client (bench/jobs/run.sh runs it against a `baton serve` it started):
//
//   node bench/jobs/c7bench.mjs BASE WORKERS SECONDS
//
// WORKERS clients (each its own polling loop and connection), each fetching
// one task at a time (maxTasks 1, maxParallelExecutions 1, interval 1 ms,
// long polling up to 1 s) and completing it as the client's README does. A
// round trip is one fetchAndLock and one complete; its latency is the time
// between two completions of one client (fetch, handler, complete, and the
// client's 1 ms poll interval). Prints one key=value line.
const { Client } = await import(
  new URL("../../tests/c7client/node_modules/camunda-external-task-client-js/index.js",
          import.meta.url));

const [base, workersArg, secsArg] = process.argv.slice(2);
const workers = Number(workersArg), secs = Number(secsArg);
const lat = [];
let done = 0, errors = 0;
const t0 = performance.now(), until = t0 + secs * 1000;
const clients = [];
for (let i = 0; i < workers; i++) {
  const client = new Client({
    baseUrl: `${base}/engine-rest`,
    workerId: `c7-${i}`,
    maxTasks: 1,
    maxParallelExecutions: 1,
    interval: 1,
    asyncResponseTimeout: 1000,
    lockDuration: 30000,
  });
  let last = 0;
  client.on("complete:error", () => { errors++; });
  client.on("poll:error", () => { errors++; });
  client.subscribe("bench", { variables: [] }, async ({ task, taskService }) => {
    await taskService.complete(task);
    const now = performance.now();
    if (now <= until) {
      done++;
      if (last) lat.push(now - last);
    }
    last = now;
  });
  clients.push(client);
}
await new Promise((r) => setTimeout(r, secs * 1000));
for (const c of clients) c.stop();
const el = (performance.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const p = (q) => (lat.length ? lat[Math.floor((lat.length - 1) * q)] : 0);
console.log(`kind=c7 workers=${workers} round_trips_per_s=${(done / el).toFixed(0)} ` +
            `p50_ms=${p(0.5).toFixed(2)} p99_ms=${p(0.99).toFixed(2)} errors=${errors}`);
await new Promise((r) => setTimeout(r, 1200)); // parked fetches answer
process.exit(0);
