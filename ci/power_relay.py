"""A power relay for an emulated board, as labgrid's `simplerest` power
model drives one (docs/labs.md): `GET /relay/1` resets the QEMU whose human
monitor listens on the Unix socket given (`system_reset`: the firmware boots
again and its console prints its boot log); `GET /relay/0` is accepted (a
QEMU cannot be off and on again at the same address); `GET /relay` reads
`1`, on. Prints its port once it listens.

    python3 ci/power_relay.py MONITOR_SOCKET
"""

import http.server
import socket
import sys

MONITOR = sys.argv[1]


def read_to_prompt(mon):
    """Reads from the monitor up to and including its `(qemu) ` prompt."""
    seen = b""
    while not seen.endswith(b"(qemu) "):
        chunk = mon.recv(4096)
        if not chunk:
            raise ConnectionError("the QEMU monitor closed")
        seen += chunk


class Relay(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        value = self.path.rstrip("/").rsplit("/", 1)[-1]
        if value == "1":
            with socket.socket(socket.AF_UNIX) as mon:
                mon.settimeout(5)
                mon.connect(MONITOR)
                read_to_prompt(mon)  # the monitor's banner
                mon.sendall(b"system_reset\n")
                # The command is done once the monitor prompts again;
                # closing before would drop it.
                read_to_prompt(mon)
        elif value not in ("0", "relay"):
            self.send_error(400, "value must be 0 or 1")
            return
        self.send_response(200)
        self.send_header("Content-Length", "1")
        self.end_headers()
        self.wfile.write(b"1")

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Relay)
print(server.server_address[1], flush=True)
server.serve_forever()
