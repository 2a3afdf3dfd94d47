"""Delivery to the funder (formats.md; docs/delivery.md), end to end.

Each test drives tests/deliver_probe ($DELIVER_PROBE), which delivers one
file through libtraject's delivery API and prints the outcome as JSON,
against tests/receiver.py (a scripted loopback HTTPS server that logs every
request) or a folder. Certificates are made at test time with the openssl
command line: a private CA, a server certificate for 127.0.0.1/localhost,
one for another host, a self-signed one and a client certificate.
No database is needed: the tests use tjtest's TAP output and assertions
but skip its per-test database.
"""
import atexit
import base64
import email.utils
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tjtest  # noqa: E402

PROBE = os.environ.get('DELIVER_PROBE', 'deliver_probe')
RECEIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'receiver.py')
GRANT, REPORT = 'OV-2011-AMB-01', '2011-Q3'
XML = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
       b'<report xmlns="urn:trajectd:report:1" schemaVersion="1"><grant id="OV-2011-AMB-01"/>'
       b'</report>\n')


class DeliveryTest(tjtest.Test):
    """tjtest.Test without the database: delivery needs none."""

    def __init__(self, name):  # noqa: super().__init__ would create a database
        self.name = name
        self.checks = 0
        self.tmp = tempfile.mkdtemp(prefix='tjdeliver-')

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def eq(self, got, want, what, detail=None):
        """tjtest's eq, plus what to show (the probe's whole output) on failure."""
        self.checks += 1
        if got != want:
            raise tjtest.Failure('%s\n   got: %r\n  want: %r%s' % (
                what, got, want, '' if detail is None else '\n%s' % (detail,)))


tjtest.Test = DeliveryTest


# --- certificates (made once per run) ------------------------------------
class Certs:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='tjcerts-')
        self.ca = self.path('ca.pem')
        self.openssl('req', '-x509', *self.ec(), '-keyout', self.path('ca.key'), '-out', self.ca,
                     '-days', '2', '-subj', '/CN=trajectd test CA',
                     '-addext', 'basicConstraints=critical,CA:TRUE',
                     '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
        self.server = self.signed('server', '/CN=localhost',
                                  'subjectAltName=IP:127.0.0.1,DNS:localhost\n'
                                  'extendedKeyUsage=serverAuth')
        self.wrong_host = self.signed('wrong', '/CN=wrong.example',
                                      'subjectAltName=DNS:wrong.example\n'
                                      'extendedKeyUsage=serverAuth')
        self.client = self.signed('client', '/CN=trajectd-test-client',
                                  'extendedKeyUsage=clientAuth')
        key = self.path('self.key')
        pem = self.path('self.pem')
        self.openssl('req', '-x509', *self.ec(), '-keyout', key, '-out', pem, '-days', '2',
                     '-subj', '/CN=localhost',
                     '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost')
        self.self_signed = (pem, key)

    def path(self, name):
        return os.path.join(self.dir, name)

    @staticmethod
    def ec():
        return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

    @staticmethod
    def openssl(*args):
        p = subprocess.run(['openssl', *args], capture_output=True, text=True)
        if p.returncode != 0:
            raise tjtest.Failure('openssl %s failed:\n%s' % (args[0], p.stderr))

    def signed(self, name, subject, ext):
        key, csr, pem, extfile = (self.path(name + s) for s in ('.key', '.csr', '.pem', '.ext'))
        with open(extfile, 'w') as f:
            f.write('basicConstraints=CA:FALSE\n' + ext + '\n')
        self.openssl('req', '-new', *self.ec(), '-keyout', key, '-out', csr, '-subj', subject)
        self.openssl('x509', '-req', '-in', csr, '-CA', self.ca, '-CAkey', self.path('ca.key'),
                     '-set_serial', '0x' + os.urandom(8).hex(), '-days', '2', '-out', pem,
                     '-extfile', extfile)
        return pem, key


CERTS = None


def certs():
    global CERTS
    if CERTS is None:
        CERTS = Certs()
        atexit.register(shutil.rmtree, CERTS.dir, True)
    return CERTS


# --- the receiver ------------------------------------------------------------
class Receiver:
    def __init__(self, t, script, cert=None, client_ca=None, require_client_cert=False):
        cert = cert or certs().server
        self.t = t
        n = len([f for f in os.listdir(t.tmp) if f.startswith('log')])
        self.log_path = os.path.join(t.tmp, 'log%d.jsonl' % n)
        script_path = os.path.join(t.tmp, 'script%d.json' % n)
        with open(script_path, 'w') as f:
            json.dump(script, f)
        args = [sys.executable, RECEIVER, '--cert', cert[0], '--key', cert[1],
                '--script', script_path, '--log', self.log_path]
        if client_ca:
            args += ['--client-ca', client_ca]
        if require_client_cert:
            args.append('--require-client-cert')
        self.stderr = open(os.path.join(t.tmp, 'receiver%d.err' % n), 'w')
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r'PORT (\d+)', line)
        if not m:
            self.stop()
            raise tjtest.Failure('the receiver did not start: %r' % line)
        self.port = int(m.group(1))
        self.url = 'https://127.0.0.1:%d/inbox' % self.port

    def entries(self, event='request'):
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path) as f:
            return [e for e in map(json.loads, f) if e['event'] == event]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def header(entry, name):
    values = [v for k, v in entry['headers'] if k.lower() == name.lower()]
    return values[-1] if values else None


