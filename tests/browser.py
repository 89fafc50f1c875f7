"""Headless Chromium for the page tests, driven over the DevTools protocol on a pipe (--remote-debugging-pipe):
no websocket, no selenium, only the standard library. ``Browser.find()`` is None where Chromium is absent.

    with Browser() as browser:
        page = browser.open("file:///tmp/x.html")
        page.evaluate("document.title"); page.click(x, y); page.screenshot(); page.errors
"""

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe", "--window-size=1280,900", "--hide-scrollbars", "--mute-audio")


class Browser:
    def __init__(self, timeout=60):
        executable = self.find()
        if executable is None:
            raise RuntimeError("no Chromium found")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="cnncalc-chromium-")
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4; move the pipe ends out of the way first
        high_in = fcntl.fcntl(to_child, fcntl.F_DUPFD, 10)
        high_out = fcntl.fcntl(from_child, fcntl.F_DUPFD, 10)
        os.close(to_child)
        os.close(from_child)

        def child():
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        self.process = subprocess.Popen([executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                        preexec_fn=child, pass_fds=(3, 4), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(high_in)
        os.close(high_out)
        self._buffer = b""
        self._id = 0
        self.events = []

    @staticmethod
    def find():
        """The path of a Chromium (CNNCALC_CHROMIUM, else the usual names on PATH), or None."""
        named = os.environ.get("CNNCALC_CHROMIUM")
        if named:
            return named if os.path.exists(named) else None
        for name in CANDIDATES:
            found = shutil.which(name)
            if found:
                return found
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for handle in (self._read, self._write):
            try:
                os.close(handle)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def send(self, method, params=None, session=None):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._next()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _next(self):
        import select

        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise EOFError("Chromium closed the pipe")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def wait_for(self, method, session, seconds=30):
        """The first event ``method`` of ``session`` (already received or still to come)."""
        deadline = time.monotonic() + seconds
        while True:
            for event in self.events:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method}")
            self.events.append(self._next())

    def open(self, url, javascript=True):
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.send(f"{domain}.enable", session=session)
        if not javascript:
            self.send("Emulation.setScriptExecutionDisabled", {"value": True}, session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired", session)
        return page


class Page:
    def __init__(self, browser, session):
        self.browser = browser
        self.session = session

    def send(self, method, params=None):
        return self.browser.send(method, params, self.session)

    def evaluate(self, expression):
        """The value of a JavaScript expression (run even where the page's own scripts are disabled)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, x, y):
        """A real left click of the mouse at viewport point (x, y)."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def hover(self, x, y):
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})

    def centre(self, selector):
        """Scroll the first element matching ``selector`` into view; its centre in the viewport."""
        box = self.evaluate(f"(function(){{var e=document.querySelector({json.dumps(selector)});"
                            f"e.scrollIntoView({{block:'center'}});var r=e.getBoundingClientRect();"
                            f"return [r.left + r.width / 2, r.top + r.height / 2];}})()")
        return box

    def screenshot(self, full=False):
        params = {"format": "png"}
        if full:
            params["captureBeyondViewport"] = True
        return base64.b64decode(self.send("Page.captureScreenshot", params)["data"])

    def _events(self, method):
        return [e["params"] for e in self.browser.events
                if e.get("method") == method and e.get("sessionId") == self.session]

    @property
    def errors(self):
        """Console errors, uncaught exceptions and error log entries (a blocked or failed load among them)."""
        found = [" ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
                 for p in self._events("Runtime.consoleAPICalled") if p["type"] in ("error", "assert")]
        found += [p["exceptionDetails"].get("text", "") + " " + str(p["exceptionDetails"].get("exception", {})
                                                                    .get("description", ""))
                  for p in self._events("Runtime.exceptionThrown")]
        found += [p["entry"]["text"] for p in self._events("Log.entryAdded") if p["entry"]["level"] == "error"]
        return found

    @property
    def requests(self):
        """Every URL the page asked for (the page itself first)."""
        return [p["request"]["url"] for p in self._events("Network.requestWillBeSent")]
