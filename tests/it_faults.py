"""The fault suite: trajectd loses nothing and doubles nothing (docs/reliability.md).

Scenarios, each against the real trajectd (long-running, event loop) and
the real trajectctl:

  crash torture   two instances on one database, SIGKILLed at seeded random
                  moments while 12 grants x 3 reports x 2 formats are
                  generated and delivered to a slow receiver that loses some
                  of its replies (tests/receiver.py --chaos);
  database        PostgreSQL of a private durable cluster stopped with
                  `-m immediate` during generation and during delivery; and
                  a proxy in front of PostgreSQL that loses the
                  acknowledgement of a commit (the commit happened, the
                  daemon cannot know) for a delivery's outcome, a
                  generation and a claim;
  network         a receiver that hangs, never finishes the handshake,
                  resets, trickles, sends a huge reply, or shows a
                  self-signed, wrong-host or expired certificate;
  disk            a full disk, a failing flush and a failing rename under a
                  file:// target (tests/faultinject.c, LD_PRELOAD), and a
                  really full tmpfs where mounting one is allowed.

Every scenario prints its measurements as TAP comments ("# measured: ...");
docs/reliability.md quotes them. TJ_FAULT_SEED changes the torture's seed.
"""
import glob
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tjtest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TRAJECTD = os.environ.get('TRAJECTD', 'trajectd')
RECEIVER = os.path.join(HERE, 'receiver.py')
PGCLUSTER = os.path.join(HERE, 'pgcluster.sh')
SHIM = os.environ.get('TJ_FAULTINJECT', '')
SEED = int(os.environ.get('TJ_FAULT_SEED', '20110530'))
# the catch-up moment: every report of the test calendar is due (Q1 and Q2 late)
AFTER_ALL = '2012-01-28T12:00:00+01:00'
Q1_MOMENT = '2011-04-09T22:00:00Z'


def measured(what, **numbers):
    """A TAP comment with a scenario's numbers (docs/reliability.md quotes them)."""
    print('# measured: %s: %s' % (what, ', '.join('%s=%s' % kv for kv in numbers.items())))
    sys.stdout.flush()


def env_without_proxies(extra=None):
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ('http_proxy', 'https_proxy', 'all_proxy', 'no_proxy')}
    env.update(extra or {})
    return env


# --- the calendar ---------------------------------------------------------------
def grant_file(t, gid, template='grant.json'):
    """tests/data/daemon/<template> under another id (three reports: Q1, Q2, final)."""
    with open(t.data('daemon', template)) as f:
        g = json.load(f)
    g['id'] = gid
    return t.write('%s.json' % gid, json.dumps(g, indent=1))


def big_events(t, n):
    """n trajectories with a full life each: makes a report take measurably long."""
    rows = ['trajectory,date,event,value']
    for i in range(n):
        ref = 'T-%05d' % i
        day = 1 + i % 28
        month = 1 + (i // 28) % 11
        rows += ['%s,2011-%02d-%02d,registered,' % (ref, month, day),
                 '%s,2011-%02d-%02d,assessed,needs_indication' % (ref, month, day),
                 '%s,2011-%02d-%02d,help_started,' % (ref, month, day),
                 '%s,2011-%02d-%02d,cost,%d.%02d' % (ref, month, day, 100 + i % 900, i % 100)]
        if i % 3 == 0:
            rows.append('%s,2011-%02d-28,closed,goals_reached' % (ref, month))
    return t.write('big-%d.csv' % n, '\n'.join(rows) + '\n')


def load_grants(t, ids, events=None, env=None):
    for gid in ids:
        t.succeeds(t.ctl('grant', 'load', grant_file(t, gid), env=env), 'grant load %s' % gid)
        t.succeeds(t.ctl('import', '--grant', gid, events or t.data('daemon', 'events.csv'),
                         env=env), 'import %s' % gid)


def config(t, conninfo, url, name='trajectd.conf', timeout=2, extra=''):
    return t.write(name, '[database]\nconninfo = %s\n\n[schedule]\nlead_days = 5\n'
                         'time_zone = Europe/Amsterdam\n\n[delivery]\nurl = %s\n'
                         'formats = xml json\ntimeout = %d\nretry_base = 1\nretry_max = 2\n'
                         'warn_hours = 48\n%s' % (conninfo, url, timeout, extra))


def lease_seconds(timeout):
    return 2 * timeout + 30  # lib/outbox_deliver.c: twice the attempt timeout plus 30 s


# --- the daemon -------------------------------------------------------------------
class Daemon:
    """One long-running trajectd; its stderr goes to a file the test reads."""
    count = 0

    def __init__(self, t, conf, clock=None, env=None):
        Daemon.count += 1
        self.log_path = os.path.join(t.tmp, 'trajectd-%d.err' % Daemon.count)
        self.log = open(self.log_path, 'w')
        args = [TRAJECTD, '--config', conf] + (['--clock', clock] if clock else [])
        self.started = time.time()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log, env=env_without_proxies(env))
        self.pid = self.proc.pid

    def text(self):
        with open(self.log_path, errors='replace') as f:
            return f.read()

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.log.close()

    def stop(self, timeout=40):
        """SIGTERM; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        if not self.log.closed:
            self.log.close()
        return rc

    def alive(self):
        return self.proc.poll() is None


def wait_for(t, what, cond, seconds, step=0.1):
    end = time.time() + seconds
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    t.ok(False, 'timed out after %s s waiting for %s' % (seconds, what))


def rows(t, sql, *params):
    return [r.split('|') for r in t.sql(sql, *params)]


def count(t, sql, *params):
    return int(t.sql(sql, *params)[0])


# --- certificates -----------------------------------------------------------------
class Certs:
    """A private CA and the server certificates the network faults need."""

    def __init__(self, d):
        self.dir = d
        p = self.path
        self.openssl('req', '-x509', *self.ec(), '-keyout', p('ca.key'), '-out', p('ca.pem'),
                     '-days', '2', '-subj', '/CN=trajectd fault test CA',
                     '-addext', 'basicConstraints=critical,CA:TRUE',
                     '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
        self.ca = p('ca.pem')
        self.server = self.signed('server', '/CN=localhost', 'IP:127.0.0.1,DNS:localhost')
        self.wrong_host = self.signed('wrong', '/CN=wrong.example', 'DNS:wrong.example')
        self.expired = self.signed('expired', '/CN=localhost', 'IP:127.0.0.1,DNS:localhost',
                                   dates=('20200101000000Z', '20200102000000Z'))
        self.openssl('req', '-x509', *self.ec(), '-keyout', p('self.key'), '-out', p('self.pem'),
                     '-days', '2', '-subj', '/CN=localhost',
                     '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost')
        self.self_signed = (p('self.pem'), p('self.key'))

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
        return p.stdout

    def signed(self, name, subject, san, dates=None):
        key, csr, pem, ext = (self.path(name + s) for s in ('.key', '.csr', '.pem', '.ext'))
        with open(ext, 'w') as f:
            f.write('basicConstraints=CA:FALSE\nsubjectAltName=%s\n'
                    'extendedKeyUsage=serverAuth\n' % san)
        self.openssl('req', '-new', *self.ec(), '-keyout', key, '-out', csr, '-subj', subject)
        if dates is None:
            self.openssl('x509', '-req', '-in', csr, '-CA', self.ca, '-CAkey', self.path('ca.key'),
                         '-set_serial', '0x' + os.urandom(8).hex(), '-days', '2', '-out', pem,
                         '-extfile', ext)
            return pem, key
        # `openssl x509` of OpenSSL 3.0 cannot set a past notAfter; `openssl ca` can
        d = self.path('ca-db')
        os.makedirs(d, exist_ok=True)
        open(os.path.join(d, 'index.txt'), 'w').close()
        with open(os.path.join(d, 'serial'), 'w') as f:
            f.write(os.urandom(8).hex() + '\n')
        with open(os.path.join(d, 'ca.cnf'), 'w') as f:
            f.write('[ca]\ndefault_ca = tj\n[tj]\ndatabase = %s/index.txt\nnew_certs_dir = %s\n'
                    'serial = %s/serial\ndefault_md = sha256\npolicy = any\n'
                    'unique_subject = no\n[any]\ncommonName = supplied\n' % (d, d, d))
        self.openssl('ca', '-batch', '-notext', '-config', os.path.join(d, 'ca.cnf'),
                     '-cert', self.ca, '-keyfile', self.path('ca.key'), '-in', csr, '-out', pem,
                     '-startdate', dates[0], '-enddate', dates[1], '-extfile', ext)
        return pem, key


# --- the receiver -------------------------------------------------------------------
class Receiver:
    """tests/receiver.py with a script or in chaos mode; reads its JSON log."""

    def __init__(self, t, cert, script=None, chaos=None):
        n = len([f for f in os.listdir(t.tmp) if f.startswith('receiver')])
        self.log_path = os.path.join(t.tmp, 'receiver%d.jsonl' % n)
        args = [sys.executable, RECEIVER, '--cert', cert[0], '--key', cert[1],
                '--log', self.log_path]
        if chaos is not None:
            args += ['--chaos', json.dumps(chaos)]
        else:
            path = os.path.join(t.tmp, 'script%d.json' % n)
            with open(path, 'w') as f:
                json.dump(script, f)
            args += ['--script', path]
        self.err = open(os.path.join(t.tmp, 'receiver%d.err' % n), 'w')
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.err, text=True)
        m = re.match(r'PORT (\d+)', self.proc.stdout.readline())
        if not m:
            self.stop()
            raise tjtest.Failure('the receiver did not start')
        self.url = 'https://127.0.0.1:%s/inbox' % m.group(1)

    def entries(self, event='request'):
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path) as f:
            return [e for e in map(json.loads, f) if e['event'] == event]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.err.close()


def unquote(key):
    """The Idempotency-Key header is a structured-field string: "tj1-..."."""
    return key.strip('"') if key else key


class Blackhole:
    """A TCP listener that accepts and never says a word (a hung TLS handshake)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.conns = []
        self.received = 0
        self.url = 'https://127.0.0.1:%d/inbox' % self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self.drain, args=(c,), daemon=True).start()

    def drain(self, c):
        while True:
            try:
                data = c.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.received += len(data)

    def stop(self):
        self.sock.close()
        for c in self.conns:
            c.close()


