// Click "Log out" → "/login" painted, over N clicks after 2 warm-up ones, with JavaScript on and
// off. Two clocks, both the browser's own:
// - JavaScript on, inside the page: the click's time, and the animation frame after "You have
//   logged out." appears, both by the page's clock (kept in `window.name`, which the logout's
//   `Clear-Site-Data: "storage"` leaves alone).
// - Either way, from the DevTools protocol (no script in the page needed, so it is the measure
//   with JavaScript off): from the logout's POST leaving the browser (`Network.requestWillBeSent`)
//   to the landing page's first contentful paint (`Page.lifecycleEvent`), on one monotonic clock.
//   The page is tiny and server-rendered with its stylesheet inline, so that first paint holds
//   "You have logged out.".
// Prints one line per measure: p50, p95 and max in milliseconds.
//
//   node bench/logout-paint.mjs http://127.0.0.1:3200 [N=20]
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "end2end", "package.json"));
const { chromium } = require("@playwright/test");

const base = process.argv[2] ?? "http://127.0.0.1:3200";
const clicks = Number(process.argv[3] ?? 20);
const password = "correct horse battery";

// Runs in every document before its own scripts (CDP, not subject to the page's CSP).
const probe = () => {
  const read = () => { try { return JSON.parse(window.name || "{}"); } catch { return {}; } };
  const write = (m) => { window.name = JSON.stringify(m); };
  addEventListener(
    "click",
    (e) => {
      const button = e.target instanceof Element ? e.target.closest("button") : null;
      if (button && button.textContent.trim() === "Log out") write({ t0: Date.now() });
    },
    true,
  );
  const check = () => {
    const m = read();
    if (!m.t0 || m.t1 || m.pending) return;
    const shown = [...document.querySelectorAll("[role=status]")].some((s) => s.textContent.includes("You have logged out."));
    if (shown) {
      write({ ...m, pending: true });
      requestAnimationFrame(() => write({ ...read(), t1: Date.now() }));
    }
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true });
  document.addEventListener("DOMContentLoaded", check);
};

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const report = (label, times) => {
  times.sort((a, b) => a - b);
  console.log(
    `logout paint, ${label}: ${times.length} clicks, p50 ${percentile(times, 50)} ms, ` +
      `p95 ${percentile(times, 95)} ms, max ${times[times.length - 1]} ms`,
  );
};
for (const js of [true, false]) {
  const context = await browser.newContext({ baseURL: base, javaScriptEnabled: js });
  await context.addInitScript(probe);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Page.enable");
  await cdp.send("Page.setLifecycleEventsEnabled", { enabled: true });
  // The POST's time, then the first contentful paint after it (seconds, one monotonic clock).
  let posted = null;
  let painted = null;
  cdp.on("Network.requestWillBeSent", (e) => {
    // The logout's own POST: a tab's other server-function calls (`whoami`) are POSTs too.
    if (posted === null && e.request.method === "POST" && e.request.url.includes("/_fn/logout")) posted = e.timestamp;
  });
  cdp.on("Page.lifecycleEvent", (e) => {
    if (posted !== null && painted === null && e.name === "firstContentfulPaint" && e.timestamp > posted) painted = e.timestamp;
  });
  const email = `paint-${process.pid}-${Date.now()}-${js}@example.com`;
  await page.request.post("/api/v1/account/register", { data: { email, password } });
  const times = [];
  const protocol = [];
  for (let i = 0; i < clicks + 2; i++) {
    await page.goto("/login");
    if (js) await page.locator("html[data-hydrated]").waitFor();
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/$/);
    if (js) await page.locator("html[data-hydrated]").waitFor();
    let ms;
    posted = null;
    painted = null;
    if (js) {
      await page.evaluate(() => { window.name = ""; });
      await page.getByRole("button", { name: "Log out" }).click();
      await page.waitForFunction(() => { try { return !!JSON.parse(window.name).t1; } catch { return false; } });
      ms = await page.evaluate(() => { const m = JSON.parse(window.name); return m.t1 - m.t0; });
    } else {
      const t0 = Date.now();
      await page.getByRole("button", { name: "Log out" }).click();
      await page.waitForURL(/\/login\?logged_out=1$/);
      await page.getByRole("status").filter({ hasText: "You have logged out." }).waitFor();
      ms = Date.now() - t0;
    }
    for (let waited = 0; painted === null && waited < 5000; waited += 10) await page.waitForTimeout(10);
    if (painted === null) throw new Error("no first contentful paint after the logout's POST");
    if (i >= 2) {
      times.push(ms);
      protocol.push(Math.round((painted - posted) * 1000));
    }
  }
  if (js) {
    report("JavaScript on, in the page (click → frame showing the message)", times);
    report("JavaScript on, DevTools (POST sent → first contentful paint)", protocol);
  } else {
    report("JavaScript off, DevTools (POST sent → first contentful paint)", protocol);
    report("JavaScript off, from the driver (an upper bound)", times);
  }
  await context.close();
}
await browser.close();
