<?php

declare(strict_types=1);

namespace Signoff;

/**
 * Client for the Signoff server: login() and logout() (seed 003). Needs ext-curl and ext-json.
 *
 * Both methods return an array with the keys user, token, status, statusText and error, and
 * never throw. The client holds the token in memory; logout() revokes it on the server and
 * always forgets it locally, whatever the server answers.
 */
final class Client
{
    private string $baseUrl;
    private ?string $token;
    private int $timeout;

    /**
     * @param string      $baseUrl the server's origin, e.g. "https://signoff.example"
     * @param string|null $token   a token saved from an earlier login(), if any
     * @param int         $timeout seconds a request may take
     */
    public function __construct(string $baseUrl, ?string $token = null, int $timeout = 10)
    {
        $this->baseUrl = rtrim($baseUrl, '/');
        $this->token = ($token === '') ? null : $token;
        $this->timeout = $timeout;
    }

    /** The current access token, or null when logged out. */
    public function token(): ?string
    {
        return $this->token;
    }

    /**
     * Logs in with POST /api/v1/account/login and keeps the token. On failure 'error' is
     * filled in and the token held before is kept.
     *
     * @return array{user: ?array, token: ?string, status: int, statusText: string, error: ?array}
     */
    public function login(string $email, string $password): array
    {
        $res = $this->post('/api/v1/account/login', ['email' => $email, 'password' => $password]);
        $result = ['user' => null, 'token' => null, 'status' => $res['status'], 'statusText' => $res['statusText'], 'error' => $res['error']];
        if ($res['error'] !== null) {
            return $result;
        }
        $token = $res['body']['data']['token'] ?? null;
        if (!is_string($token) || $token === '') {
            $result['error'] = ['message' => 'The server sent no token.', 'code' => 'BAD_RESPONSE', 'status' => $res['status']];
            return $result;
        }
        $this->token = $token;
        $result['user'] = $res['body']['data']['user'] ?? null;
        $result['token'] = $token;
        return $result;
    }

    /**
     * Logs out with POST /auth/logout, revoking the token on the server, and always forgets
     * the token locally. 'error' is null when the server confirmed the logout; a 401 error
     * means the token was already dead; status 0 means no answer came (code NETWORK_ERROR)
     * or there was no token to send (code NO_TOKEN).
     *
     * 'reason' says why the sign-in is over: 'logout' when this call ended it; on a 401 the
     * server's reason it had already ended ('logout_global', 'password_changed', 'idle', …);
     * null when unknown.
     *
     * @return array{user: null, token: null, status: int, statusText: string, reason: ?string, error: ?array}
     */
    public function logout(): array
    {
        // Forget the token first: whatever happens next, this client no longer has it.
        $token = $this->token;
        $this->token = null;
        if ($token === null) {
            $message = 'No token to log out: already logged out.';
            return ['user' => null, 'token' => null, 'status' => 0, 'statusText' => $message, 'reason' => null,
                'error' => ['message' => $message, 'code' => 'NO_TOKEN', 'status' => 0]];
        }
        $res = $this->post('/auth/logout', null, $token);
        $reason = $res['status'] === 200 ? 'logout' : $res['reason'];
        return ['user' => null, 'token' => null, 'status' => $res['status'], 'statusText' => $res['statusText'],
            'reason' => $reason, 'error' => $res['error']];
    }

    /**
     * POSTs to the API.
     *
     * @return array{status: int, statusText: string, body: mixed, error: ?array}
     */
    private function post(string $path, ?array $json, ?string $token = null): array
    {
        $headers = ['Accept: application/json'];
        if ($json !== null) {
            $headers[] = 'Content-Type: application/json';
        }
        if ($token !== null) {
            $headers[] = 'Authorization: Bearer ' . $token;
        }
        $reason = '';
        $ended = null;
        $ch = curl_init($this->baseUrl . $path);
        curl_setopt_array($ch, [
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => $json === null ? '' : json_encode($json, JSON_THROW_ON_ERROR),
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_CONNECTTIMEOUT => $this->timeout,
            CURLOPT_TIMEOUT => $this->timeout,
            CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
            // Keep the reason phrase of the status line ("HTTP/1.1 401 Unauthorized").
            CURLOPT_HEADERFUNCTION => static function ($ch, string $line) use (&$reason, &$ended): int {
                if (preg_match('#^HTTP/\S+\s+\d{3}\s*(.*?)\s*$#', $line, $m)) {
                    $reason = $m[1];
                } elseif (preg_match('#^signoff-ended-reason:\s*([a-z_]+)\s*$#i', $line, $m)) {
                    // Why a token's sign-in had already ended, when the server says.
                    $ended = $m[1];
                }
                return strlen($line);
            },
        ]);
        $raw = curl_exec($ch);
        $status = (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        $curlError = curl_error($ch);
        curl_close($ch);

        if ($raw === false) {
            $message = $curlError !== '' ? $curlError : 'The request failed.';
            return ['status' => 0, 'statusText' => $message, 'body' => null, 'reason' => null,
                'error' => ['message' => $message, 'code' => 'NETWORK_ERROR', 'status' => 0]];
        }
        $body = json_decode((string) $raw, true); // null for an empty or non-JSON body
        $error = ($status >= 200 && $status <= 299) ? null : self::serverError($status, $reason, $body);
        if ($error !== null && $ended !== null) {
            $error['reason'] = $ended;
        }
        return ['status' => $status, 'statusText' => $reason, 'body' => $body, 'reason' => $ended, 'error' => $error];
    }

    /**
     * The error of a non-2xx answer, from either envelope the server uses:
     * {"error":{"message","code"}} or {"message","description","code"}.
     */
    private static function serverError(int $status, string $reason, mixed $body): array
    {
        $e = is_array($body) ? (is_array($body['error'] ?? null) ? $body['error'] : $body) : [];
        $error = [
            'message' => is_string($e['message'] ?? null) && $e['message'] !== '' ? $e['message'] : ($reason !== '' ? $reason : "HTTP $status"),
            'code' => $e['code'] ?? $status,
            'status' => $status,
        ];
        if (is_string($e['description'] ?? null) && $e['description'] !== '') {
            $error['description'] = $e['description'];
        }
        return $error;
    }
}
