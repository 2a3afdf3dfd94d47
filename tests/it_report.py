"""trajectctl report: hand-computed cases, both formats, knowledge times, locks.

The data-driven cases live in tests/data/reports/<case>/: case.json lists the
steps (grant load, import, void, explain: the real commands) and the reports to
make, each at the knowledge time K of one step (read back from the database),
with its expected JSON document worked out by hand (see the README.md there).
The expected files spell K as "@K@" and the recorded time of step n as "@Sn@".
Every report is compared with its expected file token for token (key order and
number spelling included; byte for byte where the case says "exact"), computed
twice and compared byte for byte, rendered as XML, validated against
reports/trajectd-report-2.xsd with xmllint and checked to carry exactly the
JSON's content.
"""
import json
import os
import re
import subprocess
import threading
import time
from datetime import datetime

import tjtest

CASES = tjtest.Test.data('reports')

# The Indicators table of indicators.md, plus the one always-present extra.
INDICATORS = [
    'trajectories_started', 'trajectories_helped', 'trajectories_closed',
    'trajectories_active', 'closed_by_reason', 'children_helped', 'indications_needed',
    'indications_requested', 'indications_avoided', 'indication_avoidance_rate',
    'escalations', 'heavier_care_avoided_rate', 'median_days_to_help', 'p90_days_to_help',
    'costs_total', 'amount_committed', 'amount_settled', 'budget_remaining',
    'cost_per_child_helped', 'children_helped_per_10k_eur', 'data_quality',
    'extra_children_within_budget',
]


def indicator_tables():
    """{path: names} of the Indicators tables of the spec (when present) and our docs."""
    found, seen = {}, set()
    for path in (os.environ.get('TJ_INDICATORS_SPEC', ''),
                 '/work/shared/spec/indicators.md',
                 # in CI the shared folder sits beside the clone
                 os.path.join(tjtest.SRC, '..', 'shared', 'spec', 'indicators.md'),
                 os.path.join(tjtest.SRC, 'docs', 'indicators.md')):
        if path and os.path.exists(path) and os.path.realpath(path) not in seen:
            seen.add(os.path.realpath(path))
            text = open(path, encoding='utf-8').read()
            m = re.search(r'^## (The )?[Ii]ndicators\b.*$', text, re.M)
            section = text[m.end():].split('\n## ', 1)[0] if m else ''
            found[path] = re.findall(r'^\| `([a-z0-9_]+)` \|', section, re.M)
    return found


def ts(text):
    """A traject.iso_utc timestamp as a datetime (for comparing instants)."""
    return datetime.fromisoformat(text.replace('Z', '+00:00'))


tokens = tjtest.tokens  # JSON with the exact spelling kept


def first_difference(got, want, path='$'):
    if type(got) is not type(want):
        return '%s: got %r, want %r' % (path, got, want)
    if isinstance(want, tuple) and want and want[0] == 'obj':
        gk = [k for k, _ in got[1]]
        wk = [k for k, _ in want[1]]
        if gk != wk:
            return '%s: keys %s, want %s' % (path, gk, wk)
        for (k, g), (_, w) in zip(got[1], want[1]):
            d = first_difference(g, w, '%s.%s' % (path, k))
            if d:
                return d
        return None
    if isinstance(want, list):
        if len(got) != len(want):
            return '%s: %d items, want %d' % (path, len(got), len(want))
        for i, (g, w) in enumerate(zip(got, want)):
            d = first_difference(g, w, '%s[%d]' % (path, i))
            if d:
                return d
        return None
    return None if got == want else '%s: got %r, want %r' % (path, got, want)


# --- running the steps of a case ------------------------------------------------
def step_time(t, grant, what):
    """The recorded time of the newest row of one kind, as report K text."""
    sql = {
        'load': 'SELECT traject.iso_utc(max(v.known_at)) FROM traject.grant_versions v'
                ' JOIN traject.grants g USING (grant_key) WHERE g.id = :\'v1\'',
        'import': 'SELECT traject.iso_utc(max(b.recorded_at)) FROM traject.import_batches b'
                  ' JOIN traject.grants g USING (grant_key) WHERE g.id = :\'v1\'',
        'void': 'SELECT traject.iso_utc(max(x.recorded_at)) FROM traject.voids x'
                ' JOIN traject.grants g USING (grant_key) WHERE g.id = :\'v1\'',
        'explain': 'SELECT traject.iso_utc(max(x.recorded_at)) FROM traject.explanations x'
                   ' JOIN traject.grants g USING (grant_key) WHERE g.id = :\'v1\'',
    }[what]
    return t.sql(sql, grant)[0]


