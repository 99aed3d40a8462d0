#!/usr/bin/python3
"""Render a herd HTML report in headless Chromium and check it.

usage: chromium_check.py REPORT.html SCREENSHOT.png [--expect-groups N] [--search KEY]

Drives Chromium over the DevTools protocol (a minimal WebSocket client of
the standard library: no npm, no pip).  Checks: no console error and no
uncaught exception; nothing fetched but the file itself; the four plots
present, sized and drawn; the table shows its first page and its search
finds KEY.  Saves a screenshot.  Prints the render time (navigation to the
load event plus the scripts' work, as the page reports it) and exits 1 on
the first failed check.
"""
import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

CHROMIUM = "/usr/bin/chromium"


class WebSocket:
    """Just enough of RFC 6455 for the DevTools protocol: text frames."""

    def __init__(self, url):
        m = re.match(r"ws://([^:/]+):(\d+)(/.*)", url)
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {m.group(3)} HTTP/1.1\r\nHost: {m.group(1)}:{m.group(2)}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("WebSocket handshake failed: " + head.decode(errors="replace"))

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise RuntimeError("DevTools connection closed")
            buf += chunk
        return buf

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            if b0 & 0x0F == 0x9:  # ping
                continue
            message += payload
            if b0 & 0x80:
                return message.decode()


class Page:
    def __init__(self, ws):
        self.ws, self.next_id, self.events = ws, 0, []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for e in self.events:
                if e.get("method") == method:
                    return e
            self.events.append(json.loads(self.ws.recv()))
        raise RuntimeError(f"timed out waiting for {method}")

    def js(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")


def fail(what):
    print(f"FAILED: {what}")
    sys.exit(1)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    report, shot = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    expect = int(argv[argv.index("--expect-groups") + 1]) if "--expect-groups" in argv else None
    search = argv[argv.index("--search") + 1] if "--search" in argv else None
    if not os.access(CHROMIUM, os.X_OK):
        fail(f"{CHROMIUM} is missing: install the Debian package chromium "
             "(debian-packages.txt lists it)")
    profile = tempfile.mkdtemp(prefix="herd-chromium-")
    proc = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                             "--no-first-run", "--disable-extensions", "--remote-debugging-port=0",
                             f"--user-data-dir={profile}", "--window-size=1400,1000",
                             "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        deadline = time.time() + 60
        while port is None and time.time() < deadline:
            line = proc.stderr.readline()
            m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if m:
                port = int(m.group(1))
            if not line and proc.poll() is not None:
                fail("chromium exited before it listened")
        if port is None:
            fail("chromium did not print its DevTools address")
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        page = Page(WebSocket(page_url))
        for domain in ("Runtime", "Log", "Network", "Page"):
            page.call(domain + ".enable")
        t0 = time.time()
        page.call("Page.navigate", url="file://" + report)
        page.wait_for("Page.loadEventFired", timeout=120)
        load_s = time.time() - t0
        # The scripts run before the load event; one more frame lays the page out.
        page.js("new Promise(r => requestAnimationFrame(() => r(1)))")
        render_s = time.time() - t0

        errors = [e for e in page.events if e.get("method") == "Runtime.exceptionThrown"
                  or (e.get("method") == "Runtime.consoleAPICalled"
                      and e["params"]["type"] in ("error", "assert"))
                  or (e.get("method") == "Log.entryAdded"
                      and e["params"]["entry"]["level"] == "error")]
        if errors:
            fail("console errors: " + json.dumps(errors)[:2000])
        print("ok: no console error and no uncaught exception")
        fetched = [e["params"]["request"]["url"] for e in page.events
                   if e.get("method") == "Network.requestWillBeSent"]
        foreign = [u for u in fetched if u != "file://" + report and not u.startswith("data:")]
        if foreign:
            fail("the report fetched: " + ", ".join(foreign))
        print("ok: nothing fetched but the report itself")

        for plot, drawn in (("decisions", "rect.bar"), ("scatter", "circle"),
                            ("deltas", "rect.bar"), ("timeline", "rect.bar")):
            box = page.js(f"(() => {{const r = document.getElementById('{plot}')"
                          ".getBoundingClientRect(); return [r.width, r.height, document."
                          f"querySelectorAll('#{plot} {drawn}').length];}})()")
            if box[0] < 200 or box[1] < 100:
                fail(f"plot {plot} is {box[0]}x{box[1]} px; expected at least 200x100")
            if box[2] < 1:
                fail(f"plot {plot} draws no {drawn}")
            print(f"ok: plot {plot} is {box[0]:.0f}x{box[1]:.0f} px with {box[2]} {drawn}")

        rows = page.js("document.querySelectorAll('#groups tbody tr').length")
        count = page.js("document.getElementById('count').textContent")
        if expect is not None and not count.startswith(f"{expect} of {expect} "):
            fail(f"the table says '{count}'; expected {expect} groups")
        if rows < 1 or rows > 100:
            fail(f"the table shows {rows} rows; expected 1..100 (one page)")
        print(f"ok: the table shows {rows} rows ({count})")
        if search:
            found = page.js(
                "(() => {const q = document.getElementById('search'); q.value = "
                + json.dumps(search) + "; q.dispatchEvent(new Event('input')); return "
                "[...document.querySelectorAll('#groups tbody tr')].map(r => "
                "r.firstChild.textContent);})()")
            if not found or any(search.lower() not in k.lower() for k in found):
                fail(f"searching '{search}' shows {found[:5]}")
            if search not in found:
                fail(f"searching '{search}' does not show the group {search}: {found[:5]}")
            none = page.js("(() => {const q = document.getElementById('search'); q.value = "
                           "'no such group \u0007'; q.dispatchEvent(new Event('input')); return "
                           "document.querySelectorAll('#groups tbody tr').length;})()")
            if none != 0:
                fail(f"a search matching nothing still shows {none} rows")
            print(f"ok: the search finds '{search}' ({len(found)} rows) and nothing for nonsense")
            page.js("(() => {const q = document.getElementById('search'); q.value = ''; "
                    "q.dispatchEvent(new Event('input'));})()")

        png = page.call("Page.captureScreenshot", format="png")["data"]
        with open(shot, "wb") as f:
            f.write(base64.b64decode(png))
        print(f"ok: screenshot saved to {shot}")
        size = os.path.getsize(report)
        print(f"report: {size} bytes, load {load_s:.3f} s, rendered {render_s:.3f} s")
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
