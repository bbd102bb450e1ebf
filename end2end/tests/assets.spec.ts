import { test, expect } from "./fixtures";

// The bundle a page loads: names carrying their content's hash, cached for a year, sent compressed.
// /register links every file; /login (where a logout lands) carries the stylesheet inline.
test("the page's bundle is hashed, compressed and cached for a year", async ({ page, js }) => {
  const assets: { url: string; headers: Record<string, string> }[] = [];
  page.on("response", (res) => {
    if (new URL(res.url()).pathname.startsWith("/pkg/")) assets.push({ url: res.url(), headers: res.headers() });
  });
  const res = await page.goto("/register");
  expect(res?.headers()["cache-control"]).toBe("no-store");
  await expect(page.getByRole("button", { name: "Create account" })).toBeVisible();
  if (js) await expect(page.locator("html[data-hydrated=true]")).toHaveCount(1);

  const kinds = js ? [".css", ".js", ".wasm"] : [".css"];
  for (const ext of kinds) {
    const found = assets.find((a) => new URL(a.url).pathname.endsWith(ext));
    expect(found, `a ${ext} file was loaded`).toBeTruthy();
    const name = new URL(found!.url).pathname;
    expect(name).toMatch(new RegExp(`^/pkg/signoff\\.[A-Za-z0-9_-]{22}\\${ext}$`));
    expect(found!.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(found!.headers["content-encoding"]).toBe("br");
    expect(found!.headers["vary"]).toBe("accept-encoding");
  }
});

test("the sign-in page paints with its stylesheet inline, fetching none", async ({ page }) => {
  const css: string[] = [];
  page.on("request", (req) => {
    if (new URL(req.url()).pathname.endsWith(".css")) css.push(req.url());
  });
  await page.goto("/login");
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
  await expect(page.locator("head style#leptos")).toHaveCount(1);
  await expect(page.locator('head link[rel="stylesheet"]')).toHaveCount(0);
  // The inline rules apply: the primary button is not the browser's default grey.
  const background = await page.getByRole("button", { name: "Sign in" }).evaluate((b) => getComputedStyle(b).backgroundColor);
  expect(background).not.toBe("rgb(239, 239, 239)");
  expect(css).toEqual([]);
});