# --- a private durable cluster ----------------------------------------------------------
def pg_bin():
    for d in sorted(glob.glob('/usr/lib/postgresql/*/bin')):
        if os.path.exists(os.path.join(d, 'pg_ctl')):
            return d
    return os.path.dirname(shutil.which('pg_ctl') or '/usr/bin/pg_ctl')


class Cluster:
    """A PostgreSQL of its own (tests/pgcluster.sh, fsync on), to crash at will."""

    def __init__(self, port):
        self.dir = tempfile.mkdtemp(prefix='tjfaults-pg-', dir='/tmp')
        self.port = port
        self.env = None
        self.start()

    def start(self):
        p = subprocess.run([PGCLUSTER, 'start', self.dir], capture_output=True, text=True,
                           env=dict(os.environ, TJ_PGPORT=str(self.port), TJ_DURABLE='1'))
        if p.returncode != 0:
            raise tjtest.Failure('private cluster did not start:\n%s' % p.stderr)
        self.env = dict(line.split('=', 1) for line in p.stdout.split())
        self.env['PGDATABASE'] = 'postgres'

    def crash(self):
        """pg_ctl stop -m immediate: every backend dies, no checkpoint (crash recovery next)."""
        args = [os.path.join(pg_bin(), 'pg_ctl'), '-D', os.path.join(self.dir, 'data'),
                '-m', 'immediate', '-w', 'stop']
        if os.getuid() == 0:
            args = ['runuser', '-u', 'postgres', '--'] + args
        p = subprocess.run(args, capture_output=True, text=True)
        if p.returncode != 0:
            raise tjtest.Failure('pg_ctl stop -m immediate failed:\n%s' % p.stderr)

    def psql(self, db, sql):
        p = subprocess.run(['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', db],
                           input=sql, capture_output=True, text=True,
                           env=dict(os.environ, **self.env))
        if p.returncode != 0:
            raise tjtest.Failure('psql (private cluster) failed: %s\n%s' % (sql, p.stderr))
        return [line for line in p.stdout.split('\n') if line != '']

    def close(self):
        subprocess.run([PGCLUSTER, 'stop', self.dir], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


# --- a proxy that loses acknowledgements ------------------------------------------------
class LostAckProxy:
    """A unix-socket proxy in front of PostgreSQL (protocol 3) that, on request,
    lets a statement or a commit reach the server and then cuts the client off
    before the server's answer: the server did it, the client cannot know.

    arm(pattern, 'commit'): the next transaction that parses a statement
    containing pattern loses the acknowledgement of its COMMIT.
    arm(pattern, 'statement'): the next statement containing pattern (an
    autocommitted one) loses its own acknowledgement.
    """

    def __init__(self, pg_dir, pg_port, d, port=54379):
        self.server_path = os.path.join(pg_dir, '.s.PGSQL.%s' % pg_port)
        self.dir = d
        self.port = port
        self.lock = threading.Lock()
        self.rules = []   # [pattern, mode, remaining]
        self.cut = []     # (time, pattern, mode)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(os.path.join(d, '.s.PGSQL.%d' % port))
        self.sock.listen(32)
        threading.Thread(target=self.accept, daemon=True).start()

    def conninfo(self, db):
        return 'host=%s port=%d dbname=%s' % (self.dir, self.port, db)

    def arm(self, pattern, mode):
        with self.lock:
            self.rules.append([pattern, mode, 1])

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    @staticmethod
    def recv_exact(s, n):
        buf = b''
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def serve(self, client):
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        state = {'cut': False, 'pending': None}
        try:
            server.connect(self.server_path)
            while True:  # untyped start-up messages; SSL/GSS requests are answered 'N'
                head = self.recv_exact(client, 4)
                (n,) = struct.unpack('!i', head)
                body = self.recv_exact(client, n - 4)
                server.sendall(head + body)
                if struct.unpack('!i', body[:4])[0] in (80877103, 80877104):
                    client.sendall(self.recv_exact(server, 1))
                    continue
                break
            threading.Thread(target=self.from_server, args=(server, client, state),
                             daemon=True).start()
            while True:
                kind = self.recv_exact(client, 1)
                head = self.recv_exact(client, 4)
                body = self.recv_exact(client, struct.unpack('!i', head)[0] - 4)
                if kind == b'P':
                    self.parsed(body.split(b'\0')[1].decode('utf-8', 'replace'), state)
                server.sendall(kind + head + body)
        except (EOFError, OSError):
            pass
        finally:
            for s in (client, server):
                try:
                    s.close()
                except OSError:
                    pass

    def parsed(self, query, state):
        q = query.strip().upper()
        with self.lock:
            if q in ('BEGIN', 'ROLLBACK'):
                state['pending'] = None
            elif q == 'COMMIT' and state['pending']:
                state['cut'], state['pending'] = state['pending'], None
                return
            for rule in self.rules:
                if rule[2] > 0 and rule[0] in query:
                    rule[2] -= 1
                    if rule[1] == 'statement':
                        state['cut'] = rule
                    else:
                        state['pending'] = rule
                    return

    def from_server(self, server, client, state):
        try:
            while True:
                kind = self.recv_exact(server, 1)
                head = self.recv_exact(server, 4)
                body = self.recv_exact(server, struct.unpack('!i', head)[0] - 4)
                rule = state['cut']
                if not rule:
                    client.sendall(kind + head + body)
                    continue
                if kind == b'Z':  # the server is done with it: now cut the client off
                    with self.lock:
                        self.cut.append((time.time(), rule[0], rule[1]))
                    client.shutdown(socket.SHUT_RDWR)
                    server.close()
                    return
        except (EOFError, OSError):
            pass

    def stop(self):
        self.sock.close()


# --- claims under watch ---------------------------------------------------------------
class ClaimWatch:
    """Samples the claims (deliveries in state delivering) a few times a second,
    so a test can say how long any claim stayed, compared with its lease."""

    def __init__(self, t, lease_s, psql=None):
        self.t = t
        self.lease_s = lease_s
        self.psql = psql or t.sql
        self.claims = {}   # (delivery_id, owner, lease_until) -> [first_seen, last_seen]
        self.samples = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping.is_set():
            try:
                now_rows = self.psql(
                    "SELECT delivery_id, lease_owner, extract(epoch FROM lease_until),"
                    " extract(epoch FROM clock_timestamp()) FROM traject.deliveries"
                    " WHERE state = 'delivering'"
                    " UNION ALL SELECT NULL, NULL, NULL, extract(epoch FROM clock_timestamp())")
            except tjtest.Failure:
                now_rows = []
            for r in now_rows:
                did, owner, until, now = r.split('|')
                if not did:
                    continue
                k = (did, owner, float(until))
                seen = self.claims.setdefault(k, [float(now), float(now)])
                seen[1] = float(now)
            self.samples += 1
            self.stopping.wait(0.25)

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=10)

    def ages(self):
        """(claim age at its last sighting, seconds past its lease then) per claim."""
        out = []
        for (did, owner, until), (first, last) in self.claims.items():
            started = until - self.lease_s
            out.append((last - started, last - until))
        return out


