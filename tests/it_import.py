"""trajectctl import: one case per rule code (tests/data/import/*.expected,
compared exactly), good imports, re-import, many bad lines, cross-file
rules against stored events, a void that lets a corrected file in, and
concurrent imports of one grant.

    python3 tests/it_import.py --generate ROWS FILE   writes a synthetic,
    valid events file (used to measure speed and memory, docs/import.md).
"""
import glob
import hashlib
import os
import re
import subprocess
import sys
import datetime

import tjtest

GRANT = 'G-IMPORT'
DATA = tjtest.Test.data('import')


def synthetic(path, rows, prefix='T-'):
    """A valid file of `rows` events, ten per trajectory."""
    base = datetime.date(2011, 1, 1)
    with open(path, 'w', newline='') as f:
        f.write('trajectory,date,event,value\n')
        n = i = 0
        while n < rows:
            ref = '%s%07d' % (prefix, i)
            d = base + datetime.timedelta(days=i % 300)
            events = [(0, 'registered', ''), (0, 'coordinator', 'coach-%02d' % (i % 40)),
                      (0, 'children', str(1 + i % 4)),
                      (2, 'assessed', 'needs_indication' if i % 3 else 'no_indication'),
                      (4, 'plan', ''), (8, 'help_started', ''), (20, 'cost', '450.00'),
                      (50, 'cost', '1200.50'), (80, 'closed', 'goals_reached'),
                      (90, 'cost', '99.99')]
            for off, kind, value in events:
                if n >= rows:
                    break
                f.write('%s,%s,%s,%s\n' % (ref, (d + datetime.timedelta(days=off)).isoformat(),
                                           kind, value))
                n += 1
            i += 1


def load_grant(t, name='grant.json'):
    t.succeeds(t.ctl('grant', 'load', os.path.join(DATA, name)), 'grant load ' + name)


def counts(t):
    return t.sql('SELECT (SELECT count(*) FROM traject.events),'
                  ' (SELECT count(*) FROM traject.import_batches),'
                  ' (SELECT count(*) FROM traject.trajectories),'
                  ' (SELECT count(*) FROM traject.voids)')[0]


def import_file(t, path, grant=GRANT):
    return t.ctl('import', '--grant', grant, path)


# --- one case per rule code -------------------------------------------------

def make_case(name):
    """Refused file NAME.csv: stderr is exactly NAME.expected, nothing stored.
    NAME.pre.csv is imported first; NAME.void lists 'EVENT_ID reason' to void."""
    def case(t):
        base = os.path.join(DATA, name)
        load_grant(t)
        if os.path.exists(base + '.pre.csv'):
            t.succeeds(import_file(t, base + '.pre.csv'), 'import ' + name + '.pre.csv')
        if os.path.exists(base + '.void'):
            for line in open(base + '.void'):
                event_id, reason = line.rstrip('\n').split(' ', 1)
                t.succeeds(t.ctl('void', '--grant', GRANT, event_id, '--reason', reason),
                           'void ' + event_id)
        before = counts(t)
        r = t.fails(import_file(t, base + '.csv'), 'import ' + name + '.csv')
        with open(base + '.expected') as f:
            want = f.read()
        t.eq(r.err.replace(DATA + os.sep, ''), want, name + ': stderr')
        t.eq(r.out, '', name + ': nothing on stdout')
        t.eq(counts(t), before, name + ': nothing stored')
    return case


for _path in sorted(glob.glob(os.path.join(DATA, '*.expected'))):
    _name = os.path.basename(_path)[:-len('.expected')]
    globals()['test_case_' + _name.replace('-', '_')] = make_case(_name)


def test_case_TJ004_long_line(t):
    """A line over 65,536 bytes (TJ_CSV_MAX_RECORD) stops the checking; generated,
    as a data file of that size would only be noise in the repository."""
    load_grant(t)
    path = t.write('long.csv', 'trajectory,date,event,value\nT-1,2011-06-01,registered,\n'
                   'T-1,2011-06-02,coordinator,' + 'x' * 65536 + '\nT-1,2011-06-03,bogus,\n')
    before = counts(t)
    r = t.fails(import_file(t, path), 'import a file with a long line')
    t.eq(r.err, '%s:3: TJ004 line longer than 65536 bytes (is this an events file?)\n'
         '%s: refused, nothing stored (1 problem)\n' % (path, path), 'stderr')
    t.eq(counts(t), before, 'nothing stored')


