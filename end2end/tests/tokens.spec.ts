import { test, expect, freshEmail, register, signIn, ready } from "./fixtures";

test("personal tokens: create, shown once, revoke; a revoked token is refused by the API", async ({
  page,
  js,
  request,
  context,
}) => {
  if (js) await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  const email = freshEmail();
  await register(page, js, email);
  await signIn(page, js, email);
  await page.getByRole("navigation").getByRole("link", { name: "Tokens" }).click();
  await expect(page).toHaveURL(/\/tokens$/);
  await expect(page.getByText("No personal tokens yet.")).toBeVisible();
  await ready(page, js);

  await page.getByLabel("Token name").fill("Deploy script");
  await page.getByRole("button", { name: "Create token" }).click();
  const shown = page.getByRole("textbox", { name: "New token" });
  await expect(shown).toHaveValue(/^so_pat_[A-Za-z0-9_-]{43}$/);
  const token = await shown.inputValue();
  await expect(page.getByText("Copy it now: this is the only time it is shown.")).toBeVisible();
  if (js) {
    await ready(page, js);
    await page.getByRole("button", { name: "Copy" }).click();
    await expect(page.getByText("Copied.")).toBeVisible();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
  }

  // The API accepts it, and the list shows when it was last used.
  const me = await request.get("/api/v1/account/me", { headers: { Authorization: `Bearer ${token}` } });
  expect(me.status()).toBe(200);
  expect((await me.json()).data.user.email).toBe(email);

  // Shown once: a reload shows the row, never the token again. "Last used" is written in the
  // background, off the request's path, so the first reload may come before it: reload until the
  // row shows it.
  const row = page.getByRole("row", { name: /Deploy script/ });
  await expect(async () => {
    await page.reload();
    await expect(row).not.toContainText("Never", { timeout: 500 });
  }).toPass({ timeout: 10_000 });
  await expect(page.getByRole("textbox", { name: "New token" })).toHaveCount(0);
  await expect(page.getByText(token)).toHaveCount(0);
  await expect(row).toBeVisible();
  await ready(page, js);

  await page.getByRole("button", { name: "Revoke Deploy script" }).click();
  await expect(page.getByRole("status")).toHaveText("Token revoked. It no longer works anywhere.");
  await expect(page.getByRole("row", { name: /Deploy script/ })).toHaveCount(0);

  const after = await request.get("/api/v1/account/me", { headers: { Authorization: `Bearer ${token}` } });
  expect(after.status()).toBe(401);
  expect(after.headers()["www-authenticate"]).toBe('Bearer error="invalid_token"');
});

test("the API reference is linked from the app and lists the logout endpoints", async ({ page, js }) => {
  const email = freshEmail();
  await register(page, js, email);
  await signIn(page, js, email);
  await page.getByRole("navigation").getByRole("link", { name: "API reference" }).click();
  await expect(page).toHaveURL(/\/docs\/api$/);
  await expect(page.getByRole("heading", { name: "API reference" })).toBeVisible();
  for (const path of ["/api/v1/account/logout", "/auth/logout", "/api/v1/logout", "/api/auth/logout"]) {
    await expect(page.getByRole("heading", { name: path, exact: false }).first()).toBeVisible();
  }
});
