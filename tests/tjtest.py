"""A small TAP test harness for trajectd's integration tests.

Each test function gets a fresh, migrated database in the throwaway cluster
that tests/run started (PGHOST etc. in the environment), and runs the real
trajectctl binary ($TRAJECTCTL). Output is TAP, which meson parses and
tests/run counts.

    import tjtest
    def test_something(t):
        r = t.ctl('grant', 'load', t.example('grant.json'))
        t.ok(r.rc == 0, 'loads', r)
    tjtest.main(globals())
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import traceback
import uuid

SRC = os.environ.get('TJ_SOURCE_ROOT', os.path.join(os.path.dirname(__file__), '..'))
CTL = os.environ.get('TRAJECTCTL', 'trajectctl')
# TJ_WRAP="valgrind ..." runs every trajectctl of t.ctl() under that command
# (tools/valgrind-suite); tests that start programs themselves may use WRAP.
WRAP = shlex.split(os.environ.get('TJ_WRAP', ''))
# TJ_DAEMON_WRAP="valgrind ..." runs every trajectd that a test starts through
# trajectd() under that command (tools/valgrind-suite, the long-running loop).
DAEMON_WRAP = shlex.split(os.environ.get('TJ_DAEMON_WRAP', ''))


def trajectd(*args):
    """The argv of the trajectd under test with args ($TRAJECTD, wrapped by TJ_DAEMON_WRAP)."""
    return DAEMON_WRAP + [os.environ.get('TRAJECTD', 'trajectd')] + [str(a) for a in args]


XSD = os.path.join(SRC, 'reports', 'trajectd-report-2.xsd')


def xmllint(t, what, text=None, paths=()):
    """Check XML (text, or the files at paths) valid against the report XSD."""
    proc = subprocess.run(['xmllint', '--noout', '--schema', XSD] + (list(paths) or ['-']),
                          input=text, capture_output=True, text=True)
    t.ok(proc.returncode == 0, what + ': valid against the XSD', proc.stderr)


NS = '{urn:trajectd:report:2}'
XSI_NIL = '{http://www.w3.org/2001/XMLSchema-instance}nil'
LISTS = {'obligations', 'series', 'settlement'}


def tokens(text):
    """JSON with numbers kept as their text and objects as ordered pairs."""
    return json.loads(text, object_pairs_hook=lambda pairs: ('obj', pairs),
                      parse_float=lambda s: ('num', s), parse_int=lambda s: ('num', s))


def flat(v):
    """A token tree with every scalar as its XML text (None for null)."""
    if isinstance(v, tuple) and v[0] == 'obj':
        return [(k, flat(x)) for k, x in v[1]]
    if isinstance(v, tuple) and v[0] == 'num':
        return v[1]
    if isinstance(v, list):
        return [flat(x) for x in v]
    if v is True or v is False:
        return 'true' if v else 'false'
    return v


def xml_tree(elem):
    tag = elem.tag[len(NS):] if elem.tag.startswith(NS) else elem.tag
    if elem.get(XSI_NIL) == 'true':
        return tag, None
    kids = list(elem)
    if tag in LISTS:
        return tag, [xml_tree(k)[1] for k in kids]
    if kids:
        return tag, [xml_tree(k) for k in kids]
    return tag, elem.text or ''


def xml_carries_json(t, what, xml_text, json_text):
    """The XML report has the report root and exactly the JSON report's content."""
    import xml.etree.ElementTree as ET
    root = ET.fromstring(xml_text.encode('utf-8'))
    t.eq((root.tag, root.get('schemaVersion')), (NS + 'report', '2'), what + ': XML root')
    json_content = [kv for kv in flat(tokens(json_text)) if kv[0] != 'schema']
    t.eq(xml_tree(root)[1], json_content, what + ': XML carries the JSON content')


class Result:
    def __init__(self, args, proc):
        self.args = args
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return 'rc=%d\nstdout:\n%s\nstderr:\n%s' % (self.rc, self.out, self.err)


class Failure(Exception):
    pass


class Skip(Exception):
    """This machine cannot run the test: reported as a TAP SKIP, never as a pass."""


def openssl(*args):
    p = subprocess.run(['openssl'] + list(args), capture_output=True, text=True)
    if p.returncode != 0:
        raise Failure('openssl %s failed:\n%s' % (args[0], p.stderr))


def make_certs(d, cn='trajectd test CA'):
    """A private CA and a server certificate for 127.0.0.1/localhost in folder d.

    Returns (ca.pem, server.pem, server.key) paths.
    """
    ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    p = lambda n: os.path.join(d, n)  # noqa: E731
    openssl('req', '-x509', *ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2',
            '-subj', '/CN=' + cn,
            '-addext', 'basicConstraints=critical,CA:TRUE',
            '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    with open(p('server.ext'), 'w') as f:
        f.write('basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n'
                'extendedKeyUsage=serverAuth\n')
    openssl('req', '-new', *ec, '-keyout', p('server.key'), '-out', p('server.csr'),
            '-subj', '/CN=localhost')
    openssl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'),
            '-set_serial', '0x' + os.urandom(8).hex(), '-days', '2', '-out', p('server.pem'),
            '-extfile', p('server.ext'))
    return p('ca.pem'), p('server.pem'), p('server.key')


