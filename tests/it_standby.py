"""Read-only commands against a PostgreSQL hot standby (docs/performance.md).

This test sets up its own primary and streaming standby (tests/pgcluster.sh
for the primary, pg_basebackup -R for the standby, each in its own
directory with its own unix socket; as the unprivileged cluster owner when
run as root), so it does not touch the suite's shared cluster. Every test
function gets a fresh database on the primary (tjtest), which replication
carries to the standby.

What it checks: report, status, events and grant list answer on the
standby exactly as on the primary; writes are refused there with a clear
message; and the knowledge-time subtlety: a report on a standby may use
only a K up to which the standby has replayed everything the primary
recorded (include/traject/standby.h), so a report made on the standby at
that K is byte for byte the report the primary makes at the same K later.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tjtest  # noqa: E402

PGCLUSTER = os.path.join(tjtest.SRC, 'tests', 'pgcluster.sh')
PROBE = os.environ.get('STANDBY_PROBE', 'standby_probe')
GRANT = 'OV-2011-AMB-01'
# Any ports do: each cluster's socket lives in its own directory.
PORTS = [int(p) for p in os.environ.get('TJ_STANDBY_PORTS', '54368,54369').split(',')]


def pg_bin(name):
    for d in sorted(glob.glob('/usr/lib/postgresql/*/bin'), reverse=True):
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    found = shutil.which(name)
    if not found:
        raise tjtest.Failure('no %s: apt-get install postgresql-15' % name)
    return found


def as_owner(args):
    """The clusters belong to 'postgres' when we are root (initdb refuses root)."""
    return (['runuser', '-u', 'postgres', '--'] + args) if os.getuid() == 0 else args


class Pair:
    """A primary and its streaming standby in a temporary directory."""

    def __init__(self):
        self.base = tempfile.mkdtemp(prefix='tj-standby-')
        os.chmod(self.base, 0o755)  # the cluster owner must reach its directories
        self.primary = os.path.join(self.base, 'primary')
        self.standby = os.path.join(self.base, 'standby')

    def start(self):
        self.penv = self._cluster(self.primary, PORTS[0])
        os.makedirs(self.standby)
        if os.getuid() == 0:
            shutil.chown(self.standby, 'postgres')
        r = subprocess.run(as_owner([pg_bin('pg_basebackup'), '-h', self.primary,
                                     '-p', str(PORTS[0]), '-U', 'postgres',
                                     '-D', os.path.join(self.standby, 'data'),
                                     '-R', '-X', 'stream', '-c', 'fast']),
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise tjtest.Failure('pg_basebackup failed: %s' % r.stderr)
        self.senv = self._cluster(self.standby, PORTS[1])

    @staticmethod
    def _cluster(path, port):
        env = dict(os.environ, TJ_PGPORT=str(port))
        r = subprocess.run([PGCLUSTER, 'start', path], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise tjtest.Failure('pgcluster.sh start %s failed: %s' % (path, r.stderr))
        return dict(line.split('=', 1) for line in r.stdout.split())

    def stop(self):
        for path in (self.standby, self.primary):
            subprocess.run([PGCLUSTER, 'stop', path], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


PAIR = Pair()


def on_standby(t, *args):
    return t.ctl(*args, env={'PGHOST': PAIR.senv['PGHOST'], 'PGPORT': PAIR.senv['PGPORT']})


def standby_sql(t, sql, db=None):
    env = dict(os.environ, PGHOST=PAIR.senv['PGHOST'], PGPORT=PAIR.senv['PGPORT'])
    r = subprocess.run(['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', db or t.db],
                       input=sql, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise tjtest.Failure('psql on the standby failed: %s\n%s' % (sql, r.stderr))
    return [line for line in r.stdout.split('\n') if line]


def probe(t, wanted='', wait_ms=20000, standby=True):
    host = PAIR.senv if standby else PAIR.penv
    conninfo = 'dbname=%s host=%s port=%s' % (t.db, host['PGHOST'], host['PGPORT'])
    return subprocess.run([PROBE, conninfo, wanted, str(wait_ms)], capture_output=True,
                          text=True)


def sync(t, timeout=30):
    """Wait until the standby has replayed all WAL the primary has written so far."""
    target = t.sql('SELECT pg_current_wal_insert_lsn()')[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # asked in 'postgres': the test's database may not have been replayed yet
        if standby_sql(t, "SELECT pg_last_wal_replay_lsn() >= '%s'::pg_lsn" % target,
                       db='postgres') == ['t']:
            return
        time.sleep(0.02)
    raise tjtest.Failure('the standby did not replay up to %s within %d s' % (target, timeout))


def load_example(t, *files):
    t.succeeds(t.ctl('grant', 'load', t.example('grant.json')), 'grant load on the primary')
    for f in files:
        t.succeeds(t.ctl('import', '--grant', GRANT, t.example(f)), 'import %s' % f)


def started(report_json):
    return report_json['indicators']['trajectories_started']


def test_read_commands_answer_as_on_the_primary(t):
    load_example(t, 'events-2011.csv')
    # A K the standby has certainly replayed: the import committed after it.
    k = t.sql('SELECT traject.iso_utc(max(recorded_at)) FROM traject.import_batches')[0]
    sync(t)
    for args in (('events', '--grant', GRANT, '--json'),
                 ('events', '--grant', GRANT, '--trajectory', 'T-008'),
                 ('grant', 'list', '--json'),
                 ('report', '--grant', GRANT, '--report', '2011', '--known-at', k),
                 ('report', '--grant', GRANT, '--report', 'determination', '--known-at', k,
                  '--format', 'xml')):
        p = t.succeeds(t.ctl(*args), 'on the primary: %s' % ' '.join(args))
        s = t.succeeds(on_standby(t, *args), 'on the standby: %s' % ' '.join(args))
        t.eq(s.out, p.out, 'the standby answers %s byte for byte as the primary'
             % ' '.join(args))
    events = on_standby(t, 'events', '--grant', GRANT, '--json').json()
    t.eq(len(events), 219, 'all 219 events of events-2011.csv are listed on the standby')
    rep = on_standby(t, 'report', '--grant', GRANT, '--report', '2011', '--known-at', k).json()
    t.eq(started(rep), 30, '2011: 30 trajectories started (docs/example.md)')
    t.eq(rep['report']['known_at'], k, 'the report is known at the K asked for')
    st = t.succeeds(on_standby(t, 'status', '--json'), 'status on the standby').json()
    t.eq([g['id'] for g in st['grants']], [GRANT], 'status lists the grant')
    t.eq(sorted(r['state'] for r in st['grants'][0]['reports']),
         ['scheduled'] * 3, 'nothing generated yet: every report is scheduled')
    t.eq(st, t.succeeds(t.ctl('status', '--json'), 'status on the primary').json(),
         'status on the standby is status on the primary')


def test_writes_are_refused_on_the_standby(t):
    load_example(t, 'events-2011.csv')
    sync(t)
    before = standby_sql(t, 'SELECT count(*) FROM traject.events')
    r = on_standby(t, 'import', '--grant', GRANT, t.example('events-2012.csv'))
    t.fails(r, 'import on the standby', 1,
            r'events-2012\.csv: this database is a read-only standby.*import into the primary'
            r'.*nothing was stored')
    r = on_standby(t, 'grant', 'load', t.example('grant.json'))
    t.fails(r, 'grant load on the standby', 1, r'read-only')
    eid = t.sql('SELECT min(event_id) FROM traject.events')[0]
    r = on_standby(t, 'void', '--grant', GRANT, eid, '--reason', 'test')
    t.fails(r, 'void on the standby', 1, r'read-only')
    sync(t)
    t.eq(standby_sql(t, 'SELECT count(*) FROM traject.events'), before, 'nothing was stored')
    t.eq(t.sql('SELECT count(*) FROM traject.voids'), ['0'], 'no void on the primary either')


def ts_less(t, a, b):
    return t.sql("SELECT :'v1'::timestamptz < :'v2'::timestamptz", a, b) == ['t']


def test_known_at_is_what_the_standby_has_replayed(t):
    load_example(t, 'events-2011.csv')
    sync(t)
    t.eq(probe(t, standby=False).stdout, 'primary\n', 'the probe says primary on the primary')
    standby_sql(t, 'SELECT pg_wal_replay_pause()')
    try:
        deadline = time.monotonic() + 10
        while standby_sql(t, 'SELECT pg_get_wal_replay_pause_state()') != ['paused']:
            if time.monotonic() > deadline:
                raise tjtest.Failure('replay on the standby did not pause')
            time.sleep(0.02)
        t.succeeds(t.ctl('import', '--grant', GRANT, t.example('events-2012.csv')),
                   'the 2012 file is imported on the primary while replay is paused')
        late = t.sql('SELECT traject.iso_utc(max(recorded_at)) FROM traject.import_batches')[0]
        p = probe(t)
        t.ok(p.returncode == 0, 'the probe answers on the standby', p.stderr)
        k1 = p.stdout.strip()
        t.ok(ts_less(t, k1, late),
             'K on the standby (%s) is before the unreplayed import (%s)' % (k1, late))
        now = standby_sql(t, 'SELECT traject.iso_utc(clock_timestamp())')[0]
        p = probe(t, now)
        t.ok(p.returncode == 1 and 'replayed the primary only up to' in p.stderr
             and '--known-at' in p.stderr,
             'a K after what the standby replayed is refused, with what to do', p.stderr)
        on_sb = t.succeeds(on_standby(t, 'report', '--grant', GRANT, '--report', 'determination',
                                      '--known-at', k1), 'the report on the standby at K')
        dflt = t.succeeds(on_standby(t, 'report', '--grant', GRANT, '--report',
                                     'determination'),
                          'the report on the standby without --known-at')
        t.eq(dflt.out, on_sb.out,
             'without --known-at the standby uses the K it has replayed completely')
    finally:
        standby_sql(t, 'SELECT pg_wal_replay_resume()')
    sync(t)
    on_pr = t.succeeds(t.ctl('report', '--grant', GRANT, '--report', 'determination',
                             '--known-at', k1), 'the same report on the primary later')
    t.eq(on_sb.out, on_pr.out, 'same (C, K): the same bytes on the standby then and the primary now')
    t.eq(started(on_pr.json()), 30, 'without the 2012 registrations: 30 started')
    k2 = probe(t).stdout.strip()
    t.ok(not ts_less(t, k2, late), 'after replay the standby reaches the import (%s)' % k2)
    rep = on_standby(t, 'report', '--grant', GRANT, '--report', 'determination',
                     '--known-at', k2).json()
    t.eq(started(rep), 32, 'with the 2012 registrations: 32 started (docs/example.md)')


# A writer as the importer is one: the grant's row lock, then the clock, then
# (here after a pause) its rows, stamped with that clock.
SLOW_WRITER = """
BEGIN;
SELECT pg_advisory_xact_lock_shared(traject.lock_class(), traject.grant_key('%(g)s')::integer);
SELECT 1 FROM traject.grants WHERE id = '%(g)s' FOR NO KEY UPDATE;
CREATE TEMP TABLE w ON COMMIT DROP AS SELECT clock_timestamp() AS now;
\\o %(stamp)s
SELECT traject.iso_utc(now) FROM w;
\\o
SELECT pg_sleep(%(pause)s);
WITH b AS (INSERT INTO traject.import_batches (grant_key, file_name, sha256, row_count,
                                               recorded_at)
           SELECT traject.grant_key('%(g)s'), 'slow.csv', repeat('b', 64), 1, now FROM w
           RETURNING batch_id, grant_key, recorded_at),
     t AS (INSERT INTO traject.trajectories (grant_key, ref)
           SELECT grant_key, 'SLOW-1' FROM b RETURNING traj_key, grant_key)
