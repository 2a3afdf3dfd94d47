"""Alerts by e-mail and the alert of a database that stays away
(docs/daemon.md, "Alerts"): a rejected delivery mails one message with the
right envelope, headers and body; two daemons on one database raise and
mail every alert once; a mail server that is down and comes back gets the
mail later, once; one that refuses for good ends 'failed' with the error
in status; smtps is verified; a PostgreSQL stopped longer than [alert]
db_away gives the ALERT line and an e-mail while it is away and a
'database' alert row once it is back, which `trajectctl alert resolve`
closes; an outage shorter than db_away raises nothing.

The mail server is tests/smtp_receiver.py (tjtest.SmtpSink); the funder is
tests/receiver.py. Calendar of tests/data/daemon/grant.json (lead_days 5,
Europe/Amsterdam): Q1 is generated at 2011-04-09T22:00:00Z, due 2011-04-15;
Q2 and final are due 2011-07-15 and 2012-01-31.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import tjtest

TRAJECTD = os.environ.get('TRAJECTD', 'trajectd')
HERE = os.path.dirname(os.path.abspath(__file__))
RECEIVER = os.path.join(HERE, 'receiver.py')
PGCLUSTER = os.path.join(HERE, 'pgcluster.sh')
GRANT = 'TEST-DAEMON'
Q1_MOMENT = '2011-04-09T22:00:00Z'
AFTER_ALL = '2012-02-05T12:00:00Z'  # every report of grant.json is late
TO = 'grants@municipality.example admin@example.org'


# --- helpers -----------------------------------------------------------------
def config(t, url, smtp, name='trajectd.conf', formats='json', extra='', alert='',
           conninfo=None, retry=(1, 2)):
    mail = ''
    if smtp:
        mail = ('mail_to = %s\nsmtp_url = %s\nmail_from = trajectd@test.example\n'
                'mail_timeout = 5\n' % (TO, smtp))
    return t.write(name, '[database]\nconninfo = %s\n\n[schedule]\nlead_days = 5\n'
                         'time_zone = Europe/Amsterdam\n\n[delivery]\nurl = %s\n'
                         'formats = %s\ntimeout = 10\nretry_base = %d\nretry_max = %d\n'
                         'warn_hours = 48\n%s\n[alert]\n%s%s'
                   % (conninfo or t.conninfo, url, formats, retry[0], retry[1], extra, mail,
                      alert))


def once(t, conf, clock):
    full = [TRAJECTD, '--config', conf, '--once', '--clock', clock]
    r = tjtest.Result(full, subprocess.run(full, capture_output=True, text=True, timeout=120))
    t.ok(r.rc == 0, 'trajectd --once %s (exit 0)' % clock, r)
    return r


def wait_for(t, what, cond, seconds=20, step=0.1):
    end = time.time() + seconds
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    t.ok(False, 'timed out after %s s waiting for %s' % (seconds, what))


def rows(t, sql, *params):
    return [r.split('|') for r in t.sql(sql, *params)]


def status(t, conf, *extra):
    return t.succeeds(t.ctl('--config', conf, *extra, 'status', '--json'), 'status --json').json()


def load(t):
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant.json')), 'grant load')


def rejecting_folder(t):
    """A folder that refuses Q1's json: another file of that name is there already."""
    out = os.path.join(t.tmp, 'outbox')
    os.mkdir(out)
    with open(os.path.join(out, '%s_Q1_v1.json' % GRANT), 'w') as f:
        f.write('{"not": "ours"}\n')
    return 'file://' + out


