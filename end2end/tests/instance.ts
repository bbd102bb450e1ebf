import { spawn, type ChildProcess } from "node:child_process";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export const ROOT = path.resolve(__dirname, "../..");

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/** A running instance: its URL, its process, and the whole environment it was started with. */
export type Instance = { url: string; child: ChildProcess; env: NodeJS.ProcessEnv };

/**
 * Another server of its own (the binary `cargo leptos build` made), for specs that need a
 * configuration of their own or a second instance. Resolves once it answers.
 *
 * `env` may also be a function of the instance's URL (its port is chosen before it starts), for
 * settings that name the server itself, such as `SIGNOFF_PUBLIC_URL`. The returned `env` is the
 * one the server got, for running the CLI on the same database and configuration.
 */
export async function startInstance(
  databaseUrl: string,
  env: Record<string, string> | ((url: string) => Record<string, string>) = {},
): Promise<Instance> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const fullEnv: NodeJS.ProcessEnv = {
    ...process.env,
    LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
    LEPTOS_SITE_ROOT: "target/site",
    LEPTOS_OUTPUT_NAME: "signoff",
    LEPTOS_ENV: "PROD",
    // Plain http on loopback: production requires saying so (else https and Secure cookies).
    SIGNOFF_SECURE_COOKIES: "false",
    SIGNOFF_JWT_SECRET: "end-to-end-tests-only-not-a-real-secret-0123456789",
    DATABASE_URL: databaseUrl,
    // Production requires a directory for the OpenID signing keys; the server creates it and a key.
    SIGNOFF_OIDC_KEYS: path.join(os.tmpdir(), `signoff-e2e-keys-${process.pid}-${port}-${Date.now()}`),
    SIGNOFF_PUBLIC_URL: url,
    RUST_LOG: "warn",
    ...(typeof env === "function" ? env(url) : env),
  };
  const child = spawn(path.join(ROOT, "target/debug/signoff"), [], {
    cwd: ROOT,
    env: fullEnv,
    stdio: ["ignore", "ignore", "pipe"],
  });
  // The end of what it says on standard error, to tell why it did not start.
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/login`);
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the instance on ${url} exited (${child.exitCode ?? child.signalCode}):\n${stderr}`);
    }
    if (Date.now() > deadline) throw new Error(`the instance on ${url} did not start:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, child, env: fullEnv };
}
