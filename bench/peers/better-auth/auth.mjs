// The better-auth instance shared by server.mjs and mint.mjs: email+password, the bearer plugin,
// SQLite through better-sqlite3 in WAL mode. Benchmark-only: the secret is fixed.
import path from "node:path";
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { bearer } from "better-auth/plugins/bearer";
import { getMigrations } from "better-auth/db/migration";

export const EMAIL = "bench@example.com";
export const PASSWORD = "bench-password";

export async function makeAuth({ port, datadir }) {
  const db = new Database(path.join(datadir, "auth.sqlite3"));
  db.pragma("journal_mode = WAL");
  // synchronous is left at the library's default. better-sqlite3 builds SQLite with
  // SQLITE_DEFAULT_WAL_SYNCHRONOUS=1, so in WAL mode that default is NORMAL (no fsync per commit);
  // SQLITE_SYNCHRONOUS=full (or normal, off) sets it explicitly.
  if (process.env.SQLITE_SYNCHRONOUS) db.pragma(`synchronous = ${process.env.SQLITE_SYNCHRONOUS}`);
  db.pragma("busy_timeout = 20000");
  const baseURL = `http://127.0.0.1:${port}`;
  const options = {
    database: db,
    baseURL,
    basePath: "/api/auth",
    secret: "signoff-bench-peer-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz",
    trustedOrigins: [baseURL, `http://localhost:${port}`],
    emailAndPassword: { enabled: true },
    plugins: [bearer()],
    // On by default in production (100 requests per 10 s per IP and path); the benchmark sends
    // thousands from one address, and the Django peer has no limiter either.
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    logger: { level: "error" },
  };
  // Creates or updates better-auth's tables (user, session, account, verification).
  const { runMigrations } = await getMigrations(options);
  await runMigrations();
  return { auth: betterAuth(options), db };
}
