"""The register's integrity without per-row foreign keys (sql/007_import_speed.sql).

The events' foreign keys became one set-based check per statement, and the
rows events name became append-only (docs/performance.md, "Import"); since
sql/012 so are events, voids, grant versions, obligations and calendars. These
tests write SQL directly, as a buggy or careless writer would, and check
that the database itself still refuses what the foreign keys refused (and a
little more: an event must name a trajectory and a batch of its own grant).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tjtest  # noqa: E402

GRANT = 'OV-2011-AMB-01'


def setup(t):
    t.succeeds(t.ctl('grant', 'load', t.example('grant.json')), 'grant load')
    t.succeeds(t.ctl('import', '--grant', GRANT, t.example('events-2011.csv')), 'import')
    other = t.write('other.json', open(t.example('grant.json')).read().replace(GRANT, 'OTHER-1'))
    t.succeeds(t.ctl('grant', 'load', other), 'a second grant')
    return t.sql("SELECT traject.grant_key('%s'), traject.grant_key('OTHER-1')" % GRANT)[0] \
        .split('|')


def refused(t, sql, pattern, what):
    r = subprocess.run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', t.db, '-c', sql],
                       capture_output=True, text=True)
    t.ok(r.returncode != 0 and pattern in r.stderr, '%s is refused (%s)' % (what, pattern),
         r.stderr)


INSERT = ("INSERT INTO traject.events (grant_key, traj_key, batch_id, line, event_date, kind,"
          " recorded_at) SELECT %s, %s, %s, 2, '2011-06-01', 'plan', now()")


def test_an_event_must_name_rows_of_its_own_grant(t):
    g, other = setup(t)
    traj = t.sql("SELECT traj_key FROM traject.trajectories WHERE ref = 'T-001'")[0]
    batch = t.sql('SELECT batch_id FROM traject.import_batches')[0]
    before = t.sql('SELECT count(*) FROM traject.events')
    refused(t, INSERT % (other, traj, batch),
            'names trajectory %s, which is not a trajectory of grant %s' % (traj, other),
            'an event of grant B naming a trajectory of grant A')
    refused(t, INSERT % (g, '999999', batch),
            'names trajectory 999999, which is not a trajectory of grant %s' % g,
            'an event naming no trajectory at all')
    refused(t, INSERT % (g, traj, '999999'),
            'names import batch 999999, which is not a batch of grant %s' % g,
            'an event naming no batch')
    t.eq(t.sql('SELECT count(*) FROM traject.events'), before, 'nothing was stored')
    t.sql(INSERT % (g, traj, batch))
    t.eq(t.sql('SELECT count(*) FROM traject.events'), [str(int(before[0]) + 1)],
         'an event naming its own grant\'s rows is stored')


def test_rows_that_events_name_are_append_only(t):
    setup(t)
    for table in ('trajectories', 'import_batches'):
        what = 'traject.%s is append-only' % table
        refused(t, 'DELETE FROM traject.%s' % table, what, 'DELETE FROM %s' % table)
        refused(t, 'UPDATE traject.%s SET grant_key = grant_key' % table, what,
                'UPDATE of %s' % table)
        refused(t, 'TRUNCATE traject.%s CASCADE' % table, what, 'TRUNCATE %s' % table)
    refused(t, 'TRUNCATE traject.events CASCADE', 'traject.events is append-only',
            'TRUNCATE events')
    t.eq(t.sql('SELECT count(*) FROM traject.trajectories'), ['30'], 'the trajectories stay')
    t.eq(t.sql('SELECT count(*) FROM traject.events'), ['219'], 'the events stay')


def test_the_register_is_append_only(t):
    """Events, voids, grant versions, obligations and calendar rows (sql/012)."""
    setup(t)
    event = t.sql('SELECT min(event_id) FROM traject.events')[0]
    t.succeeds(t.ctl('void', '--grant', GRANT, event, '--reason', 'wrong date'), 'a void')
    tables = ('events', 'voids', 'grant_versions', 'obligations', 'calendar')
    count = 'SELECT %s' % ', '.join('(SELECT count(*) FROM traject.%s)' % x for x in tables)
    before = t.sql(count)
    t.ok(all(int(n) > 0 for n in before[0].split('|')), 'every table has rows', before)
    for table in tables:
        what = 'traject.%s is append-only' % table
        refused(t, 'DELETE FROM traject.%s' % table, what, 'DELETE FROM %s' % table)
        refused(t, 'UPDATE traject.%s SET grant_key = grant_key' % table, what,
                'UPDATE of %s' % table)
        refused(t, 'TRUNCATE traject.%s CASCADE' % table, 'is append-only',
                'TRUNCATE %s' % table)
    refused(t, "UPDATE traject.events SET value = 'x' WHERE event_id = %s" % event,
            'traject.events is append-only', 'UPDATE of one event')
    refused(t, 'DELETE FROM traject.voids WHERE event_id = %s' % event,
            'HINT:  a void is final', 'un-voiding an event (with a hint)')
    refused(t, "UPDATE traject.grant_versions SET amount_granted = 1",
            'HINT:  a grant is changed by loading an amendment', 'editing a grant version')
    t.eq(t.sql(count), before, 'every row stays')
    t.succeeds(t.ctl('grant', 'load', t.write('amended.json', open(t.example('grant.json'))
                                               .read().replace('"2011-10-15"', '"2011-10-31"'))),
               'an amendment still loads')
    t.succeeds(t.ctl('void', '--grant', GRANT, str(int(event) + 1), '--reason', 'wrong'),
               'a void still records')


def test_the_import_still_stores_and_reports(t):
    setup(t)
    r = t.succeeds(t.ctl('report', '--grant', GRANT, '--report', '2011'), 'report').json()
    t.eq(r['indicators']['trajectories_started'], 30, '30 started (docs/example.md)')
    t.eq(t.sql("SELECT count(*) FROM pg_indexes WHERE indexname = 'events_traj'"), ['0'],
         'the redundant index is gone')
    t.eq(t.sql("SELECT count(*) FROM pg_constraint WHERE conrelid = 'traject.events'::regclass"
               " AND contype = 'f'"), ['0'], 'events have no row-by-row foreign key left')


tjtest.main(globals())