class Receiver:
    """tests/receiver.py: the funder, answering from a script."""

    def __init__(self, t, steps):
        self.ca, cert, key = tjtest.make_certs(t.tmp, 'trajectd alert test CA')
        self.cert, self.key = cert, key
        script = t.write('script.json', json.dumps(steps))
        self.log_path = os.path.join(t.tmp, 'receiver.jsonl')
        self.proc = subprocess.Popen([sys.executable, RECEIVER, '--cert', cert, '--key', key,
                                      '--script', script, '--log', self.log_path],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        m = re.match(r'PORT (\d+)', self.proc.stdout.readline())
        if not m:
            raise tjtest.Failure('the receiver did not start')
        self.url = 'https://127.0.0.1:%s/inbox' % m.group(1)

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


class Daemon:
    """A running trajectd (not --once) with its log in a file."""

    def __init__(self, t, conf, *args, name='daemon'):
        self.t = t
        self.log_path = os.path.join(t.tmp, name + '.err')
        self.errf = open(self.log_path, 'w')
        env = {k: v for k, v in os.environ.items() if not k.startswith(('NOTIFY_', 'WATCHDOG_'))}
        self.proc = subprocess.Popen([TRAJECTD, '--config', conf] + list(args),
                                     stdout=subprocess.DEVNULL, stderr=self.errf, env=env)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_log(self, pattern, seconds=20):
        return wait_for(self.t, 'the log line %r' % pattern,
                        lambda: re.search(pattern, self.log(), re.M), seconds)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=40)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.errf.close()


def mail_ids(msgs):
    """The alert id in each message's Message-ID (<trajectd.alert.ID.hash@domain>)."""
    return [int(re.match(r'<trajectd\.alert\.(\d+)\.', m['Message-ID']).group(1))
            for _, _, m in msgs]


# --- a rejection by the funder ---------------------------------------------------
def test_rejected_delivery_mails_one_message(t):
    load(t)
    # the reply's ".x" words put "." at the start of some wrapped lines of the mail's body
    rcv = Receiver(t, [{'status': 400, 'body': 'schema check failed: element total is missing '
                                               + ' '.join(['.x'] * 60)}])
    sink = tjtest.SmtpSink(os.path.join(t.tmp, 'mail'))
    try:
        conf = config(t, rcv.url, sink.url, extra='ca_file = %s\n' % rcv.ca)
        r = t.succeeds(subprocess_n(conf), 'trajectd -n accepts the mail settings')
        t.eq(r.out, '%s: configuration OK\n' % conf, 'says so')
        r = once(t, conf, Q1_MOMENT)
        t.ok(re.search(r'^<2>ALERT rejected: grant TEST-DAEMON report Q1: ', r.err, re.M),
             'the critical log line', r)
        t.ok(re.search(r'^<6>alert \d+ \(rejected, grant TEST-DAEMON report Q1\): mailed to ',
                       r.err, re.M), 'the mail is logged', r)
        msgs = sink.messages()
        t.eq(len(msgs), 1, 'one message')
        env, raw, m = msgs[0]
        t.eq(env['mail_from'], '<trajectd@test.example>', 'envelope sender: [alert] mail_from')
        t.eq(env['rcpt'], ['<grants@municipality.example>', '<admin@example.org>'],
             'one RCPT per address of mail_to')
        t.eq(env['bare_lf'], False, 'every line ends in CRLF')
        t.eq(m['From'], 'trajectd@test.example', 'From')
        t.eq(m['To'], 'grants@municipality.example, admin@example.org', 'To')
        t.eq(m['Subject'], 'trajectd ALERT rejected: grant TEST-DAEMON report Q1', 'Subject')
        t.ok(re.match(r'\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$', m['Date']), 'Date',
             m['Date'])
        t.eq(m['Auto-Submitted'], 'auto-generated', 'no auto-replies')
        t.eq(m.get_content_type(), 'text/plain', 'plain text')
        body = m.get_content().replace("\r\n", "\n")
        alert_id = int(t.sql('SELECT alert_id FROM traject.alerts')[0])
        for want in ['grant:      TEST-DAEMON\n', 'report:     Q1\n',
                     'alert:      %d (open)\n' % alert_id]:
            t.ok(want in body, 'the body has the line %r' % want, body)
        for want in ['HTTP 400: schema check failed: element total is missing',
                     "trajectctl deliver --grant TEST-DAEMON --report Q1",
                     'trajectctl alert resolve %d' % alert_id]:
            t.ok(want in ' '.join(body.split()), 'the body says %r' % want, body)
        t.eq(mail_ids(msgs), [alert_id], 'the Message-ID names the alert')
        dotted = [line for line in body.split('\n') if line.startswith('.')]
        t.ok(dotted and all(line.startswith('.x .x') for line in dotted),
             'lines that start with "." arrive with one dot', body)
        t.ok(env['stuffed_lines'] == len(dotted), 'libcurl doubled each on the wire (RFC 5321 '
             '4.5.2), the receiver undid it', (env, dotted))
        t.eq(rows(t, 'SELECT kind, mail_state, mail_attempts, mailed_at IS NOT NULL,'
                     ' mail_error IS NULL, mail_lease_owner IS NULL FROM traject.alerts'),
             [['rejected', 'sent', '1', 't', 't', 't']], 'the alert row: sent in one attempt')
        a = status(t, conf)['alerts']
        t.eq([(x['id'], x['kind'], x['grant'], x['report'], x['mail_state'], x['mail_attempts'])
              for x in a], [(alert_id, 'rejected', GRANT, 'Q1', 'sent', 1)],
             'status --json shows the alert and its mail')
        t.ok(a[0]['mailed_at'] and a[0]['raised_by'] and 'message' in a[0], 'with every key', a)
        text = t.succeeds(t.ctl('--config', conf, 'status'), 'status').out
        t.ok(re.search(r'^alerts: 1 open$', text, re.M) and 'mail sent' in text,
             'and in the text form', text)
        once(t, conf, '2011-04-10T12:00:00Z')
        t.eq(len(sink.messages()), 1, 'a second pass mails nothing again')
    finally:
        sink.stop()
        rcv.close()


