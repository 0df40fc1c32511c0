// feelin_bench.mjs - the same cases as bench_expr.c, evaluated by feelin.
//   node feelin_bench.mjs [SECONDS]  -> one JSON line per case
// feelin has no compile-once API: evaluate() parses the text on every call
// (names with spaces depend on the context), which is how bpmn.io tools use it.
import { evaluate } from 'feelin';

const seconds = Number(process.argv[2] ?? 1);
const ctx = {
  amount: 150, status: 'open', customer: 'ACME', region: 'EU', priority: 2, approved: false,
  score: 0.82, currency: 'EUR', orderId: 'o-1001', quantity: 12, discount: 0.05, express: true,
  country: 'DE', channel: 'web', attempts: 1, limit: 1000, owner: 'kermit',
  createdAt: '2026-01-01T08:00:00Z', tags: ['a', 'b'],
  items: [5, 15, 25, 8, 120, 3, 42, 9, 11, 300].map((price, i) => ({ name: `i${i}`, price })),
};
const cases = [
  ['condition', 'amount > 100 and status = "open"'],
  ['list-filter', 'items[price > 10]'],
  ['list-filter-count', 'count(items[price > 10]) > 3'],
  ['arithmetic', 'amount * (1 - discount) + quantity * 2'],
  ['string', 'upper case(owner) + "-" + orderId'],
  ['filter-to-cjson', 'items[price > 10].name'],
];
for (const [name, expr] of cases) {
  const result = evaluate(expr, ctx).value;
  // CPU time (user + system) like the C side, so other load does not count
  let n = 0, sink = 0;
  const t0 = process.cpuUsage();
  let t;
  do {
    for (let i = 0; i < 1000; i++) sink ^= evaluate(expr, ctx).value ? 1 : 0;
    n += 1000;
    const u = process.cpuUsage(t0);
    t = (u.user + u.system) / 1e6;
  } while (t < seconds);
  console.log(JSON.stringify({ case: name, expr, evals_per_s: Math.round(n / t), result, sink }));
}