# --- the probe ---------------------------------------------------------------
class Probe:
    def __init__(self, proc, seconds):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.seconds = seconds
        self.res = json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout else None

    def __getitem__(self, k):
        return self.res[k]

    def __repr__(self):
        return 'rc=%d (%.2f s)\nstdout:\n%s\nstderr:\n%s' % (self.rc, self.seconds, self.out,
                                                            self.err)


def probe(t, url, body=XML, *extra, ca=True, grant=GRANT, report=REPORT, version=1, fmt='xml',
          preexec=None, body_path=None):
    if body_path is None:
        body_path = os.path.join(t.tmp, 'body-%s' % hashlib.sha256(body).hexdigest()[:12])
        with open(body_path, 'wb') as f:
            f.write(body)
    args = [PROBE, '--url', url, '--body', body_path, '--grant', grant, '--report', report,
            '--version', str(version), '--format', fmt]
    if ca:
        args += ['--ca', certs().ca]
    args += [str(a) for a in extra]
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ('http_proxy', 'https_proxy', 'all_proxy', 'no_proxy')}
    start = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, env=env, preexec_fn=preexec,
                          timeout=120)
    return Probe(proc, time.monotonic() - start)


def expected_key(body, grant=GRANT, report=REPORT, version=1, fmt='xml'):
    joined = 'tj1\n%s\n%s\n%d\n%s\n%s' % (grant, report, version, fmt,
                                          hashlib.sha256(body).hexdigest())
    return 'tj1-' + hashlib.sha256(joined.encode()).hexdigest()


def expected_digest(body):
    return 'sha-256=:%s:' % base64.b64encode(hashlib.sha256(body).digest()).decode()


def one_line(data, limit):
    """What the library quotes of a reply: limit bytes, control bytes as spaces."""
    text = ''.join(' ' if ord(c) < 0x20 or ord(c) == 0x7f else c for c in data[:limit])
    return text.rstrip(' ')


