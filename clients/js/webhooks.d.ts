/** A `session.ended` delivery's body. */
export interface SessionEnded {
  type: "session.ended";
  /** RFC 3339. */
  timestamp: string;
  data: {
    user_id: string;
    signin_id: string;
    /** `browser`, `token`, `jwt` or `personal`. */
    kind: string;
    /** `logout`, `logout_others`, `logout_global`, `password_changed`, `refresh_reuse`, `revoked`, `admin`, `expired`, … */
    reason: string;
    /** RFC 3339. */
    ended_at: string;
    /** RFC 3339: until then a receiver must remember the sign-in as ended; null: forever. */
    credentials_expire_at: string | null;
  };
}

export class WebhookVerificationError extends Error {}

export const DEFAULT_TOLERANCE_SECONDS: number;

/** Verifies a delivery (Standard Webhooks) and returns its body; throws WebhookVerificationError. */
export function verifyWebhook(
  secret: string,
  headers: Headers | Record<string, string | string[] | undefined>,
  body: string | Uint8Array,
  options?: { toleranceSeconds?: number; now?: Date },
): Promise<SessionEnded>;
