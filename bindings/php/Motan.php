<?php
// libmotan for PHP 8 over FFI: require this file, then `new Motan\Client($url)`.
// Run PHP with -d ffi.enable=1 (or ffi.enable=true in php.ini). See README.md.
declare(strict_types=1);

require_once __DIR__ . '/src/Errors.php';
require_once __DIR__ . '/src/Types.php';
require_once __DIR__ . '/src/Native.php';
require_once __DIR__ . '/src/Values.php';
require_once __DIR__ . '/src/Client.php';