# ===================================================================================
# 1. Crash torture
# ===================================================================================
def test_crash_torture(t):
    rng = random.Random(SEED)
    grants = ['FAULT-%02d' % i for i in range(1, 13)]
    early, late_grants = grants[:4], grants[4:]
    load_grants(t, early)
    certs = Certs(t.tmp)
    timeout = 2
    lease = lease_seconds(timeout)
    rcv = Receiver(t, certs.server, chaos={'seed': SEED, 'sleep': [0.05, 0.6], 'drop': 0.2,
                                           'retry': 0.1})
    conf = config(t, t.conninfo, rcv.url, timeout=timeout, extra='ca_file = %s\n' % certs.ca)
    watch = ClaimWatch(t, lease)
    slots = [Daemon(t, conf, AFTER_ALL), Daemon(t, conf, AFTER_ALL)]
    everyone = list(slots)
    kills, orphaned, kills_after_load = 0, 0, 0
    kill_phase = 30.0
    start = time.time()
    try:
        next_load = start + 1.0
        while time.time() - start < kill_phase:
            if late_grants and time.time() >= next_load:
                # a grant load wakes the instances (NOTIFY): generation under fire
                load_grants(t, [late_grants.pop(0)])
                next_load = time.time() + rng.uniform(1.5, 2.5)
                time.sleep(rng.uniform(0.0, 0.15))
                just_loaded = True
            else:
                time.sleep(rng.uniform(0.2, 1.5))
                just_loaded = False
            i = rng.randrange(2)
            victim = slots[i]
            victim.kill()
            kills += 1
            kills_after_load += just_loaded
            orphaned += count(t, "SELECT count(*) FROM traject.deliveries WHERE state ="
                                 " 'delivering' AND lease_owner LIKE $$trajectd@%:$$ || :'v1'"
                                 " || $$:%$$", victim.pid)
            time.sleep(rng.uniform(0.0, 0.4))
            slots[i] = Daemon(t, conf, AFTER_ALL)
            everyone.append(slots[i])
        for gid in late_grants:  # (none left unless the phase was too short)
            load_grants(t, [gid])
        kill_end = time.time()
        wait_for(t, 'every document delivered after the last kill',
                 lambda: count(t, "SELECT count(*) FROM traject.deliveries"
                                  " WHERE state = 'delivered'") == 72,
                 seconds=lease + 75, step=0.5)
        settled = time.time() - kill_end
    finally:
        watch.stop()
        rcs = [d.stop() for d in slots]
        rcv.stop()
    t.eq(rcs, [0, 0], 'the last two instances stop cleanly on SIGTERM')
    t.ok(kills >= 15, 'the instances were killed many times (%d)' % kills)
    t.ok(orphaned > 0, 'kills landed in the middle of deliveries: %d claims orphaned'
                       % orphaned)

    # nothing generated twice
    t.eq(rows(t, 'SELECT count(*), count(DISTINCT (grant_key, report_id)), max(version)'
                 ' FROM traject.report_versions'), [['36', '36', '1']],
         '36 reports, each generated once (version 1)')
    t.eq(rows(t, 'SELECT count(*), count(DISTINCT idempotency_key) FROM traject.documents'),
         [['72', '72']], '72 documents, 72 distinct idempotency keys')
    # every document accepted, every key carried one body
    t.eq(rows(t, 'SELECT state, count(*) FROM traject.deliveries GROUP BY state'),
         [['delivered', '72']], 'every document delivered')
    stored = dict(rows(t, 'SELECT idempotency_key, sha256 FROM traject.documents'))
    requests = rcv.entries('request')
    bodies = {}
    for e in requests:
        bodies.setdefault(unquote(e['key']), set()).add(e['body_sha256'])
    t.eq(sorted(bodies), sorted(stored), 'the receiver saw exactly the stored keys')
    t.eq({k: sorted(v) for k, v in bodies.items()}, {k: [v] for k, v in stored.items()},
         'every key carried one body: the stored bytes')
    decisions = rcv.entries('reply')
    outcomes = {'dropped': sum(1 for e in decisions if e['dropped'])}
    for e in decisions:
        outcomes[e['outcome']] = outcomes.get(e['outcome'], 0) + 1
    t.eq(outcomes.get('conflict', 0), 0, 'no key was ever reused for another body')
    accepted = {unquote(e['key']): e['receipt'] for e in decisions if e['outcome'] == 'accepted'}
    t.eq(sorted(accepted), sorted(stored), 'the funder accepted each document once')
    receipts = dict(rows(t, 'SELECT d.idempotency_key, convert_from(dl.receipt_body, $$UTF8$$)'
                            ' FROM traject.deliveries dl JOIN traject.documents d USING (doc_id)'))
    t.eq(receipts, accepted, "each stored receipt is the funder's receipt for that document")
    t.ok(outcomes.get('dropped', 0) > 0 and outcomes.get('replayed', 0) > 0,
         'replies were lost and documents re-sent (and answered from the funder\'s memory)',
         outcomes)
    # attempts: numbered without gaps in the records that exist, never more than claimed
    t.eq(t.sql('SELECT count(*) FROM traject.deliveries dl WHERE (SELECT count(*) FROM'
               ' traject.delivery_attempts a WHERE a.delivery_id = dl.delivery_id)'
               ' > dl.attempts'), ['0'], 'no delivery has more recorded attempts than claims')
    ages = watch.ages()
    max_age = max((a for a, _ in ages), default=0.0)
    max_over = max((o for _, o in ages), default=0.0)
    attempts = count(t, 'SELECT sum(attempts) FROM traject.deliveries')
    measured('crash torture', seed=SEED, instances_started=len(everyone), kills=kills,
             kills_right_after_a_grant_load=kills_after_load, claims_orphaned_by_kills=orphaned,
             reports=36, documents=72, distinct_keys=len(stored), requests=len(requests),
             accepted=len(accepted), replayed=outcomes.get('replayed', 0),
             replies_dropped=outcomes.get('dropped', 0), answered_503=outcomes.get('retry', 0),
             duplicate_bodies=0, claims=len(ages), lease_s=lease,
             max_claim_age_s='%.1f' % max_age, max_past_lease_s='%.1f' % max_over,
             claims_seen_past_lease=sum(1 for _, o in ages if o > 0), attempts=attempts,
             settle_after_last_kill_s='%.1f' % settled, total_s='%.1f' % (time.time() - start))
    t.eq(count(t, "SELECT count(*) FROM traject.deliveries WHERE state = 'delivering'"), 0,
         'no claim is left')
    # a claim orphaned by a kill is taken over when its lease runs out, not later
    t.ok(watch.samples > 50, 'claims were sampled throughout (%d samples)' % watch.samples)
    t.ok(max_over <= TAKEOVER_SLACK_S,
         'no claim stayed more than %d s past its lease (worst: %.1f s past, age %.1f s,'
         ' lease %d s)' % (TAKEOVER_SLACK_S, max_over, max_age, lease))


