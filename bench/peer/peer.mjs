// peer.mjs - runs BPMN models in bpmn-engine (Node.js) for Baton's side-by-side
// benchmarks. Usage:
//   node peer.mjs MODEL.bpmn INSTANCES [--vars JSON] [--save FILE] [--warmup N]
// Prints one JSON line: instances/s, element completions/s and the elements the
// first instance completed (so the harness can check both engines take one path).
// --save FILE writes engine.getState() to FILE with fsync after every instance,
// the durable baseline Baton's SQLite store is compared with. --warmup N runs N
// instances (default 20) before the timed ones, so V8 has compiled the hot paths.
import { readFileSync, openSync, writeSync, fsyncSync, closeSync, ftruncateSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { Engine } from 'bpmn-engine';
import BpmnModdle from 'bpmn-moddle';

const args = process.argv.slice(2);
const file = args[0];
const instances = Number(args[1] ?? 100);
let variables = {};
let saveFile = null;
let warmup = 20;
for (let i = 2; i < args.length; i++) {
  if (args[i] === '--vars') variables = JSON.parse(args[++i]);
  else if (args[i] === '--save') saveFile = args[++i];
  else if (args[i] === '--warmup') warmup = Math.max(1, Number(args[++i]));
}
const source = readFileSync(file, 'utf8');
// parse once, as a server would: every instance starts from the parsed definitions
const moddleContext = await new BpmnModdle().fromXML(source.trim());

async function runOne(path) {
  const engine = new Engine({ name: 'bench', moddleContext });
  const listener = new EventEmitter();
  let completed = 0;
  listener.on('activity.end', (api) => {
    completed++;
    if (path) path.push(api.id);
  });
  await new Promise((resolve, reject) => {
    engine.once('end', resolve);
    engine.once('error', reject);
    engine.execute({ listener, variables }).catch(reject);
  });
  if (saveFile) {
    const state = JSON.stringify(await engine.getState());
    const fd = openSync(saveFile, 'w');
    ftruncateSync(fd, 0);
    writeSync(fd, state);
    fsyncSync(fd);
    closeSync(fd);
  }
  return completed;
}

const path = [];
await runOne(path); // the path check, and the first warm-up instance
for (let i = 1; i < warmup; i++) await runOne(null);
let elements = 0;
const t0 = process.hrtime.bigint();
for (let i = 0; i < instances; i++) elements += await runOne(null);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({
  engine: 'bpmn-engine',
  model: file,
  instances,
  seconds,
  instances_per_s: instances / seconds,
  elements_per_s: elements / seconds,
  path,
}));
