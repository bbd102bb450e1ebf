// webhooks.js: verified against the Standard Webhooks example, and against a live delivery from
// the server (clients/test.sh points SIGNOFF_WEBHOOK_URLS at SIGNOFF_WEBHOOK_PORT_JS).
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { verifyWebhook, WebhookVerificationError } from "../webhooks.js";
import { SignoffClient, MemoryStorage } from "../signoff.js";

const BASE = process.env.SIGNOFF_URL?.replace(/\/+$/, "");
const SECRET = process.env.SIGNOFF_WEBHOOK_SECRET;
const PORT = Number(process.env.SIGNOFF_WEBHOOK_PORT_JS);
const live = BASE && SECRET && PORT ? {} : { skip: "SIGNOFF_URL, SIGNOFF_WEBHOOK_SECRET or SIGNOFF_WEBHOOK_PORT_JS is not set" };

const EXAMPLE = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  headers: {
    "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "webhook-timestamp": "1614265330",
    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
  },
  body: '{"test": 2432232314}',
  now: new Date(1614265330 * 1000),
};

test("the Standard Webhooks example verifies; a changed body, id or old timestamp does not", async () => {
  const { secret, headers, body, now } = EXAMPLE;
  assert.deepEqual(await verifyWebhook(secret, headers, body, { now }), { test: 2432232314 });
  await assert.rejects(verifyWebhook(secret, headers, body.replace("2", "3"), { now }), WebhookVerificationError);
  await assert.rejects(verifyWebhook(secret, { ...headers, "webhook-id": "msg_other" }, body, { now }), WebhookVerificationError);
  await assert.rejects(verifyWebhook(secret, headers, body, { now: new Date((1614265330 + 301) * 1000) }), WebhookVerificationError);
  await assert.rejects(verifyWebhook(secret, {}, body, { now }), WebhookVerificationError);
});

test("a logout on the live server arrives as a verified session.ended event", live, async () => {
  const received = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      try {
        received.push(await verifyWebhook(SECRET, req.headers, Buffer.concat(chunks)));
        res.writeHead(204).end();
      } catch (e) {
        res.writeHead(400).end(String(e.message));
      }
    });
  });
  await new Promise((resolve) => server.listen(PORT, "127.0.0.1", resolve));
  try {
    const email = `js-hook-${process.pid}-${Date.now()}@example.com`;
    const reg = await fetch(`${BASE}/api/v1/account/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password: "correct horse battery" }),
    });
    assert.equal(reg.status, 201);
    const client = new SignoffClient({ baseUrl: BASE, storage: new MemoryStorage() });
    const login = await client.login(email, "correct horse battery");
    const userId = login.user.id;
    assert.equal((await client.logout()).status, 200);
    const deadline = Date.now() + 10_000;
    let event;
    while (!(event = received.find((e) => e.data?.user_id === userId)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(event, "the event arrived, verified");
    assert.equal(event.type, "session.ended");
    assert.equal(event.data.kind, "token");
    assert.equal(event.data.reason, "logout");
    assert.match(event.data.credentials_expire_at, /^\d{4}-\d\d-\d\dT/);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