# How long past its lease an orphaned claim may stay before a live instance
# takes it over: the lease runs out on the database clock, and a live
# instance's next pass must come then (a pass is at least 1 s after the
# previous one; the sampling is every 0.25 s; an ASan build is slower).
TAKEOVER_SLACK_S = 8

# ===================================================================================
# 2. Database faults
# ===================================================================================
def check_nothing_lost_or_doubled(t, psql, rcv, reports, what):
    """The invariants of every fault scenario, on the database psql reads."""
    docs = 2 * reports
    t.eq(psql('SELECT count(*), count(DISTINCT (grant_key, report_id)), max(version)'
              ' FROM traject.report_versions'), ['%d|%d|1' % (reports, reports)],
         '%s: %d reports, each generated once' % (what, reports))
    t.eq(psql('SELECT count(*), count(DISTINCT idempotency_key) FROM traject.documents'),
         ['%d|%d' % (docs, docs)], '%s: %d documents with as many keys' % (what, docs))
    t.eq(psql('SELECT state, count(*) FROM traject.deliveries GROUP BY state'),
         ['delivered|%d' % docs], '%s: every document delivered' % what)
    stored = dict(r.split('|') for r in psql('SELECT idempotency_key, sha256 FROM traject.documents'))
    bodies = {}
    for e in rcv.entries('request'):
        bodies.setdefault(unquote(e['key']), set()).add(e['body_sha256'])
    t.eq({k: sorted(v) for k, v in bodies.items()}, {k: [v] for k, v in stored.items()},
         '%s: the receiver saw each stored key, each with one body: the stored bytes' % what)
    decisions = rcv.entries('reply')
    accepted = {unquote(e['key']): e['receipt'] for e in decisions if e['outcome'] == 'accepted'}
    receipts = dict(r.split('|', 1) for r in psql(
        'SELECT d.idempotency_key, convert_from(dl.receipt_body, $$UTF8$$)'
        ' FROM traject.deliveries dl JOIN traject.documents d USING (doc_id)'))
    t.eq(receipts, accepted, "%s: each stored receipt is the funder's receipt" % what)
    return {'requests': len(rcv.entries('request')),
            'replayed': sum(1 for e in decisions if e['outcome'] == 'replayed'),
            'dropped': sum(1 for e in decisions if e['dropped'])}


def test_db_crash_during_generation_and_delivery(t):
    """PostgreSQL (fsync on) stopped with -m immediate twice under a running trajectd."""
    cluster = Cluster(int(os.environ.get('TJ_FAULTS_PGPORT', '54371')))
    rcv = None
    d = None
    try:
        cluster.psql('postgres', 'CREATE DATABASE %s' % t.db)
        env = cluster.env
        psql = lambda sql: cluster.psql(t.db, sql)  # noqa: E731
        t.succeeds(t.ctl('migrate', env=env), 'migrate (private cluster)')
        grants = ['DBF-%d' % i for i in range(1, 7)]
        # big enough that two generator processes are still at work when the first
        # grant's versions are seen committed
        load_grants(t, grants, events=big_events(t, 8000), env=env)
        rcv = Receiver(t, certs().server, chaos={'seed': SEED, 'sleep': [0.4, 0.9],
                                                 'drop': 0.1, 'retry': 0.0})
        conninfo = 'host=%s port=%s dbname=%s' % (cluster.dir, cluster.port, t.db)
        conf = config(t, conninfo, rcv.url, timeout=5,
                      extra='ca_file = %s\n\n[schedule]\nworkers = 2\n' % certs().ca)
        d = Daemon(t, conf, AFTER_ALL)
        outages = []

        def outage(during, ready_when):
            wait_for(t, 'the moment to crash the database (%s)' % during,
                     lambda: ready_when(int(psql('SELECT count(*) FROM traject.report_versions')[0]),
                                        int(psql("SELECT count(*) FROM traject.deliveries"
                                                 " WHERE state = 'delivered'")[0])),
                     seconds=60, step=0.05)
            cluster.crash()
            crashed = time.time()
            time.sleep(2.0)
            cluster.start()
            ready = time.time()
            n = len(outages) + 1
            back = wait_for(t, 'trajectd back on the database after outage %d' % n,
                            lambda: psql("SELECT extract(epoch FROM db_back_at) FROM"
                                         " traject.instances WHERE db_outages = %d" % n),
                            seconds=90, step=0.2)
            versions, delivered = (int(x) for x in psql(
                "SELECT (SELECT count(*) FROM traject.report_versions),"
                " (SELECT count(*) FROM traject.deliveries WHERE state = 'delivered')")[0]
                .split('|'))
            outages.append({'during': during, 'versions_kept': versions,
                            'delivered_kept': delivered, 'down_s': ready - crashed,
                            'recovered_s': float(back[0]) - ready})
            return versions, delivered

        versions, _ = outage('generation', lambda v, dl: v >= 2)
        t.ok(2 <= versions < 18, 'the first crash came in the middle of generation'
             ' (%d of 18 versions were committed)' % versions)
        _, delivered = outage('delivery', lambda v, dl: v == 18 and dl >= 6)
        t.ok(6 <= delivered < 36, 'the second crash came in the middle of delivery'
             ' (%d of 36 were delivered)' % delivered)
        wait_for(t, 'every document delivered after the outages',
                 lambda: psql("SELECT count(*) FROM traject.deliveries WHERE state = 'delivered'")
                 == ['36'], seconds=90, step=0.3)
        rc = d.stop()
        t.eq(rc, 0, 'trajectd ran through both outages and stops cleanly')
        log = d.text()
        t.eq(len(re.findall(r'^<3>database connection lost: ', log, re.M)), 2,
             'each outage is logged once when it starts')
        t.eq(len(re.findall(r'^<6>database connection restored after ', log, re.M)), 2,
             'and once when it ends')
        t.eq(psql('SELECT db_outages FROM traject.instances'), ['2'],
             'the instance row counts both outages')
        stats = check_nothing_lost_or_doubled(t, psql, rcv, 18, 'after two crashes')
        held = sum(int(n) for n in re.findall(r'restored after .* (\d+) held outcomes', log))
        for o in outages:
            measured('database crash during ' + o['during'],
                     versions_committed_before=o['versions_kept'],
                     delivered_before=o['delivered_kept'], down_s='%.1f' % o['down_s'],
                     reconnected_after_ready_s='%.1f' % o['recovered_s'])
        measured('database crashes (totals)', reports=18, documents=36, distinct_keys=36,
                 duplicate_bodies=0, outcomes_held_over_an_outage=held, **stats)
    finally:
        if d is not None and d.alive():
            d.stop()
        if rcv is not None:
            rcv.stop()
        cluster.close()