def subprocess_n(conf):
    full = [TRAJECTD, '-n', '--config', conf]
    return tjtest.Result(full, subprocess.run(full, capture_output=True, text=True, timeout=30))


# --- two instances -------------------------------------------------------------------
def test_two_daemons_raise_and_mail_each_alert_once(t):
    rcv = Receiver(t, [{'status': 400, 'body': 'refused %d' % i} for i in range(12)])
    sink = tjtest.SmtpSink(os.path.join(t.tmp, 'mail'))
    conf = config(t, rcv.url, sink.url, extra='ca_file = %s\n' % rcv.ca)
    load(t)
    a = Daemon(t, conf, '--clock', AFTER_ALL, name='a')
    b = Daemon(t, conf, '--clock', AFTER_ALL, name='b')
    try:
        # three late reports (generated after their due date), each rejected: six alerts
        wait_for(t, 'six alerts, all mailed', lambda: t.sql(
            "SELECT count(*) FILTER (WHERE mail_state = 'sent'), count(*) FROM traject.alerts")
            == ['6|6'], seconds=40)
        time.sleep(2.5)  # a second mail of any alert would arrive now
        msgs = sink.messages()
        ids = [int(x) for x in t.sql('SELECT alert_id FROM traject.alerts ORDER BY 1')]
        t.eq(sorted(mail_ids(msgs)), ids, 'each alert mailed exactly once')
        t.eq(sorted(m['Subject'] for _, _, m in msgs),
             sorted('trajectd ALERT %s: grant TEST-DAEMON report %s' % (k, r)
                    for k in ('late', 'rejected') for r in ('Q1', 'Q2', 'final')),
             'one late and one rejected alert per report')
        t.eq(t.sql("SELECT count(*) FROM traject.alerts WHERE resolved_at IS NULL"), ['6'],
             'all open (every report was rejected)')
        print('# alerts raised by %s instances; %d ALERT lines in a, %d in b'
              % (t.sql('SELECT count(DISTINCT raised_by) FROM traject.alerts')[0],
                 a.log().count('<2>ALERT'), b.log().count('<2>ALERT')))
        t.eq(a.log().count('<2>ALERT') + b.log().count('<2>ALERT'), 6,
             'six ALERT lines over both instances: each raised by one of them')
        t.eq([a.stop(), b.stop()], [0, 0], 'both exit 0')
    finally:
        a.close()
        b.close()
        sink.stop()
        rcv.close()


