#!/usr/bin/env python3
"""Figures of the firmware on the emulated board (docs/benchmarks.md,
"Firmware on the emulated board"). Emulator figures, not device figures:
QEMU's time is the host's.

  python3 ci/qemu_figures.py [--skip-suite] [--skip-instructions] [--elf ELF]
  python3 ci/qemu_figures.py --detector '{"background": true}'   (instructions only)

--elf: another qemu-virt build (default target/firmware/cam-fw-qemu.elf),
to compare two builds.

Needs target/debug/cam-hil and target/firmware/cam-fw-qemu.elf (bash
ci/firmware-qemu.sh) and qemu-system-riscv32. Prints Markdown:

- boot: from QEMU's start to the `listening on` line (median of 9 boots);
- instructions per QVGA frame through Cam::process_frame, per fixture clip
  (median, max), from the firmware's own `cam-fw: cost` lines (mcycle/minstret
  read around the call) under `-icount shift=0`, where they are exact, as
  `cam-hil eval --target qemu:… --icount` reports them;
- frame -> SSE latency: from sending POST /hil/frame to the `motion` event
  arriving on GET /events, over the highway clip (no icount), and each
  frame's POST /hil/frame round trip;
- the heap's high-water mark after the whole suite run on one emulated board
  (`--target url:`), read from the `cam-fw: heap:` line of a final reset.
"""
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
HIL = os.path.join(ROOT, "target/debug/cam-hil")
ELF = os.path.abspath(sys.argv[sys.argv.index("--elf") + 1]) if "--elf" in sys.argv else os.path.join(
    ROOT, "target/firmware/cam-fw-qemu.elf"
)


class Board:
    """`cam-hil qemu` on a free port; its console collected line by line."""

    def __init__(self, icount=False):
        args = [HIL, "qemu", ELF, "--listen", "127.0.0.1:0"] + (["--icount"] if icount else [])
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        self.lines = []
        self.cond = threading.Condition()
        self.url = None
        self.boot_ms = None
        for line in self.proc.stdout:
            m = re.match(r"cam-hil: firmware at (\S+) \(listening ([\d.]+) ms", line)
            if m:
                self.url, self.boot_ms = m.group(1), float(m.group(2))
                break
        if not self.url:
            sys.exit("cam-hil qemu did not start")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_line(self, pattern, after):
        """The first console line matching `pattern` from index `after` on."""
        with self.cond:
            while True:
                for i in range(after, len(self.lines)):
                    if re.search(pattern, self.lines[i]):
                        return i, self.lines[i]
                if not self.cond.wait(timeout=30):
                    sys.exit(f"no console line matching {pattern!r}")

    def post(self, path, body=b"", headers=None):
        """One request on a kept-alive connection (a new connection per
        frame would churn the firmware's six slots); a fresh connection when
        the last was idle for more than half a second (the firmware closes
        idle ones after 1 s)."""
        now = time.monotonic()
        if getattr(self, "conn", None) is None or now - self.last > 0.5:
            host, port = self.url.removeprefix("http://").split(":")
            self.conn = http.client.HTTPConnection(host, int(port), timeout=30)
        self.conn.request("POST", path, body, headers or {})
        r = self.conn.getresponse()
        data = r.read()
        self.last = time.monotonic()
        if r.status != 200:
            sys.exit(f"POST {path}: {r.status} {data!r}")
        return json.loads(data or b"null")

    def command(self, cmd):
        """Sends one JSON command over `GET /control` (a WebSocket text frame,
        RFC 6455) and returns its ack."""
        import base64
        host, port = self.url.removeprefix("http://").split(":")
        sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            f"GET /control HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            byte = sock.recv(1)
            if not byte:
                sys.exit(f"GET /control: the connection closed after {head!r}")
            head += byte
        if not head.startswith(b"HTTP/1.1 101"):
            sys.exit(f"GET /control: {head!r}")
        payload, mask = json.dumps(cmd).encode(), os.urandom(4)
        if len(payload) >= 126:
            sys.exit("command too long for this helper's one-byte frame length")
        sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

        def exactly(n):
            data = b""
            while len(data) < n:
                more = sock.recv(n - len(data))
                if not more:
                    sys.exit("GET /control: the connection closed before the ack")
                data += more
            return data

        first, second = exactly(2)
        if first != 0x81:
            sys.exit(f"GET /control: expected one whole text frame, got opcode byte {first:#x}")
        n = second & 0x7F
        if n >= 126:
            n = int.from_bytes(exactly(2 if n == 126 else 8), "big")
        ack = json.loads(exactly(n))
        sock.close()
        return ack

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def clip_frames(clip):
    rows = open(os.path.join(ROOT, "fixtures", clip, "manifest.csv")).read().split("\n")[1:]
    for row in filter(None, rows):
        name, t_ms = row.split(",")[:2]
        yield os.path.join(ROOT, "fixtures", clip, name), int(t_ms)