def test_db_lost_acknowledgements(t):
    """The commit happened, its acknowledgement was lost: nothing doubled, nothing lost."""
    out = os.path.join(t.tmp, 'outbox')
    os.mkdir(out)
    load_grants(t, ['ACK-1', 'ACK-2'])
    pg_dir, pg_port = os.environ['PGHOST'], os.environ.get('PGPORT', '5432')
    proxy = LostAckProxy(pg_dir, pg_port, t.tmp)
    # cut: the commit of the second generation, the commit of the third recorded
    # outcome, and the autocommitted claim of the fifth delivery
    proxy.arm('INSERT INTO traject.report_versions', 'commit')
    proxy.arm('INSERT INTO traject.report_versions', 'commit')
    conf = config(t, proxy.conninfo(t.db), 'file://' + out, timeout=1)
    lease = lease_seconds(1)
    watch = ClaimWatch(t, lease)
    d = Daemon(t, conf, AFTER_ALL)
    try:
        wait_for(t, 'two generations cut off', lambda: len(proxy.cut) >= 2, seconds=30)
        proxy.arm('UPDATE traject.deliveries SET state = $3', 'commit')
        proxy.arm("SET state = 'delivering'", 'statement')
        wait_for(t, 'an outcome and a claim cut off', lambda: len(proxy.cut) >= 4, seconds=30)
        wait_for(t, 'every document delivered',
                 lambda: count(t, "SELECT count(*) FROM traject.deliveries"
                                  " WHERE state = 'delivered'") == 12,
                 seconds=lease + 75, step=0.5)
        done = time.time()
    finally:
        watch.stop()
        rc = d.stop()
        proxy.stop()
    t.eq(rc, 0, 'trajectd stops cleanly')
    kinds = sorted((p, m) for _, p, m in proxy.cut)
    t.eq(kinds, sorted([('INSERT INTO traject.report_versions', 'commit')] * 2 +
                       [('UPDATE traject.deliveries SET state = $3', 'commit'),
                        ("SET state = 'delivering'", 'statement')]),
         'the proxy cut two generation commits, an outcome commit and a claim')
    log = d.text()
    # a cut in a generator process is seen (and logged) by that generator
    t.eq(len(re.findall(r'^<3>(report generator \d+: )?database connection lost: ', log,
                        re.M)), 4, 'trajectd saw each cut as a lost connection')
    t.eq(len(re.findall(r'^<5>.*: attempt 1 was already recorded \(the database\'s '
                        r'acknowledgement of that commit was lost\)$', log, re.M)), 1,
         'the outcome whose commit was not acknowledged is found recorded, and said so')
    t.ok('the lease ran out' not in log, 'and not mistaken for a lost lease', log)
    t.eq(rows(t, 'SELECT count(*), count(DISTINCT (grant_key, report_id)), max(version)'
                 ' FROM traject.report_versions'), [['6', '6', '1']],
         'a generation whose commit was not acknowledged is not made again')
    t.eq(rows(t, 'SELECT count(*), count(DISTINCT idempotency_key) FROM traject.documents'),
         [['12', '12']], 'twelve documents, twelve keys')
    t.eq(rows(t, 'SELECT state, count(*) FROM traject.deliveries GROUP BY state'),
         [['delivered', '12']], 'all delivered')
    names = sorted(files_in(out))
    t.ok(len(names) == 12 and not any(n.startswith('.') for n in names),
         'twelve files, no temporary file', names)
    for fmt, report, grant, sha in rows(t, 'SELECT d.format, d.report_id, g.id, d.sha256'
                                           ' FROM traject.documents d JOIN traject.grants g'
                                           ' USING (grant_key)'):
        t.eq(sha256_file(os.path.join(out, '%s_%s_v1.%s' % (grant, report, fmt))), sha,
             '%s %s %s holds the stored bytes' % (grant, report, fmt))
    t.eq(t.sql('SELECT count(*) FROM traject.deliveries WHERE receipt_path IS NULL'), ['0'],
         'every receipt is kept, the one whose commit was not acknowledged included')
    gaps = rows(t, 'SELECT dl.attempts, (SELECT count(*) FROM traject.delivery_attempts a'
                   ' WHERE a.delivery_id = dl.delivery_id) FROM traject.deliveries dl'
                   ' WHERE dl.attempts > 1')
    ages = watch.ages()
    max_over = max((o for _, o in ages), default=0.0)
    measured('lost acknowledgements', cut=len(proxy.cut), versions=6, documents=12,
             duplicate_files=0, lost_receipts=0,
             claims_with_more_attempts_than_records=len(gaps),
             max_claim_age_s='%.1f' % max((a for a, _ in ages), default=0.0), lease_s=lease,
             max_past_lease_s='%.1f' % max_over,
             all_delivered_after_s='%.1f' % (done - d.started))
    t.eq([int(a) - int(n) for a, n in gaps], [1],
         'the claim whose acknowledgement was lost shows as one attempt number without a record')
    t.ok(max_over <= TAKEOVER_SLACK_S,
         'the claim whose acknowledgement was lost is taken over when its lease runs out'
         ' (%.1f s past a lease of %d s)' % (max_over, lease))



