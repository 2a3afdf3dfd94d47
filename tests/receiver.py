#!/usr/bin/env python3
"""A scripted loopback HTTPS receiver that plays the funder in tests.

It listens on 127.0.0.1 on an ephemeral port, prints "PORT <n>" on stdout
once it accepts connections, and answers request number i with step i of
a JSON script (a list; requests beyond it get 500 "script exhausted"):

    {"status": 200, "headers": {"X-Receipt": "R-1"}, "body": "text"}
    {"status": 503, "headers": {"Retry-After": "7"}}
    {"status": 200, "body_bytes": 5000000}   a long body of 'x'
    {"sleep": 10, "status": 200}             think longer than the client waits
    {"drop": true}                           read the request, then close: reply lost
    {"reset": true}                          read the request, then reset the connection (RST)
    {"trickle": 1.0, "status": 200, "body": "text"}
                                             the whole reply (status line, headers, body)
                                             one byte per `trickle` seconds

Every request is logged as one JSON line before it is answered:
    {"event": "request", "n": 0, "method": "POST", "path": "/inbox",
     "headers": [[name, value], ...], "body_len": 10, "body_sha256": "...",
     "client_cn": "..." or null, "key": Idempotency-Key value or null}
and every failed TLS handshake as {"event": "tls_error", "error": "..."},
so a test can show that no byte of a document reached a refused peer.

Instead of a script, --chaos '{"seed": 7, "sleep": [0, 0.6], "drop": 0.2,
"retry": 0.1}' plays an idempotent funder with bad manners (tests/it_faults.py):
each request is decided by a random source seeded with (seed, key, how often
the key came before), so the same run makes the same decisions whatever the
order of the requests. The document is accepted first (a key seen with
another body gets 422, never a second acceptance), then the receiver thinks
for a while (`sleep`: uniform seconds), then with probability `drop` it
closes without a reply (the reply is lost: it has the document), with
`retry` it answers 503 Retry-After: 1 and forgets it, otherwise 201 with a
receipt; a key that was accepted before gets the same receipt again
("Idempotent-Replayed: true"). Each decision is logged after the request:
    {"event": "reply", "n": 0, "key": "...", "outcome": "accepted" | "replayed"
     | "retry" | "conflict", "receipt": "..." or null, "dropped": true | false}
("accepted" is the first acceptance of a key; "dropped": its reply is lost.)

    receiver.py --cert server.pem --key server.key (--script script.json | --chaos JSON)
                --log log.jsonl [--client-ca ca.pem [--require-client-cert]]

Only the python3 standard library (http.server, ssl).
"""
import argparse
import hashlib
import http.server
import json
import random
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, ctx, script, log_path, chaos=None):
        self.ctx = ctx
        self.script = script
        self.chaos = chaos
        self.seen = {}      # chaos: key -> how many requests carried it
        self.accepted = {}  # chaos: key -> (body sha256, receipt)
        self.log_file = open(log_path, 'a', encoding='utf-8')
        self.lock = threading.Lock()
        self.count = 0
        super().__init__(('127.0.0.1', 0), Handler)

    def log_event(self, entry):
        with self.lock:
            self.log_file.write(json.dumps(entry) + '\n')
            self.log_file.flush()

    def next_step(self):
        with self.lock:
            n = self.count
            self.count += 1
        if n < len(self.script):
            return n, self.script[n]
        return n, {'status': 500, 'body': 'script exhausted'}

    def chaos_step(self, key, sha):
        """Decide a chaos request (see the module's doc): (step, outcome, receipt, dropped)."""
        c = self.chaos
        with self.lock:
            k = key or ''
            occurrence = self.seen.get(k, 0)
            self.seen[k] = occurrence + 1
            rng = random.Random('%s:%s:%d' % (c.get('seed', 0), k, occurrence))
            lo, hi = c.get('sleep', [0, 0])
            sleep = rng.uniform(lo, hi)
            roll = rng.random()
            before = self.accepted.get(k)
            if before and before[0] != sha:
                return ({'status': 422, 'body': 'Idempotency-Key reused with another body'},
                        'conflict', None, False)
            dropped = roll < c.get('drop', 0)
            if c.get('drop', 0) <= roll < c.get('drop', 0) + c.get('retry', 0):
                return ({'sleep': sleep, 'status': 503, 'headers': {'Retry-After': '1'},
                         'body': 'busy'}, 'retry', None, False)
            outcome = 'replayed' if before else 'accepted'
            if not before:
                before = (sha, 'receipt %d for %s' % (len(self.accepted) + 1, k))
                self.accepted[k] = before
            if dropped:
                return {'sleep': sleep, 'drop': True}, outcome, before[1], True
            headers = {'X-Receipt': before[1]}
            if outcome == 'replayed':
                headers['Idempotent-Replayed'] = 'true'
            return ({'sleep': sleep, 'status': 201, 'headers': headers, 'body': before[1]},
                    outcome, before[1], False)

    def finish_request(self, request, client_address):
        # the handshake runs in the connection's own thread, bounded
        request.settimeout(30)
        try:
            conn = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.log_event({'event': 'tls_error', 'error': str(e)})
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            try:
                conn.close()
            except OSError:
                pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        sys.stderr.write('receiver: %s\n' % (format % args))

    def client_cn(self):
        cert = self.connection.getpeercert()
        for rdn in (cert or {}).get('subject', ()):
            for key, value in rdn:
                if key == 'commonName':
                    return value
        return None

    def handle_any(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        sha = hashlib.sha256(body).hexdigest()
        key = self.headers.get('Idempotency-Key')
        n, step = self.server.next_step()
        self.server.log_event({
            'event': 'request', 'n': n, 'method': self.command, 'path': self.path,
            'headers': [[k, v] for k, v in self.headers.items()],
            'body_len': len(body), 'body_sha256': sha,
            'client_cn': self.client_cn(), 'key': key,
        })
        if self.server.chaos is not None:
            step, outcome, receipt, dropped = self.server.chaos_step(key, sha)
            self.server.log_event({'event': 'reply', 'n': n, 'key': key, 'outcome': outcome,
                                   'receipt': receipt, 'dropped': dropped})
        if step.get('sleep'):
            time.sleep(float(step['sleep']))
        if step.get('drop'):
            self.close_connection = True
            return
        if step.get('reset'):
            # SO_LINGER 0: close() sends RST instead of FIN (and no TLS close_notify)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack('ii', 1, 0))
            self.close_connection = True
            return
        body_bytes = step.get('body_bytes')
        payload = step.get('body', '').encode('utf-8')
        size = body_bytes if body_bytes is not None else len(payload)
        try:
            if step.get('trickle'):
                self.trickle(step, payload if body_bytes is None else b'x' * size)
                self.close_connection = True
                return
            self.send_response(int(step.get('status', 200)))
            for k, v in step.get('headers', {}).items():
                self.send_header(k, v)
            self.send_header('Content-Length', str(size))
            self.send_header('Connection', 'close')
            self.end_headers()
            if body_bytes is None:
                self.wfile.write(payload)
            else:
                chunk = b'x' * 65536
                left = body_bytes
                while left > 0:
                    self.wfile.write(chunk[:min(left, len(chunk))])
                    left -= min(left, len(chunk))
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass  # the client stopped reading: that is what some tests want
        self.close_connection = True

    def trickle(self, step, body):
        head = ['HTTP/1.1 %d Trickle' % int(step.get('status', 200))]
        head += ['%s: %s' % kv for kv in step.get('headers', {}).items()]
        head += ['Content-Length: %d' % len(body), 'Connection: close', '', '']
        for i, byte in enumerate('\r\n'.join(head).encode('latin-1') + body):
            if i:
                time.sleep(float(step['trickle']))
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

    do_POST = do_GET = do_PUT = handle_any


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--cert', required=True)
    ap.add_argument('--key', required=True)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument('--script')
    mode.add_argument('--chaos', help='JSON: seed, sleep [lo, hi], drop, retry')
    ap.add_argument('--log', required=True)
    ap.add_argument('--client-ca')
    ap.add_argument('--require-client-cert', action='store_true')
    args = ap.parse_args()

    script, chaos = [], None
    if args.script:
        with open(args.script, encoding='utf-8') as f:
            script = json.load(f)
    else:
        chaos = json.loads(args.chaos)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        ctx.load_verify_locations(args.client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if args.require_client_cert else ssl.CERT_OPTIONAL
    server = Server(ctx, script, args.log, chaos)
    print('PORT %d' % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
