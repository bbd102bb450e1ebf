import { spawn, type ChildProcess } from "node:child_process";
import * as net from "node:net";
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

/**
 * Another server of its own (the binary `cargo leptos build` made), for specs that need a
 * configuration of their own or a second instance. Resolves once it answers.
 */
export async function startInstance(databaseUrl: string, env: Record<string, string> = {}): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(path.join(ROOT, "target/debug/signoff"), [], {
    cwd: ROOT,
    env: {
      ...process.env,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: "target/site",
      LEPTOS_OUTPUT_NAME: "signoff",
      LEPTOS_ENV: "PROD",
      SIGNOFF_JWT_SECRET: "end-to-end-tests-only-not-a-real-secret-0123456789",
      DATABASE_URL: databaseUrl,
      RUST_LOG: "warn",
      ...env,
    },
    stdio: "ignore",
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/login`);
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`the instance on ${url} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, child };
}
