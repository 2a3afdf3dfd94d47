"""trajectctl grant load / grant list / status against a real database.

Loading stores one version with its obligations and calendar; an identical
file stores nothing; a changed file is an amendment (a new version, the old
rows untouched); every refused file (tests/data/grants/bad-*.json) prints
exactly its .expected lines and stores nothing.
"""
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess

import tjtest

GRANTS = tjtest.Test.data('grants')
EXAMPLE = os.path.join(GRANTS, 'ov-2011.json')
AMENDED = os.path.join(GRANTS, 'ov-2011-amended.json')
MINIMAL = os.path.join(GRANTS, 'minimal.json')
TABLES = ('grants', 'grant_versions', 'obligations', 'calendar')


def counts(t):
    return {name: int(t.sql('SELECT count(*) FROM traject.%s' % name)[0]) for name in TABLES}


def ctl_in(t, cwd, *args):
    """Run trajectctl in cwd, so that a relative file name is what it reports."""
    full = [tjtest.CTL, '--db', t.conninfo] + list(args)
    proc = subprocess.run(full, capture_output=True, text=True, cwd=cwd)
    return tjtest.Result(full, proc)


def test_load_example(t):
    r = t.succeeds(t.ctl('grant', 'load', EXAMPLE), 'load the formats.md example')
    t.eq(r.out, 'grant OV-2011-AMB-01: version 1 loaded (2 obligations, 3 reports)\n', 'stdout')
    t.eq(counts(t), {'grants': 1, 'grant_versions': 1, 'obligations': 2, 'calendar': 3},
         'rows stored')
    sha = hashlib.sha256(open(EXAMPLE, 'rb').read()).hexdigest()
    row = t.sql("SELECT g.id, v.version, v.source_name, v.source_sha256, v.title, v.grantor,"
                " v.grantee, v.decision_date, v.period_start, v.period_end, v.currency,"
                " v.amount_granted, v.target_trajectories, v.amount_per_trajectory,"
                " v.baseline_cost_per_child, v.baseline_days_to_help,"
                " v.baseline_indication_rate"
                " FROM traject.grants g JOIN traject.grant_versions v USING (grant_key)")
    t.eq(row, ['OV-2011-AMB-01|1|ov-2011.json|%s|Experimenten 2e lijns ambulante '
               'hulpverlening|Provincie Overijssel|Gemeente Voorbeeld|2011-05-30|2011-01-01|'
               '2011-12-31|EUR|150000.00|30|5000.00|7500.00|42|0.8' % sha], 'version row')
    doc = json.loads(t.sql('SELECT document FROM traject.grant_versions')[0])
    t.eq(doc, json.load(open(EXAMPLE)), 'document holds the parsed file')
    t.eq(t.sql('SELECT id, indicator, op, target, due, description, position'
               ' FROM traject.obligations ORDER BY position'),
         ['P1|trajectories_started|>=|30|2011-12-31|30 trajectories started in 2011|0',
          'P2|indication_avoidance_rate|>=|0.5|2011-12-31|at least half of the indications '
          'avoided|1'], 'obligations')
    t.eq(t.sql('SELECT id, kind, as_of, due, position FROM traject.calendar ORDER BY position'),
         ['2011-Q3|progress|2011-09-30|2011-10-15|0',
          '2011|progress|2011-12-31|2012-01-31|1',
          'determination|determination|2012-05-31|2012-06-30|2'], 'calendar')


def test_minimal_defaults(t):
    r = t.succeeds(t.ctl('grant', 'load', MINIMAL), 'load a grant with only required keys')
    t.eq(r.out, 'grant AB-2012.small_1: version 1 loaded (0 obligations, 1 report)\n', 'stdout')
    # 100.00 / 8 = 12.50; no title, no baseline; EUR
    t.eq(t.sql('SELECT coalesce(title, \'<null>\'), currency, amount_per_trajectory,'
               ' baseline_cost_per_child IS NULL, baseline_days_to_help IS NULL,'
               ' baseline_indication_rate IS NULL FROM traject.grant_versions'),
         ['<null>|EUR|12.50|t|t|t'], 'defaults stored')


