<?php
// One call through the local motan-agent (docs/agent.md), as a PHP-FPM request does it: the
// agent keeps the registry session and the warm connections, the worker only a plain URL.
//   php -d ffi.enable=1 bindings/php/examples/agent_call.php [URL] [NAME]
//   URL default motan2://127.0.0.1:9981/com.example.EchoService (or motan2://[unix:/path]/...)
require __DIR__ . '/../Motan.php';

$url = $argv[1] ?? 'motan2://127.0.0.1:9981/com.example.EchoService';
$c = new Motan\Client($url . (strpos($url, '?') === false ? '?' : '&') . 'requestTimeout=1000');
echo $c->call('echo', $argv[2] ?? 'hello from php'), "\n";
$c->close();
