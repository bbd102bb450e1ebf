<?php

// Loads Signoff\* classes from src/ without Composer: require __DIR__ . '/autoload.php';
spl_autoload_register(static function (string $class): void {
    if (str_starts_with($class, 'Signoff\\')) {
        $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, strlen('Signoff\\'))) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