def test_reload_identical_is_unchanged(t):
    t.succeeds(t.ctl('grant', 'load', EXAMPLE), 'first load')
    before = counts(t)
    known = t.sql('SELECT known_at FROM traject.grant_versions')
    r = t.succeeds(t.ctl('grant', 'load', EXAMPLE), 'second load')
    t.eq(r.out, 'grant OV-2011-AMB-01: unchanged (version 1)\n', 'says unchanged')
    t.eq(counts(t), before, 'nothing stored')
    # the same bytes under another name are the same content
    copy = os.path.join(t.tmp, 'renamed.json')
    shutil.copyfile(EXAMPLE, copy)
    r = t.succeeds(t.ctl('grant', 'load', copy), 'same content, other file name')
    t.eq(r.out, 'grant OV-2011-AMB-01: unchanged (version 1)\n', 'still unchanged')
    t.eq(counts(t), before, 'still nothing stored')
    t.eq(t.sql('SELECT known_at FROM traject.grant_versions'), known, 'version 1 untouched')


def test_amendment(t):
    t.succeeds(t.ctl('grant', 'load', EXAMPLE), 'decision')
    snapshot = ('SELECT v.*, (SELECT json_agg(o ORDER BY o.position) FROM traject.obligations o'
                ' WHERE o.version = 1), (SELECT json_agg(c ORDER BY c.position)'
                ' FROM traject.calendar c WHERE c.version = 1)'
                ' FROM traject.grant_versions v WHERE version = 1')
    v1 = t.sql(snapshot)
    r = t.succeeds(t.ctl('grant', 'load', AMENDED), 'amendment')
    t.eq(r.out, 'grant OV-2011-AMB-01: amendment recorded as version 2 (3 obligations, 3 reports)\n',
         'stdout')
    t.eq(t.sql(snapshot), v1, 'version 1 and its obligations and calendar untouched')
    t.eq(counts(t), {'grants': 1, 'grant_versions': 2, 'obligations': 5, 'calendar': 6},
         'version 2 added beside version 1')
    t.eq(t.sql('SELECT bool_and(k2 > k1) FROM (SELECT'
               ' (SELECT known_at FROM traject.grant_versions WHERE version = 1) k1,'
               ' (SELECT known_at FROM traject.grant_versions WHERE version = 2) k2) x'),
         ['t'], 'known_at increases')
    t.eq(t.sql('SELECT amount_granted, target_trajectories, source_name'
               ' FROM traject.grant_versions WHERE version = 2'),
         ['175000.00|35|ov-2011-amended.json'], 'version 2 values')
    t.eq(t.sql("SELECT id, target FROM traject.obligations WHERE version = 2 ORDER BY position"),
         ['P1|35', 'P2|0.5', 'P3|0.00'], 'version 2 obligations')
    t.eq(t.sql("SELECT due FROM traject.calendar WHERE version = 2 AND id = '2011-Q3'"),
         ['2011-10-31'], 'version 2 calendar')
    # the first file again differs from the CURRENT version: a third version
    r = t.succeeds(t.ctl('grant', 'load', EXAMPLE), 'back to the first text')
    t.eq(r.out, 'grant OV-2011-AMB-01: amendment recorded as version 3 (2 obligations, 3 reports)\n',
         'an older content is a new amendment')
    lst = t.succeeds(t.ctl('grant', 'list', '--json'), 'list').json()
    t.eq([(g['id'], g['version'], g['amount_granted']) for g in lst],
         [('OV-2011-AMB-01', 3, '150000.00')], 'list shows the current version')


def test_refused_files(t):
    files = sorted(glob.glob(os.path.join(GRANTS, 'bad-*.json')))
    t.ok(len(files) >= 30, 'one data file per rule (%d found)' % len(files))
    for path in files:
        name = os.path.basename(path)
        want = open(path[:-len('.json')] + '.expected').read()
        r = ctl_in(t, GRANTS, 'grant', 'load', name)
        t.eq(r.rc, 1, '%s: exit status' % name)
        t.eq(r.err, want, '%s: stderr' % name)
        t.eq(r.out, '', '%s: nothing on stdout' % name)
    t.eq(counts(t), dict.fromkeys(TABLES, 0), 'nothing stored by any refused file')


# Rules whose case is generated by a test function instead of a data file.
GENERATED = {'TJ102': 'test_too_large'}


def documented_codes():
    """The codes of the "Rule codes" table of docs/grants.md."""
    doc = open(os.path.join(tjtest.SRC, 'docs', 'grants.md')).read()
    return re.findall(r'^\| (TJ1\d\d) \|', doc, re.M)


