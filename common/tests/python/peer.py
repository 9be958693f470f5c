#!/usr/bin/env python3
"""python-bareos as a test peer for barque-common (run by common/tests/python_bareos.rs).

usage: peer.py console|fd PORT tls|clear PASSWORD NAME

- console: bareos.bsock.DirectorConsole logs in to our accept loop (acting as a Director) and
  runs the command `version`;
- fd: bareos.bsock.FileDaemon connects to our accept loop (acting as an FD) as the Director
  NAME and runs `status`.

Prints one JSON object on stdout: {"ok": true, "result": "...", "tls": "..."} or
{"ok": false, "error": "..."}; exits non-zero on failure.
"""
import json
import sys
import warnings

warnings.simplefilter("error", UserWarning)  # "TLS-PSK is not available" must fail, not warn

import bareos.bsock  # noqa: E402
from bareos.bsock import DirectorConsole, FileDaemon  # noqa: E402
from bareos.util.password import Password  # noqa: E402


def main():
    role, port, mode, password, name = sys.argv[1:6]
    tls = mode == "tls"
    try:
        if role == "console":
            peer = DirectorConsole(
                address="127.0.0.1",
                port=int(port),
                name=name,
                password=Password(password),
                tls_psk_enable=tls,
                tls_psk_require=tls,
            )
            result = peer.call("version")
        else:
            peer = FileDaemon(
                address="127.0.0.1",
                port=int(port),
                name=name,
                password=Password(password),
                tls_psk_enable=tls,
                tls_psk_require=tls,
            )
            result = peer.call("status")
        sock = peer.socket
        version = sock.version() if hasattr(sock, "version") else None
        print(json.dumps({"ok": True, "result": result.decode("utf-8", "replace"), "tls": version}))
        peer.close()
        return 0
    except Exception as e:  # report everything to the Rust test
        print(json.dumps({"ok": False, "error": "%s: %s" % (type(e).__name__, e)}))
        return 1


if __name__ == "__main__":
    sys.exit(main())
