"""A POP3 server without any TLS (no STLS in CAPA), for the "server offers no TLS" tests:
greeting, CAPA, USER/PASS for one account, STAT of an empty maildrop, QUIT. Run as a script:

    python3 plain_pop3.py --port 110 --user alice --password secret
"""

from __future__ import annotations

import argparse
import socketserver


def handler_for(user: str, password: str):
    class Handler(socketserver.StreamRequestHandler):
        timeout = 30

        def send(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            self.send("+OK plain POP3 test server ready")
            given_user = None
            authorized = False
            for raw in self.rfile:
                words = raw.decode("utf-8", "replace").strip().split(" ", 1)
                command = words[0].upper()
                argument = words[1] if len(words) > 1 else ""
                if command == "CAPA":
                    self.send("+OK capabilities")
                    self.send("USER")
                    self.send("UIDL")
                    self.send(".")
                elif command == "USER":
                    given_user = argument
                    self.send("+OK")
                elif command == "PASS":
                    authorized = given_user == user and argument == password
                    self.send("+OK logged in" if authorized else "-ERR [AUTH] invalid user name or password")
                elif command == "STAT" and authorized:
                    self.send("+OK 0 0")
                elif command in ("LIST", "UIDL") and authorized:
                    self.send("+OK")
                    self.send(".")
                elif command == "QUIT":
                    self.send("+OK bye")
                    return
                else:
                    self.send("-ERR unknown command")
    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    arguments = parser.parse_args()
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", arguments.port),
                                         handler_for(arguments.user, arguments.password)) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