def test_net_historical_calendar_with_a_faulty_receiver(t):
    """issue 4's "done": on a historical clock in the middle of the calendar, with a
    receiver that loses replies and asks for retries, two instances get every due
    document accepted exactly once per key with its stored bytes, send nothing that
    is not yet due, and status tells which is which (and which came late)."""
    grants = ['HIST-%02d' % i for i in range(1, 7)]
    load_grants(t, grants)
    rcv = Receiver(t, certs().server, chaos={'seed': SEED, 'sleep': [0, 0.3], 'drop': 0.3,
                                             'retry': 0.2})
    conf = config(t, t.conninfo, rcv.url, extra='ca_file = %s\n' % certs().ca)
    # 2011-07-12: Q1 (due 2011-04-15) is late, Q2 (due 2011-07-15) is due within its
    # lead time, the determination (as of 2011-12-31) is months away
    clock = '2011-07-12T12:00:00+02:00'
    daemons = [Daemon(t, conf, clock), Daemon(t, conf, clock)]
    try:
        wait_for(t, 'every due document delivered',
                 lambda: count(t, "SELECT count(*) FROM traject.deliveries"
                                  " WHERE state = 'delivered'") == 24,
                 seconds=120, step=0.5)
        time.sleep(3)  # a second delivery or a premature generation would show now
    finally:
        rcs = [d.stop() for d in daemons]
        rcv.stop()
    t.eq(rcs, [0, 0], 'both instances stop cleanly')
    t.eq(rows(t, 'SELECT report_id, count(*), max(version) FROM traject.report_versions'
                 ' GROUP BY report_id ORDER BY report_id'), [['Q1', '6', '1'], ['Q2', '6', '1']],
         'Q1 and Q2 of each grant generated once; the determination not at all')
    stored = dict(rows(t, 'SELECT idempotency_key, sha256 FROM traject.documents'))
    t.eq(len(stored), 24, '24 documents, 24 keys')
    bodies = {}
    for e in rcv.entries('request'):
        bodies.setdefault(unquote(e['key']), set()).add(e['body_sha256'])
    t.eq({k: sorted(v) for k, v in bodies.items()}, {k: [v] for k, v in stored.items()},
         'the receiver saw only the stored keys, each with its stored bytes')
    decisions = rcv.entries('reply')
    accepted = sorted(unquote(e['key']) for e in decisions if e['outcome'] == 'accepted')
    t.eq(accepted, sorted(stored), 'the funder accepted each document exactly once')
    t.ok(any(e['dropped'] for e in decisions) and
         any(e['outcome'] in ('replayed', 'retry') for e in decisions),
         'replies were lost and retries asked for', decisions)
    status = t.succeeds(t.ctl('status', '--json'), 'status').json()
    got = sorted((g['id'], r['id'], r['state'], r['late']) for g in status['grants']
                 for r in g['reports'])
    want = sorted((g, r, state, late) for g in grants
                  for r, state, late in (('Q1', 'delivered', True), ('Q2', 'delivered', False),
                                         ('final', 'scheduled', True)))
    # (the determination is late by today's real date, which status goes by: its due
    # date, 2012-01-31, has passed and it is undelivered; docs/daemon.md)
    t.eq(got, want, 'status: Q1 delivered late, Q2 delivered on time, the determination'
                    ' scheduled')
    measured('historical calendar, faulty receiver', documents=len(stored),
             requests=len(rcv.entries('request')),
             replies_dropped=sum(1 for e in decisions if e['dropped']),
             answered_503=sum(1 for e in decisions if e['outcome'] == 'retry'))


def test_pause_overruns_its_lease(t):
    """An instance stopped (SIGSTOP) in the middle of its attempts for longer than
    its lease: another instance takes the deliveries over, and the paused one,
    when it goes on, records nothing."""
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant.json')), 'grant load')
    # every request is accepted after 2 s (long enough to be stopped in the middle of
    # both, short enough for the timeout); a key seen before gets its receipt again
    rcv = Receiver(t, certs().server, chaos={'seed': SEED, 'sleep': [2, 2], 'drop': 0,
                                             'retry': 0})
    timeout = 3
    lease = lease_seconds(timeout)
    conf = config(t, t.conninfo, rcv.url, timeout=timeout, extra='ca_file = %s\n' % certs().ca)
    watch = ClaimWatch(t, lease)
    paused = Daemon(t, conf, Q1_MOMENT)
    other = None
    try:
        wait_for(t, 'both documents on their way to the receiver',
                 lambda: len(rcv.entries()) >= 2, seconds=20, step=0.02)
        paused.proc.send_signal(signal.SIGSTOP)
        stopped = time.time()
        other = Daemon(t, conf, Q1_MOMENT)
        wait_for(t, 'the other instance to take the paused claims over',
                 lambda: count(t, "SELECT count(*) FROM traject.deliveries"
                                  " WHERE state = 'delivered'") == 2,
                 seconds=lease + 75, step=0.25)
        taken_over = time.time() - stopped
        paused.proc.send_signal(signal.SIGCONT)
        wait_for(t, 'the paused instance to find its leases gone',
                 lambda: paused.text().count('the lease ran out before the attempt was'
                                             ' recorded') == 2, seconds=20)
    finally:
        watch.stop()
        if paused.alive():
            paused.proc.send_signal(signal.SIGCONT)
        rcs = [paused.stop()] + ([other.stop()] if other else [])
        rcv.stop()
    t.eq(rcs, [0, 0], 'both instances stop cleanly')
    t.eq(rows(t, "SELECT dl.state, dl.attempts, (SELECT string_agg(a.attempt || ':' || a.outcome"
                 "   || ':' || (a.instance_id LIKE $$trajectd@%:$$ || :'v1' || $$:%$$), ',')"
                 "   FROM traject.delivery_attempts a WHERE a.delivery_id = dl.delivery_id)"
                 " FROM traject.deliveries dl ORDER BY dl.delivery_id", other.pid),
         [['delivered', '2', '2:delivered:true']] * 2,
         "only the other instance's attempt 2 is recorded; the paused attempt 1 is not")
    stored = dict(rows(t, 'SELECT idempotency_key, sha256 FROM traject.documents'))
    sent = {}
    for e in rcv.entries():
        sent.setdefault(unquote(e['key']), []).append(e['body_sha256'])
    t.eq(sent, {k: [v, v] for k, v in stored.items()},
         'the receiver got each document twice: the same bytes with the same key')
    accepted = {unquote(e['key']): e['receipt'] for e in rcv.entries('reply')
                if e['outcome'] == 'accepted'}
    receipts = dict(rows(t, 'SELECT d.idempotency_key, convert_from(dl.receipt_body, $$UTF8$$)'
                            ' FROM traject.deliveries dl JOIN traject.documents d USING (doc_id)'))
    t.eq(receipts, accepted, "the stored receipt is the funder's (replayed) receipt")
    ages = watch.ages()
    max_over = max((o for _, o in ages), default=0.0)
    measured('an instance paused past its lease', lease_s=lease,
             taken_over_after_pause_s='%.1f' % taken_over, max_past_lease_s='%.1f' % max_over,
             requests=len(rcv.entries()), recorded_attempts=2)
    t.ok(max_over <= TAKEOVER_SLACK_S, 'the paused claims were taken over when their lease ran'
         ' out (%.1f s past a lease of %d s)' % (max_over, lease))

# ===================================================================================
# 3. Network faults, through the daemon
# ===================================================================================
CERTS = None


def certs():
    global CERTS
    if CERTS is None:
        d = tempfile.mkdtemp(prefix='tjfaults-certs-')
        CERTS = Certs(d)
    return CERTS


NET_TIMEOUT = 2        # [delivery] timeout of the network cases
NET_SLACK_MS = 1500    # what an attempt may take beyond it (start-up, recording)


def net_case(t, url, attempts=2):
    """TEST-DAEMON's Q1 (two documents) to url: run a long-running trajectd until
    `attempts` attempts are recorded, stop it; return (attempt rows, status, daemon)."""
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant.json')), 'grant load')
    conf = config(t, t.conninfo, url, timeout=NET_TIMEOUT,
                  extra='ca_file = %s\n' % certs().ca)
    d = Daemon(t, conf, Q1_MOMENT)
    try:
        wait_for(t, '%d recorded attempts' % attempts,
                 lambda: count(t, 'SELECT count(*) FROM traject.delivery_attempts') >= attempts,
                 seconds=30)
    finally:
        t0 = time.time()
        rc = d.stop()
        stop_s = time.time() - t0
    t.eq(rc, 0, 'trajectd stops cleanly (SIGTERM)')
    t.ok(stop_s <= NET_TIMEOUT + 3, 'and within the stop deadline (%.1f s)' % stop_s, d.text())
    got = rows(t, "SELECT a.attempt, a.outcome, coalesce(a.http_status::text, ''),"
                  " coalesce(a.error, ''), a.elapsed_ms, d.format"
                  " FROM traject.delivery_attempts a JOIN traject.deliveries dl USING (delivery_id)"
                  " JOIN traject.documents d USING (doc_id)"
                  " WHERE a.error IS NULL OR a.error NOT LIKE 'abandoned:%'"
                  " ORDER BY a.finished_at, a.delivery_id")
    for a in got:
        t.ok(int(a[4]) <= NET_TIMEOUT * 1000 + NET_SLACK_MS,
             'attempt %s (%s) ended within its bound: %s ms' % (a[0], a[5], a[4]), a)
    st = t.succeeds(t.ctl('--config', conf, 'status', '--json'), 'status --json').json()
    return got, st, d


