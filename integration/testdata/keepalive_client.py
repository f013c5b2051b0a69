"""Sends N requests to hop's plaintext server over ONE http.client.HTTPConnection and
prints a JSON summary on stdout for the Go test to check.

usage: keepalive_client.py HOST PORT N

Every 10th request is a HEAD, every 5th (offset 2) a POST with a body that the server
must refuse with 405 and drain before reading the next request; the rest are GETs. Each response is checked
(status, body, framing fields) and the socket is compared with the first one, so a
reconnect shows up as same_socket < N.
"""
import http.client
import json
import sys


def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    conn = http.client.HTTPConnection(host, port, timeout=30)
    first_sock = None
    same_socket = 0
    local_ports = set()
    ok = 0
    errors = []
    methods = {"GET": 0, "HEAD": 0, "POST": 0}

    def fail(i, method, msg):
        if len(errors) < 10:
            errors.append("request %d (%s): %s" % (i, method, msg))

    for i in range(n):
        body = None
        if i % 10 == 9:
            method = "HEAD"
        elif i % 5 == 2:
            method = "POST"
            body = b"p" * (100 * i + 1)
        else:
            method = "GET"
        methods[method] += 1
        try:
            conn.request(method, "/py/%d?i=%d" % (i, i), body=body)
            resp = conn.getresponse()
            data = resp.read()
        except Exception as e:  # noqa: BLE001 - any failure is reported, not raised
            fail(i, method, "%s: %s" % (type(e).__name__, e))
            conn.close()
            continue
        # resp.read() closes the connection itself when the response asked for it, so
        # conn.sock is None here after a Connection: close.
        sock = conn.sock
        if first_sock is None:
            first_sock = sock
        if sock is not None and sock is first_sock:
            same_socket += 1
        if sock is not None:
            local_ports.add(sock.getsockname()[1])

        problems = []
        if resp.version != 11:
            problems.append("version %r" % resp.version)
        if resp.getheader("Server") != "hop":
            problems.append("Server %r" % resp.getheader("Server"))
        if not resp.getheader("Date"):
            problems.append("no Date")
        if resp.getheader("Connection") is not None:
            problems.append("Connection %r" % resp.getheader("Connection"))
        if method == "POST":
            if resp.status != 405:
                problems.append("status %d, want 405" % resp.status)
            if resp.getheader("Allow") != "GET, HEAD":
                problems.append("Allow %r" % resp.getheader("Allow"))
            if data != b"":
                problems.append("body %r, want empty" % data[:64])
        else:
            if resp.status != 200:
                problems.append("status %d, want 200" % resp.status)
            if resp.getheader("Content-Length") != "13":
                problems.append("Content-Length %r" % resp.getheader("Content-Length"))
            if resp.getheader("Content-Type") != "text/plain":
                problems.append("Content-Type %r" % resp.getheader("Content-Type"))
            want = b"" if method == "HEAD" else b"Hello, World!"
            if data != want:
                problems.append("body %r, want %r" % (data[:64], want))
        if problems:
            fail(i, method, "; ".join(problems))
        else:
            ok += 1
    conn.close()
    json.dump({
        "requests": n,
        "ok": ok,
        "same_socket": same_socket,
        "local_ports": sorted(local_ports),
        "methods": methods,
        "errors": errors,
    }, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
