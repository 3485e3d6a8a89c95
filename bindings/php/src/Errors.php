<?php
// Exceptions raised by the binding, and the library's error codes (include/motan/core.h).
declare(strict_types=1);

namespace Motan;

/** The MOTAN_E* codes, for comparing with MotanException::getCode(). */
final class Code
{
    public const OK = 0;
    public const ENOMEM = -1;
    public const EINVAL = -2;
    public const EAGAIN = -3;
    public const EDECODE = -4;
    public const EPROTO = -5;
    public const ETOOBIG = -6;
    public const EVERSION = -7;
    public const EMOTAN1 = -8;
    public const EUNSUPPORTED = -9;
    public const EURL = -10;
    public const ETIMEOUT = -11;
    public const ECONNECT = -12;
    public const EBUSY = -13;
    public const ECANCELLED = -14;
    public const EREMOTE = -15;
    public const ENOENDPOINT = -16;
    public const EREGISTRY = -17;
    public const ECLOSED = -18;
    public const ENOTFOUND = -19;
    public const EIO = -20;
    public const EDEADLOCK = -21;
    public const EFORKED = -22;
}

/** Every error of the binding: getCode() is the MOTAN_E* code, $name its symbolic name. */
class MotanException extends \RuntimeException
{
    public readonly string $name;

    public function __construct(string $message, int $code, ?string $name = null)
    {
        parent::__construct($message, $code);
        $this->name = $name ?? Native::errname($code);
    }

    /** The exception class for a failed call's code. */
    public static function forCall(int $code, string $message, int $errcode = 0, int $errtype = -1): self
    {
        return match ($code) {
            Code::EREMOTE => new RemoteException($message, $errcode, $errtype),
            Code::ETIMEOUT => new TimeoutException($message, $code),
            Code::ECONNECT, Code::ENOENDPOINT => new ConnectionException($message, $code),
            default => new self($message, $code),
        };
    }
}

/** The server answered with an error: $errcode and $errtype (0 framework, 1 service, 2 business). */
class RemoteException extends MotanException
{
    public function __construct(string $message, public readonly int $errcode, public readonly int $errtype)
    {
        parent::__construct($message, Code::EREMOTE);
    }
}

/** The call did not complete within its timeout (MOTAN_ETIMEOUT). */
class TimeoutException extends MotanException
{
}

/** No connection could be made or kept (MOTAN_ECONNECT), or no endpoint (MOTAN_ENOENDPOINT). */
class ConnectionException extends MotanException
{
}
