import { defineConfig } from "@playwright/test";
import * as os from "node:os";
import * as path from "node:path";

// The real server binary built by `cargo leptos build`, on its own port and a fresh SQLite file.
const PORT = Number(process.env.SIGNOFF_E2E_PORT ?? 3100);
const DB = path.join(os.tmpdir(), `signoff-e2e-${process.pid}-${Date.now()}.db`);
// The OpenID Provider's signing keys: a directory the server creates and fills at its first start.
const OIDC_KEYS = path.join(os.tmpdir(), `signoff-e2e-keys-${process.pid}-${Date.now()}`);

// Debian's Chromium; Playwright cannot download browsers here. Without the background-networking
// flags Chromium keeps trying to reach Google and its connections are refused.
const chromium = {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
};

export default defineConfig({
  testDir: "./tests",
  fullyParallel: true,
  workers: 2,
  retries: 0,
  forbidOnly: true,
  reporter: [["list"]],
  timeout: 30_000,
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    launchOptions: chromium,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    { name: "js", use: { javaScriptEnabled: true } },
    { name: "no-js", use: { javaScriptEnabled: false } },
  ],
  webServer: {
    command: "./target/debug/signoff",
    cwd: "..",
    url: `http://127.0.0.1:${PORT}/login`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore",
    stderr: "pipe",
    env: {
      LEPTOS_SITE_ADDR: `127.0.0.1:${PORT}`,
      LEPTOS_SITE_ROOT: "target/site",
      LEPTOS_OUTPUT_NAME: "signoff",
      LEPTOS_ENV: "PROD",
      // Plain http on loopback: production requires saying so (else https and Secure cookies).
      SIGNOFF_SECURE_COOKIES: "false",
      // Production mode requires the JWT secret from the environment; this one is for tests only.
      SIGNOFF_JWT_SECRET: "end-to-end-tests-only-not-a-real-secret-0123456789",
      DATABASE_URL: `sqlite://${DB}?mode=rwc`,
      SIGNOFF_PUBLIC_URL: `http://127.0.0.1:${PORT}`,
      SIGNOFF_OIDC_KEYS: OIDC_KEYS,
      RUST_LOG: "warn",
    },
  },
});
