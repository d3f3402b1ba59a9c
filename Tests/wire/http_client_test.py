"""Python's http.client against a running HTTPCore server: the behaviour a real client sees.

Usage: python3 http_client_test.py PORT   (run by HTTPCoreTests.RealClientTests)
"""
import http.client
import socket
import sys
import unittest

PORT = int(sys.argv.pop(1)) if len(sys.argv) > 1 else 8080


class HTTPClientBehaviour(unittest.TestCase):
    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)

    def test_keep_alive_reuses_one_connection(self):
        conn = self.connection()
        ports = set()
        for name in ["a", "b", "c"]:
            conn.request("GET", f"/hello/{name}")
            response = conn.getresponse()
            self.assertEqual(response.status, 200)
            self.assertEqual(response.read(), f"hello {name}".encode())
            ports.add(conn.sock.getsockname()[1])
        self.assertEqual(len(ports), 1)
        conn.close()

    def test_head_has_no_body(self):
        conn = self.connection()
        conn.request("HEAD", "/hello/x")
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        self.assertEqual(response.getheader("Content-Length"), "7")
        self.assertEqual(response.read(), b"")
        conn.close()

    def test_chunked_upload_is_decoded(self):
        conn = self.connection()
        conn.request("POST", "/echo", body=iter([b"hello ", b"chunked ", b"world"]), encode_chunked=True)
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        self.assertEqual(response.read(), b"hello chunked world")
        conn.close()

    def test_binary_body_round_trips(self):
        body = bytes(range(256)) * 1000
        conn = self.connection()
        conn.request("POST", "/echo", body=body)
        response = conn.getresponse()
        self.assertEqual(response.read(), body)
        conn.close()

    def test_date_header_is_imf_fixdate(self):
        conn = self.connection()
        conn.request("GET", "/hello/x")
        response = conn.getresponse()
        response.read()
        from email.utils import parsedate_to_datetime
        self.assertIsNotNone(parsedate_to_datetime(response.getheader("Date")))
        self.assertTrue(response.getheader("Date").endswith(" GMT"))
        conn.close()

    def test_raw_malformed_request_gets_400_and_close(self):
        with socket.create_connection(("127.0.0.1", PORT), timeout=5) as sock:
            sock.sendall(b"GET /hello/x HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")
            data = b""
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 400 "), data)
        self.assertIn(b"Connection: close", data)

    def test_json_error_body_for_unknown_route(self):
        import json
        conn = self.connection()
        conn.request("GET", "/does/not/exist")
        response = conn.getresponse()
        self.assertEqual(response.status, 404)
        self.assertEqual(response.getheader("Content-Type"), "application/json")
        body = json.loads(response.read())
        self.assertEqual(body["error"], "not_found")
        conn.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
