import { execFileSync, type ChildProcess } from "node:child_process";
import type { Browser, BrowserContext, Page } from "@playwright/test";
import { test, expect, freshEmail, register, signIn, ready, watchErrors, PASSWORD } from "./fixtures";
import { startInstance } from "./instance";

// Live sign-out: a page left open on another device goes to /login, saying why, as soon as its
// sign-in ends anywhere (server-sent events on /events). Without JavaScript a page cannot listen;
// it is signed out at its next request (sessions.spec.ts), so these specs run with JavaScript only.

async function device(browser: Browser, baseURL: string | undefined, errors: string[]): Promise<BrowserContext> {
  const context = await browser.newContext({ javaScriptEnabled: true, baseURL });
  watchErrors(context, errors);
  return context;
}

/** Clicks "Log out everywhere" on `page`'s /sessions and returns when the click was sent. */
async function logOutEverywhere(page: Page) {
  await page.goto("/sessions");
  await ready(page, true);
  await page.getByRole("button", { name: "Log out everywhere" }).click();
}

test("Log out everywhere on one device sends the other's open page to /login within a second, saying why", async ({ page, browser, js, errors, baseURL }) => {
  test.skip(!js, "an open page listens with JavaScript; without it, its next request is refused");
  const email = freshEmail();
  await register(page, js, email);
  const phone = await device(browser, baseURL, errors);
  const open = await phone.newPage();
  await signIn(open, js, email);
  await open.goto("/tokens");
  await ready(open, js);
  await signIn(page, js, email);

  await logOutEverywhere(page);
  await expect(open).toHaveURL(/\/login\?ended=logout_global$/, { timeout: 1000 });
  await expect(open.getByRole("status")).toHaveText("You were signed out everywhere.");
  await expect(open.getByText(email)).toHaveCount(0);
  // The device that pressed the button lands where a logout lands.
  await expect(page).toHaveURL(/\/login\?logged_out=1$/);
  await phone.close();
});

test("an open page hears every kind of ending with its own words", async ({ page, browser, js, errors, baseURL }) => {
  test.skip(!js, "an open page listens with JavaScript");
  const email = freshEmail();
  await register(page, js, email);
  const phone = await device(browser, baseURL, errors);
  const open = await phone.newPage();

  // Another device logs out of all other sessions.
  await signIn(open, js, email);
  await signIn(page, js, email);
  await page.goto("/sessions");
  await ready(page, js);
  await page.getByRole("button", { name: "Log out of all other sessions" }).click();
  await expect(open).toHaveURL(/\/login\?ended=logout_others$/, { timeout: 2000 });
  await expect(open.getByRole("status")).toHaveText("You were signed out from another of your devices.");

  // A password change ends the other sign-ins.
  await signIn(open, js, email);
  await page.goto("/account/password");
  await ready(page, js);
  await page.getByLabel("Current password").fill(PASSWORD);
  await page.getByLabel("New password").fill("a brand new password");
  await page.getByRole("button", { name: "Change password" }).click();
  // The clock starts when the change is answered: hashing the new password is not the ending's
  // delivery (on a loaded two-core runner the two password hashes alone took most of two seconds).
  await expect(page.getByText("1 other sign-in was ended")).toBeVisible({ timeout: 10_000 });
  await expect(open).toHaveURL(/\/login\?ended=password_changed$/, { timeout: 2000 });
  await expect(open.getByRole("status")).toContainText("Your password was changed");
  await phone.close();
});

// ---- Two instances on one PostgreSQL --------------------------------------------------------

const PG = process.env.SIGNOFF_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

function postgresAnswers(): boolean {
  try {
    execFileSync("psql", [PG, "-qtAc", "SELECT 1"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

test("two instances on PostgreSQL: Log out everywhere on one signs out a page open on the other", async ({ page, browser, js, errors }) => {
  test.skip(!js, "an open page listens with JavaScript");
  if (!postgresAnswers()) {
    if (process.env.SIGNOFF_REQUIRE_POSTGRES === "1") throw new Error(`PostgreSQL is required but ${PG} does not answer`);
    console.warn(`SKIPPED two-instance live sign-out: no PostgreSQL at ${PG}`);
    test.skip(true, "no PostgreSQL");
  }
  test.setTimeout(60_000);
  const db = `signoff_e2e_${process.pid}_${Date.now()}`;
  execFileSync("psql", [PG, "-qc", `CREATE DATABASE ${db}`], { stdio: "pipe" });
  const dbUrl = PG.replace(/\/[^/]*$/, `/${db}`);
  const instances: ChildProcess[] = [];
  try {
    const one = await startInstance(dbUrl);
    instances.push(one.child);
    const two = await startInstance(dbUrl);
    instances.push(two.child);

    const email = freshEmail();
    const created = await fetch(`${one.url}/api/v1/account/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(created.status).toBe(201);

    const laptop = await device(browser, one.url, errors);
    const phone = await device(browser, two.url, errors);
    const here = await laptop.newPage();
    const open = await phone.newPage();
    await signIn(open, js, email);
    await signIn(here, js, email);

    await logOutEverywhere(here);
    await expect(open).toHaveURL(/\/login\?ended=logout_global$/, { timeout: 1000 });
    await expect(open.getByRole("status")).toHaveText("You were signed out everywhere.");
    await laptop.close();
    await phone.close();
  } finally {
    for (const child of instances) child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    try {
      execFileSync("psql", [PG, "-qc", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`], { stdio: "pipe" });
    } catch {
      // dropped with the cluster's next cleanup
    }
  }
  void page;
});

test("a page signed out elsewhere says why on /login, with JavaScript or without", async ({ page, browser, js, errors, baseURL }) => {
  const email = freshEmail();
  await register(page, js, email);
  const phone = await browser.newContext({ javaScriptEnabled: js, baseURL });
  watchErrors(phone, errors);
  const open = await phone.newPage();
  await signIn(open, js, email);
  await signIn(page, js, email);
  await page.goto("/sessions");
  await ready(page, js);
  await page.getByRole("button", { name: "Log out of all other sessions" }).click();
  await expect(page.getByRole("status")).toBeVisible();
  // Without JavaScript the open page learns it at its next request; with it, at once.
  if (!js) await open.reload();
  await expect(open).toHaveURL(/\/login\?ended=logout_others$/);
  await expect(open.getByRole("status")).toHaveText("You were signed out from another of your devices.");
  await phone.close();
});
