// oracle.mjs - differential test of `baton eval` against feelin (the FEEL
// interpreter of the bpmn.io tools).
//
//   node oracle.mjs BATON_EXECUTABLE [--show N] [--list]
//
// Runs every case of cases/*.txt plus a seeded generated corpus through both
// implementations, compares FEEL type and value, and prints the agreement
// rate. A disagreement must be listed in expected-disagreements.json with the
// DMN 1.4 section that says Baton is right; an unlisted disagreement, or a
// listed one that now agrees (stale list), fails the test. No skipping: a
// missing node_modules is a failure.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from './generate.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const baton = args[0];
const show = args.includes('--show') ? Number(args[args.indexOf('--show') + 1]) : 40;
const listAll = args.includes('--list');

if (!baton || !existsSync(baton)) {
  console.error(`FAIL: usage: node oracle.mjs BATON_EXECUTABLE (got ${baton})`);
  process.exit(1);
}
if (!existsSync(join(here, 'node_modules', 'feelin'))) {
  console.error('FAIL: the oracle needs its node packages: npm ci --prefix tests/expr/oracle');
  process.exit(1);
}
const { evaluate } = await import('feelin');

// ---- corpus ---------------------------------------------------------------------------
// cases/*.txt: one expression per line; "# ctx: {json}" sets the context for the lines
// after it (until the next one); other lines starting with "#" are comments.
const DEFAULT_CTX = JSON.parse(readFileSync(join(here, 'cases', 'context.json'), 'utf8'));

function loadCases() {
  const out = [];
  for (const f of readdirSync(join(here, 'cases')).filter((n) => n.endsWith('.txt')).sort()) {
    let ctx = DEFAULT_CTX;
    readFileSync(join(here, 'cases', f), 'utf8').split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      if (line.startsWith('# ctx:')) {
        ctx = JSON.parse(line.slice(6));
        return;
      }
      if (line.startsWith('#')) return;
      out.push({ where: `${f}:${i + 1}`, expr: line, ctx });
    });
  }
  for (const c of generate()) out.push({ ...c, ctx: DEFAULT_CTX });
  const seen = new Set();
  return out.filter((c) => {
    const k = key(c);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function key(c) {
  return c.ctx === DEFAULT_CTX ? c.expr : `${c.expr}  with ${JSON.stringify(c.ctx)}`;
}

// ---- feelin results in Baton's typed form ------------------------------------------------
function plain(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(plain);
  const c = v.constructor?.name;
  if (['FeelDate', 'FeelTime', 'FeelDateTime', 'FeelDuration'].includes(c)) return String(v);
  if (c === 'FeelRange') {
    return { start: plain(v.start), end: plain(v.end), 'start included': v['start included'], 'end included': v['end included'] };
  }
  if (c === 'FeelFunction' || typeof v === 'function') return null;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
}

function feelType(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? 'number' : 'null';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'boolean';
  if (Array.isArray(v)) return 'list';
  switch (v.constructor?.name) {
    case 'FeelDate': return 'date';
    case 'FeelTime': return 'time';
    case 'FeelDateTime': return 'date and time';
    case 'FeelDuration': return v.yearsMonths ? 'years and months duration' : 'days and time duration';
    case 'FeelRange': return 'range';
    case 'FeelFunction': return 'function';
  }
  return typeof v === 'function' ? 'function' : 'context';
}

function runFeelin(c) {
  try {
    const r = evaluate(c.expr, structuredClone(c.ctx));
    return { type: feelType(r.value), value: plain(r.value) };
  } catch (e) {
    return { error: `${e.name}: ${e.message}` };
  }
}

function runBaton(cases) {
  const input = cases.map((c) => JSON.stringify({ expression: c.expr, context: c.ctx })).join('\n') + '\n';
  const r = spawnSync(baton, ['eval', '--jsonl', '--dialect', 'feel', '--now', '2026-01-01T00:00:00Z'], {
    input, maxBuffer: 256 << 20, encoding: 'utf8',
  });
  if (r.error || (r.status !== 0 && r.status !== 1)) {
    console.error(`FAIL: ${baton} eval --jsonl: ${r.error ?? `exit ${r.status}`}\n${r.stderr}`);
    process.exit(1);
  }
  const lines = r.stdout.split('\n').filter((l) => l.length);
  if (lines.length !== cases.length) {
    console.error(`FAIL: baton wrote ${lines.length} result lines for ${cases.length} cases`);
    process.exit(1);
  }
  return lines.map((l) => JSON.parse(l));
}

function same(a, b) {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && same(a[k], b[k]));
  }
  return false;
}

function agree(ours, theirs) {
  if (ours.error !== undefined || theirs.error !== undefined) return ours.error !== undefined && theirs.error !== undefined;
  return ours.type === theirs.type && same(ours.value ?? null, theirs.value ?? null);
}

// ---- compare -------------------------------------------------------------------------------
const cases = loadCases();
const expected = new Map(JSON.parse(readFileSync(join(here, 'expected-disagreements.json'), 'utf8'))
  .map((d) => [d.expr + (d.ctx ? `  with ${JSON.stringify(d.ctx)}` : ''), d]));
for (const d of expected.values()) {
  if (!d.reason || !d.spec) {
    console.error(`FAIL: expected disagreement '${d.expr}' needs a reason and a spec section`);
    process.exit(1);
  }
}
const ours = runBaton(cases);
let agreeCount = 0;
const unexpected = [], listed = [], stale = [];
cases.forEach((c, i) => {
  const theirs = runFeelin(c);
  const k = key(c);
  const ok = agree(ours[i], theirs);
  if (ok) agreeCount++;
  if (!ok && expected.has(k)) listed.push({ c, ours: ours[i], theirs });
  else if (!ok) unexpected.push({ c, ours: ours[i], theirs });
  else if (expected.has(k)) stale.push(c);
});
const known = new Set(cases.map(key));
const missing = [...expected.keys()].filter((k) => !known.has(k));

const rate = (100 * agreeCount / cases.length).toFixed(1);
console.log(`# ${cases.length} cases: ${agreeCount} agree (${rate}%), ${listed.length} documented disagreements, ` +
  `${unexpected.length} unexpected, ${stale.length} stale, ${missing.length} listed but not in the corpus`);
const fmt = (x) => JSON.stringify(x);
if (listAll) for (const d of listed) console.log(`documented: ${d.c.expr}\n    baton:  ${fmt(d.ours)}\n    feelin: ${fmt(d.theirs)}`);
for (const d of unexpected.slice(0, show)) {
  console.log(`UNEXPECTED (${d.c.where ?? 'generated'}): ${d.c.expr}\n    baton:  ${fmt(d.ours)}\n    feelin: ${fmt(d.theirs)}`);
}
for (const c of stale.slice(0, show)) console.log(`STALE (now agrees, remove from the list): ${c.expr}`);
for (const k of missing.slice(0, show)) console.log(`MISSING (listed, not in the corpus): ${k}`);
const pass = unexpected.length === 0 && stale.length === 0 && missing.length === 0;
console.log(pass ? `${cases.length} passed, 0 failed` : `${cases.length - unexpected.length - stale.length} passed, ${unexpected.length + stale.length + missing.length} failed`);
process.exit(pass ? 0 : 1);
