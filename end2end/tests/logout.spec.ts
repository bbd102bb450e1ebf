import { test, expect, freshEmail, register, signIn, ready, watchErrors, PASSWORD } from "./fixtures";

// Each test runs twice: project "js" (hydrated app) and project "no-js" (plain HTML forms).

test("register, sign in, see the email, log out", async ({ page, js }) => {
  const email = freshEmail();
  await register(page, js, email);
  await expect(page.getByRole("status")).toHaveText("Your account is ready. Sign in to continue.");
  await signIn(page, js, email);
  await expect(page.getByRole("heading", { level: 1 })).toContainText(email);

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login\?logged_out=1$/);
  await expect(page.getByRole("status")).toHaveText("You have logged out.");
  await expect(page.getByText(email)).toHaveCount(0);

  // The session is gone: the home page sends us back to sign in.
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
});

test("a wrong password and an unknown email get the same message", async ({ page, js }) => {
  const email = freshEmail();
  await register(page, js, email);
  for (const [who, password] of [
    [email, "wrong password"],
    [freshEmail(), PASSWORD],
  ]) {
    await page.goto("/login");
    await ready(page, js);
    await page.getByLabel("Email").fill(who);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert")).toHaveText("Invalid email or password.");
  }
});

test("registering a taken email says so on the form", async ({ page, js }) => {
  const email = freshEmail();
  await register(page, js, email);
  await page.goto("/register");
  await ready(page, js);
  await page.getByLabel("Email").fill(email.toUpperCase());
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("alert")).toHaveText(
    "An account with this email already exists. Sign in instead.",
  );
});

test("two tabs: log out in one, the other is signed out on reload", async ({ page, context, js }) => {
  const email = freshEmail();
  await register(page, js, email);
  await signIn(page, js, email);
  const other = await context.newPage();
  await other.goto("/");
  await expect(other.getByText(email).first()).toBeVisible();
  await ready(other, js);

  await ready(page, js);
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login\?logged_out=1$/);

  // With JavaScript the other tab follows by itself (see sessions.spec.ts); either way a reload
  // finds it signed out.
  if (js) await expect(other).toHaveURL(/\/login\?logged_out=1$/);
  await other.reload();
  await expect(other).toHaveURL(/\/login/);
  await expect(other.getByRole("button", { name: "Sign in" })).toBeVisible();
  await expect(other.getByText(email)).toHaveCount(0);
});

test("Back after logout shows no email", async ({ page, js }) => {
  const email = freshEmail();
  await register(page, js, email);
  await signIn(page, js, email);
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page.getByRole("status")).toHaveText("You have logged out.");

  await page.goBack();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByText(email)).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
});

test("pressing Log out in a tab whose session already ended lands on /login", async ({ page, browser, js, errors, baseURL }) => {
  const email = freshEmail();
  // This tab's live stream is cut (as on a flaky network), so it hears nothing of the logout
  // elsewhere and still shows its Log out button.
  await page.route("**/events", (route) => route.fulfill({ status: 204 }));
  await register(page, js, email);
  await signIn(page, js, email);
  // Another device ends every sign-in of the account; this tab hears nothing of it.
  const phone = await browser.newContext({ javaScriptEnabled: js, baseURL });
  watchErrors(phone, errors);
  const p2 = await phone.newPage();
  await signIn(p2, js, email);
  await p2.goto("/sessions");
  await ready(p2, js);
  await p2.getByRole("button", { name: "Log out everywhere" }).click();
  await expect(p2).toHaveURL(/\/login\?logged_out=1$/);

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login\?logged_out=1$/);
  await expect(page.getByRole("status")).toHaveText("You have logged out.");
  await phone.close();
});