def run_steps(t, case_dir, case):
    grant = case['grant']
    times = []
    for i, step in enumerate(case['steps']):
        what = step['do']
        if what == 'load':
            t.succeeds(t.ctl('grant', 'load', os.path.join(case_dir, step['file'])),
                       'step %d: grant load %s' % (i, step['file']))
        elif what == 'import':
            t.succeeds(t.ctl('import', '--grant', grant, os.path.join(case_dir, step['file'])),
                       'step %d: import %s' % (i, step['file']))
        elif what == 'void':
            r = t.succeeds(t.ctl('events', '--grant', grant, '--trajectory', step['trajectory'],
                                 '--json'), 'step %d: events' % i)
            ids = sorted(e['id'] for e in r.json() if e['event'] == step['event'])
            t.ok(len(ids) >= step['nth'], 'step %d: the event to void exists' % i, ids)
            t.succeeds(t.ctl('void', '--grant', grant, str(ids[step['nth'] - 1]),
                             '--reason', step['reason']), 'step %d: void' % i)
        elif what == 'explain':
            t.succeeds(t.ctl('explain', '--grant', grant, '--obligation', step['obligation'],
                             '--text', step['text']), 'step %d: explain' % i)
        else:
            raise tjtest.Failure('unknown step %r' % what)
        times.append(step_time(t, grant, what))
        if i:
            t.ok(ts(times[i]) > ts(times[i - 1]), 'step %d is recorded after step %d' % (i, i - 1), times)
    return times


def xmllint(t, text, what):
    tjtest.xmllint(t, what, text=text)


def check_report(t, case_dir, case, rep, known_at, times=()):
    grant = case['grant']
    args = ['report', '--grant', grant] + rep['args'] + ['--known-at', known_at]
    what = '%s %s' % (os.path.basename(case_dir), rep['expected'])
    first = t.succeeds(t.ctl(*args), what)
    again = t.succeeds(t.ctl(*args), what + ' again')
    t.ok(first.out == again.out, what + ': the same bytes twice')

    with open(os.path.join(case_dir, rep['expected']), encoding='utf-8') as f:
        want_text = f.read().replace('@K@', known_at)
    for i, when in enumerate(times):
        want_text = want_text.replace('@S%d@' % i, when)
    got, want = tokens(first.out), tokens(want_text)
    diff = first_difference(got, want)
    t.ok(diff is None, what + ': equals the hand-computed document', diff)
    if rep.get('exact'):
        t.eq(first.out, want_text, what + ': byte for byte')
    t.ok(first.out.endswith('}\n') and '\\/' not in first.out, what + ': layout')

    names = [k for k, _ in dict(got[1])['indicators'][1]]
    t.eq(names, INDICATORS, what + ': every indicator, in the order of indicators.md')

    xml = t.succeeds(t.ctl(*(args + ['--format', 'xml'])), what + ' as XML')
    xml2 = t.succeeds(t.ctl(*(args + ['--format', 'xml'])), what + ' as XML again')
    t.ok(xml.out == xml2.out, what + ': the same XML bytes twice')
    xmllint(t, xml.out, what)
    tjtest.xml_carries_json(t, what, xml.out, first.out)


def run_case(t, name):
    case_dir = os.path.join(CASES, name)
    with open(os.path.join(case_dir, 'case.json'), encoding='utf-8') as f:
        case = json.load(f)
    times = run_steps(t, case_dir, case)
    for rep in case['reports']:
        check_report(t, case_dir, case, rep, times[rep['after']], times)


def test_case_empty(t):
    run_case(t, 'empty')


def test_case_mixed(t):
    run_case(t, 'mixed')


def test_case_knowledge(t):
    run_case(t, 'knowledge')


def test_case_determination(t):
    run_case(t, 'determination')


def test_indicator_list_matches_spec(t):
    tables = indicator_tables()
    t.ok(os.path.join(tjtest.SRC, 'docs', 'indicators.md') in tables, 'docs/indicators.md read')
    for path, names in tables.items():
        if 'extra_children_within_budget' not in names:
            names = names + ['extra_children_within_budget']
        t.eq(names, INDICATORS, 'every indicator of %s, in its order' % path)


