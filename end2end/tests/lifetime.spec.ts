import * as os from "node:os";
import * as path from "node:path";
import type { ChildProcess } from "node:child_process";
import { test, expect, freshEmail, signIn, ready, watchErrors, PASSWORD } from "./fixtures";
import { startInstance } from "./instance";

// Session lifetime with short configured times, on a server of this spec's own
// (SIGNOFF_SESSION_IDLE_SECS=16: the warning shows 8 s before the end). Each test registers its
// own account there.

const IDLE = 16;
let server: { url: string; child: ChildProcess } | undefined;

test.beforeAll(async () => {
  const db = path.join(os.tmpdir(), `signoff-e2e-idle-${process.pid}-${Date.now()}.db`);
  server = await startInstance(`sqlite://${db}?mode=rwc`, { SIGNOFF_SESSION_IDLE_SECS: String(IDLE) });
});

test.afterAll(() => {
  server?.child.kill("SIGTERM");
});

async function account(): Promise<string> {
  const email = freshEmail();
  const res = await fetch(`${server!.url}/api/v1/account/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(res.status).toBe(201);
  return email;
}

test("the idle warning shows in every tab, Stay signed in in one keeps them all, and the end says why", async ({ browser, js, errors }) => {
  test.skip(!js, "the warning needs JavaScript; without it the next request says why (below)");
  test.setTimeout(90_000);
  const context = await browser.newContext({ javaScriptEnabled: true, baseURL: server!.url });
  watchErrors(context, errors);
  const one = await context.newPage();
  const email = await account();
  await signIn(one, js, email);
  const two = await context.newPage();
  await two.goto("/sessions");
  await ready(two, js);

  const warning = (page: typeof one) => page.getByRole("alertdialog");
  // Both tabs warn before the end.
  await expect(warning(one)).toContainText("You will be signed out in", { timeout: IDLE * 1000 });
  await expect(warning(two)).toContainText("You will be signed out in", { timeout: 3000 });
  // Staying in one tab keeps both.
  await one.getByRole("button", { name: "Stay signed in" }).click();
  await expect(warning(one)).toHaveCount(0, { timeout: 3000 });
  await expect(warning(two)).toHaveCount(0, { timeout: 3000 });
  await expect(two.getByTestId("header-email")).toHaveText(email);

  // Left alone, both go to /login and say why.
  for (const page of [one, two]) {
    await expect(page).toHaveURL(/\/login\?ended=idle$/, { timeout: (IDLE + 6) * 1000 });
    await expect(page.getByRole("status")).toHaveText("You were signed out after a period of inactivity.");
  }
  await context.close();
});

test("after the idle time, the next request lands on /login saying why", async ({ browser, js, errors }) => {
  test.setTimeout(90_000);
  const context = await browser.newContext({ javaScriptEnabled: js, baseURL: server!.url });
  watchErrors(context, errors);
  const page = await context.newPage();
  // With JavaScript the tab would leave by itself; this test is about the server's answer, so the
  // tab is left on a page that keeps no clock.
  const email = await account();
  await signIn(page, js, email);
  await page.goto("/docs/api");
  await page.waitForTimeout((IDLE + 2) * 1000);
  await page.goto("/tokens");
  await expect(page).toHaveURL(/\/login\?ended=idle$/);
  await expect(page.getByRole("status")).toHaveText("You were signed out after a period of inactivity.");
  await context.close();
});