# --- the mail server down, deferring, refusing -----------------------------------------
def test_smtp_down_then_up_mails_later_once(t):
    load(t)
    sink = tjtest.SmtpSink(os.path.join(t.tmp, 'mail'), start=False)  # down: its port is closed
    conf = config(t, rejecting_folder(t), sink.url, retry=(2, 4))
    d = Daemon(t, conf, '--clock', Q1_MOMENT)
    try:
        got = wait_for(t, 'two failed mail attempts', lambda: rows(
            t, 'SELECT mail_state, mail_attempts, mail_error FROM traject.alerts'
               ' WHERE mail_attempts >= 2'), seconds=20)
        t.eq(got[0][0], 'pending', 'the mail waits for a retry')
        t.ok("Couldn't connect" in got[0][2], 'with the error', got)
        a = status(t, conf)['alerts']
        t.eq((a[0]['kind'], a[0]['mail_state']), ('rejected', 'pending'), 'status: pending')
        t.ok("Couldn't connect" in (a[0]['mail_error'] or ''), 'status: and why', a)
        t.ok(re.search(r'^<4>alert \d+ \(rejected, grant TEST-DAEMON report Q1\): mail attempt 1 '
                       r'of 6 failed, trying again in 2 s', d.log(), re.M), 'logged', d.log())
        sink.start()  # up again, on the same port
        wait_for(t, 'the mail', lambda: len(sink.messages()) == 1, seconds=20)
        wait_for(t, 'sent', lambda: t.sql('SELECT mail_state FROM traject.alerts') == ['sent'])
        time.sleep(5)  # the next passes mail nothing again
        t.eq(len(sink.messages()), 1, 'one message, once')
        n = int(t.sql('SELECT mail_attempts FROM traject.alerts')[0])
        t.ok(3 <= n <= 6, 'sent at a later attempt', n)
        t.eq(d.stop(), 0, 'exit 0')
    finally:
        d.close()
        sink.stop()


def test_smtp_deferring_then_refusing_ends_failed(t):
    load(t)
    sink = tjtest.SmtpSink(os.path.join(t.tmp, 'mail'))
    conf = config(t, rejecting_folder(t), sink.url)
    try:
        sink.refuse('data', 451, '4.3.0 try again later')
        once(t, conf, Q1_MOMENT)
        t.eq(rows(t, 'SELECT mail_state, mail_attempts, mail_next_at > clock_timestamp()'
                     ' FROM traject.alerts'), [['pending', '1', 't']], '451: pending, for later')
        t.ok('451 4.3.0 try again later' in t.sql('SELECT mail_error FROM traject.alerts')[0],
             'with the server\'s reply', t.sql('SELECT mail_error FROM traject.alerts'))
        sink.refuse('rcpt', 550, '5.1.1 <grants@municipality.example>: no such mailbox')
        time.sleep(1.2)  # retry_base 1
        r = once(t, conf, '2011-04-09T23:00:00Z')
        t.ok(re.search(r'^<3>alert \d+ .*: the mail was not sent \(attempt 2 of 6, no more tries\)'
                       r': the mail server refused the message: 550 5.1.1', r.err, re.M),
             'a permanent refusal is logged', r)
        t.eq(rows(t, 'SELECT mail_state, mail_attempts, mail_next_at IS NULL FROM traject.alerts'),
             [['failed', '2', 't']], '550: failed, no more tries')
        a = status(t, conf)['alerts'][0]
        t.eq(a['mail_state'], 'failed', 'status --json: failed')
        t.ok('550 5.1.1 <grants@municipality.example>: no such mailbox' in a['mail_error']
             and 'will not be tried again' in a['mail_error'], 'with the error', a)
        text = t.succeeds(t.ctl('--config', conf, 'status'), 'status').out
        t.ok(re.search(r'mail failed \(2 attempts\): the mail server refused the message: 550',
                       text), 'the text form shows it too', text)
        sink.accept()
        time.sleep(2.2)
        once(t, conf, '2011-04-10T00:00:00Z')
        t.eq(sink.messages(), [], 'a failed mail is not tried again')
        t.eq(t.sql('SELECT mail_attempts FROM traject.alerts'), ['2'], 'no third attempt')
    finally:
        sink.stop()