def q1_of(st):
    g = [g for g in st['grants'] if g['id'] == 'TEST-DAEMON'][0]
    return [r for r in g['reports'] if r['id'] == 'Q1'][0]


def nothing_delivered(t):
    t.eq(count(t, "SELECT count(*) FROM traject.deliveries WHERE state = 'delivered'"), 0,
         'nothing counts as delivered')
    t.eq(count(t, "SELECT count(*) FROM traject.deliveries WHERE state = 'queued'"), 2,
         'both documents are queued for another try')


def measured_attempts(what, got):
    ms = [int(a[4]) for a in got]
    measured(what, attempts=len(got), max_elapsed_ms=max(ms), bound_ms=NET_TIMEOUT * 1000,
             errors=json.dumps(sorted(set(a[3][:60] for a in got))))


def test_net_receiver_hangs(t):
    rcv = Receiver(t, certs().server, script=[{'sleep': 60, 'status': 200}] * 20)
    try:
        got, st, d = net_case(t, rcv.url)
    finally:
        rcv.stop()
    t.ok(all(a[1] == 'retry' and 'timed out' in a[3] for a in got),
         'every attempt timed out and is retried', got)
    nothing_delivered(t)
    t.ok('timed out' in (q1_of(st)['last_error'] or ''), 'status says why', q1_of(st))
    measured_attempts('receiver hangs after reading the request', got)


def test_net_handshake_never_answered(t):
    hole = Blackhole()
    try:
        got, st, d = net_case(t, hole.url)
    finally:
        hole.stop()
    t.ok(all(a[1] == 'retry' and 'timed out' in a[3] for a in got),
         'every attempt timed out (in the TLS handshake) and is retried', got)
    t.ok(0 < hole.received < 4096, 'the peer got a ClientHello and nothing more (%d bytes)'
         % hole.received)
    nothing_delivered(t)
    t.ok('timed out' in (q1_of(st)['last_error'] or ''), 'status says why', q1_of(st))
    measured_attempts('TLS handshake never answered', got)


def test_net_connection_reset(t):
    rcv = Receiver(t, certs().server, script=[{'reset': True}] * 20)
    try:
        got, st, d = net_case(t, rcv.url)
    finally:
        rcv.stop()
    t.ok(all(a[1] == 'retry' and re.search(r'reset|Recv failure|SSL', a[3]) for a in got),
         'a reset is retried, with the reason', got)
    nothing_delivered(t)
    t.ok(q1_of(st)['last_error'], 'status says why', q1_of(st))
    measured_attempts('connection reset after the request', got)


def test_net_trickle(t):
    # the whole reply one byte a second: the status line never completes in time
    rcv = Receiver(t, certs().server, script=[{'trickle': 1, 'status': 201, 'body': 'ok'}] * 20)
    try:
        got, st, d = net_case(t, rcv.url)
    finally:
        rcv.stop()
    t.ok(all(a[1] == 'retry' and 'timed out' in a[3] for a in got),
         'a trickling reply times out and is retried', got)
    nothing_delivered(t)
    measured_attempts('reply trickles one byte a second', got)


def test_net_huge_reply(t):
    big = 50 * 1024 * 1024
    rcv = Receiver(t, certs().server, script=[{'status': 503, 'body_bytes': big},
                                              {'status': 503, 'body_bytes': big},
                                              {'status': 201, 'body_bytes': big},
                                              {'status': 201, 'body_bytes': big}])
    try:
        got, st, d = net_case(t, rcv.url, attempts=4)
        wait_for(t, 'the receiver log', lambda: len(rcv.entries()) >= 4, seconds=5)
    finally:
        rcv.stop()
    t.eq(sorted(a[1] for a in got), ['delivered', 'delivered', 'retry', 'retry'],
         'a huge 503 is retried, a huge 201 is a receipt')
    t.eq(rows(t, 'SELECT state, receipt_status, length(receipt_body) FROM traject.deliveries'),
         [['delivered', '201', str(1024 * 1024)]] * 2, 'the receipt keeps the first MiB only')
    t.ok(all('note:' in a[3] for a in got if a[1] == 'delivered'),
         'and notes that the reply was cut', got)
    measured_attempts('50 MiB replies (503, then 201)', got)


def tls_refused(t, cert, what, handshake_fails=True):
    rcv = Receiver(t, cert, script=[{'status': 201, 'body': 'must never be reached'}] * 20)
    try:
        got, st, d = net_case(t, rcv.url)
        if handshake_fails:  # a host name mismatch is found after the handshake
            wait_for(t, 'the failed handshakes in the receiver log',
                     lambda: len(rcv.entries('tls_error')) >= 2, seconds=5)
    finally:
        rcv.stop()
    t.eq(rcv.entries('request'), [], 'no request (no document byte) reached the %s peer' % what)
    t.ok(all(a[1] == 'retry' and 'TLS peer verification failed' in a[3] for a in got),
         'every attempt is refused by our side and retried', got)
    nothing_delivered(t)
    t.ok('TLS peer verification failed' in (q1_of(st)['last_error'] or ''),
         'status shows the reason', q1_of(st))
    t.eq([(a['kind'], a['report']) for a in st['alerts']], [('failing', 'Q1')],
         'and an open "failing" alert: waiting will not fix a certificate')
    t.ok(re.search(r'^<2>ALERT failing: grant TEST-DAEMON report Q1: .*TLS peer verification',
                   d.text(), re.M), 'a critical log line', d.text())
    measured_attempts('%s certificate' % what, got)
    return got


def test_net_self_signed_certificate(t):
    tls_refused(t, certs().self_signed, 'self-signed')


def test_net_wrong_host_certificate(t):
    tls_refused(t, certs().wrong_host, 'wrong-host', handshake_fails=False)


def test_net_expired_certificate(t):
    got = tls_refused(t, certs().expired, 'expired')
    t.ok(any(re.search(r'expired', a[3], re.I) for a in got), 'the reason names the expiry', got)



# ===================================================================================
# 4. Disk faults under a file:// target
# ===================================================================================
def files_in(d):
    return sorted(os.listdir(d))


def stored_sha(t, report):
    return dict(rows(t, 'SELECT format, sha256 FROM traject.documents WHERE report_id = :\'v1\'',
                     report))


