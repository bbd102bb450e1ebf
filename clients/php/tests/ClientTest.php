<?php

declare(strict_types=1);

namespace Signoff\Tests;

use PHPUnit\Framework\TestCase;
use Signoff\Client;

/**
 * Tests against a running server: SIGNOFF_URL=http://127.0.0.1:PORT phpunit -c clients/php/phpunit.xml
 * Tokens are compared with assertTrue($a === $b), never assertSame, so a failure never prints one.
 */
final class ClientTest extends TestCase
{
    private const PASSWORD = 'correct horse battery';
    private static int $counter = 0;

    /** SIGNOFF_URL, or the test is skipped. */
    private function server(): string
    {
        $base = rtrim((string) getenv('SIGNOFF_URL'), '/');
        if ($base === '') {
            $this->markTestSkipped('SIGNOFF_URL is not set');
        }
        return $base;
    }

    /** Sends a request with an optional bearer token and JSON body; returns the status. */
    private static function call(string $method, string $url, ?string $token = null, ?array $json = null): int
    {
        $headers = ['Content-Type: application/json'];
        if ($token !== null) {
            $headers[] = 'Authorization: Bearer ' . $token;
        }
        $ch = curl_init($url);
        curl_setopt_array($ch, [
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_TIMEOUT => 10,
        ]);
        if ($json !== null) {
            curl_setopt($ch, CURLOPT_POSTFIELDS, json_encode($json));
        }
        curl_exec($ch);
        $status = (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        curl_close($ch);
        return $status;
    }

    /** Registers a new user and returns its email. */
    private function freshUser(string $base): string
    {
        $email = sprintf('php-%d-%d-%d@example.com', getmypid(), hrtime(true), ++self::$counter);
        $this->assertSame(201, self::call('POST', "$base/api/v1/account/register", null, ['email' => $email, 'password' => self::PASSWORD]), 'register');
        return $email;
    }

    public function testLoginThenLogoutRevokesTheToken(): void
    {
        $base = $this->server();
        $email = $this->freshUser($base);
        $client = new Client($base);

        $login = $client->login($email, self::PASSWORD);
        $this->assertSame(200, $login['status']);
        $this->assertNull($login['error']);
        $this->assertSame($email, $login['user']['email']);
        $this->assertTrue(is_string($login['token']) && str_starts_with($login['token'], 'so_at_'), 'an opaque token');
        $this->assertTrue($client->token() === $login['token'], 'token() is the new token');
        $this->assertSame(200, self::call('GET', "$base/api/v1/account/me", $login['token']));

        $logout = $client->logout();
        $this->assertSame(['user' => null, 'token' => null, 'status' => 200, 'statusText' => 'OK', 'reason' => 'logout', 'error' => null], $logout);
        $this->assertNull($client->token());
        $this->assertSame(401, self::call('GET', "$base/api/v1/account/me", $login['token']), 'the old token no longer authenticates');
    }

    public function testLogoutWithADeadTokenClearsItAndReports401(): void
    {
        $base = $this->server();
        $client = new Client($base);
        $token = $client->login($this->freshUser($base), self::PASSWORD)['token'];
        // Revoke the token behind the client's back.
        $this->assertSame(200, self::call('POST', "$base/auth/logout", $token));

        $logout = $client->logout();
        $this->assertSame([
            'user' => null,
            'token' => null,
            'status' => 401,
            'statusText' => 'Unauthorized',
            // The token was logged out before: the server says so.
            'reason' => 'logout',
            'error' => [
                'message' => 'Unauthorized',
                'code' => 'UNAUTHORIZED',
                'status' => 401,
                'description' => 'Invalid, expired or missing bearer token',
                'reason' => 'logout',
            ],
        ], $logout);
        $this->assertNull($client->token());
    }

    public function testLoginWithAWrongPasswordKeepsTheOldToken(): void
    {
        $base = $this->server();
        $client = new Client($base, 'so_at_previous');
        $login = $client->login($this->freshUser($base), 'wrong password');
        $this->assertSame(401, $login['status']);
        $this->assertNull($login['token']);
        $this->assertSame(['message' => 'Invalid credentials.', 'code' => 401, 'status' => 401], $login['error']);
        $this->assertSame('so_at_previous', $client->token());
    }

    public function testLogoutAgainstAnUnreachableServerClearsTheToken(): void
    {
        $client = new Client('http://127.0.0.1:9', 'so_at_unreachable');
        $logout = $client->logout();
        $this->assertNull($logout['user']);
        $this->assertNull($logout['token']);
        $this->assertSame(0, $logout['status']);
        $this->assertSame('NETWORK_ERROR', $logout['error']['code']);
        $this->assertNotSame('', $logout['error']['message']);
        $this->assertSame($logout['error']['message'], $logout['statusText']);
        $this->assertNull($client->token());
    }

    public function testLogoutWithNoToken(): void
    {
        $logout = (new Client('http://127.0.0.1:9'))->logout();
        $this->assertSame(0, $logout['status']);
        $this->assertSame('NO_TOKEN', $logout['error']['code']);
    }

    public function testLogoutSaysWhyTheSignInEnded(): void
    {
        $base = $this->server();
        $email = $this->freshUser($base);
        $here = new Client($base);
        $there = new Client($base);
        $here->login($email, self::PASSWORD);
        $there->login($email, self::PASSWORD);
        $this->assertSame(200, self::call('POST', "$base/auth/logout", $there->token(), ['scope' => 'global']));
        $out = $here->logout();
        $this->assertSame(401, $out['status']);
        $this->assertSame('logout_global', $out['reason']);
        $this->assertSame('logout_global', $out['error']['reason']);
        $here->login($email, self::PASSWORD);
        $ok = $here->logout();
        $this->assertSame(200, $ok['status']);
        $this->assertSame('logout', $ok['reason']);
    }
}