def test_smtps_is_verified(t):
    load(t)
    ca, cert, key = tjtest.make_certs(t.tmp, 'trajectd mail test CA')
    sink = tjtest.SmtpSink(os.path.join(t.tmp, 'mail'), tls=(cert, key))
    try:
        url = rejecting_folder(t)
        bare = config(t, url, sink.url, name='bare.conf')
        r = once(t, bare, Q1_MOMENT)
        t.eq(rows(t, 'SELECT mail_state, mail_attempts FROM traject.alerts'), [['pending', '1']],
             'the system store does not know the test CA: not sent')
        t.ok('TLS peer verification of the mail server failed' in
             t.sql('SELECT mail_error FROM traject.alerts')[0], 'says why', r)
        t.eq(sink.messages(), [], 'nothing reached the unverified server')
        trusted = config(t, url, sink.url, name='trusted.conf', extra='ca_file = %s\n' % ca)
        time.sleep(1.2)
        once(t, trusted, '2011-04-09T23:00:00Z')
        t.eq(t.sql('SELECT mail_state FROM traject.alerts'), ['sent'], 'with [delivery] ca_file')
        t.eq(len(sink.messages()), 1, 'one message over TLS')
    finally:
        sink.stop()


# --- the database going away ------------------------------------------------------------
def pg_bin():
    for d in ['/usr/lib/postgresql/15/bin'] + sorted(os.listdir('/usr/lib/postgresql')):
        d = d if d.startswith('/') else os.path.join('/usr/lib/postgresql', d, 'bin')
        if os.path.exists(os.path.join(d, 'pg_ctl')):
            return d
    return os.path.dirname(shutil.which('pg_ctl'))


class Cluster:
    """A test-owned PostgreSQL: stopping it hurts no other test running in parallel."""

    def __init__(self, t, offset):
        self.t = t
        self.dir = tempfile.mkdtemp(prefix='tjtest-pg-')
        self.port = str(int(os.environ.get('PGPORT', '54329')) + offset)
        # durable: an immediate stop must not forget what was committed (the instance row)
        self.env = dict(os.environ, TJ_PGPORT=self.port, TJ_DURABLE='1')
        self.pg_ctl = os.path.join(pg_bin(), 'pg_ctl')
        self.start()
        subprocess.run(['psql', '-X', '-q', '-h', self.dir, '-p', self.port, '-U', 'postgres',
                        '-d', 'postgres', '-c', 'CREATE DATABASE away'], check=True,
                       capture_output=True)
        self.conninfo = 'host=%s port=%s user=postgres dbname=away' % (self.dir, self.port)

    def start(self):
        r = subprocess.run([PGCLUSTER, 'start', self.dir], capture_output=True, text=True,
                           env=self.env)
        self.t.ok(r.returncode == 0, 'the private cluster starts', r.stderr)

    def stop_now(self):
        args = [self.pg_ctl, '-D', os.path.join(self.dir, 'data'), '-m', 'immediate', 'stop']
        if os.getuid() == 0:
            args = ['runuser', '-u', 'postgres', '--'] + args
        subprocess.run(args, check=True, capture_output=True)

    def running(self):
        return subprocess.run(['psql', '-X', '-q', '-d', self.conninfo, '-c', 'SELECT 1'],
                              capture_output=True).returncode == 0

    def ctl(self, *args):
        return self.t.ctl('--db', self.conninfo, *args)  # the last --db wins

    def close(self):
        subprocess.run([PGCLUSTER, 'stop', self.dir], capture_output=True, env=self.env)
        shutil.rmtree(self.dir, ignore_errors=True)


