"""chromium.py: drive Debian's headless Chromium from Python's standard
library, for the tests of the annotated reader (test_reader.py).

It speaks the DevTools protocol over --remote-debugging-pipe (file
descriptors 3 and 4, messages ending in a NUL byte): no port, no websocket
library, nothing downloaded. The flags below matter on small sandboxed
machines: no sandbox, no GPU, no QUIC, no first-run, no background network,
no component updates, no sync, and a new empty profile directory each time.

    with Browser() as b:
        b.goto("file:///.../index.html")
        b.eval("document.title")
        b.screenshot("tests/out/x.png", width=1400, height=900)
"""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
         "--mute-audio", "--remote-debugging-pipe"]


def find_chromium():
    for name in ("chromium", "chromium-browser"):
        p = shutil.which(name)
        if p:
            return p
    return None


class BrowserError(Exception):
    pass


class Browser:
    def __init__(self, timeout=30):
        self.timeout = timeout
        self.exe = find_chromium()
        if self.exe is None:
            raise BrowserError("chromium is not installed: run `sh scripts/setup.sh`")
        self.profile = tempfile.mkdtemp(prefix="reader-chromium-")
        to_child_r, self._to_child = os.pipe()      # we write, it reads on fd 3
        self._from_child, from_child_w = os.pipe()  # it writes on fd 4

        def fds():
            # (copied high first, so that neither lands on the other's place)
            a = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)
        self.log = tempfile.TemporaryFile()         # its chatter; read on failure
        self.proc = subprocess.Popen(
            [self.exe] + FLAGS + ["--user-data-dir=" + self.profile, "about:blank"],
            pass_fds=(3, 4), preexec_fn=fds,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events = []
        self.session = None
        try:
            self._attach()
        except Exception:
            self.close()
            raise

    # ---- the protocol ----
    def _send(self, method, params=None, session=True):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        return self._id

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.time()
            if left <= 0:
                raise BrowserError("chromium did not answer in %d s" % self.timeout)
            r, _, _ = select.select([self._from_child], [], [], left)
            if not r:
                continue
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                self.log.seek(0)
                err = self.log.read().decode(errors="replace")
                raise BrowserError("chromium closed the pipe\n" + err[-2000:])
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, session=True):
        want = self._send(method, params, session)
        deadline = time.time() + self.timeout
        while True:
            msg = self._read_message(deadline)
            if msg.get("id") == want:
                if "error" in msg:
                    raise BrowserError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method, timeout=None):
        deadline = time.time() + (timeout or self.timeout)
        for i, ev in enumerate(self.events):
            if ev["method"] == method:
                del self.events[:i + 1]
                return ev
        while True:
            msg = self._read_message(deadline)
            if msg.get("method") == method:
                return msg
            if "method" in msg:
                self.events.append(msg)

    def _attach(self):
        targets = self.call("Target.getTargets", session=False)["targetInfos"]
        pages = [t for t in targets if t["type"] == "page"]
        if pages:
            tid = pages[0]["targetId"]
        else:
            tid = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": tid, "flatten": True},
                                 session=False)["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.size(1400, 900)

    # ---- what a test uses ----
    def size(self, width, height):
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def goto(self, url):
        self.events.clear()
        r = self.call("Page.navigate", {"url": url})
        if r.get("errorText"):
            raise BrowserError("%s: %s" % (url, r["errorText"]))
        if r.get("loaderId"):
            self.wait_event("Page.loadEventFired")
            # The load event of the page before (a click that navigated,
            # say) may still have been on its way and be the one just
            # seen: the new page is there once the address is the one
            # asked for and its document has finished loading.
            deadline = time.time() + self.timeout
            while time.time() < deadline:
                try:
                    if (self.eval("location.href").split("#")[0] == url.split("#")[0] and
                            self.eval("document.readyState") == "complete"):
                        break
                except BrowserError:
                    pass            # asked in the middle of the navigation: ask again
                time.sleep(0.05)
        else:
            time.sleep(0.3)     # only the #fragment changed: no new document

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise BrowserError("in the page: %s\n%s" % (r["exceptionDetails"].get("text"), expr))
        return r["result"].get("value")

    def click(self, selector_js, navigate=True):
        """Click the element the JavaScript expression gives, the way a
        person does (a mouse press at its middle); with navigate, wait for
        the address to change and the page to load. Returns the address."""
        box = self.eval("(function(){var e=%s; if(!e) return null; e.scrollIntoView({block:'center'});"
                        "var r=e.getBoundingClientRect(); return [r.left+r.width/2, r.top+r.height/2];})()"
                        % selector_js)
        if box is None:
            raise BrowserError("nothing to click: " + selector_js)
        before = self.eval("location.href")
        self.events.clear()
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1],
                                                   "button": "left", "clickCount": 1})
        deadline = time.time() + (self.timeout if navigate else 0)
        while time.time() < deadline:
            try:
                href = self.eval("location.href")
                if href != before and self.eval("document.readyState") == "complete":
                    break
            except BrowserError:
                pass            # asked in the middle of the navigation: ask again
            time.sleep(0.05)
        time.sleep(0.2)      # let the page's own script run (it opens lists, scrolls)
        return self.eval("location.href")

    def type_text(self, text):
        self.call("Input.insertText", {"text": text})

    def screenshot(self, path, width=1400, height=900, full=False):
        self.size(width, height)
        params = {"format": "png"}
        if full:
            h = self.eval("document.documentElement.scrollHeight")
            self.size(width, min(int(h), 6000))
        data = self.call("Page.captureScreenshot", params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        self.size(1400, 900)

    def close(self):
        try:
            if self.proc.poll() is None:
                try:
                    self._send("Browser.close", session=False)
                    self.proc.wait(timeout=5)
                except Exception:
                    pass
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=5)
        finally:
            for fd in (self._to_child, self._from_child):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self.profile, ignore_errors=True)
            self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
