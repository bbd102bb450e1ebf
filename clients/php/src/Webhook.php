<?php

declare(strict_types=1);

namespace Signoff;

/**
 * Verifies a session.ended webhook delivery (Standard Webhooks: webhook-id, webhook-timestamp,
 * webhook-signature) with the secret the server signs with ("whsec_…"). Needs ext-json only.
 *
 *     $event = Webhook::verify(getenv('SIGNOFF_WEBHOOK_SECRET'), getallheaders(), file_get_contents('php://input'));
 *     // $event['data']: user_id, signin_id, kind, reason, ended_at, credentials_expire_at
 */
final class Webhook
{
    /** Seconds a delivery's timestamp may differ from this machine's clock. */
    public const TOLERANCE = 300;

    /**
     * @param string               $secret  "whsec_…"
     * @param array<string, mixed> $headers the request's headers (any case; values may be lists)
     * @param string               $body    the raw body, exactly as received
     * @param int|null             $now     Unix seconds (default: now)
     * @return array<string, mixed> the decoded body
     * @throws WebhookException when the delivery does not verify
     */
    public static function verify(string $secret, array $headers, string $body, ?int $now = null): array
    {
        $h = [];
        foreach ($headers as $name => $value) {
            $h[strtolower((string) $name)] = is_array($value) ? (string) reset($value) : (string) $value;
        }
        $id = $h['webhook-id'] ?? '';
        $timestamp = $h['webhook-timestamp'] ?? '';
        $signatures = $h['webhook-signature'] ?? '';
        if ($id === '' || $timestamp === '' || $signatures === '') {
            throw new WebhookException('missing webhook headers');
        }
        if (!ctype_digit($timestamp)) {
            throw new WebhookException('malformed webhook-timestamp');
        }
        if (abs(($now ?? time()) - (int) $timestamp) > self::TOLERANCE) {
            throw new WebhookException('webhook-timestamp outside the tolerance');
        }
        $key = base64_decode(preg_replace('/^whsec_/', '', $secret) ?? '', true);
        if ($key === false) {
            throw new WebhookException('the secret is not whsec_ followed by base64');
        }
        $expected = base64_encode(hash_hmac('sha256', "$id.$timestamp.$body", $key, true));
        $valid = false;
        foreach (preg_split('/\s+/', trim($signatures)) ?: [] as $signature) {
            if (str_starts_with($signature, 'v1,') && hash_equals($expected, substr($signature, 3))) {
                $valid = true;
            }
        }
        if (!$valid) {
            throw new WebhookException('no signature matches');
        }
        $event = json_decode($body, true);
        if (!is_array($event)) {
            throw new WebhookException('the body is not JSON');
        }
        return $event;
    }
}
