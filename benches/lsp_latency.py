#!/usr/bin/env python3
"""Keystroke latency of `cnnscript lsp` on a 500-line script (stdlib only).

    python3 benches/lsp_latency.py target/release/cnnscript

Opens a generated 500-line file (LeNet-sized models, lets, shape questions,
asserts), then types 200 characters into a comment in its middle, one
incremental didChange each, waiting after each for the new diagnostics and
then asking for the screen's inlay hints, a hover and a completion. Prints
the median, 95th percentile and maximum of each, and how many diagnostics a
burst of 30 keystrokes sent at once produces (they are checked once)."""
import json
import statistics
import subprocess
import sys
import time


def script(lines=500):
    block = """# model {i}
model net{i}(x: Nx1x28x28) {{
  c1: conv(out=6, k=5, p=2)  sigmoid
  avgpool(k=2, s=2)
  conv(out=16, k=5)  sigmoid
  avgpool(k=2, s=2)
  flatten
  linear(out=120)  sigmoid
  linear(out=84)  sigmoid
  linear(out=10)
}}
summary net{i}
let X{i} = ones(2x1x28x28)
shape Nx3x32x32 -> conv(out=8, k=3, p=1) -> maxpool(k=2)
assert shape net{i} == Nx10"""
    out = []
    i = 0
    while len(out) + block.count("\n") + 1 <= lines:
        out += block.format(i=i).splitlines()
        i += 1
    out += ["let Z%d = ones(3x3)" % j for j in range(lines - len(out))]
    return "\n".join(out) + "\n"


class Server:
    def __init__(self, binary):
        self.p = subprocess.Popen([binary, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.next_id = 0

    def send(self, msg):
        msg["jsonrpc"] = "2.0"
        data = json.dumps(msg).encode()
        self.p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        self.p.stdin.flush()

    def recv(self):
        length = 0
        while True:
            line = self.p.stdout.readline().decode().strip()
            if not line:
                break
            name, value = line.split(":", 1)
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(self.p.stdout.read(length))

    def wait(self, pred):
        while True:
            m = self.recv()
            if pred(m):
                return m

    def request(self, method, params):
        self.next_id += 1
        i = self.next_id
        self.send({"id": i, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == i and "method" not in m)


def main():
    text = script()
    uri = "file:///tmp/latency.cnn"
    doc = {"uri": uri}
    s = Server(sys.argv[1])
    s.request("initialize", {"capabilities": {}})
    s.send({"method": "initialized", "params": {}})
    s.send({"method": "textDocument/didOpen",
            "params": {"textDocument": {"uri": uri, "languageId": "cnnscript", "version": 1, "text": text}}})
    published = lambda m: m.get("method") == "textDocument/publishDiagnostics"
    s.wait(published)
    line = text.count("\n") // 2
    while not text.split("\n")[line].startswith("summary"):
        line += 1
    col = len(text.split("\n")[line])
    typed = "  # typing in the middle of the file "
    times = {"didChange -> diagnostics": [], "inlayHint (60 lines)": [], "hover": [], "completion": []}
    version = 1
    for k in range(200):
        version += 1
        t0 = time.perf_counter()
        pos = {"line": line, "character": col + k}
        s.send({"method": "textDocument/didChange",
                "params": {"textDocument": {"uri": uri, "version": version},
                           "contentChanges": [{"range": {"start": pos, "end": pos}, "text": typed[k % len(typed)] if k < len(typed) else "x"}]}})
        s.wait(published)
        t1 = time.perf_counter()
        s.request("textDocument/inlayHint", {"textDocument": doc, "range": {
            "start": {"line": line - 30, "character": 0}, "end": {"line": line + 30, "character": 0}}})
        t2 = time.perf_counter()
        s.request("textDocument/hover", {"textDocument": doc, "position": {"line": line - 9, "character": 8}})
        t3 = time.perf_counter()
        s.request("textDocument/completion", {"textDocument": doc, "position": {"line": line - 9, "character": 8}})
        t4 = time.perf_counter()
        for name, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            times[name].append(dt * 1000)
    print("%d keystrokes in a %d-line file" % (200, text.count("\n")))
    for name, xs in times.items():
        xs.sort()
        print("  %-26s median %6.2f ms   p95 %6.2f ms   max %6.2f ms"
              % (name, statistics.median(xs), xs[int(len(xs) * 0.95)], xs[-1]))
    t0 = time.perf_counter()
    for k in range(30):
        version += 1
        pos = {"line": line, "character": col + 200 + k}
        s.send({"method": "textDocument/didChange",
                "params": {"textDocument": {"uri": uri, "version": version},
                           "contentChanges": [{"range": {"start": pos, "end": pos}, "text": "y"}]}})
    count = 0
    while True:
        m = s.wait(published)
        count += 1
        if m["params"].get("version") == version:
            break
    print("  a burst of 30 keystrokes: %d diagnostics published, the last after %.1f ms"
          % (count, (time.perf_counter() - t0) * 1000))
    s.request("shutdown", None)
    s.send({"method": "exit"})
    s.p.wait()


if __name__ == "__main__":
    main()