# --- HTTPS -------------------------------------------------------------------
def test_https_2xx_receipt(t):
    script = [{'status': 201, 'headers': {'X-Receipt': 'R-42'}, 'body': '{"receipt":"R-42"}'}]
    with Receiver(t, script) as rcv:
        p = probe(t, rcv.url)
        log = rcv.entries()
    t.ok(p.rc == 0, 'the probe ran', p)
    t.eq(p['outcome'], 'delivered', 'a 2xx is a delivery')
    t.eq(p['status'], 201, 'the receipt keeps the status')
    t.ok(re.search(r'^X-Receipt: R-42\r$', p['headers'], re.M) is not None,
         'the receipt keeps the response headers', p['headers'])
    t.ok(p['headers'].startswith('HTTP/1.1 201'), 'headers start with the status line',
         p['headers'])
    t.eq(p['body'], '{"receipt":"R-42"}', 'the receipt keeps the body')
    t.eq(p['body_len'], 18, 'body length')
    t.eq(p['body_truncated'], False, 'body complete')
    t.ok(re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z', p['at']) is not None,
         'the receipt time is an ISO 8601 UTC timestamp', p['at'])
    t.ok(abs(p['at_us'] / 1e6 - time.time()) < 60, 'and it is now', p['at_us'])
    t.eq(p['retry_after'], -1, 'no Retry-After')
    t.eq(p['error'], '', 'no error text')
    t.eq(p['alert'], False, 'no alert')

    t.eq(len(log), 1, 'the receiver saw one request')
    e = log[0]
    t.eq((e['method'], e['path']), ('POST', '/inbox'), 'a POST to the configured path')
    t.eq(header(e, 'Content-Type'), 'application/xml; charset=utf-8', 'XML content type')
    t.eq(header(e, 'Idempotency-Key'), '"%s"' % expected_key(XML),
         'Idempotency-Key: the documented derivation, as a structured-field string')
    t.eq(p['idempotency_key'], expected_key(XML), 'the probe reports the same key')
    t.eq(header(e, 'Content-Digest'), expected_digest(XML), 'Content-Digest (RFC 9530 sha-256)')
    t.ok(re.fullmatch(r'trajectd/\d+\.\d+\.\d+', header(e, 'User-Agent') or '') is not None,
         'User-Agent: trajectd/<version>', header(e, 'User-Agent'))
    t.eq(header(e, 'Expect'), None, 'no Expect: 100-continue round trip')
    t.eq(e['body_sha256'], hashlib.sha256(XML).hexdigest(), 'the body arrived unchanged')
    t.eq(e['body_len'], len(XML), 'the whole body arrived')


def test_https_json_new_version_new_key(t):
    doc = b'{"grant":{"id":"OV-2011-AMB-01"},"report":{"version":2}}'
    with Receiver(t, [{'status': 200}, {'status': 200}]) as rcv:
        p1 = probe(t, rcv.url, doc, fmt='json', version=2)
        p2 = probe(t, rcv.url, doc + b'\n', fmt='json', version=3)
        log = rcv.entries()
    t.eq((p1['outcome'], p2['outcome']), ('delivered', 'delivered'), 'both delivered', (p1, p2))
    t.eq(header(log[0], 'Content-Type'), 'application/json', 'JSON content type')
    t.eq(header(log[0], 'Idempotency-Key'), '"%s"' % expected_key(doc, version=2, fmt='json'),
         'key of version 2')
    t.ok(header(log[0], 'Idempotency-Key') != header(log[1], 'Idempotency-Key'),
         'a corrected report (new version) has another key')
    t.eq(header(log[1], 'Content-Digest'), expected_digest(doc + b'\n'), 'digest of version 3')


def test_https_multi_interface(t):
    with Receiver(t, [{'status': 200, 'body': 'ok'}]) as rcv:
        p = probe(t, rcv.url, XML, '--multi')
        log = rcv.entries()
    t.eq(p['via'], 'multi', 'ran inside a curl multi handle', p)
    t.eq(p['found_by_private'], True, 'the transfer was found back via CURLOPT_PRIVATE')
    t.eq((p['outcome'], p['status'], p['body']), ('delivered', 200, 'ok'), 'delivered')
    t.eq(header(log[0], 'Idempotency-Key'), '"%s"' % expected_key(XML), 'same headers as blocking')


def test_retryable_statuses(t):
    script = [{'status': 503, 'headers': {'Retry-After': '7'}, 'body': 'down for maintenance'},
              {'status': 429, 'headers': {'Retry-After': '%s'}},
              {'status': 408}, {'status': 425}, {'status': 500, 'body': 'boom\nline two'},
              {'status': 502, 'headers': {'Retry-After': 'soon'}}]
    when = time.time() + 120
    script[1]['headers']['Retry-After'] = email.utils.formatdate(when, usegmt=True)
    with Receiver(t, script) as rcv:
        ps = [probe(t, rcv.url) for _ in script]
    for p, step in zip(ps, script):
        t.eq((p['outcome'], p['status']), ('retry', step['status']),
             'HTTP %d is retried' % step['status'], p)
        t.eq(p['alert'], False, 'HTTP %d needs no alert' % step['status'])
    t.eq(ps[0]['retry_after'], 7, 'Retry-After delta-seconds')
    t.eq(ps[0]['error'], 'HTTP 503: down for maintenance', 'the error names status and reply')
    t.ok(110 <= ps[1]['retry_after'] <= 121, 'Retry-After as an HTTP-date, about 120 s ahead',
         ps[1]['retry_after'])
    t.eq(ps[2]['retry_after'], -1, 'no Retry-After')
    t.eq(ps[4]['error'], 'HTTP 500: boom line two', 'one line')
    t.eq(ps[5]['retry_after'], -1, 'a garbage Retry-After is ignored')