def test_codes_documented_and_covered(t):
    """The table of docs/grants.md and the data cases cannot drift apart."""
    codes = documented_codes()
    t.ok(len(codes) >= 25, 'the table lists the codes (%d found)' % len(codes))
    t.eq(len(set(codes)), len(codes), 'no code is listed twice')
    used = {}
    for path in sorted(glob.glob(os.path.join(GRANTS, 'bad-*.expected'))):
        for line in open(path).read().splitlines():
            m = re.search(r': (TJ\d+) ', line)
            if m:
                used.setdefault(m.group(1), os.path.basename(path))
            else:
                t.ok(re.search(r': (grant refused, nothing stored|\.\.\. and \d+ more)',
                               line), 'every problem line has a code', line)
    used.update(GENERATED)
    t.eq(sorted(set(codes) - set(used)), [], 'every documented code has a case')
    t.eq(sorted(set(used) - set(codes)), [], "every case's code is documented")


def test_too_large(t):
    path = os.path.join(t.tmp, 'big.json')
    with open(path, 'w') as f:
        f.write('{"title": "' + 'x' * (16 << 20) + '"}')
    size = os.path.getsize(path)
    r = t.fails(t.ctl('grant', 'load', path), 'a 16 MiB file')
    t.eq(r.err, '%s: TJ102 the file is too large for a grant decision (%d bytes, the limit is '
         '16 MiB): is it the right file?\n%s: grant refused, nothing stored (1 problem)\n'
         % (path, size, path), 'stderr')
    t.eq(counts(t), dict.fromkeys(TABLES, 0), 'nothing stored')


def test_refused_amendment_stores_nothing(t):
    t.succeeds(t.ctl('grant', 'load', EXAMPLE), 'decision')
    before = counts(t)
    # the same grant id, one bad field: the amendment is refused as a whole
    bad = t.write('amend.json', open(EXAMPLE).read().replace('"2011-10-15"', '"2011-10-32"'))
    r = t.fails(t.ctl('grant', 'load', bad), 'bad amendment')
    t.eq(r.err, '%s: /reports/0/due: TJ130 2011-10-32 is not a real date (use YYYY-MM-DD)\n'
                '%s: grant refused, nothing stored (1 problem)\n' % (bad, bad), 'stderr')
    t.eq(counts(t), before, 'nothing stored')


def test_many_problems_are_capped(t):
    doc = json.load(open(EXAMPLE))
    doc['obligations'] = [{'id': 'P%d' % i, 'indicator': 'escalations', 'op': '=<',
                           'target': 1, 'due': '2011-12-31'} for i in range(250)]
    path = t.write('many.json', json.dumps(doc))
    r = t.fails(t.ctl('grant', 'load', path), '250 bad obligations')
    lines = r.err.split('\n')
    t.eq(len(lines), 203, '200 problems, "and more", the summary, a final newline')
    t.eq(lines[199], "%s: /obligations/199/op: TJ161 '=<' is not a comparison (use one of >=, <=, >, "
         "<, ==)" % path, 'the 200th problem')
    t.eq(lines[200:], ['%s: ... and 50 more problems' % path,
                       '%s: grant refused, nothing stored (250 problems)' % path, ''], 'the end')
    t.eq(counts(t), dict.fromkeys(TABLES, 0), 'nothing stored')


