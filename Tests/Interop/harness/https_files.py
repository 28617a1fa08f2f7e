"""A small HTTPS file server for autoconfig tests: serves a directory over TLS with a test
certificate (Python's http.server and ssl). Run as a script:

    python3 https_files.py --port 443 --cert CERT --key KEY --root DIR
"""

from __future__ import annotations

import argparse
import functools
import http.server
import ssl


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--root", required=True)
    arguments = parser.parse_args()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=arguments.root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", arguments.port), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(arguments.cert, arguments.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"serving {arguments.root} on https://127.0.0.1:{arguments.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