def test_lost_reply_then_retry(t):
    with Receiver(t, [{'drop': True}, {'status': 200, 'body': 'receipt'}]) as rcv:
        p1 = probe(t, rcv.url)
        p2 = probe(t, rcv.url)
        log = rcv.entries()
    t.eq((p1['outcome'], p1['status']), ('retry', 0), 'a lost reply is retried', p1)
    t.eq((p2['outcome'], p2['body']), ('delivered', 'receipt'), 'the retry is delivered', p2)
    t.eq(len(log), 2, 'the receiver saw the document twice')
    t.eq(header(log[0], 'Idempotency-Key'), header(log[1], 'Idempotency-Key'),
         'with the same Idempotency-Key')
    t.eq(log[0]['body_sha256'], log[1]['body_sha256'], 'and the identical body')
    t.eq(header(log[0], 'Content-Digest'), header(log[1], 'Content-Digest'), 'and digest')


def test_4xx_rejected_with_reason(t):
    reason = 'field /report/as_of: date after due\r\nsee the manual ' + 'x' * 1000
    script = [{'status': 400, 'body': reason}, {'status': 422, 'body': 'schema version 9'},
              {'status': 404}, {'status': 401, 'body': 'who are you'}]
    with Receiver(t, script) as rcv:
        ps = [probe(t, rcv.url) for _ in script]
        log = rcv.entries()
    for p, step in zip(ps, script):
        t.eq((p['outcome'], p['status']), ('rejected', step['status']),
             'HTTP %d is a rejection' % step['status'], p)
    t.eq(ps[0]['error'], 'HTTP 400: ' + one_line(reason, 500),
         'the reason is the status and the first 500 bytes of the reply, on one line')
    t.eq(len(ps[0]['error']), len('HTTP 400: ') + 500, 'no more than 500 bytes of it')
    t.eq(ps[1]['error'], 'HTTP 422: schema version 9', 'reason of a 422')
    t.eq(ps[2]['error'], 'HTTP 404: (no reason given in the reply)', 'no body, still a reason')
    t.eq(ps[0]['body'][:10], reason[:10], 'the whole reply is kept as evidence')
    t.eq(len(log), 4, 'each tried once, never retried by the library')


def test_redirect_rejected_not_followed(t):
    with Receiver(t, [{'status': 302, 'headers': {'Location': '/elsewhere'}},
                      {'status': 200}]) as rcv:
        p = probe(t, rcv.url)
        log = rcv.entries()
    t.eq((p['outcome'], p['status']), ('rejected', 302), 'a 3xx is a rejection', p)
    t.eq(p['error'], 'HTTP 302: redirects are not followed; configure the final URL '
         '(Location: /elsewhere)', 'says what to do')
    t.eq([e['path'] for e in log], ['/inbox'], 'the redirect was not followed')


def test_slow_receiver_times_out(t):
    with Receiver(t, [{'sleep': 15, 'status': 200}]) as rcv:
        p = probe(t, rcv.url, XML, '--timeout', 3)
        log = rcv.entries()
    t.eq(p['outcome'], 'retry', 'a timeout is retried', p)
    t.ok(p['error'].startswith('timed out:'), 'says it timed out', p['error'])
    t.ok(p.seconds < 3 + 2, 'within the timeout bound (%.2f s)' % p.seconds)
    t.ok(p.seconds >= 2.5, 'but not before it (%.2f s)' % p.seconds)
    t.eq(len(log), 1, 'the request did reach the receiver')


