"""HTTP/2 abuse against a running server, scripted with Python's h2 (hyperframe for raw frames).

Usage: /usr/bin/python3 h2_attacks.py PORT ATTACK   (run by HTTPCoreTests.HTTP2AbuseTests)

Each attack prints one JSON line: what the server did (GOAWAY and its error code, resets, bytes
received, whether it closed), and then whether a normal request on a new connection still got
its answer. The Swift test asserts on it.
"""
import json
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from hyperframe.frame import ContinuationFrame, HeadersFrame, PingFrame, SettingsFrame, WindowUpdateFrame
from hpack import Encoder

PORT = int(sys.argv[1])
ATTACK = sys.argv[2]
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def connect(timeout=5.0):
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def client(sock, settings=None):
    config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    if settings:
        conn.update_settings(settings)
    sock.sendall(conn.data_to_send())
    return conn


def request_headers(path="/hello/h2", method="GET"):
    return [(":method", method), (":scheme", "http"), (":authority", "127.0.0.1"), (":path", path)]


def read_events(sock, conn, seconds):
    """Reads until the server closes or `seconds` pass; returns (events, closed, bytes)."""
    events, received = [], 0
    deadline = time.time() + seconds
    sock.settimeout(0.2)
    while time.time() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return events, True, received
        if not data:
            return events, True, received
        received += len(data)
        try:
            events += conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            pass
        out = conn.data_to_send()
        if out:
            try:
                sock.sendall(out)
            except OSError:
                return events, True, received
    return events, False, received


def raw_frames(sock, deadline_seconds):
    """Reads raw bytes and decodes frame headers: [(type, flags, stream, payload)], closed."""
    buffer, frames, closed = b"", [], False
    deadline = time.time() + deadline_seconds
    sock.settimeout(0.2)
    while time.time() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            closed = True
            break
        if not data:
            closed = True
            break
        buffer += data
    while len(buffer) >= 9:
        length = int.from_bytes(buffer[0:3], "big")
        if len(buffer) < 9 + length:
            break
        frames.append((buffer[3], buffer[4], int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF, buffer[9:9 + length]))
        buffer = buffer[9 + length:]
    return frames, closed


def goaway_code(frames):
    for kind, _, _, payload in frames:
        if kind == 0x7 and len(payload) >= 8:
            return int.from_bytes(payload[4:8], "big")
    return None


def normal_request_works():
    sock = connect()
    conn = client(sock)
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, request_headers(), end_stream=True)
    sock.sendall(conn.data_to_send())
    body, status = b"", None
    deadline = time.time() + 5
    while time.time() < deadline:
        events, closed, _ = read_events(sock, conn, 0.3)
        for event in events:
            if isinstance(event, h2.events.ResponseReceived):
                status = dict(event.headers).get(":status")
            if isinstance(event, h2.events.DataReceived):
                body += event.data
            if isinstance(event, h2.events.StreamEnded):
                sock.close()
                return status == "200" and body == b"hello h2"
        if closed:
            break
    sock.close()
    return False


def hpack_bomb():
    # One big header indexed once, then referenced thousands of times: a few KB on the wire that
    # decode to megabytes.
    sock = connect()
    sock.sendall(PREFACE + SettingsFrame(0).serialize())
    encoder = Encoder()
    big = ("x-bomb", "b" * 4000)
    block = encoder.encode(request_headers() + [big])
    repeat = encoder.encode([big])  # now an index into the dynamic table: 1-2 bytes each
    block += repeat * 3000
    frame = HeadersFrame(1)
    frame.flags.add("END_HEADERS")
    frame.flags.add("END_STREAM")
    frame.data = block
    sock.sendall(frame.serialize())
    frames, closed = raw_frames(sock, 3)
    sock.close()
    return {"wire_bytes": len(block), "goaway": goaway_code(frames), "closed": closed}


def rapid_reset(count=10000):
    sock = connect()
    conn = client(sock)
    sent = 0
    closed = False
    for _ in range(count):
        try:
            stream = conn.get_next_available_stream_id()
            conn.send_headers(stream, request_headers("/delay/50"), end_stream=True)
            conn.reset_stream(stream)
            sent += 1
        except h2.exceptions.ProtocolError:
            break
        if sent % 100 == 0:
            try:
                sock.sendall(conn.data_to_send())
            except OSError:
                closed = True
                break
    try:
        sock.sendall(conn.data_to_send())
    except OSError:
        closed = True
    events, closed_later, _ = read_events(sock, conn, 3)
    sock.close()
    goaways = [e for e in events if isinstance(e, h2.events.ConnectionTerminated)]
    return {
        "resets_sent": sent,
        "goaway": goaways[0].error_code if goaways else None,
        "closed": closed or closed_later,
    }


def continuation_flood():
    sock = connect()
    sock.sendall(PREFACE + SettingsFrame(0).serialize())
    encoder = Encoder()
    block = encoder.encode(request_headers())
    headers = HeadersFrame(1)
    headers.flags.add("END_STREAM")
    headers.data = block
    sock.sendall(headers.serialize())
    try:
        for index in range(200):
            continuation = ContinuationFrame(1)
            continuation.data = encoder.encode([(f"x-c{index}", "v")])
            sock.sendall(continuation.serialize())
    except OSError:
        pass
    frames, closed = raw_frames(sock, 3)
    sock.close()
    return {"goaway": goaway_code(frames), "closed": closed}


