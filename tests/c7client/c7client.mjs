// Camunda 7's official external task client (camunda-external-task-client-js,
// pinned in package-lock.json) against `baton serve` on SQLite: workers
// written the way the client's README shows process order.bpmn through
// /engine-rest - typed variables both ways, failures with retries (the
// retry cycle R3/PT1S), a message correlated by business key, a BPMN error
// caught by a boundary event, a lock extension. TAP on standard output.
//
//   node tests/c7client/c7client.mjs BATON_EXE
//
// Needs `npm ci --prefix tests/c7client` (test.sh runs it); without the
// client it fails, it never skips.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { startServer, deployC7, post, get } from "./serve.mjs";

const here = dirname(fileURLToPath(import.meta.url));
let n = 0;
let failed = 0;
const out = (s) => process.stdout.write(s + "\n");
function ok(cond, what, detail) {
  n++;
  if (!cond) failed++;
  out(`${cond ? "ok" : "not ok"} ${n} - ${what}`);
  if (!cond && detail !== undefined) out(`#   ${JSON.stringify(detail)}`);
}
function bail(why) {
  out(`not ok ${++n} - ${why}`);
  out(`1..${n}`);
  process.exit(1);
}

// the client's logger prints with console.log: keep standard output for TAP
console.log = (...a) => console.error(...a);

let Client, Variables, logger;
try {
  ({ Client, Variables, logger } = await import("camunda-external-task-client-js"));
} catch (e) {
  bail(`camunda-external-task-client-js is not installed: run npm ci --prefix tests/c7client (${e.message})`);
}

