<?php

declare(strict_types=1);

namespace Signoff\Tests;

use PHPUnit\Framework\TestCase;
use Signoff\Client;
use Signoff\Webhook;
use Signoff\WebhookException;

/** Webhook::verify, against the Standard Webhooks example and a live delivery from the server. */
final class WebhookTest extends TestCase
{
    private const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    private const HEADERS = [
        'Webhook-Id' => 'msg_p5jXN8AQM9LWM0D4loKWxJek',
        'Webhook-Timestamp' => '1614265330',
        'Webhook-Signature' => 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    ];
    private const BODY = '{"test": 2432232314}';

    public function testTheStandardExampleVerifies(): void
    {
        $this->assertSame(['test' => 2432232314], Webhook::verify(self::SECRET, self::HEADERS, self::BODY, 1614265330));
    }

    public function testAChangedBodyDoesNotVerify(): void
    {
        $this->expectException(WebhookException::class);
        Webhook::verify(self::SECRET, self::HEADERS, '{"test": 2432232315}', 1614265330);
    }

    public function testAnOldDeliveryDoesNotVerify(): void
    {
        $this->expectException(WebhookException::class);
        Webhook::verify(self::SECRET, self::HEADERS, self::BODY, 1614265330 + 301);
    }

    public function testALogoutArrivesAsAVerifiedEvent(): void
    {
        $base = rtrim((string) getenv('SIGNOFF_URL'), '/');
        $secret = (string) getenv('SIGNOFF_WEBHOOK_SECRET');
        $port = (string) getenv('SIGNOFF_WEBHOOK_PORT_PHP');
        if ($base === '' || $secret === '' || $port === '') {
            $this->markTestSkipped('SIGNOFF_URL, SIGNOFF_WEBHOOK_SECRET or SIGNOFF_WEBHOOK_PORT_PHP is not set');
        }
        $file = tempnam(sys_get_temp_dir(), 'signoff-hooks-');
        $receiver = proc_open(
            [PHP_BINARY, '-S', "127.0.0.1:$port", '-t', __DIR__ . '/receiver', __DIR__ . '/receiver/index.php'],
            [0 => ['file', '/dev/null', 'r'], 1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']],
            $pipes,
            null,
            ['SIGNOFF_WEBHOOK_SECRET' => $secret, 'SIGNOFF_RECEIVED_FILE' => $file],
        );
        try {
            // Wait for the receiver to listen.
            for ($i = 0; $i < 100 && @fsockopen('127.0.0.1', (int) $port) === false; $i++) {
                usleep(50_000);
            }
            $email = sprintf('php-hook-%d-%d@example.com', getmypid(), hrtime(true));
            $ch = curl_init("$base/api/v1/account/register");
            curl_setopt_array($ch, [
                CURLOPT_POST => true,
                CURLOPT_HTTPHEADER => ['Content-Type: application/json'],
                CURLOPT_POSTFIELDS => json_encode(['email' => $email, 'password' => 'correct horse battery']),
                CURLOPT_RETURNTRANSFER => true,
            ]);
            curl_exec($ch);
            $this->assertSame(201, (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE));
            curl_close($ch);
            $client = new Client($base);
            $login = $client->login($email, 'correct horse battery');
            $userId = $login['user']['id'];
            $this->assertSame(200, $client->logout()['status']);

            $found = null;
            for ($i = 0; $i < 200 && $found === null; $i++) {
                foreach (file($file, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) ?: [] as $line) {
                    $event = json_decode($line, true);
                    if (($event['data']['user_id'] ?? null) === $userId) {
                        $found = $event;
                    }
                }
                if ($found === null) {
                    usleep(50_000);
                }
            }
            $this->assertNotNull($found, 'a verified event for the logout within 10 s');
            $this->assertSame('session.ended', $found['type']);
            $this->assertSame('logout', $found['data']['reason']);
            $this->assertSame('token', $found['data']['kind']);
            $this->assertMatchesRegularExpression('/^\d{4}-\d\d-\d\dT/', $found['data']['credentials_expire_at']);
        } finally {
            proc_terminate($receiver);
            proc_close($receiver);
            @unlink($file);
        }
    }
}