def flood(kind):
    # SETTINGS or PING frames without ever reading the acknowledgements: up to 2 million frames
    # (18 MB), sent a thousand at a time, so that the acknowledgements outgrow any socket buffer
    # the kernel may autotune to (4 MB on loopback) and the server must face a client that does
    # not read (with 200 000 frames, whether they fit depended on timing).
    sock = connect()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(PREFACE + SettingsFrame(0).serialize())
    closed = False
    try:
        for batch in range(2000):
            chunk = bytearray()
            for index in range(batch * 1000, batch * 1000 + 1000):
                frame = SettingsFrame(0) if kind == "settings" else PingFrame(0)
                if kind == "ping":
                    frame.opaque_data = index.to_bytes(8, "big")
                chunk += frame.serialize()
            sock.sendall(chunk)
    except OSError:
        closed = True
    frames, closed_later = raw_frames(sock, 5)
    sock.close()
    return {"goaway": goaway_code(frames), "closed": closed or closed_later}


def window_zero():
    # Advertises a receive window of 0 and asks for large answers it will never take.
    sock = connect()
    conn = client(sock, {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    for _ in range(20):
        stream = conn.get_next_available_stream_id()
        conn.send_headers(stream, request_headers("/big/100000"), end_stream=True)
    sock.sendall(conn.data_to_send())
    start = time.time()
    events, closed, received = read_events(sock, conn, 8)
    sock.close()
    return {"closed": closed, "seconds": round(time.time() - start, 2), "bytes_received": received}


def oversized_body():
    sock = connect()
    conn = client(sock)
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, request_headers("/echo", "POST"))
    sock.sendall(conn.data_to_send())
    status, reset, sent = None, None, 0
    chunk = b"z" * 16000
    deadline = time.time() + 5
    while time.time() < deadline and status is None and reset is None:
        try:
            window = min(conn.local_flow_control_window(stream), conn.max_outbound_frame_size)
            if window > 0 and sent < 20_000_000:
                conn.send_data(stream, chunk[:window])
                sent += min(window, len(chunk))
            sock.sendall(conn.data_to_send())
        except (h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError, OSError):
            pass
        events, closed, _ = read_events(sock, conn, 0.05)
        for event in events:
            if isinstance(event, h2.events.ResponseReceived):
                status = dict(event.headers).get(":status")
            if isinstance(event, h2.events.StreamReset):
                reset = event.error_code
        if closed:
            break
    # The connection itself still serves another stream.
    other = conn.get_next_available_stream_id()
    conn.send_headers(other, request_headers(), end_stream=True)
    sock.sendall(conn.data_to_send())
    events, _, _ = read_events(sock, conn, 1)
    same_connection = any(isinstance(e, h2.events.ResponseReceived) and e.stream_id == other for e in events)
    sock.close()
    return {"status": status, "reset": reset, "body_bytes_sent": sent, "same_connection_serves": same_connection}


def too_many_streams():
    # More requests at once than the connection may have in flight (slow answers).
    sock = connect()
    conn = client(sock)
    for _ in range(150):
        stream = conn.get_next_available_stream_id()
        conn.send_headers(stream, request_headers("/delay/300"), end_stream=True)
    sock.sendall(conn.data_to_send())
    events, closed, _ = read_events(sock, conn, 3)
    sock.close()
    answered = sum(1 for e in events if isinstance(e, h2.events.ResponseReceived))
    refused = sum(1 for e in events if isinstance(e, h2.events.StreamReset))
    return {"answered": answered, "refused": refused, "closed": closed}


def slow_request_through_shutdown():
    # Not an attack: a request in flight when the server drains must still be answered, after a
    # GOAWAY that names it as processed.
    sock = connect()
    conn = client(sock)
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, request_headers("/delay/500"), end_stream=True)
    sock.sendall(conn.data_to_send())
    events, closed, _ = read_events(sock, conn, 4)
    sock.close()
    goaways = [e for e in events if isinstance(e, h2.events.ConnectionTerminated)]
    statuses = [dict(e.headers).get(":status") for e in events if isinstance(e, h2.events.ResponseReceived)]
    return {
        "goaway": goaways[0].error_code if goaways else None,
        "last_stream_id": goaways[0].last_stream_id if goaways else None,
        "statuses": statuses,
        "closed": closed,
    }


attacks = {
    "slow-request-through-shutdown": slow_request_through_shutdown,
    "hpack-bomb": hpack_bomb,
    "rapid-reset": rapid_reset,
    "continuation-flood": continuation_flood,
    "settings-flood": lambda: flood("settings"),
    "ping-flood": lambda: flood("ping"),
    "window-zero": window_zero,
    "oversized-body": oversized_body,
    "too-many-streams": too_many_streams,
}
result = attacks[ATTACK]()
if ATTACK != "slow-request-through-shutdown":
    result["normal_request_after"] = normal_request_works()
print(json.dumps(result))
