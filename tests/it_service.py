"""trajectd as a long-running service: systemd notifications (a fake
NOTIFY_SOCKET), reload on SIGHUP, wake-ups by NOTIFY, idle wake-ups, HTTPS
transfers running concurrently on the loop, the two-stage stop, PostgreSQL
going away under a running daemon, and two daemons on one database.

The calendars (lead_days 5 unless said otherwise, Europe/Amsterdam, see
docs/daemon.md):

    grant          report  as_of       due         moment (lead 5)        moment (lead 10)
    TEST-DAEMON    Q1      2011-03-31  2011-04-15  2011-04-09T22:00:00Z   2011-04-04T22:00:00Z
    TEST-RELOAD    R1      2011-03-31  2011-04-15  2011-04-09T22:00:00Z   2011-04-04T22:00:00Z
    TEST-FUTURE    P1, P2  2020-...    2099-...    far away: only a wake-up makes it work

so at --clock 2011-04-05T12:00:00Z nothing is due with lead_days 5 and Q1/R1
are due with lead_days 10.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import tjtest

HERE = os.path.dirname(os.path.abspath(__file__))
RECEIVER = os.path.join(HERE, 'receiver.py')
PGCLUSTER = os.path.join(HERE, 'pgcluster.sh')
Q1_MOMENT = '2011-04-09T22:00:00Z'
BETWEEN = '2011-04-05T12:00:00Z'  # due with lead_days 10, not with 5


# --- helpers -----------------------------------------------------------------
def config(t, url, name='trajectd.conf', lead=5, formats='xml json', timeout=10, extra='',
           conninfo=None):
    return t.write(name, '[database]\nconninfo = %s\n\n[schedule]\nlead_days = %d\n'
                         'time_zone = Europe/Amsterdam\n\n[delivery]\nurl = %s\n'
                         'formats = %s\ntimeout = %d\nretry_base = 1\nretry_max = 2\n'
                         'warn_hours = 48\n%s' % (conninfo or t.conninfo, lead, url, formats,
                                                  timeout, extra))


def folder(t, name='outbox'):
    path = os.path.join(t.tmp, name)
    os.mkdir(path)
    return path


def wait_for(t, what, cond, seconds=15, step=0.05):
    end = time.time() + seconds
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    t.ok(False, 'timed out after %s s waiting for %s' % (seconds, what))


class Notify:
    """A fake systemd: an AF_UNIX datagram socket collecting sd_notify messages."""

    def __init__(self, t):
        self.path = os.path.join(t.tmp, 'notify.sock')
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []  # (monotonic time, {key: value})
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = dict(line.split('=', 1) for line in data.decode().split('\n') if '=' in line)
            with self.lock:
                self.messages.append((time.monotonic(), fields))

    def seen(self, key, value=None):
        with self.lock:
            return [(at, m) for at, m in self.messages
                    if key in m and (value is None or m[key] == value)]

    def wait(self, t, key, value='1', count=1, seconds=15):
        return wait_for(t, '%s=%s (x%d) from sd_notify' % (key, value, count),
                        lambda: len(self.seen(key, value)) >= count and self.seen(key, value),
                        seconds)

    def close(self):
        self.running = False
        self.thread.join(timeout=2)
        self.sock.close()


class Daemon:
    """A running trajectd (not --once) with its log in a file."""

    def __init__(self, t, conf, *args, notify=None, watchdog_usec=None, name='daemon'):
        self.t = t
        self.log_path = os.path.join(t.tmp, name + '.err')
        self.errf = open(self.log_path, 'w')
        env = dict(os.environ)
        env.pop('NOTIFY_SOCKET', None)
        env.pop('WATCHDOG_USEC', None)
        env.pop('WATCHDOG_PID', None)
        if notify:
            env['NOTIFY_SOCKET'] = notify.path
        if watchdog_usec:
            env['WATCHDOG_USEC'] = str(watchdog_usec)
        self.proc = subprocess.Popen(tjtest.trajectd('--config', conf, *args),
                                     stdout=subprocess.DEVNULL, stderr=self.errf, env=env)
        self.pid = self.proc.pid

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_log(self, pattern, seconds=15):
        return wait_for(self.t, 'the log line %r' % pattern,
                        lambda: re.search(pattern, self.log(), re.M), seconds)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, seconds=20):
        """SIGTERM and wait: (exit status, seconds it took)."""
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=seconds)
        return rc, time.monotonic() - start

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.errf.close()




class Receiver:
    """tests/receiver.py on 127.0.0.1 with a script of replies."""

    def __init__(self, t, steps):
        self.t = t
        self.ca, cert, key = tjtest.make_certs(t.tmp, 'trajectd service test CA')
        script = os.path.join(t.tmp, 'script.json')
        with open(script, 'w') as f:
            json.dump(steps, f)
        self.log_path = os.path.join(t.tmp, 'receiver.jsonl')
        self.proc = subprocess.Popen([sys.executable, RECEIVER, '--cert', cert, '--key', key,
                                     '--script', script, '--log', self.log_path],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        m = re.match(r'PORT (\d+)', self.proc.stdout.readline())
        if not m:
            raise tjtest.Failure('the receiver did not start')
        self.url = 'https://127.0.0.1:%s/inbox' % m.group(1)

    def requests(self):
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path) as f:
            seen = [json.loads(line) for line in f if '"request"' in line]
        for e in seen:
            e['key'] = [v for h, v in e['headers'] if h.lower() == 'idempotency-key'][0].strip('"')
        return seen

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


def rows(t, sql, *params):
    return [r.split('|') for r in t.sql(sql, *params)]


def files(out):
    return sorted(f for f in os.listdir(out) if not f.startswith('.'))


def names(grant, report, version=1, formats=('json', 'xml')):
    return ['%s_%s_v%d.%s' % (grant, report, version, f) for f in formats]


def stopped_line(d):
    m = re.search(r'^<6>stopped: (\d+) loop wake-ups in ([0-9.]+) s', d.log(), re.M)
    return (int(m.group(1)), float(m.group(2))) if m else None


# --- systemd ----------------------------------------------------------------------
def test_systemd_ready_watchdog_reloading_stopping(t):
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant-future.json')), 'grant load')
    conf = config(t, 'file://' + folder(t))
    n = Notify(t)
    d = Daemon(t, conf, notify=n, watchdog_usec=1000000)
    try:
        at, ready = n.wait(t, 'READY')[0]
        t.eq(t.sql('SELECT count(*) FROM traject.instances WHERE stopped_at IS NULL'), ['1'],
             'READY=1 comes after the instance registered')
        t.ok(ready.get('STATUS', '').startswith('running: database connected'),
             'READY=1 carries a STATUS line', ready)
        time.sleep(2.6)
        pings = [a for a, _ in n.seen('WATCHDOG')]
        t.ok(3 <= len(pings) <= 8, 'WATCHDOG=1 at half of WATCHDOG_USEC (1 s): about 5 in 2.6 s',
             len(pings))
        gaps = sorted(b - a for a, b in zip(pings, pings[1:]))
        t.ok(0.35 < gaps[len(gaps) // 2] < 0.75, 'every ~0.5 s (the median gap)', gaps)
        d.signal(signal.SIGHUP)
        n.wait(t, 'READY', count=2)
        reloading = n.seen('RELOADING')
        t.eq(len(reloading), 1, 'SIGHUP: RELOADING=1 once')
        t.ok('MONOTONIC_USEC' in reloading[0][1], 'with MONOTONIC_USEC (Type=notify-reload)',
             reloading)
        t.ok(reloading[0][0] <= n.seen('READY')[1][0], 'then READY=1 again')
        rc, took = d.stop()
        t.eq(rc, 0, 'SIGTERM: exit 0')
        t.ok(took < 5, 'at once when nothing is in flight', took)
        stopping = n.seen('STOPPING', '1')
        t.eq(len(stopping), 1, 'STOPPING=1 once')
        t.ok(all(a < stopping[0][0] for a, _ in n.seen('READY')), 'after the READYs')
        t.ok(re.search(r'^<6>configuration \S+ re-read$', d.log(), re.M), 'the reload is logged',
             d.log())
        t.ok(re.search(r'^<6>stopping on signal 15$', d.log(), re.M), 'the stop is logged')
    finally:
        d.close()
        n.close()


def test_every_pass_pets_the_watchdog(t):
    """A pass sends WATCHDOG=1 and pushes the watchdog timer: an idle service wakes once a minute."""
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant-future.json')), 'grant load')
    out = folder(t)
    conf = config(t, 'file://' + out)
    n = Notify(t)
    # the timer alone would ping after half of 100 s: every ping seen here comes from a pass
    d = Daemon(t, conf, notify=n, watchdog_usec=100000000)
    try:
        at, _ = n.wait(t, 'READY')[0]
        first = n.wait(t, 'WATCHDOG', seconds=5)
        t.ok(first[0][0] - at < 3, 'the first pass pings at once, not after 50 s',
             first[0][0] - at)
        time.sleep(1)
        t.eq(len(n.seen('WATCHDOG')), 1, 'one ping for one pass')
        before = time.monotonic()
        t.succeeds(t.ctl('--config', conf, 'deliver', '--grant', 'TEST-FUTURE', '--report', 'P1'),
                   'deliver (NOTIFY trajectd: a pass)')
        pings = n.wait(t, 'WATCHDOG', count=2, seconds=5)
        t.ok(pings[1][0] - before < 3, 'the woken pass pings too', pings[1][0] - before)
        wait_for(t, 'the delivery', lambda: len(files(out)) == 2, seconds=10)
        t.eq(d.stop()[0], 0, 'exit 0')
    finally:
        d.close()
        n.close()


def test_no_watchdog_without_watchdog_usec(t):
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant-future.json')), 'grant load')
    conf = config(t, 'file://' + folder(t))
    n = Notify(t)
    d = Daemon(t, conf, notify=n)
    try:
        n.wait(t, 'READY')
        time.sleep(1.5)
        t.eq(n.seen('WATCHDOG'), [], 'no WATCHDOG=1 when systemd asks for none')
        t.eq(d.stop()[0], 0, 'exit 0')
    finally:
        d.close()
        n.close()


# --- reload ---------------------------------------------------------------------------
def test_reload_good_then_bad_keeps_the_good(t):
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant.json')), 'grant load')
    first, second, third = folder(t, 'first'), folder(t, 'second'), folder(t, 'third')
    conf = config(t, 'file://' + first, lead=5)
    n = Notify(t)
    d = Daemon(t, conf, '--clock', BETWEEN, notify=n)
    try:
        n.wait(t, 'READY')
        time.sleep(1.5)
        t.eq(t.sql('SELECT count(*) FROM traject.report_versions'), ['0'],
             'lead_days 5: nothing is due at 2011-04-05')
        # good: lead_days 10 and another folder
        config(t, 'file://' + second, lead=10)
        d.signal(signal.SIGHUP)
        wait_for(t, 'Q1 in the new folder', lambda: len(files(second)) == 2)
        t.eq(files(second), names('TEST-DAEMON', 'Q1'), 'the new lead_days and url apply at once')
        t.eq(files(first), [], 'nothing in the old folder')
        t.eq(t.sql('SELECT traject.iso_utc(scheduled_for) FROM traject.report_versions'),
             ['2011-04-04T22:00:00Z'], 'generated for the lead_days 10 moment')
        # bad: the -n checks refuse an unknown zone; lead_days 5 and a third folder would apply
        with open(conf, 'w') as f:
            f.write('[database]\nconninfo = %s\n[schedule]\nlead_days = 5\n'
                    'time_zone = Mars/Olympus\n[delivery]\nurl = file://%s\n' % (t.conninfo, third))
        d.signal(signal.SIGHUP)
        d.wait_log(r'^<3>configuration \S+ refused: keeping the old one$')
        t.ok(re.search(r"^<3>%s:5: \[schedule\] time_zone: 'Mars/Olympus' is not a known time "
                       r"zone" % re.escape(conf), d.log(), re.M),
             'the problem is logged with file, line and key', d.log())
        # bad: a value the parser refuses
        with open(conf, 'w') as f:
            f.write('[database]\nconninfo = %s\n[schedule]\nlead_days = many\n' % t.conninfo)
        d.signal(signal.SIGHUP)
        wait_for(t, 'the second refusal',
                 lambda: len(re.findall(r'^<3>configuration \S+ refused', d.log(), re.M)) == 2)
        t.ok(re.search(r'^<3>%s:4: .*lead_days' % re.escape(conf), d.log(), re.M),
             'a parse error names line 4 and the key', d.log())
        n.wait(t, 'READY', count=4)
        t.ok(d.alive(), 'still running')
        # the good configuration is still in force: R1 is due with lead_days 10 only
        t.succeeds(t.ctl('grant', 'load', t.data('service', 'grant-reload.json')), 'grant load')
        wait_for(t, 'R1 in the kept folder', lambda: len(files(second)) == 4)
        t.eq(files(second), sorted(names('TEST-DAEMON', 'Q1') + names('TEST-RELOAD', 'R1')),
             'generated with lead_days 10 into the kept folder')
        t.eq(files(third), [], 'the refused url was never used')
        t.eq(d.stop()[0], 0, 'exit 0')
    finally:
        d.close()
        n.close()


# --- wake-ups ---------------------------------------------------------------------------
def heartbeat(t):
    return t.sql('SELECT heartbeat_at FROM traject.instances')[0]


def test_deliver_import_and_grant_load_wake_an_idle_daemon(t):
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant-future.json')), 'grant load')
    out = folder(t)
    conf = config(t, 'file://' + out)
    n = Notify(t)
    d = Daemon(t, conf, notify=n)
    try:
        n.wait(t, 'READY')
        time.sleep(1.5)  # idle: the next timed pass is a minute away
        t.succeeds(t.ctl('--config', conf, 'deliver', '--grant', 'TEST-FUTURE', '--report', 'P1'),
                   'deliver')
        start = time.monotonic()
        wait_for(t, 'the delivery', lambda: len(files(out)) == 2, seconds=10)
        took = time.monotonic() - start
        t.ok(took < 1.5, 'trajectctl deliver woke it at once', took)
        t.eq(files(out), names('TEST-FUTURE', 'P1'), 'and it delivered')

        time.sleep(1.5)
        before = heartbeat(t)
        t.succeeds(t.ctl('import', '--grant', 'TEST-FUTURE', t.data('service', 'events-future.csv')),
                   'import')
        start = time.monotonic()
        wait_for(t, 'a pass after the import', lambda: heartbeat(t) != before, seconds=10)
        took = time.monotonic() - start
        t.ok(took < 1.5, 'an import woke it at once (a pass heartbeats)', took)

        time.sleep(1.5)
        t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant.json')), 'grant load')
        start = time.monotonic()
        wait_for(t, 'the past reports of the new grant',
                 lambda: len([f for f in files(out) if f.startswith('TEST-DAEMON')]) == 6,
                 seconds=15)
        took = time.monotonic() - start
        t.ok(took < 3, 'a grant load woke it: its missed reports are generated at once', took)
        t.eq(d.stop()[0], 0, 'exit 0')
    finally:
        d.close()
        n.close()


def test_idle_daemon_sleeps(t):
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant-future.json')), 'grant load')
    conf = config(t, 'file://' + folder(t))
    d = Daemon(t, conf)
    strace = None
    try:
        wait_for(t, 'the instance', lambda: t.sql('SELECT count(*) FROM traject.instances') == ['1'])
        time.sleep(1)
        if shutil.which('strace'):
            strace = subprocess.Popen(['strace', '-c', '-e', 'trace=epoll_wait,epoll_pwait',
                                       '-p', str(d.pid)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(20)
        rss = int(subprocess.run(['ps', '-o', 'rss=', '-p', str(d.pid)], capture_output=True,
                                 text=True).stdout.strip() or 0)
        print('# idle trajectd: RSS %d KiB' % rss)
        extra = 0
        if strace:
            strace.send_signal(signal.SIGINT)
            err = strace.communicate(timeout=10)[1]
            if 'attached' in err:
                # attaching and detaching interrupt the wait: two wake-ups of the loop
                extra = 2
                m = re.search(r'^\s*[0-9.]+\s+[0-9.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?epoll_p?wait',
                              err, re.M)
                calls = int(m.group(1)) if m else 0  # no table: no call ended
                print('# strace -c over 20 s idle: %d epoll_wait calls ended' % calls)
                t.ok(calls <= 2, 'strace: at most a few epoll_wait calls in 20 s idle', err)
            else:
                print('# strace could not attach: the loop counter decides (%s)'
                      % err.strip().split('\n')[0])
        rc, _ = d.stop()
        t.eq(rc, 0, 'exit 0')
        wakeups, seconds = stopped_line(d)
        print('# idle trajectd: %d loop wake-ups in %.1f s' % (wakeups, seconds))
        t.ok(seconds >= 20, 'it ran for 20 s', seconds)
        # the first pass at start, the signal itself, and nothing else
        t.ok(wakeups - extra <= 3, 'at most a few loop wake-ups in 20 s idle (no polling)',
             d.log())
        t.ok(0 < rss < 256 * 1024, 'a sane resident size', rss)
    finally:
        if strace and strace.poll() is None:
            strace.kill()
            strace.wait()
        d.close()


# --- HTTPS on the loop ---------------------------------------------------------------------
def test_transfers_run_concurrently_on_the_loop(t):
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant.json')), 'grant load')
    rcv = Receiver(t, [{'sleep': 5, 'status': 201, 'body': 'one'},
                       {'sleep': 5, 'status': 201, 'body': 'two'}])
    conf = config(t, rcv.url, extra='ca_file = %s\n' % rcv.ca)
    d = Daemon(t, conf, '--clock', Q1_MOMENT)
    try:
        wait_for(t, 'both requests at the receiver', lambda: len(rcv.requests()) == 2, seconds=10)
        t.eq(t.sql('SELECT state FROM traject.deliveries'), ['delivering', 'delivering'],
             'both documents are in flight at the same time (neither was answered yet)')
        # the loop is not blocked by the slow receiver: a reload is handled meanwhile
        d.signal(signal.SIGHUP)
        d.wait_log(r'^<6>configuration \S+ re-read$', seconds=2)
        t.eq(t.sql('SELECT state FROM traject.deliveries'), ['delivering', 'delivering'],
             'while both transfers still run')
        wait_for(t, 'both receipts', lambda: t.sql("SELECT count(*) FROM traject.deliveries"
                                                   " WHERE state = 'delivered'") == ['2'])
        t.eq(sorted(t.sql('SELECT convert_from(receipt_body, $$UTF8$$) FROM traject.deliveries')),
             ['one', 'two'], 'each receipt recorded')
        t.ok(re.search(r'^<6>pass: 1 generated \(0 late\), 0 attempts: .*; 2 transfers started$',
                       d.log(), re.M), 'the pass started two transfers', d.log())
        t.eq(d.stop()[0], 0, 'exit 0')
    finally:
        d.close()
        rcv.close()


def stored(t):
    return dict(rows(t, 'SELECT idempotency_key, sha256 FROM traject.documents'))


def test_sigterm_waits_for_a_transfer_in_flight(t):
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant.json')), 'grant load')
    rcv = Receiver(t, [{'sleep': 2, 'status': 201, 'body': 'late but fine'}])
    conf = config(t, rcv.url, formats='xml', extra='ca_file = %s\n' % rcv.ca)
    n = Notify(t)
    d = Daemon(t, conf, '--clock', Q1_MOMENT, notify=n)
    try:
        wait_for(t, 'the request', lambda: len(rcv.requests()) == 1)
        rc, took = d.stop()
        t.eq(rc, 0, 'exit 0')
        t.ok(1 < took < 5, 'it waited for the reply (2 s), not for the deadline (10 s)', took)
        t.ok(n.seen('STOPPING', '1'), 'STOPPING=1')
        t.ok(re.search(r'^<6>waiting up to 10 s for 1 transfers in flight', d.log(), re.M),
             'says what it waits for', d.log())
        t.eq(rows(t, 'SELECT state, attempts, convert_from(receipt_body, $$UTF8$$)'
                     ' FROM traject.deliveries'), [['delivered', '1', 'late but fine']],
             'the answer that came while stopping is recorded')
        t.eq(t.sql('SELECT stopped_at IS NOT NULL FROM traject.instances'), ['t'], 'stopped')
    finally:
        d.close()
        n.close()
        rcv.close()


def abandoned_then_completed(t, rcv, conf, first_key):
    """The released delivery goes out again, by a new instance, with the same key and bytes."""
    t.eq(rows(t, 'SELECT state, attempts, lease_owner IS NULL, last_error LIKE $$abandoned:%$$'
                 ' FROM traject.deliveries'), [['queued', '1', 't', 't']],
         'the abandoned attempt gave its lease back and is queued again')
    t.eq(rows(t, 'SELECT attempt, outcome, error LIKE $$abandoned:%$$ FROM traject.delivery_attempts'),
         [['1', 'retry', 't']], 'and recorded as an abandoned attempt')
    r = subprocess.run(tjtest.trajectd('--config', conf, '--once', '--clock', '2011-04-09T22:05:00Z'),
                       capture_output=True, text=True, timeout=60)
    t.eq(r.returncode, 0, 'a new instance runs')
    t.eq(rows(t, 'SELECT state, attempts FROM traject.deliveries'), [['delivered', '2']],
         'and delivers it')
    reqs = rcv.requests()
    t.eq(len(reqs), 2, 'the receiver saw the document twice')
    want = stored(t)
    t.eq([(r['key'], r['body_sha256']) for r in reqs], [(first_key, want[first_key])] * 2,
         'with the same key and the same stored bytes both times')


def test_sigterm_deadline_abandons_and_a_new_instance_completes(t):
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant.json')), 'grant load')
    rcv = Receiver(t, [{'sleep': 60, 'status': 201}, {'status': 201, 'body': 'second'}])
    # timeout 40 s: the stop deadline is min(timeout, 30 s) = 30 s, before the transfer gives up
    conf = config(t, rcv.url, formats='xml', timeout=40, extra='ca_file = %s\n' % rcv.ca)
    d = Daemon(t, conf, '--clock', Q1_MOMENT)
    try:
        wait_for(t, 'the request', lambda: len(rcv.requests()) == 1)
        rc, took = d.stop(seconds=60)
        t.eq(rc, 0, 'exit 0')
        t.ok(29 < took < 34, 'after the 30 s deadline', took)
        t.ok(re.search(r'^<4>the stop deadline of 30 s has passed: abandoning 1 transfers$',
                       d.log(), re.M), 'says so', d.log())
        abandoned_then_completed(t, rcv, conf, rcv.requests()[0]['key'])
    finally:
        d.close()
        rcv.close()


def test_second_sigterm_stops_at_once(t):
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant.json')), 'grant load')
    rcv = Receiver(t, [{'sleep': 60, 'status': 201}, {'status': 201, 'body': 'second'}])
    conf = config(t, rcv.url, formats='xml', timeout=40, extra='ca_file = %s\n' % rcv.ca)
    d = Daemon(t, conf, '--clock', Q1_MOMENT)
    try:
        wait_for(t, 'the request', lambda: len(rcv.requests()) == 1)
        start = time.monotonic()
        d.signal(signal.SIGTERM)
        d.wait_log(r'^<6>waiting up to 30 s for 1 transfers in flight')
        d.signal(signal.SIGTERM)
        rc = d.proc.wait(timeout=10)
        took = time.monotonic() - start
        t.eq(rc, 0, 'exit 0')
        t.ok(took < 3, 'at once', took)
        t.ok(re.search(r'^<4>signal 15 again: stopping at once, abandoning 1 transfers$', d.log(),
                       re.M), 'says so', d.log())
        abandoned_then_completed(t, rcv, conf, rcv.requests()[0]['key'])
    finally:
        d.close()
        rcv.close()


# --- PostgreSQL going away ---------------------------------------------------------------
def pg_bin():
    for d in ['/usr/lib/postgresql/15/bin'] + sorted(os.listdir('/usr/lib/postgresql')):
        d = d if d.startswith('/') else os.path.join('/usr/lib/postgresql', d, 'bin')
        if os.path.exists(os.path.join(d, 'pg_ctl')):
            return d
    return os.path.dirname(shutil.which('pg_ctl'))


def as_owner(args):
    return (['runuser', '-u', 'postgres', '--'] + args) if os.getuid() == 0 else args


def test_postgres_restart_under_a_running_daemon(t):
    # a private cluster: stopping it hurts no other test running in parallel; its socket
    # directory is private too, so the port cannot clash with another cluster's
    pgdir = tempfile.mkdtemp(prefix='tjtest-pg-')
    port = str(int(os.environ.get('PGPORT', '54329')) + 1000)
    # durable (fsync, synchronous commit): an immediate stop must not forget committed claims
    env = dict(os.environ, TJ_PGPORT=port, TJ_DURABLE='1')
    r = subprocess.run([PGCLUSTER, 'start', pgdir], capture_output=True, text=True, env=env)
    t.ok(r.returncode == 0, 'a private cluster starts', r.stderr)
    conninfo = 'host=%s port=%s user=postgres dbname=svc' % (pgdir, port)
    pg_ctl = os.path.join(pg_bin(), 'pg_ctl')
    rcv = n = d = None
    try:
        subprocess.run(['psql', '-X', '-q', '-h', pgdir, '-p', port, '-U', 'postgres', '-d',
                        'postgres', '-c', 'CREATE DATABASE svc'], check=True, capture_output=True)
        ctl = lambda *a: t.ctl('--db', conninfo, *a)  # noqa: E731 - the last --db wins
        t.succeeds(ctl('migrate'), 'migrate')
        t.succeeds(ctl('grant', 'load', t.data('daemon', 'grant-future.json')), 'grant load')
        psql = lambda sql: subprocess.run(  # noqa: E731
            ['psql', '-X', '-q', '-A', '-t', '-d', conninfo, '-c', sql],
            capture_output=True, text=True, check=True).stdout.splitlines()
        rcv = Receiver(t, [{'sleep': 4, 'status': 201, 'body': 'while away'},
                           {'status': 201, 'body': 'after'}])
        conf = config(t, rcv.url, formats='json', conninfo=conninfo,
                      extra='ca_file = %s\n' % rcv.ca)
        n = Notify(t)
        d = Daemon(t, conf, notify=n)
        n.wait(t, 'READY')
        t.succeeds(ctl('--config', conf, 'deliver', '--grant', 'TEST-FUTURE', '--report', 'P1'),
                   'queue P1')
        wait_for(t, 'the slow request', lambda: len(rcv.requests()) == 1)
        subprocess.run(as_owner([pg_ctl, '-D', os.path.join(pgdir, 'data'), '-m', 'immediate',
                                 'stop']), check=True, capture_output=True)
        lost = d.wait_log(r'^<3>database connection lost: .*running on without it')
        t.ok(lost, 'the loss is logged at err')
        wait_for(t, 'STATUS= to say the database is away',
                 lambda: [m for _, m in n.seen('STATUS')
                          if m['STATUS'].startswith('database unreachable since')])
        time.sleep(5)  # the transfer ends (after 4 s) while the database is away
        t.ok(d.alive(), 'the daemon keeps running without its database')
        t.ok(re.search(r'^<4>reconnecting to the database failed: ', d.log(), re.M),
             'a failed reconnect is logged once', d.log())
        t.eq(len(re.findall(r'reconnecting to the database failed', d.log())), 1, 'only once')
        held = [m['STATUS'] for _, m in n.seen('STATUS') if '1 outcomes held' in m['STATUS']]
        t.ok(held, 'STATUS= counts the outcome held for the database', n.seen('STATUS'))
        r = subprocess.run([PGCLUSTER, 'start', pgdir], capture_output=True, text=True, env=env)
        t.ok(r.returncode == 0, 'the cluster starts again', r.stderr)
        # but without the daemon's database for a while: an attempt that reaches the server
        # and is refused there (PQconnectPoll fails rather than the socket)
        rename = ['psql', '-X', '-q', '-h', pgdir, '-p', port, '-U', 'postgres', '-d', 'postgres',
                  '-c']
        wait_for(t, 'the database renamed away', lambda: subprocess.run(
            rename + ['ALTER DATABASE svc RENAME TO svc_away'], capture_output=True).returncode == 0)
        wait_for(t, 'STATUS= with the server refusing',
                 lambda: [m for _, m in n.seen('STATUS') if 'does not exist' in m['STATUS']],
                 seconds=40)
        t.ok(d.alive(), 'a refusing server does not stop the daemon either')
        wait_for(t, 'the database renamed back', lambda: subprocess.run(
            rename + ['ALTER DATABASE svc_away RENAME TO svc'], capture_output=True).returncode == 0)
        d.wait_log(r'^<6>database connection restored after [0-9.]+ s \(\d+ failed attempts\); '
                   r'listening again, 1 held outcomes to record$', seconds=70)
        t.eq(psql("SELECT state || ',' || attempts || ',' || convert_from(receipt_body, 'UTF8')"
                  " FROM traject.deliveries"), ['delivered,1,while away'],
             'the outcome of the transfer that ended while away is recorded after the reconnect')
        t.eq(psql('SELECT db_outages, db_lost_at < db_back_at FROM traject.instances'),
             ['1|t'], 'the instance row counts the outage')
        t.ok(wait_for(t, 'STATUS= running', lambda: n.seen('STATUS')[-1][1]['STATUS']
                      .startswith('running: database connected')), 'STATUS= says it runs again')
        # LISTEN again: a report queued now is delivered at once
        t.succeeds(ctl('--config', conf, 'deliver', '--grant', 'TEST-FUTURE', '--report', 'P2'),
                   'queue P2')
        start = time.monotonic()
        wait_for(t, 'P2 delivered', lambda: psql("SELECT count(*) FROM traject.deliveries"
                                                 " WHERE state = 'delivered'") == ['2'])
        t.ok(time.monotonic() - start < 3, 'woken by NOTIFY on the new connection')
        t.eq(d.stop()[0], 0, 'exit 0')
    finally:
        for x in (d, n, rcv):
            if x:
                x.close()
        subprocess.run([PGCLUSTER, 'stop', pgdir], capture_output=True, env=env)
        shutil.rmtree(pgdir, ignore_errors=True)


# --- several instances -----------------------------------------------------------------------
def test_two_daemons_deliver_each_document_once(t):
    rcv = Receiver(t, [{'sleep': 0.3, 'status': 201}] * 30)
    conf = config(t, rcv.url, extra='ca_file = %s\n' % rcv.ca)
    a = Daemon(t, conf, name='a')
    b = Daemon(t, conf, name='b')
    try:
        wait_for(t, 'both instances', lambda: t.sql('SELECT count(*) FROM traject.instances') == ['2'])
        time.sleep(1.2)  # both idle, both LISTENing
        loaded = t.sql('SELECT clock_timestamp()')[0]
        t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant.json')), 'grant load')
        wait_for(t, 'six deliveries', lambda: t.sql("SELECT count(*) FROM traject.deliveries"
                                                    " WHERE state = 'delivered'") == ['6'],
                 seconds=30)
        t.succeeds(t.ctl('--config', conf, 'deliver', '--grant', 'TEST-DAEMON', '--report', 'Q1',
                         '--new-version'), 'a corrected Q1')
        wait_for(t, 'eight deliveries', lambda: t.sql("SELECT count(*) FROM traject.deliveries"
                                                      " WHERE state = 'delivered'") == ['8'],
                 seconds=30)
        time.sleep(1.5)  # anything sent twice would arrive now
        t.eq(t.sql('SELECT count(*) FROM traject.report_versions'), ['4'], 'each version once')
        per_key = {}
        for r in rcv.requests():
            per_key.setdefault(r['key'], []).append(r['body_sha256'])
        want = stored(t)
        t.eq(len(want), 8, 'eight documents')
        t.eq(per_key, {k: [v] for k, v in want.items()},
             'the receiver saw each document exactly once, with its stored bytes')
        t.eq(rows(t, 'SELECT DISTINCT state, attempts FROM traject.deliveries'),
             [['delivered', '1']], 'each in one attempt')
        # Which instance claims what is up to the race, so neither is required to
        # deliver; what is required: both competed (each ran a pass, which starts
        # with its heartbeat, after the load woke them) and every attempt is one
        # of theirs. Exactly once, with the stored bytes, is then under contention.
        ids = t.sql('SELECT instance_id FROM traject.instances'
                    ' WHERE heartbeat_at > $1::timestamptz ORDER BY 1'.replace('$1', ":'v1'"),
                    loaded)
        t.eq(len(ids), 2, 'both instances ran a pass after the load woke them')
        by = dict(rows(t, 'SELECT instance_id, count(*) FROM traject.delivery_attempts'
                          ' GROUP BY 1'))
        t.ok(set(by) <= set(ids) and sum(int(v) for v in by.values()) == 8,
             'the eight attempts were made by these two instances', by)
        print('# attempts per instance: %s' % sorted(by.values()))
        t.eq([x.stop()[0] for x in (a, b)], [0, 0], 'both exit 0')
    finally:
        a.close()
        b.close()
        rcv.close()


# --- a silent database host ---------------------------------------------------------
CONN_PROBE = os.environ.get('CONN_PROBE', 'conn_probe')
SILENT_DEFAULTS = {'keepalives': '1', 'keepalives_idle': '30', 'keepalives_interval': '10',
                   'keepalives_count': '3', 'tcp_user_timeout': '60000', 'connect_timeout': '10'}


def probe(mode, conninfo, env=None):
    e = dict(os.environ)
    e.pop('PGCONNECT_TIMEOUT', None)
    e.update(env or {})
    p = subprocess.run([CONN_PROBE, mode, conninfo], capture_output=True, text=True, env=e)
    return p.returncode, dict(line.split('=', 1) for line in p.stdout.splitlines()), p.stderr


def test_sessions_have_tcp_keepalives_and_timeouts(t):
    """Every session the library opens, blocking or on the loop, has the defaults; conninfo wins."""
    for mode in ('connect', 'start'):
        rc, got, err = probe(mode, t.conninfo)
        t.eq(rc, 0, '%s: connects (%s)' % (mode, err))
        t.eq({k: got.get(k) for k in SILENT_DEFAULTS}, SILENT_DEFAULTS,
             '%s: keepalives, tcp_user_timeout and connect_timeout are set' % mode)
        t.eq(got.get('application_name'), 'conn_probe', '%s: the session settings hold' % mode)
        rc, got, err = probe(mode, t.conninfo + ' keepalives_idle=7 tcp_user_timeout=5000'
                             ' connect_timeout=3')
        t.eq(rc, 0, '%s: connects with explicit values (%s)' % (mode, err))
        t.eq((got.get('keepalives_idle'), got.get('tcp_user_timeout'),
              got.get('connect_timeout'), got.get('keepalives_interval')),
             ('7', '5000', '3', '10'), '%s: a conninfo value wins, the others stay' % mode)
    rc, got, err = probe('connect', 'postgresql:///%s?keepalives_count=5' % t.db)
    t.eq((rc, got.get('keepalives_count'), got.get('keepalives_idle')), (0, '5', '30'),
         'a URI conninfo wins too')
    rc, got, err = probe('connect', t.conninfo, env={'PGCONNECT_TIMEOUT': '4'})
    t.eq((rc, got.get('connect_timeout')), (0, '4'), 'PGCONNECT_TIMEOUT wins over the default')


def test_a_silent_database_host_fails_within_connect_timeout(t):
    """A listening socket that never answers: the connect ends at connect_timeout, never hangs."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(('127.0.0.1', 0))
    silent.listen(8)  # the kernel completes the handshake; nobody ever reads or answers
    port = silent.getsockname()[1]
    try:
        db = 'host=127.0.0.1 port=%d dbname=nobody user=nobody' % port
        env = dict(os.environ)
        env.pop('PGCONNECT_TIMEOUT', None)
        start = time.monotonic()
        try:
            p = subprocess.run(tjtest.WRAP + [tjtest.CTL, '--db', db, 'status'],
                               capture_output=True, text=True, env=env, timeout=40)
        except subprocess.TimeoutExpired:
            p = None
        took = time.monotonic() - start
        t.ok(p is not None, 'trajectctl against a silent host ends (no hang)')
        t.eq(p.returncode, 1, 'and fails')
        t.ok(re.search(r'cannot connect to the database: .*timeout expired', p.stderr),
             'saying the connect timed out', p.stderr)
        t.ok(9.5 <= took < 25, 'after the default connect_timeout of 10 s (took %.1f s)' % took)
        conf = config(t, 'file://' + folder(t), conninfo=db + ' connect_timeout=2')
        start = time.monotonic()
        try:
            p = subprocess.run(tjtest.trajectd('--config', conf, '--once'), capture_output=True,
                               text=True, env=env, timeout=40)
        except subprocess.TimeoutExpired:
            p = None
        took = time.monotonic() - start
        t.ok(p is not None and p.returncode != 0, 'trajectd start-up fails too', p)
        t.ok(re.search(r'timeout expired', p.stderr), 'with the timeout', p.stderr)
        t.ok(1.5 <= took < 10, 'after the conninfo connect_timeout of 2 s (took %.1f s)' % took)
    finally:
        silent.close()


tjtest.main(globals())