def test_amendment_waits_for_report_lock(t):
    """known_at is read after the register lock: a report holding the exclusive
    lock has fixed its K before the amendment can be stamped."""
    t.succeeds(t.ctl('grant', 'load', EXAMPLE), 'decision')
    key = t.sql("SELECT grant_key FROM traject.grants")[0]
    report = subprocess.Popen(
        ['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', t.db],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    report.stdin.write('BEGIN;\nSELECT pg_advisory_xact_lock(traject.lock_class(), %s);\n'
                       '\\echo locked\n' % key)
    report.stdin.flush()
    t.eq(report.stdout.readline(), '\n', 'lock statement ran')  # its empty result row
    t.eq(report.stdout.readline(), 'locked\n', 'the "report" holds the exclusive lock')
    loader = subprocess.Popen([tjtest.CTL, '--db', t.conninfo, 'grant', 'load', AMENDED],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        loader.wait(timeout=1.5)
        waited = False
    except subprocess.TimeoutExpired:
        waited = True
    t.ok(waited, 'the amendment waits for the report lock', loader.returncode)
    out, err = report.communicate('SELECT traject.iso_utc(clock_timestamp());\nCOMMIT;\n')
    released = out.strip().split('\n')[-1]
    t.eq(loader.wait(timeout=30), 0, 'the amendment then loads')
    t.eq(t.sql("SELECT known_at > :'v1'::timestamptz FROM traject.grant_versions"
               " WHERE version = 2", released), ['t'],
         'its known_at is later than the report lock was held')


def test_missing_file(t):
    r = t.fails(t.ctl('grant', 'load', os.path.join(t.tmp, 'nope.json')), 'missing file')
    t.eq(r.err, 'trajectctl: %s: cannot open: No such file or directory\n'
         % os.path.join(t.tmp, 'nope.json'), 'names the file')
    t.eq(counts(t), dict.fromkeys(TABLES, 0), 'nothing stored')


def test_concurrent_first_loads(t):
    """Loads of one new id at once: no raw unique violation, one version."""
    def run_all(paths):
        procs = [subprocess.Popen([tjtest.CTL, '--db', t.conninfo, 'grant', 'load', p],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for p in paths]
        return [(p.wait(), p.stdout.read(), p.stderr.read()) for p in procs]

    results = run_all([EXAMPLE] * 8)
    t.eq([rc for rc, _, _ in results], [0] * 8, 'every load succeeds')
    outs = sorted(out for _, out, _ in results)
    t.eq(outs, ['grant OV-2011-AMB-01: unchanged (version 1)\n'] * 7 +
         ['grant OV-2011-AMB-01: version 1 loaded (2 obligations, 3 reports)\n'],
         'one loads, the others find it unchanged')
    t.eq(counts(t), {'grants': 1, 'grant_versions': 1, 'obligations': 2, 'calendar': 3},
         'one version stored')
    # two different contents at once: both versions kept, numbered 1 and 2
    results = run_all([MINIMAL, t.write('m2.json', open(MINIMAL).read().replace(
        '"Gemeente Klein"', '"Gemeente Kleiner"'))])
    t.eq([rc for rc, _, _ in results], [0, 0], 'both succeed')
    t.eq(t.sql("SELECT string_agg(version::text, ',' ORDER BY version) FROM"
               " traject.grant_versions v JOIN traject.grants g USING (grant_key)"
               " WHERE g.id = 'AB-2012.small_1'"), ['1,2'], 'versions 1 and 2')


def test_grant_list(t):
    r = t.succeeds(t.ctl('grant', 'list', '--json'), 'empty list')
    t.eq(r.json(), [], 'an empty JSON list')
    r = t.succeeds(t.ctl('grant', 'list'), 'empty text list')
    t.eq(r.out, "no grants yet (load one with 'trajectctl grant load FILE.json')\n", 'text')
    t.succeeds(t.ctl('grant', 'load', EXAMPLE), 'load example')
    t.succeeds(t.ctl('grant', 'load', MINIMAL), 'load minimal')
    known = dict(row.split('|') for row in t.sql(
        'SELECT g.id, traject.iso_utc(v.known_at) FROM traject.grants g'
        ' JOIN traject.grant_versions v USING (grant_key)'))
    lst = t.succeeds(t.ctl('grant', 'list', '--json'), 'list --json').json()
    t.eq(lst, [
        {'id': 'AB-2012.small_1', 'title': None, 'grantor': 'Provincie Overijssel',
         'grantee': 'Gemeente Klein', 'period': {'start': '2012-01-01', 'end': '2012-12-31'},
         'amount_granted': '100.00', 'target_trajectories': 8, 'version': 1,
         'known_at': known['AB-2012.small_1']},
        {'id': 'OV-2011-AMB-01', 'title': 'Experimenten 2e lijns ambulante hulpverlening',
         'grantor': 'Provincie Overijssel', 'grantee': 'Gemeente Voorbeeld',
         'period': {'start': '2011-01-01', 'end': '2011-12-31'},
         'amount_granted': '150000.00', 'target_trajectories': 30, 'version': 1,
         'known_at': known['OV-2011-AMB-01']},
    ], 'every grant, ordered by id, with its current version')
    t.ok(re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z', known['OV-2011-AMB-01']),
         'known_at is iso_utc')
    lines = t.succeeds(t.ctl('grant', 'list'), 'list as text').out.split('\n')
    t.eq(len(lines), 4, 'a header, two rows, a final newline')
    t.eq(lines[0].split(), ['ID', 'VERSION', 'PERIOD', 'AMOUNT', 'TARGET', 'KNOWN_AT', 'GRANTOR',
                            'GRANTEE', 'TITLE'], 'header')
    t.eq(lines[1].split(), ['AB-2012.small_1', '1', '2012-01-01..2012-12-31', '100.00', '8',
                            known['AB-2012.small_1'], 'Provincie', 'Overijssel',
                            'Gemeente', 'Klein'], 'first row')
    t.ok(lines[2].startswith('OV-2011-AMB-01   1        2011-01-01..2011-12-31  150000.00  30 '),
         'second row, aligned', lines[2])
    # every cell starts where its header does (the minimal grant has no title)
    for col in ('VERSION', 'PERIOD', 'AMOUNT', 'TARGET', 'KNOWN_AT', 'GRANTOR', 'GRANTEE',
                'TITLE'):
        at = lines[0].index(col)
        rows = lines[2:3] if col == 'TITLE' else lines[1:3]
        t.ok(all(line[at - 2:at] == '  ' and line[at] != ' ' for line in rows),
             'column %s aligned' % col, '\n'.join(lines))
    t.ok(lines[2].endswith('  Experimenten 2e lijns ambulante hulpverlening'), 'title last')


def add_register_rows(t):
    """Trajectories, imports, events and a void written as the import would."""
    t.sql("""
        INSERT INTO traject.trajectories (grant_key, ref) VALUES (1, 'T-001'), (1, 'T-002');
        INSERT INTO traject.import_batches (grant_key, file_name, sha256, row_count, recorded_at)
        VALUES (1, 'week1.csv', repeat('a', 64), 3, '2011-06-10T10:00:00Z'),
               (1, 'week2.csv', repeat('b', 64), 2, '2011-06-17T10:00:00.5Z');
        INSERT INTO traject.events (grant_key, traj_key, batch_id, line, event_date, kind, value,
                                    amount, recorded_at)
        VALUES (1, 1, 1, 2, '2011-06-06', 'registered', NULL, NULL, '2011-06-10T10:00:00Z'),
               (1, 1, 1, 3, '2011-06-07', 'plan', NULL, NULL, '2011-06-10T10:00:00Z'),
               (1, 1, 1, 4, '2011-06-08', 'cost', NULL, 450.00, '2011-06-10T10:00:00Z'),
               (1, 2, 2, 2, '2011-06-14', 'registered', NULL, NULL, '2011-06-17T10:00:00.5Z'),
               (1, 2, 2, 3, '2011-06-15', 'help_started', NULL, NULL, '2011-06-17T10:00:00.5Z');
        INSERT INTO traject.voids (event_id, grant_key, reason, recorded_at)
        VALUES (3, 1, 'wrong amount', '2011-06-20T09:00:00Z');
    """)


def test_status_json(t):
    r = t.succeeds(t.ctl('status', '--json'), 'status without grants')
    t.eq(r.json()['grants'], [], 'an empty list of grants')
    t.succeeds(t.ctl('grant', 'load', EXAMPLE), 'load example')
    t.succeeds(t.ctl('grant', 'load', MINIMAL), 'load minimal')
    t.eq(t.sql("SELECT grant_key FROM traject.grants WHERE id = 'OV-2011-AMB-01'"), ['1'],
         'the example is grant 1')
    add_register_rows(t)
    st = t.succeeds(t.ctl('status', '--json'), 'status').json()
    t.eq([g['id'] for g in st['grants']], ['AB-2012.small_1', 'OV-2011-AMB-01'], 'every grant')
    g = st['grants'][1]
    # other work adds keys (obligations, data_quality, delivery details): these must be there
    mine = ['id', 'grantor', 'grantee', 'period', 'version', 'trajectories', 'events', 'voided',
            'last_import', 'reports']
    t.eq([k for k in mine if k not in g], [], 'grant keys')
    t.eq((g['grantor'], g['grantee'], g['period'], g['version']),
         ('Provincie Overijssel', 'Gemeente Voorbeeld',
          {'start': '2011-01-01', 'end': '2011-12-31'}, 1), 'grant fields')
    # 2 trajectories; 5 events of which 1 voided
    t.eq((g['trajectories'], g['events'], g['voided']), (2, 4, 1), 'register counts')
    t.eq(g['last_import'], {'file': 'week2.csv', 'rows': 2,
                            'recorded_at': '2011-06-17T10:00:00.500000Z'}, 'the last import')
    report_keys = ('id', 'kind', 'as_of', 'due', 'state', 'attempts', 'delivered_at', 'late')
    t.eq([{k: r.get(k, '<absent>') for k in report_keys} for r in g['reports']], [
        {'id': '2011-Q3', 'kind': 'progress', 'as_of': '2011-09-30', 'due': '2011-10-15',
         'state': 'scheduled', 'attempts': 0, 'delivered_at': None, 'late': True},
        {'id': '2011', 'kind': 'progress', 'as_of': '2011-12-31', 'due': '2012-01-31',
         'state': 'scheduled', 'attempts': 0, 'delivered_at': None, 'late': True},
        {'id': 'determination', 'kind': 'determination', 'as_of': '2012-05-31',
         'due': '2012-06-30', 'state': 'scheduled', 'attempts': 0, 'delivered_at': None,
         'late': True},
    ], 'the calendar, past due dates late')
    small = st['grants'][0]
    t.eq((small['trajectories'], small['events'], small['voided'], small['last_import']),
         (0, 0, 0, None), 'an empty register')
    t.eq([(r['id'], r['late']) for r in small['reports']], [('determination', False)],
         'a due date in 2999 is not late')
    one = t.succeeds(t.ctl('status', '--grant', 'OV-2011-AMB-01', '--json'), 'one grant').json()
    t.eq(one['grants'], [g], '--grant selects one grant')
    # after an amendment, status shows the current calendar
    t.succeeds(t.ctl('grant', 'load', AMENDED), 'amendment')
    one = t.succeeds(t.ctl('status', '--grant', 'OV-2011-AMB-01', '--json'), 'again').json()
    t.eq((one['grants'][0]['version'], one['grants'][0]['reports'][0]['due']),
         (2, '2011-10-31'), 'current version and calendar')


def test_status_text_and_unknown_grant(t):
    r = t.succeeds(t.ctl('status'), 'status without grants')
    t.eq(r.out, "no grants yet (load one with 'trajectctl grant load FILE.json')\n", 'text')
    t.succeeds(t.ctl('grant', 'load', EXAMPLE), 'load example')
    add_register_rows(t)
    r = t.succeeds(t.ctl('status', '--grant', 'OV-2011-AMB-01'), 'status text')
    lines = r.out.split('\n')
    t.eq(lines[:4], [
        'grant OV-2011-AMB-01: Provincie Overijssel -> Gemeente Voorbeeld',
        '  period       2011-01-01 .. 2011-12-31 (version 1)',
        '  register     2 trajectories, 4 events, 1 voided',
        '  last import  week2.csv: 2 rows, recorded 2011-06-17T10:00:00.500000Z',
    ], 'text summary')
    t.ok(re.match(r'^    determination +determination +as of 2012-05-31  due 2012-06-30  '
                  r'scheduled  LATE$', lines[7]), 'report line', r.out)
    r = t.fails(t.ctl('status', '--grant', 'NOPE'), 'unknown grant')
    t.eq(r.err, "trajectctl: no grant 'NOPE': see 'trajectctl grant list'\n", 'message')
    r = t.fails(t.ctl('status', '--grant', 'NOPE', '--json'), 'unknown grant, json')
    t.eq(r.out, '', 'nothing on stdout')


def test_usage_errors(t):
    cases = [
        (('grant', 'load'), 'grant load FILE.json'),
        (('grant', 'load', 'a.json', 'b.json'), 'grant load FILE.json'),
        (('grant', 'load', '--force', 'a.json'), 'grant load FILE.json'),
        (('grant', 'list', '--yaml'), 'grant list [--json]'),
        (('grant', 'list', 'extra'), 'grant list [--json]'),
        (('status', '--grant'), 'status [--grant ID] [--json]'),
        (('status', '--verbose'), 'status [--grant ID] [--json]'),
        (('status', 'OV-2011-AMB-01'), 'status [--grant ID] [--json]'),
    ]
    for args, usage in cases:
        r = t.fails(t.ctl(*args), ' '.join(args), rc=2)
        t.eq(r.err, 'usage: trajectctl %s\n' % usage, 'usage line for %s' % ' '.join(args))
    both = ('usage: trajectctl grant load FILE.json\n'
            '       trajectctl grant list [--json]\n')
    r = t.fails(t.ctl('grant'), 'grant without a subcommand', rc=2)
    t.eq(r.err, both, 'the usage of grant, not "unknown command"')
    r = t.fails(t.ctl('grant', 'lst'), 'grant with an unknown subcommand', rc=2)
    t.eq(r.err, "trajectctl: unknown command 'grant lst'\n" + both, 'names it, then the usage')
    t.eq(counts(t), dict.fromkeys(TABLES, 0), 'nothing stored')


tjtest.main(globals())
