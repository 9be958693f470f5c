"""TLS 1.2 PSK client set up exactly like python-bareos 25 on Python < 3.13
(bareos/bsock/lowlevel.py, `__connect_tls_psk`): sslpsk3.SSLPSKContext(PROTOCOL_TLS_CLIENT),
maximum_version TLSv1_2, check_hostname False, Bareos' cipher list, legacy PSK callback.

usage: sslpsk3_client.py PORT IDENTITY_HEX KEY NBYTES
Sends NBYTES of pattern(seed=7), expects NBYTES of pattern(seed=8) back, closes with
close_notify, prints "<version> <cipher>".
"""
import socket
import ssl
import sys

import sslpsk3


def pattern(n, seed):
    return bytes((i * 7 + seed) % 251 for i in range(n))


def main():
    port = int(sys.argv[1])
    identity = bytes.fromhex(sys.argv[2]).decode()
    password = sys.argv[3].encode()  # Password.md5() is bytes
    n = int(sys.argv[4])
    ciphers = "ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH"
    context = sslpsk3.SSLPSKContext(ssl.PROTOCOL_TLS_CLIENT)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.set_ciphers(ciphers)
    context.set_psk_client_callback(lambda hint: (identity, password))
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    s = context.wrap_socket(raw, server_side=False)
    s.sendall(pattern(n, 7))
    got = bytearray()
    while len(got) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    if bytes(got) != pattern(n, 8):
        print("MISMATCH", len(got))
        sys.exit(2)
    print(s.version(), s.cipher()[0])
    s.unwrap()
    s.close()


if __name__ == "__main__":
    main()