def test_connection_refused(t):
    with Receiver(t, []) as rcv:
        url = rcv.url
    p = probe(t, url)  # the receiver is gone: nothing listens on its port
    t.eq((p['outcome'], p['status'], p['alert']), ('retry', 0, False), 'retried', p)
    t.ok("connect" in p['error'].lower(), 'says it could not connect', p['error'])


def test_huge_reply_is_capped(t):
    with Receiver(t, [{'status': 200, 'body_bytes': 5000000},
                      {'status': 503, 'body_bytes': 5000000}]) as rcv:
        p = probe(t, rcv.url, XML, '--max-reply', 65536)
        q = probe(t, rcv.url, XML, '--max-reply', 65536)
    t.eq((p['outcome'], p['status']), ('delivered', 200), 'the 2xx status is the verdict', p)
    t.eq((p['body_len'], p['body_truncated']), (65536, True), 'the body is cut at the cap')
    t.eq(p['body'], 'x' * 65536, 'what was kept is the start of the reply')
    t.ok(p['error'].startswith('note: the reply was cut at 65536 bytes'), 'noted', p['error'])
    t.eq((q['outcome'], q['status'], q['body_len']), ('retry', 503, 65536),
         'a capped 5xx is still retried')


def test_tls_self_signed_refused(t):
    with Receiver(t, [{'status': 200}], cert=certs().self_signed) as rcv:
        p = probe(t, rcv.url)
        q = probe(t, rcv.url, ca=False)  # the system store does not know it either
        log = rcv.entries()
        tls = rcv.entries('tls_error')
    for r in (p, q):
        t.eq((r['outcome'], r['status'], r['alert']), ('retry', 0, True),
             'kept for retry, with an alert', r)
        t.ok(r['error'].startswith('TLS peer verification failed: '), 'says why', r['error'])
    t.eq(log, [], 'no request, so no byte of the document, reached the receiver')
    t.ok(len(tls) >= 1, 'the receiver saw the handshake fail', tls)


def test_tls_wrong_host_refused(t):
    with Receiver(t, [{'status': 200}], cert=certs().wrong_host) as rcv:
        p = probe(t, rcv.url)
        log = rcv.entries()
    t.eq((p['outcome'], p['alert']), ('retry', True), 'a certificate for another host', p)
    t.ok(p['error'].startswith('TLS peer verification failed: '), 'says why', p['error'])
    t.ok('127.0.0.1' in p['error'], 'names the host', p['error'])
    t.eq(log, [], 'nothing reached the receiver')


def test_client_certificate(t):
    c = certs()
    with Receiver(t, [{'status': 200, 'body': 'welcome'}], client_ca=c.ca,
                  require_client_cert=True) as rcv:
        without = probe(t, rcv.url)
        log_without = rcv.entries()
        given = probe(t, rcv.url, XML, '--cert', c.client[0], '--cert-key', c.client[1])
        log = rcv.entries()
    t.eq((without['outcome'], without['status']), ('retry', 0),
         'without a client certificate: refused by the receiver, kept for retry', without)
    # TLS 1.3: the refusal arrives as an alert on our first read or as a reset
    # connection on our first write, whichever comes first; only the first names it
    t.eq(without['alert'], without['error'].startswith('the receiver requires a client '
                                                       'certificate: '),
         'an alert exactly when the refusal was recognisable', without)
    t.eq(log_without, [], 'and no request got through')
    t.eq((given['outcome'], given['status'], given['body']), ('delivered', 200, 'welcome'),
         'with the client certificate: delivered', given)
    t.eq([e['client_cn'] for e in log], ['trajectd-test-client'],
         'the receiver saw our client certificate')


def test_refused_before_any_attempt(t):
    p = probe(t, 'http://127.0.0.1:9/inbox')
    t.eq(p.rc, 1, 'plain http is refused', p)
    t.ok('plain http is not allowed' in p.err, 'says why', p.err)
    p = probe(t, 'https://127.0.0.1:9/inbox', grant='../etc')
    t.eq(p.rc, 1, 'a grant id that is not a reference is refused', p)
    t.ok('grant id "../etc" is not a reference' in p.err, 'names the field', p.err)
    p = probe(t, 'file:///tmp/x', fmt='pdf')
    t.eq(p.rc, 1, 'an unknown format is refused', p)