# --- the SQL functions ------------------------------------------------------------
def test_trajectory_state_helped_is_false_without_help(t):
    """helped is "it has a help_started event": false, never NULL, without one
    (docs/indicators.md; 002 said false, 009 said NULL until 012)."""
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant.json')), 'grant load')
    t.succeeds(t.ctl('import', '--grant', 'TEST-DAEMON', t.data('daemon', 'events.csv')),
               'import')
    state = "SELECT reference, coalesce(helped::text, 'NULL'), help_started IS NULL" \
            " FROM traject.trajectory_state((SELECT grant_key FROM traject.grants" \
            " WHERE id = 'TEST-DAEMON'), $$%s$$, clock_timestamp()) ORDER BY reference"
    t.eq(t.sql(state % '2011-06-30'), ['T-1|true|f', 'T-2|false|t', 'T-3|false|t'],
         'helped once help started, false for the two never helped')
    t.eq(t.sql(state % '2011-02-02'), ['T-1|false|t'],
         'false before the help_started date as well')


# --- the command line ------------------------------------------------------------
def load_mixed(t):
    d = os.path.join(CASES, 'mixed')
    t.succeeds(t.ctl('grant', 'load', os.path.join(d, 'grant.json')), 'grant load')
    t.succeeds(t.ctl('import', '--grant', 'RPT-MIXED', os.path.join(d, 'events.csv')), 'import')


def test_usage_errors(t):
    load_mixed(t)
    g = ['report', '--grant', 'RPT-MIXED']
    t.fails(t.ctl('report', '--as-of', '2011-09-30'), 'no --grant', rc=2,
            pattern=r'--grant ID is required')
    t.fails(t.ctl(*g), 'neither --as-of nor --report', rc=2, pattern=r'exactly one of')
    t.fails(t.ctl(*(g + ['--as-of', '2011-09-30', '--report', '2011'])), 'both', rc=2,
            pattern=r'exactly one of')
    t.fails(t.ctl(*(g + ['--as-of', '2011-02-30'])), 'not a real date', rc=2,
            pattern=r"--as-of '2011-02-30' is not a real date \(use YYYY-MM-DD\)")
    t.fails(t.ctl(*(g + ['--as-of', '30-09-2011'])), 'wrong date form', rc=2,
            pattern=r'not a real date')
    t.fails(t.ctl(*(g + ['--as-of', '2011-09-30', '--known-at', '2011-10-01T08:00:00'])),
            'known-at without a zone', rc=2, pattern=r'ISO 8601 timestamp with a zone')
    t.fails(t.ctl(*(g + ['--as-of', '2011-09-30', '--format', 'pdf'])), 'unknown format',
            rc=2, pattern=r"unknown --format 'pdf' \(use json, xml or html\)")
    t.fails(t.ctl(*(g + ['--as-of', '2011-09-30', '--format', 'html', '--lang', 'de'])),
            'unknown language', rc=2, pattern=r"unknown --lang 'de' \(use nl or en\)")
    t.fails(t.ctl(*(g + ['--as-of', '2011-09-30', '--lang', 'nl'])), '--lang without html',
            rc=2, pattern=r'--lang applies to --format html only')
    t.fails(t.ctl(*(g + ['--as-of', '2011-09-30', '--threshold', '5'])),
            '--threshold without --public', rc=2, pattern=r'--threshold applies to --public only')
    for bad in ('2', '101', '5x', ''):
        t.fails(t.ctl(*(g + ['--as-of', '2011-09-30', '--public', '--threshold', bad])),
                '--threshold %r' % bad, rc=2,
                pattern=r"--threshold '%s' is not a whole number from 3 to 100" % bad)
    t.fails(t.ctl(*(g + ['--as-of', '2011-09-30', 'extra'])), 'extra argument', rc=2,
            pattern=r"unexpected argument 'extra'")
    t.fails(t.ctl(*(g + ['--as-of', '2011-09-30', '--bogus'])), 'unknown option', rc=2,
            pattern=r'^usage: trajectctl report')


def test_unknown_grant_and_report(t):
    load_mixed(t)
    t.fails(t.ctl('report', '--grant', 'NOPE', '--as-of', '2011-09-30'), 'unknown grant',
            pattern=r"no grant 'NOPE': see 'trajectctl grant list'")
    t.fails(t.ctl('report', '--grant', 'RPT-MIXED', '--report', '2011-Q4'), 'unknown report',
            pattern=r"grant RPT-MIXED has no report '2011-Q4' in its calendar \(version 1\); "
                    r"its reports are: 2011-Q3, 2011, determination$")


