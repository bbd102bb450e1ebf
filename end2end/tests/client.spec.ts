import { test, expect, freshEmail, PASSWORD } from "./fixtures";

// The JavaScript client library (clients/js/signoff.js, seed 003), as the app serves it at
// /clients/signoff.js, in a real page of the app's origin: login() saves the token in
// localStorage, logout() revokes it and removes it.

test("the JavaScript client logs in and out, keeping localStorage in step", async ({ page, request, js }) => {
  test.skip(!js, "needs JavaScript");
  await page.goto("/login");
  await page.locator("html[data-hydrated]").waitFor(); // the app's own scripts have settled
  const email = freshEmail();

  // Everything but the last check runs in the page. The token comes back only for that check,
  // which is made from the test (a 401 in the page would be a console error); it is never printed.
  const facts = await page.evaluate(
    async ({ email, password }) => {
      const url = "/clients/signoff.js"; // a variable keeps TypeScript from resolving it
      const { SignoffClient } = await import(url);
      const register = await fetch("/api/v1/account/register", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email, password }),
      });
      const meStatus = async (token: string) =>
        (await fetch("/api/v1/account/me", { headers: { Authorization: `Bearer ${token}` } })).status;

      const client = new SignoffClient(); // the page's origin and its localStorage
      const login = await client.login(email, password);
      const token = login.token as string;
      const afterLogin = {
        status: login.status,
        error: login.error,
        email: login.user?.email,
        saved: localStorage.getItem("signoff.token") === token && client.token === token,
        me: await meStatus(token),
      };

      const logout = await client.logout();
      return {
        register: register.status,
        afterLogin,
        logout: { user: logout.user, token: logout.token, status: logout.status, error: logout.error },
        storedAfterLogout: localStorage.getItem("signoff.token"),
        clientToken: client.token,
        oldToken: token,
      };
    },
    { email, password: PASSWORD },
  );

  expect(facts.register).toBe(201);
  expect(facts.afterLogin).toEqual({ status: 200, error: null, email, saved: true, me: 200 });
  expect(facts.logout).toEqual({ user: null, token: null, status: 200, error: null });
  expect(facts.storedAfterLogout).toBeNull();
  expect(facts.clientToken).toBeNull();
  // The old token no longer authenticates.
  const me = await request.get("/api/v1/account/me", { headers: { Authorization: `Bearer ${facts.oldToken}` } });
  expect(me.status()).toBe(401);
});
