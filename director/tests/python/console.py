#!/usr/bin/env python3
"""python-bareos as a console of barque-dir (run by director/tests/python_bareos.rs).

usage: console.py PORT tls|clear NAME PASSWORD SCENARIO

NAME "-" means the default console. Scenarios:
- plain:   DirectorConsole: `status dir`, `version`, an unknown command;
- json:    DirectorConsoleJson: `version`, `status dir`, `.clients` (parsed JSON);
- refused: DirectorConsoleJson: `run job=CapBackup yes` must raise JsonRpcErrorReceivedException;
- login:   DirectorConsole: just log in (used with a wrong password: must fail).

Prints one JSON object on stdout: {"ok": true, ...} or {"ok": false, "error": "..."};
exits non-zero on failure.
"""
import json
import sys
import warnings

warnings.simplefilter("error", UserWarning)  # "TLS-PSK is not available" must fail, not warn

import bareos.bsock  # noqa: E402
import bareos.exceptions  # noqa: E402
from bareos.bsock import DirectorConsole, DirectorConsoleJson  # noqa: E402
from bareos.util.password import Password  # noqa: E402


def main():
    port, mode, name, password, scenario = sys.argv[1:6]
    tls = mode == "tls"
    kwargs = dict(
        address="127.0.0.1",
        port=int(port),
        password=Password(password),
        tls_psk_enable=tls,
        tls_psk_require=tls,
    )
    if name != "-":
        kwargs["name"] = name
    out = {"ok": True}
    try:
        if scenario == "plain":
            c = DirectorConsole(**kwargs)
            out["status"] = c.call("status dir").decode()
            out["version"] = c.call("version").decode()
            out["invalid"] = c.call("frobnicate").decode()
        elif scenario == "json":
            c = DirectorConsoleJson(**kwargs)
            out["version"] = c.call("version")
            out["status"] = c.call("status dir")
            out["clients"] = c.call(".clients")
        elif scenario == "refused":
            c = DirectorConsoleJson(**kwargs)
            out["version"] = c.call("version")
            try:
                c.call("run job=CapBackup yes")
                out = {"ok": False, "error": "run was not refused"}
            except bareos.exceptions.JsonRpcErrorReceivedException as e:
                out["refused"] = str(e)
        elif scenario == "login":
            c = DirectorConsole(**kwargs)
        else:
            raise ValueError("unknown scenario " + scenario)
        sock = c.socket
        out["tls"] = sock.version() if hasattr(sock, "version") else None
        c.close()
    except Exception as e:  # report everything to the Rust test
        out = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