# --- folder ------------------------------------------------------------------
def test_file_new_same_different(t):
    out = os.path.join(t.tmp, 'outbox')
    os.mkdir(out)
    url = 'file://' + out
    name = 'OV-2011-AMB-01_2011-Q3_v1.xml'
    final = os.path.join(out, name)

    p = probe(t, url)
    t.eq((p['outcome'], p['path'], p['error']), ('delivered', final, ''), 'a new file', p)
    t.ok(re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z', p['at']) is not None,
         'the receipt has the time', p['at'])
    with open(final, 'rb') as f:
        t.eq(f.read(), XML, 'the file holds the document')
    t.eq(stat.S_IMODE(os.stat(final).st_mode), 0o640, 'mode 0640')
    t.eq(os.listdir(out), [name], 'no temporary file is left')

    p = probe(t, url)
    t.eq((p['outcome'], p['path']), ('delivered', final), 'the same bytes again: delivered', p)
    t.ok(p['error'].startswith('note: ') and 'same bytes' in p['error'], 'noted', p['error'])

    other = XML.replace(b'AMB-01"', b'AMB-01" corrected="1"')
    p = probe(t, url, other)
    t.eq((p['outcome'], p['alert']), ('rejected', False), 'other bytes, same name: rejected', p)
    t.ok('a different document already has this name' in p['error'], 'says why', p['error'])
    with open(final, 'rb') as f:
        t.eq(f.read(), XML, 'the delivered file is untouched')

    p = probe(t, url, other, version=2, fmt='xml')
    t.eq((p['outcome'], p['path']), ('delivered', os.path.join(out, name.replace('v1', 'v2'))),
         'the correction as version 2 is a new file', p)
    t.eq(sorted(os.listdir(out)), sorted([name, name.replace('v1', 'v2')]), 'two files')

    p = probe(t, 'file://%s/' % out, XML, fmt='json')
    t.eq(p['path'], os.path.join(out, name.replace('.xml', '.json')),
         'a trailing slash in the URL, and the JSON name', p)


def as_nobody():
    """Run the probe as an unprivileged user when we are root (root ignores modes)."""
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)


def test_file_unwritable_dir(t):
    os.chmod(t.tmp, 0o755)
    out = os.path.join(t.tmp, 'readonly')
    os.mkdir(out, 0o555)
    os.chmod(out, 0o555)
    body_path = os.path.join(t.tmp, 'body.xml')
    with open(body_path, 'wb') as f:
        f.write(XML)
    os.chmod(body_path, 0o644)
    p = probe(t, 'file://' + out, body_path=body_path, preexec=as_nobody)
    t.eq((p['outcome'], p['alert']), ('retry', True), 'kept for retry, with an alert', p)
    t.ok(p['error'].startswith('cannot create a file in the folder %s: Permission denied' % out),
         'names the folder and the reason', p['error'])
    t.eq(os.listdir(out), [], 'nothing was written')

    p = probe(t, 'file://' + os.path.join(t.tmp, 'missing'))
    t.eq((p['outcome'], p['alert']), ('retry', True), 'a missing folder: retry with alert', p)
    t.ok('No such file or directory' in p['error'], 'says so', p['error'])


def limit_file_size():
    # a write beyond RLIMIT_FSIZE fails with EFBIG (SIGXFSZ ignored), as a full disk would
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))


def test_file_write_error_leaves_nothing(t):
    out = os.path.join(t.tmp, 'small')
    os.mkdir(out)
    p = probe(t, 'file://' + out, XML * 40, preexec=limit_file_size)
    t.eq((p['outcome'], p['alert']), ('retry', False), 'a failed write is retried', p)
    t.ok(re.match(r'writing %s/OV-2011-AMB-01_2011-Q3_v1\.xml: File too large$' % re.escape(out),
                  p['error']) is not None, 'says what failed', p['error'])
    t.eq(os.listdir(out), [], 'neither a partial final file nor the temporary file remains')
    p = probe(t, 'file://' + out, XML * 40)
    t.eq(p['outcome'], 'delivered', 'once the cause is gone the retry is delivered', p)


tjtest.main(globals())
