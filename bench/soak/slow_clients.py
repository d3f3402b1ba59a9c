"""Keeps N slow readers and N slow-body clients connected to a server for a soak run.

A slow reader pipelines many requests and reads almost nothing (4 KiB every few seconds); a
slow-body client declares a body and sends one byte every few seconds. Each one that the server
closes is counted (by kind) and replaced, so N of each keep pressing for the whole run.
Prints a JSON line with the counts when it gets SIGTERM.

    python3 slow_clients.py PORT N
"""
import json
import selectors
import signal
import socket
import sys
import time

port, count = int(sys.argv[1]), int(sys.argv[2])
selector = selectors.DefaultSelector()
closed = {"reader": 0, "body": 0}
opened = {"reader": 0, "body": 0}
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)


def open_client(kind):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Before connect, so the window the kernel advertises is small too: a reader that is slow in
    # its kernel as well, not only in its code.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    if kind == "reader":
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: soak\r\n\r\n" * 400)
    else:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: soak\r\nContent-Length: 100000\r\n\r\n{")
    sock.setblocking(False)
    selector.register(sock, selectors.EVENT_READ, {"kind": kind, "next": time.time() + 3})
    opened[kind] += 1


for kind in ("reader", "body"):
    for _ in range(count):
        open_client(kind)

while running:
    now = time.time()
    for key, _ in selector.select(timeout=0.5):
        state = key.data
        if state["kind"] == "reader" and now < state["next"]:
            continue  # a slow reader reads only now and then
        try:
            data = key.fileobj.recv(4096)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            data = b""
        state["next"] = now + 3
        if not data:
            selector.unregister(key.fileobj)
            key.fileobj.close()
            closed[state["kind"]] += 1
            if running:
                open_client(state["kind"])
    for key in list(selector.get_map().values()):
        state = key.data
        if state["kind"] == "body" and now >= state["next"]:
            state["next"] = now + 3
            try:
                key.fileobj.send(b" ")
            except OSError:
                pass

print(json.dumps({"opened": opened, "closed_by_server": closed}))