def sha256_file(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def disk_phase(t, out, faults, report, fault, pattern, queue=None):
    """Queue `report` (or let the calendar do it), let attempts fail under `fault`,
    show that nothing partial is under the final name, lift the fault, see it delivered."""
    with open(faults, 'w') as f:
        f.write(fault + '\n')
    if queue:
        t.succeeds(queue(), 'queue %s' % report)
    names = ['TEST-DAEMON_%s_v1.%s' % (report, x) for x in ('json', 'xml')]
    wait_for(t, '%s: two failed attempts per document' % fault,
             lambda: count(t, "SELECT count(*) FROM traject.delivery_attempts a"
                              " JOIN traject.deliveries dl USING (delivery_id)"
                              " JOIN traject.documents d USING (doc_id)"
                              " WHERE d.report_id = :'v1' AND a.outcome = 'retry'", report) >= 4,
             seconds=30)
    t.eq([n for n in files_in(out) if n in names], [], '%s: nothing under a final name' % fault)
    t.eq([n for n in files_in(out) if n.startswith('.')], [],
         '%s: no temporary file left behind' % fault)
    errors = t.sql("SELECT DISTINCT dl.last_error FROM traject.deliveries dl JOIN"
                   " traject.documents d USING (doc_id) WHERE d.report_id = :'v1'", report)
    t.ok(errors and all(re.search(pattern, e) for e in errors),
         '%s: the error says what failed' % fault, errors)
    os.unlink(faults)  # the disk is fine again
    wait_for(t, '%s: delivered once the fault is gone' % fault,
             lambda: count(t, "SELECT count(*) FROM traject.deliveries dl JOIN traject.documents d"
                              " USING (doc_id) WHERE d.report_id = :'v1'"
                              " AND dl.state = 'delivered'", report) == 2, seconds=30)
    sha = stored_sha(t, report)
    for n in names:
        t.eq(sha256_file(os.path.join(out, n)), sha[n.rsplit('.', 1)[1]],
             '%s: %s holds the stored bytes' % (fault, n))
    t.eq([n for n in files_in(out) if n.startswith('.')], [], '%s: no temporary file' % fault)
    got = rows(t, "SELECT a.outcome, a.elapsed_ms FROM traject.delivery_attempts a"
                  " JOIN traject.deliveries dl USING (delivery_id) JOIN traject.documents d"
                  " USING (doc_id) WHERE d.report_id = :'v1' ORDER BY a.finished_at", report)
    return got, len(got)


def test_disk_faults_injected(t):
    if not SHIM or not os.path.exists(SHIM):
        raise tjtest.Failure('TJ_FAULTINJECT does not name the built shim: %r' % SHIM)
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant.json')), 'grant load')
    out = os.path.join(t.tmp, 'outbox')
    os.mkdir(out)
    faults = os.path.join(t.tmp, 'faults')
    flog = os.path.join(t.tmp, 'faults.log')
    conf = config(t, t.conninfo, 'file://' + out)
    env = {'LD_PRELOAD': SHIM, 'TJ_FAULT_DIR': out, 'TJ_FAULT_CONTROL': faults,
           'TJ_FAULT_LOG': flog,
           # an ASan build wants its runtime first; the shim only forwards to it
           'ASAN_OPTIONS': os.environ.get('ASAN_OPTIONS', '') + ':verify_asan_link_order=0'}
    with open(faults, 'w') as f:
        f.write('write ENOSPC\n')
    d = Daemon(t, conf, Q1_MOMENT, env=env)
    results = {}
    try:
        results['full disk (ENOSPC on write)'] = disk_phase(
            t, out, faults, 'Q1', 'write ENOSPC', r'writing .*: No space left on device')
        with open(flog) as f:
            log = f.read()
        t.ok(re.search(r'^write .*/\.TEST-DAEMON_Q1_v1\.(xml|json)\.tmp\.\d+\.\d+: \d+ of \d+ bytes'
                       r' written, then the disk is full', log, re.M),
             'the shim really wrote part of a temporary file before the disk was full', log)
        deliver = lambda r: lambda: t.ctl('--config', conf, 'deliver', '--grant', 'TEST-DAEMON',
                                          '--report', r)  # noqa: E731
        results['failed rename (EIO)'] = disk_phase(
            t, out, faults, 'Q2', 'rename EIO', r'writing .*: Input/output error',
            queue=deliver('Q2'))
        results['failed flush (EIO on fsync)'] = disk_phase(
            t, out, faults, 'final', 'fsync EIO', r'Input/output error', queue=deliver('final'))
    finally:
        rc = d.stop()
    t.eq(rc, 0, 'trajectd stops cleanly')
    with open(flog) as f:
        log = f.read()
    t.ok(re.search(r'^rename to TEST-DAEMON_Q2_v1\.(xml|json): Input/output error', log, re.M),
         'renames were really refused', log)
    t.ok(re.search(r'^fsync .*TEST-DAEMON_final_v1\.(xml|json)', log, re.M),
         'flushes were really refused', log)
    t.eq(sorted(files_in(out)), sorted('TEST-DAEMON_%s_v1.%s' % (r, x) for r in ('Q1', 'Q2', 'final')
                                       for x in ('json', 'xml')),
         'in the end: the six documents, nothing else')
    for what, (got, n) in results.items():
        measured('disk: ' + what, attempts=n, failed=sum(1 for a in got if a[0] == 'retry'),
                 delivered=sum(1 for a in got if a[0] == 'delivered'),
                 max_elapsed_ms=max(int(a[1]) for a in got), partial_files_left=0)


def test_disk_full_tmpfs(t):
    """A really full file system: a small tmpfs (needs root and mount; else SKIP)."""
    out = os.path.join(t.tmp, 'outbox')
    os.mkdir(out)
    p = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tjfaults', out],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise tjtest.Skip('cannot mount a tmpfs here: %s' % p.stderr.strip())
    try:
        t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant.json')), 'grant load')
        conf = config(t, t.conninfo, 'file://' + out)
        # leave about 1 KiB: less than either document of Q1 (2-3 KiB)
        filler = os.path.join(out, 'filler')
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            while True:
                os.write(fd, b'\0' * 1024)
        except OSError:
            pass
        finally:
            os.close(fd)
        os.truncate(filler, os.path.getsize(filler) - 1024)
        d = Daemon(t, conf, Q1_MOMENT)
        try:
            got, n = disk_phase_tmpfs(t, out, filler)
        finally:
            rc = d.stop()
        t.eq(rc, 0, 'trajectd stops cleanly')
        measured('disk: a really full tmpfs', attempts=n,
                 failed=sum(1 for a in got if a[0] == 'retry'),
                 delivered=sum(1 for a in got if a[0] == 'delivered'),
                 max_elapsed_ms=max(int(a[1]) for a in got), partial_files_left=0)
    finally:
        subprocess.run(['umount', out], capture_output=True)


def disk_phase_tmpfs(t, out, filler):
    names = ['TEST-DAEMON_Q1_v1.json', 'TEST-DAEMON_Q1_v1.xml']
    wait_for(t, 'failed attempts on the full tmpfs',
             lambda: count(t, "SELECT count(*) FROM traject.delivery_attempts"
                              " WHERE outcome = 'retry'") >= 2, seconds=30)
    t.eq([n for n in files_in(out) if n != 'filler'], [],
         'the full disk holds no document and no temporary file')
    errors = t.sql('SELECT DISTINCT last_error FROM traject.deliveries')
    t.ok(errors and all('No space left on device' in e for e in errors), 'ENOSPC is the reason',
         errors)
    os.unlink(filler)
    wait_for(t, 'delivered once there is room',
             lambda: count(t, "SELECT count(*) FROM traject.deliveries"
                              " WHERE state = 'delivered'") == 2, seconds=30)
    sha = stored_sha(t, 'Q1')
    for n in names:
        t.eq(sha256_file(os.path.join(out, n)), sha[n.rsplit('.', 1)[1]], '%s is complete' % n)
    t.eq(files_in(out), names, 'and nothing else is there')
    got = rows(t, 'SELECT outcome, elapsed_ms FROM traject.delivery_attempts ORDER BY finished_at')
    return got, len(got)





def remove_certs():
    if CERTS is not None:
        shutil.rmtree(CERTS.dir, ignore_errors=True)


tjtest.main(globals(), at_exit=remove_certs)