def away_setup(t, offset, db_away, smtp):
    pg = Cluster(t, offset)
    t.succeeds(pg.ctl('migrate'), 'migrate')
    t.succeeds(pg.ctl('grant', 'load', t.data('daemon', 'grant-future.json')), 'grant load')
    out = os.path.join(t.tmp, 'outbox')
    os.mkdir(out)
    conf = config(t, 'file://' + out, smtp, conninfo=pg.conninfo,
                  alert='db_away = %d\n' % db_away)
    return pg, conf


def test_database_away_alerts_by_log_mail_and_row(t):
    sink = tjtest.SmtpSink(os.path.join(t.tmp, 'mail'))
    pg, conf = away_setup(t, 1100, 4, sink.url)
    d = None
    try:
        d = Daemon(t, conf)
        d.wait_log(r'^<6>instance (\S+) started')
        instance = re.search(r'^<6>instance (\S+) started', d.log(), re.M).group(1)
        time.sleep(1)
        stopped = time.monotonic()
        pg.stop_now()
        d.wait_log(r'^<3>database connection lost: ')
        line = d.wait_log(r'^<2>ALERT database: instance (\S+): the database has been unreachable '
                          r'for (\d+) s, since \S+ \(real clock; \d+ failed reconnects so far\); '
                          r'last error: .+$', seconds=15)
        took = time.monotonic() - stopped
        t.eq(line.group(1), instance, 'the ALERT line names the instance')
        t.ok(4 <= took < 9, 'after db_away (4 s)', took)
        wait_for(t, 'the mail while the database is away', lambda: len(sink.messages()) == 1)
        t.ok(not pg.running(), 'the database is still away: the mail needed none')
        env, raw, m = sink.messages()[0]
        t.eq(m['Subject'], 'trajectd ALERT database: instance %s lost the database' % instance,
             'Subject')
        t.eq(env['rcpt'], ['<grants@municipality.example>', '<admin@example.org>'], 'recipients')
        body = ' '.join(m.get_content().split())
        t.ok('the database has been unreachable for' in body and 'Check the server' in body,
             'the body says what and what to do', body)
        t.ok('not stored yet' in body, 'and that it is not stored yet', body)
        time.sleep(2)
        pg.start()
        d.wait_log(r'^<6>database connection restored after', seconds=40)
        d.wait_log(r'^<6>database alert \d+ stored \(mail sent\)')
        st = status(t, conf, '--db', pg.conninfo)
        a = st['alerts']
        t.eq([(x['kind'], x['grant'], x['report'], x['raised_by'], x['mail_state']) for x in a],
             [('database', None, None, instance, 'sent')],
             'status --json: a database alert, no grant or report, its mail sent')
        t.ok(re.search(r'^the database was unreachable for \d+ s, from \S+ to \S+ \(real clock; '
                       r'\d+ failed reconnects\); last error: ', a[0]['message']),
             'the message has the duration and the last error', a)
        lost = pg.ctl('status', '--json').json()['alerts'][0]['raised_at']
        t.eq(lost, a[0]['raised_at'], 'raised_at is when the connection was lost')
        text = t.succeeds(pg.ctl('status'), 'status').out
        t.ok(re.search(r'^  %d\s+\S+  database\s+instance %s: the database was unreachable'
                       % (a[0]['id'], re.escape(instance)), text, re.M), 'also as text', text)
        time.sleep(3)
        t.eq(len(sink.messages()), 1, 'the stored alert is not mailed again')
        t.eq(d.log().count('<2>ALERT database'), 1, 'one ALERT line')
        r = t.succeeds(pg.ctl('alert', 'resolve', str(a[0]['id'])), 'alert resolve')
        t.eq(r.out, 'alert %d (database, instance %s) resolved\n' % (a[0]['id'], instance),
             'says what it resolved')
        t.eq(pg.ctl('status', '--json').json()['alerts'], [], 'no open alert any more')
        r = t.succeeds(pg.ctl('alert', 'resolve', str(a[0]['id'])), 'resolve again')
        t.ok('was resolved already' in r.out and 'by postgres' in r.out, 'a no-op that says so',
             r)
        listed = t.succeeds(pg.ctl('alert', 'list', '--all', '--json'), 'alert list').json()
        t.eq([(x['kind'], x['resolved_by']) for x in listed], [('database', 'postgres')],
             'the resolved alert stays as history')
        t.eq(d.stop(), 0, 'exit 0')
    finally:
        if d:
            d.close()
        sink.stop()
        pg.close()