const exe = process.argv[2] || process.env.BATON_EXE;
if (!exe) bail("usage: c7client.mjs BATON_EXE");
const dir = mkdtempSync(join(tmpdir(), "baton-c7client-"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let server, client;

async function main() {
  server = await startServer(exe, `sqlite:${join(dir, "baton.db")}`, join(dir, "server.log"));
  const base = server.base;
  const dep = await deployC7(base, "order.bpmn", readFileSync(join(here, "order.bpmn")));
  ok(dep.status === 200, "deployment/create (multipart) answers 200", dep.body);
  ok(dep.body.deployedProcessDefinitions && dep.body.deployedProcessDefinitions["order:1"],
    "with the deployed process definition", dep.body);

  // three orders: one ships, one is out of stock (BPMN error), one's card fails twice first
  const orders = [
    { bk: "order-1", item: "book", amount: 10, failFirst: 0 },
    { bk: "order-2", item: "unicorn", amount: 25, failFirst: 0 },
    { bk: "order-3", item: "lamp", amount: 99.5, failFirst: 2 },
  ];
  for (const o of orders) {
    const r = await post(base, "/engine-rest/process-definition/key/order/start", {
      businessKey: o.bk,
      variables: {
        item: { value: o.item, type: "String" },
        amount: { value: o.amount, type: Number.isInteger(o.amount) ? "Integer" : "Double" },
        customer: { value: JSON.stringify({ name: "Ann", tier: 2 }), type: "Json" },
      },
    });
    ok(r.status === 200 && r.body.businessKey === o.bk && r.body.definitionId === "order:1",
      `process-definition/key/order/start: ${o.bk}`, r.body);
    o.id = r.body.id;
  }

  // workers, as the client's README writes them
  const attempts = {};
  const seen = { retries: [], customer: null, amountType: null };
  client = new Client({
    baseUrl: `${base}/engine-rest`,
    use: logger,
    workerId: "node-worker",
    asyncResponseTimeout: 5000,
    interval: 20,
    lockDuration: 20000,
  });
  client.subscribe("charge", async ({ task, taskService }) => {
    const bk = task.businessKey;
    attempts[bk] = (attempts[bk] || 0) + 1;
    const order = orders.find((o) => o.bk === bk);
    seen.customer = task.variables.get("customer");
    seen.amountType = task.variables.getTyped("amount").type;
    seen.retries.push(task.retries);
    if (attempts[bk] <= order.failFirst) {
      await taskService.handleFailure(task, {
        errorMessage: "card declined",
        errorDetails: "issuer said no",
        retries: task.retries - 1,
        retryTimeout: 300,
      });
      return;
    }
    await taskService.extendLock(task, 30000);
    const vars = new Variables();
    vars.set("charged", task.variables.get("amount"));
    vars.set("receipt", { id: `R-${bk}`, lines: [1, 2] });
    vars.set("paidBy", null);
    await taskService.complete(task, vars);
  });
  client.subscribe("ship", async ({ task, taskService }) => {
    if (task.variables.get("item") === "unicorn") {
      const vars = new Variables().set("reason", "none left");
      await taskService.handleBpmnError(task, "OUT_OF_STOCK", "no unicorns", vars);
      return;
    }
    await taskService.complete(task, new Variables().set("shipped", true));
  });
  client.subscribe("notify", async ({ task, taskService }) => {
    await taskService.complete(task, new Variables().set("notified", task.variables.get("reason")));
  });

  // the payment message, by business key, once each order waits for it
  for (const o of orders) {
    let r;
    for (let i = 0; i < 200; i++) {
      r = await post(base, "/engine-rest/message", {
        messageName: "paid",
        businessKey: o.bk,
        processVariables: { paidAt: { value: "2026-01-05T10:00:00", type: "String" } },
        resultEnabled: true,
      });
      if (r.status !== 400) break;
      await sleep(50);
    }
    ok(r.status === 200 && r.body[0].resultType === "Execution" &&
       r.body[0].execution.processInstanceId === o.id, `message 'paid' correlated by business key ${o.bk}`, r.body);
  }

  // every order ends
  const deadline = Date.now() + 30000;
  const state = {};
  for (const o of orders) {
    while (Date.now() < deadline) {
      const r = await get(base, `/v1/instances/${o.id}`);
      state[o.bk] = r.body;
      if (r.body.state !== "active") break;
      await sleep(50);
    }
  }
  const v1 = state["order-1"].variables || {};
  ok(state["order-1"].state === "completed", "order-1 completed", state["order-1"]);
  ok(v1.charged === 10 && v1.shipped === true, "with the workers' variables", v1);
  ok(v1.receipt && v1.receipt.id === "R-order-1" && v1.receipt.lines.length === 2,
    "a Json variable set by the client arrives as JSON", v1.receipt);
  ok(v1.paidAt === "2026-01-05T10:00:00", "the message's processVariables are set", v1);
  ok(v1.paidBy === null, "a null variable", v1);
  ok(seen.customer && seen.customer.name === "Ann", "a Json variable reaches the worker parsed", seen.customer);
  ok(seen.amountType === "integer" || seen.amountType === "double", "numbers travel typed", seen.amountType);
  const v2 = state["order-2"].variables || {};
  ok(state["order-2"].state === "completed" && v2.notified === "none left",
    "order-2: the BPMN error was caught by the boundary event, the customer told", state["order-2"]);
  ok(v2.shipped === undefined, "order-2 did not ship", v2);
  ok(state["order-3"].state === "completed" && attempts["order-3"] === 3,
    "order-3: two failures with retries, then success", { state: state["order-3"].state, attempts });
  ok(seen.retries.includes(3) && seen.retries.includes(2) && seen.retries.includes(1),
    "retries from the retry cycle R3, one fewer after each failure", seen.retries);

  // a report for a task that is gone: Camunda 7's 404 and error body
  const gone = await post(base, `/engine-rest/external-task/${state["order-1"].id}-4/complete`, { workerId: "node-worker" });
  ok(gone.status === 404 && gone.body.type === "RestException", "completing a task that is gone: 404", gone.body);

  // an order whose card always fails: retries run out, an incident, resolved over /v1
  const o4 = await post(base, "/engine-rest/process-definition/key/order/start", {
    businessKey: "order-4",
    variables: { item: { value: "pen", type: "String" }, amount: { value: 1, type: "Integer" } },
  });
  orders.push({ bk: "order-4", failFirst: 3, id: o4.body.id });
  let inc;
  for (let i = 0; i < 200 && !inc; i++) {
    const r = await get(base, `/v1/incidents?instanceId=${o4.body.id}`);
    inc = r.body.items[0];
    if (!inc) await sleep(50);
  }
  ok(inc && inc.kind === "job_failed" && inc.message === "card declined", "order-4: out of retries, an incident", inc);
  ok(attempts["order-4"] === 3, "after three attempts", attempts);
  orders[3].failFirst = 0;
  const res = await post(base, `/v1/incidents/${inc && inc.id}/resolve`, { retries: 1 });
  ok(res.status === 200, "resolved with a new retry", res.body);
  let waiting = false;
  for (let i = 0; i < 200 && !waiting; i++) {
    const r = await get(base, `/v1/instances/${o4.body.id}`);
    waiting = (r.body.waits || []).some((w) => w.kind === "message");
    if (!waiting) await sleep(50);
  }
  ok(waiting && attempts["order-4"] === 4, "the worker charged it: the order waits for payment", attempts);
}

try {
  await main();
} catch (e) {
  ok(false, `the test ran to its end: ${e.stack || e}`);
}
if (client) client.stop();
await sleep(100);
if (server) {
  const code = await server.stop();
  ok(code === 0, "baton serve stops on SIGTERM with exit 0", code);
  if (failed) {
    try {
      const log = readFileSync(join(dir, "server.log"), "utf8").split("\n");
      for (const l of log.filter((l) => /level=(warn|error)/.test(l)).slice(0, 40)) out(`# log: ${l}`);
    } catch {}
  }
}
rmSync(dir, { recursive: true, force: true });
out(`1..${n}`);
process.exit(failed ? 1 : 0);