def test_known_at_limits(t):
    load_mixed(t)
    known = step_time(t, 'RPT-MIXED', 'load')
    t.fails(t.ctl('report', '--grant', 'RPT-MIXED', '--as-of', '2011-09-30',
                  '--known-at', '2000-01-01T00:00:00+01:00'), 'before the grant was loaded',
            pattern=r'grant RPT-MIXED was not yet known at 1999-12-31T23:00:00Z '
                    r'\(its first version was loaded at %s\)' % re.escape(known))
    t.fails(t.ctl('report', '--grant', 'RPT-MIXED', '--as-of', '2011-09-30',
                  '--known-at', '2999-01-01T00:00:00Z'), 'a future knowledge time',
            pattern=r'knowledge time 2999-01-01T00:00:00Z is in the future')
    # A zone offset names the same instant as its UTC spelling.
    imported = step_time(t, 'RPT-MIXED', 'import')
    a = t.succeeds(t.ctl('report', '--grant', 'RPT-MIXED', '--as-of', '2011-09-30',
                         '--known-at', imported), 'K in UTC')
    local = imported.replace('Z', '+00:00')
    b = t.succeeds(t.ctl('report', '--grant', 'RPT-MIXED', '--as-of', '2011-09-30',
                         '--known-at', local), 'K with an offset')
    t.eq(a.out, b.out, 'the same instant gives the same bytes')
    # Without --known-at, K is now: the report says when, and sees everything.
    before = t.sql('SELECT traject.iso_utc(clock_timestamp())')[0]
    r = t.succeeds(t.ctl('report', '--grant', 'RPT-MIXED', '--as-of', '2011-09-30'), 'now')
    k = r.json()['report']['known_at']
    t.ok(ts(imported) < ts(before) < ts(k), 'K defaults to the time of the report', (before, k))
    t.eq(r.json()['indicators']['trajectories_started'], 7, 'and sees the import')


def test_output_file(t):
    load_mixed(t)
    k = step_time(t, 'RPT-MIXED', 'import')
    base = ['report', '--grant', 'RPT-MIXED', '--report', '2011-Q3', '--known-at', k]
    out_dir = os.path.join(t.tmp, 'out')
    os.mkdir(out_dir)
    for fmt in ('json', 'xml'):
        path = os.path.join(out_dir, 'q3.' + fmt)
        stdout = t.succeeds(t.ctl(*(base + ['--format', fmt])), fmt + ' to stdout').out
        r = t.succeeds(t.ctl(*(base + ['--format', fmt, '--output', path])), fmt + ' to file')
        t.eq(r.out, '', 'nothing on stdout with --output')
        with open(path, encoding='utf-8') as f:
            t.eq(f.read(), stdout, fmt + ': the file holds the same bytes')
        # Replacing an existing file goes through a new inode (rename).
        ino = os.stat(path).st_ino
        t.succeeds(t.ctl(*(base + ['--format', fmt, '--output', path])), fmt + ' again')
        t.ok(os.stat(path).st_ino != ino, fmt + ': replaced by rename, not rewritten')
    t.eq(sorted(os.listdir(out_dir)), ['q3.json', 'q3.xml'], 'no temporary files left')
    t.fails(t.ctl(*(base + ['--output', os.path.join(t.tmp, 'missing', 'q3.json')])),
            'a directory that does not exist',
            pattern=r'q3.json: cannot create a temporary file in .*/missing')
    # A failed report leaves an existing file alone.
    t.fails(t.ctl('report', '--grant', 'NOPE', '--as-of', '2011-09-30', '--output',
                  os.path.join(out_dir, 'q3.json')), 'failed report')
    with open(os.path.join(out_dir, 'q3.json'), encoding='utf-8') as f:
        t.ok(f.read().startswith('{\n  "schema": "trajectd-report/2"'), 'file untouched')