# Codes of docs/import.md whose case is a test function rather than a data file.
CODE_TESTS = {'TJ004': 'test_case_TJ004_long_line', 'TJ030': 'test_reimport_stores_nothing'}


def test_every_code_has_a_case(t):
    """The rule table of docs/import.md and the cases cannot drift apart."""
    doc = open(os.path.join(tjtest.SRC, 'docs', 'import.md')).read()
    codes = set(re.findall(r'^\| (TJ0\d\d) \|', doc, re.M))
    t.ok(len(codes) >= 15, 'the table lists the codes (%d)' % len(codes))
    used = set(CODE_TESTS)
    for path in glob.glob(os.path.join(DATA, '*.expected')):
        used.update(re.findall(r':\d+: (TJ\d+) ', open(path).read()))
    t.eq(sorted(codes - used), [], 'every documented code has a case')
    t.eq(sorted(used - codes), [], "every case's code is documented")


# --- good files ---------------------------------------------------------------

def test_good_import(t):
    load_grant(t)
    path = os.path.join(DATA, 'good.csv')
    r = t.succeeds(import_file(t, path), 'import good.csv')
    t.eq(r.out, path + ': 12 events of 2 trajectories imported (batch 1)\n', 'summary')
    t.eq(r.err, '', 'no stderr')
    rows = t.sql("SELECT e.line, t.ref, e.event_date, e.kind, coalesce(e.value, '-'),"
                 " coalesce(e.amount::text, '-'), e.batch_id"
                 " FROM traject.events e JOIN traject.trajectories t USING (traj_key)"
                 " ORDER BY e.event_id")
    t.eq(rows, [
        '2|T-001|2011-06-06|registered|-|-|1',
        '3|T-001|2011-06-06|coordinator|coach-07|-|1',
        '4|T-001|2011-06-06|children|2|-|1',
        '5|T-001|2011-06-08|assessed|needs_indication|-|1',
        '6|T-001|2011-06-10|plan|-|-|1',
        '7|T-001|2011-06-14|help_started|-|-|1',
        '8|T-001|2011-07-01|cost|-|450.00|1',
        '9|T-001|2011-12-01|closed|goals_reached|-|1',
        '10|T-002|2011-07-01|registered|-|-|1',
        '11|T-002|2011-07-03|assessed|no_indication|-|1',
        '12|T-002|2011-07-04|escalated|residential|-|1',
        '13|T-002|2011-07-05|cost|-|1234.50|1',
    ], 'events stored in file order with their lines')
    with open(path, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    t.eq(t.sql('SELECT file_name, sha256, row_count FROM traject.import_batches'),
         ['good.csv|%s|12' % sha], 'batch row: base name, sha256 of the bytes, rows')
    t.eq(t.sql('SELECT count(DISTINCT e.recorded_at), bool_and(e.recorded_at = b.recorded_at)'
               ' FROM traject.events e JOIN traject.import_batches b USING (batch_id)'),
         ['1|t'], 'one recorded_at for the whole file, the batch one')
    t.eq(t.sql('SELECT ref FROM traject.trajectories ORDER BY traj_key'), ['T-001', 'T-002'],
         'trajectories in order of first appearance')


def test_crlf_quotes_and_closing_day(t):
    load_grant(t)
    path = os.path.join(DATA, 'crlf.csv')
    r = t.succeeds(import_file(t, path), 'import crlf.csv')
    t.eq(r.out, path + ': 6 events of 1 trajectory imported (batch 1)\n', 'summary')
    t.eq(t.sql("SELECT line, kind, coalesce(value, amount::text, '-') FROM traject.events"
               " ORDER BY line"),
         ['2|registered|-', '3|cost|99.99', '4|closed|moved', '5|plan|-', '6|cost|0.01',
          '7|cost|10.00'],
         'quoted fields, CRLF; any event on the closing date and cost after it')


def test_bom_and_header_only(t):
    load_grant(t)
    p = t.write('bom.csv', b'\xef\xbb\xbftrajectory,date,event,value\nT-1,2011-06-01,registered,\n',
                mode='wb')
    t.eq(t.succeeds(import_file(t, p), 'BOM file').out,
         p + ': 1 event of 1 trajectory imported (batch 1)\n', 'BOM tolerated')
    p = t.write('header.csv', 'trajectory,date,event,value\n')
    t.eq(t.succeeds(import_file(t, p), 'header only').out,
         p + ': 0 events of 0 trajectories imported (batch 2)\n', 'an empty week is a batch')
    t.eq(counts(t), '1|2|1|0', 'rows')


def test_reimport_stores_nothing(t):
    load_grant(t)
    path = os.path.join(DATA, 'good.csv')
    t.succeeds(import_file(t, path), 'first import')
    before = counts(t)
    when = t.sql('SELECT traject.iso_utc(recorded_at) FROM traject.import_batches')[0]
    r = t.succeeds(import_file(t, path), 'second import')
    t.eq(r.out, '%s: TJ030 already imported for grant %s on %s as batch 1: nothing stored\n'
         % (path, GRANT, when), 'says so, with its code (docs/import.md)')
    t.eq(r.err, '', 'not an error: nothing on stderr')
    t.eq(counts(t), before, 'row counts unchanged')
    # The same bytes under another name are the same content.
    with open(path) as f:
        copy = t.write('renamed.csv', f.read())
    t.ok('already imported' in t.succeeds(import_file(t, copy), 'renamed copy').out,
         'content, not name, decides')
    t.eq(counts(t), before, 'still unchanged')
    # A different grant is a different register.
    load_grant(t, 'grant-other.json')
    r = t.succeeds(import_file(t, path, 'G-OTHER'), 'same file, other grant')
    t.eq(r.out, path + ': 12 events of 2 trajectories imported (batch 2)\n', 'imported there')


def test_many_bad_lines_all_reported(t):
    load_grant(t)
    lines = ['trajectory,date,event,value', 'T-1,2011-06-01,registered,']
    lines += ['T-1,2011-06-%02d,plan,x' % (1 + i % 28) for i in range(250)]
    p = t.write('many.csv', '\n'.join(lines) + '\n')
    r = t.fails(import_file(t, p), 'many bad lines')
    err = r.err.split('\n')
    t.eq(len(err), 203, '200 problems, the rest counted, the verdict, a final newline')
    for i in range(200):
        t.eq(err[i], "%s:%d: TJ014 a plan event has no value, found 'x' (leave the value "
             'column empty)' % (p, i + 3), 'problem %d in line order' % i)
    t.eq(err[200], '... and 50 more', 'the rest counted')
    t.eq(err[201], p + ': refused, nothing stored (250 problems)', 'verdict')
    t.eq(counts(t), '0|0|0|0', 'nothing stored')


def test_conflict_with_stored_then_void_lets_correction_in(t):
    load_grant(t)
    t.succeeds(import_file(t, os.path.join(DATA, 'good.csv')), 'first file')
    fix = t.write('fix.csv', 'trajectory,date,event,value\n'
                  'T-001,2011-11-15,closed,moved\n'
                  'T-001,2011-11-16,cost,12.00\n')
    r = t.fails(import_file(t, fix), 'second closed')
    t.eq(r.err, fix + ":2: TJ024 second closed event of trajectory 'T-001': conflicts with "
         'stored event 8 (2011-12-01 closed) (remove this line, or void stored event 8 '
         'first)\n' + fix + ': refused, nothing stored (1 problem)\n', 'names the stored event')
    t.succeeds(t.ctl('void', '--grant', GRANT, '8', '--reason', 'closed on the wrong date'),
               'void the wrong closed')
    r = t.succeeds(import_file(t, fix), 'corrected file')
    t.eq(r.out, fix + ': 2 events of 1 trajectory imported (batch 2)\n', 'accepted now')
    t.eq(t.sql("SELECT e.event_id, e.kind, e.event_date, v.event_id IS NOT NULL"
               " FROM traject.events e LEFT JOIN traject.voids v USING (event_id)"
               " WHERE e.kind = 'closed' ORDER BY e.event_id"),
         ['8|closed|2011-12-01|t', '13|closed|2011-11-15|f'], 'old voided, new stored')


def test_other_grants_events_do_not_conflict(t):
    load_grant(t)
    load_grant(t, 'grant-other.json')
    t.succeeds(import_file(t, os.path.join(DATA, 'good.csv'), 'G-OTHER'), 'into G-OTHER')
    p = t.write('again.csv', 'trajectory,date,event,value\nT-001,2011-06-01,registered,\n')
    t.succeeds(import_file(t, p), 'same reference in G-IMPORT is another trajectory')
    t.eq(t.sql('SELECT count(*) FROM traject.trajectories WHERE ref = \'T-001\''), ['2'],
         'one per grant')


def test_unknown_grant_and_usage(t):
    r = t.fails(import_file(t, os.path.join(DATA, 'good.csv'), 'NOPE'), 'unknown grant')
    t.eq(r.err, "trajectctl: no grant 'NOPE': load it first with 'trajectctl grant load'\n",
         'message')
    load_grant(t)
    t.fails(t.ctl('import', os.path.join(DATA, 'good.csv')), 'no --grant', rc=2,
            pattern=r'^usage: trajectctl import --grant ID FILE.csv$')
    t.fails(t.ctl('import', '--grant', GRANT), 'no file', rc=2)
    t.fails(t.ctl('import', '--grant', GRANT, 'a.csv', 'b.csv'), 'two files', rc=2)
    t.fails(t.ctl('import', '--bogus', '--grant', GRANT, 'a.csv'), 'unknown option', rc=2)
    missing = os.path.join(t.tmp, 'missing.csv')
    t.fails(import_file(t, missing), 'missing file',
            pattern=r'^trajectctl: %s: cannot open: No such file or directory' % missing)
    # Options may follow the file.
    t.succeeds(t.ctl('import', os.path.join(DATA, 'good.csv'), '--grant', GRANT),
               'file before --grant')
    t.eq(counts(t), '12|1|2|0', 'stored once')


def test_large_file_streams(t):
    load_grant(t)
    path = os.path.join(t.tmp, 'large.csv')
    synthetic(path, 20000)
    r = t.succeeds(import_file(t, path), 'import 20,000 rows')
    t.eq(r.out, path + ': 20000 events of 2000 trajectories imported (batch 1)\n', 'summary')
    t.eq(t.sql("SELECT count(*), sum(amount), count(*) FILTER (WHERE kind = 'closed')"
               " FROM traject.events"), ['20000|3500980.00|2000'],
         'all rows: 2000 x (450.00 + 1200.50 + 99.99) of cost, 2000 closed')


def test_concurrent_imports_serialize(t):
    """Two files that each close T-9, imported at the same time: the grant's
    row lock makes the second see the first, so exactly one closed is stored."""
    load_grant(t)
    t.succeeds(import_file(t, t.write('reg.csv', 'trajectory,date,event,value\n'
                                      'T-9,2011-01-01,registered,\n')), 'register T-9')
    files = []
    for n, day in (('a', '2011-07-01'), ('b', '2011-07-02')):
        rows = ['trajectory,date,event,value']
        rows += ['T-9,2011-02-%02d,cost,%d.00' % (1 + i % 28, 1 + i) for i in range(20000)]
        rows.append('T-9,%s,closed,moved' % day)
        files.append(t.write(n + '.csv', '\n'.join(rows) + '\n'))
    env = dict(os.environ)
    procs = [subprocess.Popen([tjtest.CTL, '--db', t.conninfo, 'import', '--grant', GRANT, f],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for f in files]
    results = [p.communicate() + (p.returncode,) for p in procs]
    t.eq(sorted(rc for _, _, rc in results), [0, 1], 'one succeeds, one is refused')
    refused = [err for _, err, rc in results if rc == 1][0]
    t.ok('TJ024 second closed event' in refused, 'the refused one saw the stored closed',
         refused)
    t.eq(t.sql("SELECT count(*) FROM traject.events WHERE kind = 'closed'"), ['1'],
         'exactly one closed')


if __name__ == '__main__' and len(sys.argv) == 4 and sys.argv[1] == '--generate':
    synthetic(sys.argv[3], int(sys.argv[2]))
    sys.exit(0)

tjtest.main(globals())