def instructions(detector=None):
    """Per clip, from `cam-hil eval --target qemu:… --icount` (fresh boards;
    given `detector`, a `set_detector` command's settings such as
    {"background": true}, those): its table of what each frame cost, from
    the firmware's `cam-fw: cost` lines. The run also requires the firmware
    to give the core's outcome on every frame."""
    clips = sorted(
        os.path.join(ROOT, "fixtures", c)
        for c in os.listdir(os.path.join(ROOT, "fixtures"))
        if os.path.isfile(os.path.join(ROOT, "fixtures", c, "manifest.csv"))
    )
    args = [HIL, "eval", "--target", f"qemu:{ELF}", "--icount", "--jobs", "2"]
    if detector:
        args += ["--detector", ",".join(f"{k}={json.dumps(v)}" for k, v in detector.items())]
    run = subprocess.run(args + clips, capture_output=True, text=True, cwd=ROOT)
    if run.returncode != 0:
        sys.exit(f"cam-hil eval --target: exit {run.returncode}\n{run.stderr}")
    out = ["| clip | frames | median instructions | max instructions |", "|---|---|---|---|"]
    table = run.stdout.split("Cost per frame on the cam", 1)[1]
    for row in table.splitlines():
        cells = [c.strip() for c in row.strip("|").split("|")]
        if len(cells) == 6 and " of " in cells[1]:
            out.append(f"| {cells[0]} | {cells[1].split(' of ')[0]} | {cells[4]} | {cells[5]} |")
    return out


def percentile_99(ordered):
    """The 99th percentile of an ascending list (nearest rank below)."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def latency():
    board = Board()
    board.post("/hil/reset")
    host, port = board.url.removeprefix("http://").split(":")
    sse = socket.create_connection((host, int(port)))
    sse.sendall(f"GET /events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
    arrived = {}
    got = threading.Condition()

    def read():
        buf = b""
        while True:
            chunk = sse.recv(65536)
            if not chunk:
                return
            now = time.perf_counter()
            buf += chunk
            with got:
                for m in re.finditer(rb'data: (\{[^\n]*"frame":(\d+)[^\n]*\})', buf):
                    arrived.setdefault(int(m.group(2)), now)
                got.notify_all()
            buf = buf[-4096:]

    threading.Thread(target=read, daemon=True).start()
    sent, round_trips = {}, []
    for path, t_ms in clip_frames("cdnet_highway"):
        body = open(path, "rb").read()
        t0 = time.perf_counter()
        reply = board.post("/hil/frame", body, {"X-Frame-Ts": str(1_700_000_000_000 + t_ms)})
        round_trips.append((time.perf_counter() - t0) * 1e3)
        if reply.get("motion"):
            sent[reply["frame"]] = t0
    with got:
        got.wait_for(lambda: all(f in arrived for f in sent), timeout=10)
    ms = sorted((arrived[f] - t) * 1e3 for f, t in sent.items() if f in arrived)
    board.stop()
    boots = []
    for _ in range(9):
        b = Board()
        boots.append(b.boot_ms)
        b.stop()
    round_trips.sort()
    p99, rt99 = percentile_99(ms), percentile_99(round_trips)
    return [
        f"- boot, QEMU start to `listening on`: median {statistics.median(boots):.1f} ms of 9 boots (min {min(boots):.1f}, max {max(boots):.1f})",
        f"- frame -> SSE `motion` event, highway clip: {len(ms)} of {len(sent)} events, p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms",
        f"- `POST /hil/frame` round trip (request sent to its ack read, detector included), highway clip, {len(round_trips)} frames: p50 {statistics.median(round_trips):.1f} ms, p99 {rt99:.1f} ms",
    ]


def heap_after_suite():
    board = Board()
    skip = sum((["--skip-tag", t] for t in ["tls", "faults", "storage", "auth", "console"]), [])
    run = subprocess.run([HIL, "run", "--target", "url:" + board.url] + skip, cwd=ROOT, capture_output=True, text=True)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    start = len(board.lines)
    board.post("/hil/reset")
    _, line = board.wait_line(r"cam-fw: heap: ", start)
    board.stop()
    return [f"- the suite on one emulated board (`--target url:`): {summary}", f"- after it: `{line}`"]


if __name__ == "__main__":
    if "--detector" in sys.argv:
        # Only the instruction counts, under these detector settings (JSON).
        for line in instructions(json.loads(sys.argv[sys.argv.index("--detector") + 1])):
            print(line)
        sys.exit(0)
    if "--skip-instructions" not in sys.argv:
        for line in instructions():
            print(line)
        print()
    for line in latency():
        print(line)
    if "--skip-suite" not in sys.argv:
        for line in heap_after_suite():
            print(line)
