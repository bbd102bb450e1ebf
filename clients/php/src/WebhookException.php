<?php

declare(strict_types=1);

namespace Signoff;

/** A webhook delivery that does not verify: not from the server holding the secret, or too old. */
final class WebhookException extends \RuntimeException
{
}
