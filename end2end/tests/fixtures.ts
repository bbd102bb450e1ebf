import { test as base, expect, type BrowserContext, type Page } from "@playwright/test";

/** Every console error or uncaught page error in any page of a context fails the test. */
export function watchErrors(context: BrowserContext, errors: string[]) {
  context.on("console", (msg) => {
    if (msg.type() === "error") errors.push(`console: ${msg.text()}`);
  });
  context.on("weberror", (err) => errors.push(`page error: ${err.error().message}`));
}

type Fixtures = { errors: string[]; js: boolean };

export const test = base.extend<Fixtures>({
  errors: [
    async ({ context }, use) => {
      const errors: string[] = [];
      watchErrors(context, errors);
      await use(errors);
      expect(errors, "console or page errors").toEqual([]);
    },
    { auto: true },
  ],
  js: async ({ javaScriptEnabled }, use) => use(javaScriptEnabled !== false),
});

export { expect };

let counter = 0;
/** A fresh email for each call, unique across workers and runs. */
export function freshEmail(): string {
  counter += 1;
  return `user-${process.pid}-${Date.now()}-${counter}@example.com`;
}

export const PASSWORD = "correct horse battery";

/** Waits until the page can take clicks: hydrated with JavaScript on, loaded without. */
export async function ready(page: Page, js: boolean) {
  if (js) await page.locator("html[data-hydrated]").waitFor();
}

/** Registers through the /register page. */
export async function register(page: Page, js: boolean, email: string) {
  await page.goto("/register");
  await ready(page, js);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/login\?registered=1$/);
}

/** Signs in through the /login page and waits for the home page. */
export async function signIn(page: Page, js: boolean, email: string) {
  await page.goto("/login");
  await ready(page, js);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByText(email).first()).toBeVisible();
  await ready(page, js);
}
