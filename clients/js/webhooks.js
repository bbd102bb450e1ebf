// Signoff webhooks: verifies a `session.ended` delivery (Standard Webhooks) in Node 20+ or a
// browser-like runtime with Web Crypto. An ES module with no dependencies; types in webhooks.d.ts.
//
//   import { verifyWebhook } from "./webhooks.js";
//   const event = await verifyWebhook(process.env.SIGNOFF_WEBHOOK_SECRET, req.headers, rawBody);
//   // event.data: { user_id, signin_id, kind, reason, ended_at, credentials_expire_at }

/** Thrown when a delivery is not from the server holding the secret, or is too old. */
export class WebhookVerificationError extends Error {
  constructor(message) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

/** Seconds a delivery's timestamp may differ from the receiver's clock (replay protection). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

function header(headers, name) {
  if (typeof headers?.get === "function") return headers.get(name); // fetch's Headers
  const value = headers?.[name] ?? headers?.[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value ?? null;
}

function base64ToBytes(text) {
  const binary = atob(text);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function bytesToBase64(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** Compares two strings in time independent of where they differ. */
function sameText(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Verifies a webhook delivery and returns its parsed body.
 *
 * @param {string} secret `whsec_…` (SIGNOFF_WEBHOOK_SECRET on the server)
 * @param {Headers | Record<string, string | string[] | undefined>} headers the request's headers
 * @param {string | Uint8Array} body the raw request body, exactly as received
 * @param {{ toleranceSeconds?: number, now?: Date }} [options]
 * @returns {Promise<{type: string, timestamp: string, data: object}>}
 * @throws {WebhookVerificationError}
 */
export async function verifyWebhook(secret, headers, body, { toleranceSeconds = DEFAULT_TOLERANCE_SECONDS, now = new Date() } = {}) {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError("missing webhook headers");
  const sentAt = Number(timestamp);
  if (!Number.isInteger(sentAt)) throw new WebhookVerificationError("malformed webhook-timestamp");
  if (Math.abs(now.getTime() / 1000 - sentAt) > toleranceSeconds) {
    throw new WebhookVerificationError("webhook-timestamp outside the tolerance");
  }
  let key;
  try {
    key = base64ToBytes(String(secret).replace(/^whsec_/, ""));
  } catch {
    throw new WebhookVerificationError("the secret is not whsec_ followed by base64");
  }
  const text = typeof body === "string" ? body : new TextDecoder().decode(body);
  const hmacKey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", hmacKey, new TextEncoder().encode(`${id}.${timestamp}.${text}`));
  const expected = bytesToBase64(new Uint8Array(mac));
  const valid = String(signatures)
    .split(" ")
    .some((s) => s.startsWith("v1,") && sameText(s.slice(3), expected));
  if (!valid) throw new WebhookVerificationError("no signature matches");
  try {
    return JSON.parse(text);
  } catch {
    throw new WebhookVerificationError("the body is not JSON");
  }
}
