// Start `baton serve` on 127.0.0.1 port 0 and read back where it listens
// (its first line on standard output); stop it with SIGTERM. Shared by the
// Camunda 7 client test and bench/jobs.
import { spawn } from "node:child_process";
import { openSync } from "node:fs";

export function startServer(exe, db, logPath, extra = []) {
  const log = openSync(logPath, "a");
  const child = spawn(exe, ["serve", "--db", db, "--listen", "127.0.0.1:0", ...extra], {
    stdio: ["ignore", "pipe", log],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`baton serve did not start (log: ${logPath})`));
    }, 15000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`baton serve exited with ${code} (log: ${logPath})`));
    });
    child.stdout.on("data", (d) => {
      out += d;
      const m = /127\.0\.0\.1:(\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      const base = `http://127.0.0.1:${m[1]}`;
      resolve({
        base,
        pid: child.pid,
        stop: () =>
          new Promise((done) => {
            const kill = setTimeout(() => child.kill("SIGKILL"), 15000);
            child.on("exit", (code, sig) => {
              clearTimeout(kill);
              done(code ?? sig);
            });
            child.kill("SIGTERM");
          }),
      });
    });
  });
}

// Deploy a BPMN file through Camunda 7's multipart deployment route.
export async function deployC7(base, name, xml) {
  const form = new FormData();
  form.append("deployment-name", name);
  form.append("deployment-source", "baton tests");
  form.append("data", new Blob([xml], { type: "application/octet-stream" }), name);
  const r = await fetch(`${base}/engine-rest/deployment/create`, { method: "POST", body: form });
  return { status: r.status, body: await r.json() };
}

export async function post(base, path, body) {
  const r = await fetch(base + path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

export async function get(base, path) {
  const r = await fetch(base + path);
  return { status: r.status, body: await r.json() };
}