class SmtpSink:
    """tests/smtp_receiver.py on 127.0.0.1: a mail server that keeps every message.

    stop() makes it "down" (connections are refused); start() brings it back on
    the same port. refuse(at, code, text) makes it answer a command with a
    refusal (see smtp_receiver.py), accept() undoes that. tls=(cert, key):
    smtps:// (TLS from the first byte).
    """

    def __init__(self, folder, tls=None, start=True):
        self.dir = folder
        self.tls = tls
        self.port = 0
        self.proc = None
        os.makedirs(folder, exist_ok=True)
        self.start()
        if not start:
            self.stop()

    def start(self):
        args = [sys.executable, os.path.join(SRC, 'tests', 'smtp_receiver.py'), '--dir', self.dir,
                '--port', str(self.port)]
        if self.tls:
            args += ['--tls-cert', self.tls[0], '--tls-key', self.tls[1]]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        m = re.match(r'PORT (\d+)', self.proc.stdout.readline())
        if not m:
            raise Failure('the SMTP receiver did not start')
        self.port = int(m.group(1))

    @property
    def url(self):
        return '%s://127.0.0.1:%d' % ('smtps' if self.tls else 'smtp', self.port)

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc.stdout.close()
            self.proc = None

    def refuse(self, at, code, text='refused by the test'):
        with open(os.path.join(self.dir, 'control.json'), 'w') as f:
            json.dump({'refuse': {'at': at, 'code': code, 'text': text}}, f)

    def accept(self):
        if os.path.exists(os.path.join(self.dir, 'control.json')):
            os.unlink(os.path.join(self.dir, 'control.json'))

    def messages(self):
        """Every stored message: (envelope dict, raw bytes, email.message.EmailMessage)."""
        import email
        import email.policy
        out = []
        for name in sorted(f for f in os.listdir(self.dir) if f.endswith('.eml')):
            with open(os.path.join(self.dir, name), 'rb') as f:
                raw = f.read()
            with open(os.path.join(self.dir, name[:-4] + '.json')) as f:
                env = json.load(f)
            out.append((env, raw, email.message_from_bytes(raw, policy=email.policy.default)))
        return out


class Test:
    """One test's context: a fresh database and assertion helpers."""

    def __init__(self, name):
        self.name = name
        self.db = 'tj_' + uuid.uuid4().hex[:16]
        self.checks = 0
        self.tmp = tempfile.mkdtemp(prefix='tjtest-')
        self.psql('postgres', 'CREATE DATABASE %s' % self.db)
        self.conninfo = 'dbname=%s' % self.db
        r = self.ctl('migrate')
        if r.rc != 0:
            raise Failure('migrate failed: %r' % r)

    def close(self):
        self.psql('postgres', 'DROP DATABASE IF EXISTS %s WITH (FORCE)' % self.db)
        subprocess.run(['rm', '-rf', self.tmp], check=False)

    # --- running things -------------------------------------------------
    def psql(self, db, sql, *params):
        """Run SQL (psql variables :'v1'.. for params); return stdout rows."""
        args = ['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', db]
        for i, p in enumerate(params, start=1):
            args += ['-v', 'v%d=%s' % (i, p)]
        proc = subprocess.run(args, input=sql, capture_output=True, text=True)
        if proc.returncode != 0:
            raise Failure('psql failed: %s\n%s' % (sql, proc.stderr))
        return [line for line in proc.stdout.split('\n') if line != '']

    def sql(self, sql, *params):
        return self.psql(self.db, sql, *params)

    def ctl(self, *args, env=None, stdin=None):
        full = WRAP + [CTL, '--db', self.conninfo] + [str(a) for a in args]
        e = dict(os.environ)
        if env:
            e.update(env)
        proc = subprocess.run(full, capture_output=True, text=True, env=e, input=stdin)
        return Result(full, proc)

    def write(self, name, text, mode='w'):
        path = os.path.join(self.tmp, name)
        with open(path, mode, newline='' if mode == 'w' else None) as f:
            f.write(text)
        return path

    @staticmethod
    def example(name):
        return os.path.join(SRC, 'examples', name)

    @staticmethod
    def data(*parts):
        return os.path.join(SRC, 'tests', 'data', *parts)

    # --- assertions --------------------------------------------------------
    def ok(self, cond, what, detail=None):
        self.checks += 1
        if not cond:
            raise Failure('%s%s' % (what, '' if detail is None else '\n%s' % (detail,)))

    def eq(self, got, want, what):
        self.checks += 1
        if got != want:
            raise Failure('%s\n   got: %r\n  want: %r' % (what, got, want))

    def succeeds(self, r, what):
        self.ok(r.rc == 0, what + ' (exit 0)', r)
        return r

    def fails(self, r, what, rc=1, pattern=None):
        self.ok(r.rc == rc, '%s (exit %d)' % (what, rc), r)
        if pattern:
            self.ok(re.search(pattern, r.err, re.M) is not None,
                    '%s: stderr matches %r' % (what, pattern), r)
        return r


def main(namespace, at_exit=None):
    """Run every test_ function of namespace as TAP; at_exit() runs before the exit."""
    tests = [(n, f) for n, f in sorted(namespace.items())
             if n.startswith('test_') and callable(f)]
    only = os.environ.get('TJ_ONLY')
    if only:
        tests = [(n, f) for n, f in tests if re.search(only, n)]
    print('1..%d' % len(tests))
    failed = 0
    for i, (name, fn) in enumerate(tests, start=1):
        t = None
        try:
            t = Test(name)
            fn(t)
            if t.checks == 0:
                raise Failure('the test checked nothing')
            print('ok %d - %s (%d checks)' % (i, name, t.checks))
        except Skip as e:
            print('ok %d - %s # SKIP %s' % (i, name, e))
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failed += 1
            print('not ok %d - %s' % (i, name))
            detail = str(e) if isinstance(e, Failure) else traceback.format_exc()
            for line in detail.rstrip('\n').split('\n'):
                print('# ' + line)
        finally:
            if t is not None and not os.environ.get('TJ_KEEP'):
                t.close()
        sys.stdout.flush()
    if at_exit is not None:
        at_exit()
    sys.exit(1 if failed else 0)