def test_waits_for_writers(t):
    """A report without --known-at waits for an import in flight and sees it."""
    load_mixed(t)
    key = t.sql("SELECT grant_key FROM traject.grants WHERE id = 'RPT-MIXED'")[0]
    # A writer following docs/design.md: shared lock, then its timestamp, then
    # rows, committed 1.5 s later.
    writer_sql = (
        "BEGIN;\n"
        "SELECT pg_advisory_xact_lock_shared(traject.lock_class(), %s::integer);\n"
        "INSERT INTO traject.import_batches (grant_key, file_name, sha256, row_count, recorded_at)"
        " VALUES (%s, 'late.csv', repeat('c', 64), 1, clock_timestamp());\n"
        "INSERT INTO traject.trajectories (grant_key, ref) VALUES (%s, 'T-LATE');\n"
        "INSERT INTO traject.events (grant_key, traj_key, batch_id, line, event_date, kind,"
        " recorded_at) SELECT %s, t.traj_key, b.batch_id, 2, '2011-09-01', 'registered',"
        " b.recorded_at FROM traject.trajectories t, traject.import_batches b"
        " WHERE t.ref = 'T-LATE' AND b.file_name = 'late.csv';\n"
        "SELECT pg_sleep(1.5);\n"
        "COMMIT;\n" % (key, key, key, key))
    writer = subprocess.Popen(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', t.db],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    result = {}

    def feed():
        result['out'] = writer.communicate(writer_sql)

    th = threading.Thread(target=feed)
    th.start()
    # Wait until the writer holds its lock.
    for _ in range(100):
        held = t.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                     " AND objid = %s AND mode = 'ShareLock' AND granted" % key)[0]
        if held == '1':
            break
        time.sleep(0.05)
    t.eq(held, '1', 'the writer holds the shared lock')
    start = time.monotonic()
    r = t.succeeds(t.ctl('report', '--grant', 'RPT-MIXED', '--as-of', '2011-09-30'),
                   'report during the import')
    waited = time.monotonic() - start
    th.join()
    t.eq(writer.returncode, 0, 'the writer committed')
    t.ok(waited > 0.5, 'the report waited for the writer (%.2f s)' % waited)
    t.eq(r.json()['indicators']['trajectories_started'], 8,
         "the report sees the writer's trajectory")
    late = t.sql("SELECT traject.iso_utc(recorded_at) FROM traject.import_batches"
                 " WHERE file_name = 'late.csv'")[0]
    t.ok(ts(late) <= ts(r.json()['report']['known_at']), 'its K is after the write', late)


def test_uses_grant_index(t):
    """The report's reads go through events_grant_traj, whatever else is stored."""
    load_mixed(t)
    # 200 other grants with 150 events each, so a sequential scan would be costly.
    t.sql("""
        INSERT INTO traject.grants (id, created_at)
            SELECT 'OTHER-' || g, now() FROM generate_series(1, 200) g;
        INSERT INTO traject.import_batches (grant_key, file_name, sha256, row_count, recorded_at)
            SELECT grant_key, 'x.csv', md5(id) || md5(id), 150, now()
            FROM traject.grants WHERE id LIKE 'OTHER-%';
        INSERT INTO traject.trajectories (grant_key, ref)
            SELECT g.grant_key, 'T-' || n FROM traject.grants g, generate_series(1, 30) n
            WHERE g.id LIKE 'OTHER-%';
        INSERT INTO traject.events (grant_key, traj_key, batch_id, line, event_date, kind,
                                    amount, recorded_at)
            SELECT t.grant_key, t.traj_key, b.batch_id, 2, date '2011-03-01' + n, 'cost', 10,
                   now()
            FROM traject.trajectories t JOIN traject.import_batches b USING (grant_key)
                 JOIN traject.grants g USING (grant_key), generate_series(1, 5) n
            WHERE g.id LIKE 'OTHER-%';
        ANALYZE;""")
    plans = {}
    for fn in ('indicators', 'obligation_status', 'series', 'settlement'):
        plans[fn] = '\n'.join(t.sql(
            "EXPLAIN SELECT * FROM traject.%s(traject.grant_key('RPT-MIXED'), '2011-09-30',"
            " now())" % fn))
        t.ok('events_grant_traj' in plans[fn], fn + ' reads events through the grant index',
             plans[fn])
        t.ok('Seq Scan on events' not in plans[fn], fn + ' never scans all events', plans[fn])
        t.ok('Function Scan on ' + fn not in plans[fn], fn + ' is inlined', plans[fn])
    r = t.succeeds(t.ctl('report', '--grant', 'RPT-MIXED', '--as-of', '2011-09-30'),
                   'report among many grants')
    t.eq(r.json()['indicators']['costs_total'], '4800.75', 'other grants do not leak in')


tjtest.main(globals())
