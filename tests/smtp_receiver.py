#!/usr/bin/env python3
"""A tiny SMTP receiver that plays the mail server in tests (RFC 5321, the
few commands libcurl sends: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT).

It listens on 127.0.0.1 (an ephemeral port, or --port to come back on the
same one after being "down"), prints "PORT <n>" on stdout once it accepts
connections, and stores every accepted message in --dir:

    msg-0001.eml    the message as the client meant it: the DATA lines with
                    the transparency dot removed (RFC 5321 4.5.2), CRLF kept
    msg-0001.json   {"mail_from": "...", "rcpt": [...], "bare_lf": false,
                     "stuffed_lines": n}   (bare_lf: a line ended in LF alone)

and logs every command as a JSON line in --dir/log.jsonl.

What it answers is read from --dir/control.json at each command (so a test
can change it while the receiver runs); without the file it accepts all:

    {"refuse": {"at": "rcpt", "code": 550, "text": "5.1.1 no such mailbox"}}

"at" is one of greeting, mail, rcpt, data (the reply to DATA) or end (the
reply after the message). --tls-cert/--tls-key make it smtps:// (TLS from
the first byte). Only the python3 standard library (socketserver, ssl).

    smtp_receiver.py --dir DIR [--port N] [--tls-cert C --tls-key K]
"""
import argparse
import json
import os
import socketserver
import ssl
import threading


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, folder, port, ctx):
        self.folder = folder
        self.ctx = ctx
        self.lock = threading.Lock()
        super().__init__(('127.0.0.1', port), Handler)

    def control(self):
        try:
            with open(os.path.join(self.folder, 'control.json'), encoding='utf-8') as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def log(self, entry):
        with self.lock:
            with open(os.path.join(self.folder, 'log.jsonl'), 'a', encoding='utf-8') as f:
                f.write(json.dumps(entry) + '\n')

    def store(self, mail_from, rcpt, data, bare_lf, stuffed):
        with self.lock:
            n = 1 + len([f for f in os.listdir(self.folder) if f.endswith('.eml')])
            base = os.path.join(self.folder, 'msg-%04d' % n)
            with open(base + '.json', 'w', encoding='utf-8') as f:
                json.dump({'mail_from': mail_from, 'rcpt': rcpt, 'bare_lf': bare_lf,
                           'stuffed_lines': stuffed}, f)
            with open(base + '.eml.tmp', 'wb') as f:
                f.write(data)
            os.rename(base + '.eml.tmp', base + '.eml')  # a reader never sees half of one
            return n

    def get_request(self):
        sock, addr = super().get_request()
        if self.ctx:
            sock.settimeout(30)
            sock = self.ctx.wrap_socket(sock, server_side=True)
        return sock, addr


class Handler(socketserver.StreamRequestHandler):
    timeout = 60

    def send(self, text):
        self.wfile.write(text.encode('ascii') + b'\r\n')
        self.wfile.flush()

    def refused(self, at):
        r = self.server.control().get('refuse')
        if r and r.get('at') == at:
            self.send('%d %s' % (int(r.get('code', 550)), r.get('text', 'refused by the test')))
            return True
        return False

    def handle(self):
        self.server.log({'event': 'connect'})
        if self.refused('greeting'):
            return
        self.send('220 trajectd-test ESMTP')
        mail_from, rcpt = None, []
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            cmd = line.rstrip(b'\r\n').decode('ascii', 'replace')
            verb = cmd.split(' ', 1)[0].upper()
            self.server.log({'event': 'command', 'line': cmd})
            if verb == 'EHLO':
                self.wfile.write(b'250-trajectd-test\r\n250-8BITMIME\r\n250 SIZE 10000000\r\n')
                self.wfile.flush()
            elif verb == 'HELO':
                self.send('250 trajectd-test')
            elif verb == 'MAIL':
                if not self.refused('mail'):
                    mail_from, rcpt = cmd[cmd.find(':') + 1:].strip().split(' ')[0], []
                    self.send('250 OK')
            elif verb == 'RCPT':
                if not self.refused('rcpt'):
                    rcpt.append(cmd[cmd.find(':') + 1:].strip())
                    self.send('250 OK')
            elif verb == 'DATA':
                if not rcpt:
                    self.send('503 RCPT first')
                elif not self.refused('data'):
                    self.send('354 end with <CRLF>.<CRLF>')
                    self.data(mail_from, rcpt)
                    mail_from, rcpt = None, []
            elif verb == 'RSET':
                mail_from, rcpt = None, []
                self.send('250 OK')
            elif verb == 'NOOP':
                self.send('250 OK')
            elif verb == 'QUIT':
                self.send('221 bye')
                return
            else:
                self.send('502 not implemented')

    def data(self, mail_from, rcpt):
        chunks, bare_lf, stuffed = [], False, 0
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return
            if line == b'.\r\n':
                break
            if not line.endswith(b'\r\n'):
                bare_lf = True
            if line.startswith(b'.'):
                line = line[1:]  # transparency (RFC 5321 4.5.2)
                stuffed += 1
            chunks.append(line)
        if self.refused('end'):
            return
        n = self.server.store(mail_from, rcpt, b''.join(chunks), bare_lf, stuffed)
        self.send('250 OK queued as %d' % n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--dir', required=True)
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--tls-cert')
    ap.add_argument('--tls-key')
    args = ap.parse_args()
    ctx = None
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
    os.makedirs(args.dir, exist_ok=True)
    server = Server(args.dir, args.port, ctx)
    print('PORT %d' % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
