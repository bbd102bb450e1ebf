// node server.mjs PORT DATADIR: better-auth's handler on 127.0.0.1:PORT with plain node:http.
// One process by default (the usual Node deployment); WORKERS=N forks N with node:cluster.
import cluster from "node:cluster";
import http from "node:http";
import { toNodeHandler } from "better-auth/node";
import { makeAuth } from "./auth.mjs";

const [port, datadir] = process.argv.slice(2);
const workers = Number(process.env.WORKERS || 1);

if (cluster.isPrimary && workers > 1) {
  (await makeAuth({ port, datadir })).db.close(); // create the tables once, before forking
  for (let i = 0; i < workers; i++) cluster.fork();
  for (const sig of ["SIGTERM", "SIGINT"]) {
    process.on(sig, () => {
      // Exit once every worker has, so the port is free when the caller's wait returns.
      cluster.on("exit", () => Object.keys(cluster.workers).length || process.exit(0));
      for (const w of Object.values(cluster.workers)) w.process.kill("SIGTERM");
    });
  }
} else {
  const { auth, db } = await makeAuth({ port, datadir });
  const handler = toNodeHandler(auth);
  const server = http.createServer((req, res) => {
    if (req.url.startsWith("/api/auth/")) return handler(req, res);
    res.writeHead(404).end();
  });
  server.keepAliveTimeout = 65_000;
  server.listen(Number(port), "127.0.0.1", () => {
    const sync = ["off", "normal", "full", "extra"][db.pragma("synchronous", { simple: true })];
    const mode = db.pragma("journal_mode", { simple: true });
    console.error(`better-auth peer on http://127.0.0.1:${port} pid ${process.pid} (journal_mode=${mode}, synchronous=${sync})`);
  });
  for (const sig of ["SIGTERM", "SIGINT"]) {
    process.on(sig, () => {
      server.close();
      server.closeAllConnections();
      db.close();
      process.exit(0);
    });
  }
}