def test_database_alert_mail_waits_for_smtp_and_the_outbox(t):
    sink = tjtest.SmtpSink(os.path.join(t.tmp, 'mail'), start=False)  # down during the outage
    pg, conf = away_setup(t, 1200, 2, sink.url)
    d = None
    try:
        d = Daemon(t, conf)
        d.wait_log(r'^<6>instance \S+ started')
        pg.stop_now()
        d.wait_log(r'^<2>ALERT database: ', seconds=15)
        d.wait_log(r'^<4>mailing the database alert failed, trying again in 1 s', seconds=15)
        pg.start()
        d.wait_log(r'^<6>database alert (\d+) stored \(mail pending\)', seconds=40)
        t.eq(pg.ctl('status', '--json').json()['alerts'][0]['mail_state'] in ('pending', 'sending'),
             True, 'the mail that failed while away is queued for the outbox')
        sink.start()
        wait_for(t, 'the mail from the outbox', lambda: len(sink.messages()) == 1, seconds=20)
        a = pg.ctl('status', '--json').json()['alerts']
        wait_for(t, 'sent', lambda: pg.ctl('status', '--json').json()['alerts'][0]['mail_state']
                 == 'sent')
        m = sink.messages()[0][2]
        t.eq(mail_ids(sink.messages()), [a[0]['id']], 'the outbox mails the stored alert')
        t.ok('the database was unreachable for' in ' '.join(m.get_content().split()),
             'with the whole outage in it')
        time.sleep(2)
        t.eq(len(sink.messages()), 1, 'once')
        t.eq(d.stop(), 0, 'exit 0')
    finally:
        if d:
            d.close()
        sink.stop()
        pg.close()


def test_short_database_outage_raises_nothing(t):
    sink = tjtest.SmtpSink(os.path.join(t.tmp, 'mail'))
    pg, conf = away_setup(t, 1300, 8, sink.url)
    d = None
    try:
        d = Daemon(t, conf)
        d.wait_log(r'^<6>instance \S+ started')
        stopped = time.monotonic()
        pg.stop_now()
        d.wait_log(r'^<3>database connection lost: ')
        pg.start()
        d.wait_log(r'^<6>database connection restored after', seconds=20)
        t.ok(time.monotonic() - stopped < 8, 'back within db_away (8 s)')
        time.sleep(max(0, 10 - (time.monotonic() - stopped)))  # past db_away since the loss
        t.ok('ALERT' not in d.log(), 'no ALERT line', d.log())
        t.eq(pg.ctl('status', '--json').json()['alerts'], [], 'no alert row')
        t.eq(sink.messages(), [], 'no mail')
        r = subprocess.run(['psql', '-X', '-q', '-A', '-t', '-d', pg.conninfo, '-c',
                            'SELECT db_outages FROM traject.instances'], capture_output=True,
                           text=True)
        t.eq(r.stdout.split(), ['1'], 'only counted in the instance row')
        t.eq(d.stop(), 0, 'exit 0')
    finally:
        if d:
            d.close()
        sink.stop()
        pg.close()


tjtest.main(globals())
