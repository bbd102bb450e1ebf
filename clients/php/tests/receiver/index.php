<?php

// A verified receiver for the live test, run by `php -S`: appends each verified event (one JSON
// line) to SIGNOFF_RECEIVED_FILE and answers 204; anything that does not verify gets 400.
declare(strict_types=1);

require __DIR__ . '/../../autoload.php';

try {
    $event = Signoff\Webhook::verify((string) getenv('SIGNOFF_WEBHOOK_SECRET'), getallheaders(), (string) file_get_contents('php://input'));
    file_put_contents((string) getenv('SIGNOFF_RECEIVED_FILE'), json_encode($event) . "\n", FILE_APPEND | LOCK_EX);
    http_response_code(204);
} catch (Signoff\WebhookException $e) {
    http_response_code(400);
    echo $e->getMessage();
}