INSERT INTO traject.events (grant_key, traj_key, batch_id, line, event_date, kind, recorded_at)
SELECT t.grant_key, t.traj_key, b.batch_id, 2, '2011-03-01', 'registered', b.recorded_at
FROM t, b;
COMMIT;
"""


def test_known_at_waits_for_a_writer_still_open_on_the_primary(t):
    load_example(t, 'events-2011.csv')
    t.sql('CREATE TABLE public.other (n integer)')
    stamp = os.path.join(t.tmp, 'stamp')
    script = SLOW_WRITER % {'g': GRANT, 'stamp': stamp, 'pause': 3}
    done = {}

    def writer():
        done['r'] = subprocess.run(['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
                                    '-d', t.db],
                                   input=script, capture_output=True, text=True)

    th = threading.Thread(target=writer)
    th.start()
    try:
        deadline = time.monotonic() + 10
        while not (os.path.exists(stamp) and open(stamp).read().strip()):
            if time.monotonic() > deadline:
                raise tjtest.Failure('the writer did not start')
            time.sleep(0.02)
        recorded = open(stamp).read().strip()
        # Another transaction commits after the writer read its clock: the
        # standby's last replayed commit is now later than the writer's rows.
        t.sql('INSERT INTO public.other VALUES (1)')
        sync(t)
        begun = time.monotonic()
        p = probe(t)
        waited = time.monotonic() - begun
    finally:
        th.join()
    t.ok(done['r'].returncode == 0, 'the slow writer committed', done['r'].stderr)
    t.ok(p.returncode == 0, 'the probe answers', p.stderr)
    k = p.stdout.strip()
    t.ok(ts_less(t, recorded, k), 'K (%s) is after the open writer\'s clock (%s)' % (k, recorded))
    t.ok(waited > 1.0, 'the probe waited for the open writer (%.2f s)' % waited)
    rep = on_standby(t, 'report', '--grant', GRANT, '--report', '2011', '--known-at', k)
    t.succeeds(rep, 'the report on the standby at K')
    t.eq(started(rep.json()), 31, 'it includes the writer\'s trajectory: 31 started')
    sync(t)
    pr = t.ctl('report', '--grant', GRANT, '--report', '2011', '--known-at', k)
    t.eq(rep.out, pr.out, 'and is the primary\'s report at the same K')


if __name__ == '__main__':
    try:
        PAIR.start()
    except tjtest.Failure as e:
        PAIR.stop()
        print('1..0 # SKIP %s' % str(e).replace('\n', ' ') if os.environ.get('TJ_STANDBY_SKIP')
              else 'Bail out! %s' % re.sub(r'\s+', ' ', str(e)))
        sys.exit(0 if os.environ.get('TJ_STANDBY_SKIP') else 1)
    os.environ['PGHOST'] = PAIR.penv['PGHOST']
    os.environ['PGPORT'] = PAIR.penv['PGPORT']
    try:
        tjtest.main(globals())
    finally:
        PAIR.stop()
