"""trajectd: the configuration check, one pass (--once) on a historical
--clock, catch-up after downtime, two instances on one database, rejected
deliveries and alerts in status, and `trajectctl deliver`.

The calendar of tests/data/daemon/grant.json with lead_days 5 in
Europe/Amsterdam (worked out by hand, see docs/daemon.md):

    report  as_of       due         generated at (local)   = UTC                 deadline (UTC)
    Q1      2011-03-31  2011-04-15  2011-04-10 00:00 CEST   2011-04-09T22:00:00Z  2011-04-15T22:00:00Z
    Q2      2011-06-30  2011-07-15  2011-07-10 00:00 CEST   2011-07-09T22:00:00Z  2011-07-15T22:00:00Z
    final   2011-12-31  2012-01-31  2012-01-26 00:00 CET    2012-01-25T23:00:00Z  2012-01-31T23:00:00Z

tests/data/daemon/events.csv registers T-1 (2011-02-01), T-2 (2011-03-15)
and T-3 (2011-05-02): Q1 counts 2 trajectories started, Q2 counts 3.
"""
import datetime
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import zoneinfo

import tjtest

GRANT = 'TEST-DAEMON'
Q1_MOMENT = '2011-04-09T22:00:00Z'
Q2_MOMENT = '2011-07-09T22:00:00Z'
FINAL_MOMENT = '2012-01-25T23:00:00Z'


# --- helpers -----------------------------------------------------------------
def daemon(t, conf, *args):
    full = tjtest.trajectd('--config', conf, *args)
    proc = subprocess.run(full, capture_output=True, text=True, timeout=120)
    return tjtest.Result(full, proc)


def once(t, conf, clock=None):
    args = ['--once'] + (['--clock', clock] if clock else [])
    return t.succeeds(daemon(t, conf, *args), 'trajectd --once %s' % (clock or '(real clock)'))


def config(t, url, name='trajectd.conf', extra=''):
    return t.write(name, '[database]\nconninfo = %s\n\n[schedule]\nlead_days = 5\n'
                         'time_zone = Europe/Amsterdam\n\n[delivery]\nurl = %s\n'
                         'formats = xml json\ntimeout = 10\nretry_base = 1\nretry_max = 2\n'
                         'warn_hours = 48\n%s' % (t.conninfo, url, extra))


def setup(t, grant='grant.json', events=True):
    """Load the test grant (and its events); return (config path, outbox folder)."""
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', grant)), 'grant load')
    if events:
        t.succeeds(t.ctl('import', '--grant', GRANT, t.data('daemon', 'events.csv')), 'import')
    out = os.path.join(t.tmp, 'outbox')
    os.mkdir(out)
    return config(t, 'file://' + out), out


def rows(t, sql, *params):
    return [r.split('|') for r in t.sql(sql, *params)]


def files(out):
    return sorted(os.listdir(out))


def status(t, conf):
    r = t.succeeds(t.ctl('--config', conf, 'status', '--json'), 'status --json')
    return r.json()


def reports_of(st, grant=GRANT):
    g = [g for g in st['grants'] if g['id'] == grant][0]
    return {r['id']: r for r in g['reports']}


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def names(report, version=1, grant=GRANT):
    return ['%s_%s_v%d.%s' % (grant, report, version, f) for f in ('json', 'xml')]


# --- trajectd -n -------------------------------------------------------------
def test_check_good_config(t):
    path = t.data('daemon', 'conf', 'good.conf')
    r = t.succeeds(daemon(t, path, '-n'), 'trajectd -n on a good configuration')
    t.eq(r.out, '%s: configuration OK\n' % path, 'says so')
    t.eq(r.err, '', 'and nothing else')


def test_check_bad_configs(t):
    folder = t.data('daemon', 'conf')
    cases = sorted(f[:-5] for f in os.listdir(folder) if f.startswith('bad-') and f.endswith('.conf'))
    t.ok(len(cases) >= 7, 'the bad configurations are there', cases)
    for case in cases:
        path = os.path.join(folder, case + '.conf')
        with open(os.path.join(folder, case + '.expected')) as f:
            want = f.read().replace('{FILE}', path)
        r = t.fails(daemon(t, path, '-n'), case)
        t.eq(r.err, want, '%s: the message names file, line and key' % case)
        t.eq(r.out, '', '%s: nothing on stdout' % case)


def test_check_warns_about_missing_folder(t):
    conf = config(t, 'file:///nonexistent/trajectd-outbox')
    r = t.succeeds(daemon(t, conf, '-n'), 'a missing folder is not fatal')
    t.ok(re.search(r'^<4>trajectd: .*: \[delivery\] url: the folder /nonexistent/trajectd-outbox '
                   r'does not exist', r.err, re.M), 'but is warned about', r)


def test_usage_errors(t):
    conf = config(t, 'file:///tmp')
    t.fails(daemon(t, conf, '--clock', 'yesterday', '--once'), 'a clock without a zone', rc=2,
            pattern=r"--clock 'yesterday' is not an ISO 8601 timestamp with a zone")
    t.fails(daemon(t, conf, '--clock', '2011-10-12T08:00:00', '--once'), 'no zone', rc=2)
    t.fails(daemon(t, conf, '-n', '--once'), '-n with --once', rc=2, pattern=r'^usage: ')
    t.fails(daemon(t, conf, 'extra'), 'a stray argument', rc=2, pattern=r'^usage: ')


def test_no_database_is_fatal(t):
    conf = t.write('nodb.conf', '[database]\nconninfo = dbname=does_not_exist_here\n'
                                '[delivery]\nurl = file:///tmp\n')
    t.fails(daemon(t, conf, '--once'), 'no database', pattern=r'^<3>cannot connect to the database')


# --- one pass on the calendar -------------------------------------------------
def test_nothing_before_the_first_moment(t):
    conf, out = setup(t)
    once(t, conf, '2011-04-09T21:59:59Z')  # one second before Q1's moment
    t.eq(t.sql('SELECT count(*) FROM traject.report_versions'), ['0'], 'nothing generated')
    t.eq(t.sql('SELECT count(*) FROM traject.deliveries'), ['0'], 'nothing queued')
    t.eq(files(out), [], 'nothing delivered')
    t.eq(t.sql('SELECT count(*) FROM traject.instances WHERE stopped_at IS NOT NULL'), ['1'],
         'the instance registered and stopped')
    reps = reports_of(status(t, conf))
    t.eq([reps[r]['state'] for r in ('Q1', 'Q2', 'final')], ['scheduled'] * 3, 'all scheduled')


def test_first_moment_generates_exactly_that_report(t):
    conf, out = setup(t)
    r = once(t, conf, Q1_MOMENT)
    t.eq(rows(t, 'SELECT report_id, version, reason, late, traject.iso_utc(scheduled_for),'
                 ' traject.iso_utc(generated_at) < $$2011-04-09T22:00:01Z$$'
                 ' FROM traject.report_versions'),
         [['Q1', '1', 'scheduled', 'f', Q1_MOMENT, 't']], 'exactly Q1, at its moment, not late')
    t.eq(files(out), names('Q1'), 'both formats delivered into the folder')
    docs = rows(t, 'SELECT format, sha256, idempotency_key FROM traject.documents ORDER BY format')
    t.eq([d[0] for d in docs], ['json', 'xml'], 'one document per format')
    for fmt, sha, key in docs:
        t.eq(sha256(os.path.join(out, '%s_Q1_v1.%s' % (GRANT, fmt))), sha,
             'the %s file holds the stored bytes' % fmt)
        t.ok(re.fullmatch(r'tj1-[0-9a-f]{64}', key), 'a key for %s' % fmt, key)
    t.ok(docs[0][2] != docs[1][2], 'each document has its own key')
    t.eq(rows(t, 'SELECT state, attempts, receipt_path IS NOT NULL FROM traject.deliveries'
                 ' ORDER BY delivery_id'), [['delivered', '1', 't']] * 2, 'delivered at once')
    # K is the real clock, so data recorded today counts in a report of 2011
    with open(os.path.join(out, '%s_Q1_v1.json' % GRANT)) as f:
        doc = json.load(f)
    t.eq(doc['report']['id'], 'Q1', 'the document is Q1')
    t.eq(doc['report']['version'], 1, 'version 1')
    t.eq(doc['report']['known_at'],
         t.sql('SELECT traject.iso_utc(known_at) FROM traject.report_versions')[0],
         'known_at is the stored K')
    t.eq(doc['indicators']['trajectories_started'], 2, 'Q1 sees T-1 and T-2')
    t.ok(re.search(r'^<6>grant TEST-DAEMON report Q1: version 1 generated', r.err, re.M),
         'the generation is logged', r)
    reps = reports_of(status(t, conf))
    t.eq(reps['Q1']['state'], 'delivered', 'status: Q1 delivered')
    t.eq(reps['Q1']['attempts'], 2, 'two attempts, one per format')
    t.eq(reps['Q1']['late'], False, 'not late')
    t.ok(reps['Q1']['delivered_at'].startswith('2011-04-09T22:00:'), 'delivered on the service clock',
         reps['Q1'])
    t.eq(reps['Q2']['state'], 'scheduled', 'Q2 not yet')
    t.eq(reps['final']['state'], 'scheduled', 'final not yet')


def test_once_twice_delivers_nothing_twice(t):
    conf, out = setup(t)
    once(t, conf, Q1_MOMENT)
    before = {f: os.stat(os.path.join(out, f)) for f in files(out)}
    attempts = t.sql('SELECT count(*) FROM traject.delivery_attempts')
    r = once(t, conf, '2011-04-10T12:00:00Z')
    t.eq(files(out), sorted(before), 'no new files')
    for f, st in before.items():
        now = os.stat(os.path.join(out, f))
        t.eq((now.st_ino, now.st_mtime_ns), (st.st_ino, st.st_mtime_ns), '%s untouched' % f)
    t.eq(t.sql('SELECT count(*) FROM traject.delivery_attempts'), attempts, 'no new attempts')
    t.eq(t.sql('SELECT sum(attempts) FROM traject.deliveries'), ['2'], 'attempts not growing')
    t.eq(t.sql('SELECT count(*) FROM traject.report_versions'), ['1'], 'no second version')
    t.ok('generated' not in r.err, 'the second pass generated nothing', r)


def test_catch_up_after_downtime(t):
    conf, out = setup(t)
    # down from before Q1's moment until after final's moment, before final's due date
    r = once(t, conf, '2012-01-28T12:00:00+01:00')
    t.eq(rows(t, 'SELECT report_id, version, late FROM traject.report_versions ORDER BY due'),
         [['Q1', '1', 't'], ['Q2', '1', 't'], ['final', '1', 'f']],
         'every due report generated; the two whose due date passed are late')
    t.eq(files(out), sorted(names('Q1') + names('Q2') + names('final')), 'and delivered')
    crit = re.findall(r'^<2>ALERT late: grant TEST-DAEMON report (\S+):', r.err, re.M)
    t.eq(sorted(crit), ['Q1', 'Q2'], 'a critical log line for each late report')
    t.eq(rows(t, 'SELECT report_id, resolved_at IS NOT NULL FROM traject.alerts'
                 ' WHERE kind = $$late$$ ORDER BY report_id'), [['Q1', 't'], ['Q2', 't']],
         'a late alert row each, resolved by the delivery')
    reps = reports_of(status(t, conf))
    t.eq({k: (v['state'], v['late']) for k, v in reps.items()},
         {'Q1': ('delivered', True), 'Q2': ('delivered', True), 'final': ('delivered', False)},
         'status: delivered, Q1 and Q2 late')
    with open(os.path.join(out, '%s_Q2_v1.json' % GRANT)) as f:
        t.eq(json.load(f)['indicators']['trajectories_started'], 3, 'Q2 sees T-3 as well')


BATCH = 'TEST-BATCH'


def test_batch_matches_single_reports(t):
    """One pass generates the whole calendar of grant-batch.json in one batch
    (two reports share as_of 2011-03-31, a progress report shares the
    determination request's 2011-12-31; the
    events change help, assessment, children, plan, coordinator, costs and
    closing between the dates): every document must be the bytes
    `trajectctl report --report ID --known-at K` makes for that report alone."""
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant-batch.json')), 'grant load')
    t.succeeds(t.ctl('import', '--grant', BATCH, t.data('daemon', 'events-batch.csv')), 'import')
    out = os.path.join(t.tmp, 'outbox')
    os.mkdir(out)
    conf = config(t, 'file://' + out)
    once(t, conf, '2012-01-28T12:00:00+01:00')
    ids = ['Q1', 'Q1-board', 'Q2', 'Q3', 'final', 'year']
    t.eq(t.sql('SELECT report_id FROM traject.report_versions ORDER BY report_id COLLATE "C"'),
         sorted(ids), 'every report generated once')
    t.eq(t.sql('SELECT count(DISTINCT known_at) FROM traject.report_versions'), ['1'],
         'in one batch: one knowledge time')
    t.eq(files(out), sorted(sum((names(r, grant=BATCH) for r in ids), [])), 'all delivered')
    series = {}
    for rid in ids:
        with open(os.path.join(out, '%s_%s_v1.json' % (BATCH, rid)), encoding='utf-8') as f:
            text = f.read()
        doc = json.loads(text)
        k = doc['report']['known_at']
        t.eq((doc['report']['id'], doc['report']['version']), (rid, 1), rid + ': the document')
        dates = [p['date'] for p in doc['series']]
        t.eq(dates, sorted(set(dates)), rid + ': each series point once, in date order')
        t.ok(dates and dates[-1] == doc['report']['as_of'], rid + ': the series ends at as_of',
             dates)
        series[rid] = doc['series']
        for fmt in ('json', 'xml'):
            path = os.path.join(out, '%s_%s_v1.%s' % (BATCH, rid, fmt))
            with open(path, 'rb') as f:
                got = f.read()
            alone = t.ctl('report', '--grant', BATCH, '--report', rid, '--known-at', k,
                          '--format', fmt)
            t.succeeds(alone, '%s: trajectctl report --format %s' % (rid, fmt))
            want = alone.out.encode('utf-8')
            # the stored document carries its version; an ad-hoc report has none
            if fmt == 'json':
                want = want.replace(b'"version": null', b'"version": 1', 1)
            else:
                want = re.sub(rb'<version xsi:nil="true"\s*/>', b'<version>1</version>', want,
                              count=1)
            t.eq(got, want, '%s.%s: the bytes of the report made alone at K' % (rid, fmt))
    tjtest.xmllint(t, 'the daemon\'s XML documents',
                   paths=[os.path.join(out, f) for f in files(out) if f.endswith('.xml')])
    t.eq(series['Q1'], series['Q1-board'], 'the reports sharing as_of share the series')
    t.eq(series['final'], series['year'], 'and so do the determination and the progress report')
    t.eq(len(series['final']), 12, 'final: one point per month end of 2011')
    t.eq(series['Q3'], series['final'][:9], 'the series agree on their common points')


def test_two_instances_at_the_same_moment(t):
    conf, out = setup(t)
    procs = [subprocess.Popen(tjtest.trajectd('--config', conf, '--once', '--clock',
                                              '2012-01-28T12:00:00+01:00'),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    t.ok([rc for _, _, rc in results] == [0, 0, 0, 0], 'all four instances succeed', results)
    t.eq(t.sql('SELECT count(*) FROM traject.report_versions'), ['3'], 'each report once')
    t.eq(t.sql('SELECT count(*), count(DISTINCT idempotency_key) FROM traject.documents'),
         ['6|6'], 'each document once')
    t.eq(rows(t, 'SELECT state, attempts FROM traject.deliveries'), [['delivered', '1']] * 6,
         'each delivered once, in one attempt')
    t.eq(t.sql('SELECT count(*) FROM traject.delivery_attempts'), ['6'], 'six attempts in all')
    t.eq(len(files(out)), 6, 'six files')
    generated = sum(len(re.findall(r'^<6>grant \S+ report \S+: version 1 generated', err, re.M))
                    for _, err, _ in results)
    t.eq(generated, 3, 'three generations logged over all instances')


def test_rejected_target_shows_in_status(t):
    conf, out = setup(t)
    # a different document already has Q1's json name: the folder refuses to overwrite it
    with open(os.path.join(out, '%s_Q1_v1.json' % GRANT), 'w') as f:
        f.write('{"not": "ours"}\n')
    r = once(t, conf, Q1_MOMENT)
    t.ok(re.search(r'^<2>ALERT rejected: grant TEST-DAEMON report Q1: ', r.err, re.M),
         'a critical log line', r)
    st = status(t, conf)
    q1 = reports_of(st)['Q1']
    t.eq(q1['state'], 'rejected', 'status: rejected (xml went through, json was refused)')
    t.ok(q1['last_error'] and 'different document' in q1['last_error'], 'says why', q1)
    t.eq([(a['kind'], a['grant'], a['report']) for a in st['alerts']],
         [('rejected', GRANT, 'Q1')], 'one open alert the administrator sees')
    text = t.succeeds(t.ctl('--config', conf, 'status'), 'status (text)').out
    t.ok(re.search(r'^alerts: 1 open$', text, re.M) and 'rejected' in text, 'also as text', text)
    # no retry of a rejection
    once(t, conf, '2011-04-10T12:00:00Z')
    t.eq(rows(t, 'SELECT d.format, dl.state, dl.attempts FROM traject.deliveries dl'
                 ' JOIN traject.documents d USING (doc_id) ORDER BY d.format'),
         [['json', 'rejected', '1'], ['xml', 'delivered', '1']], 'a rejection is not retried')
    # the administrator clears the folder and queues it again: same bytes, same key
    os.unlink(os.path.join(out, '%s_Q1_v1.json' % GRANT))
    r = t.succeeds(t.ctl('--config', conf, 'deliver', '--grant', GRANT, '--report', 'Q1'), 'deliver')
    t.ok('version 1 exists; 1 delivery queued' in r.out, 'the rejected document is queued again', r)
    once(t, conf, '2011-04-10T13:00:00Z')
    st = status(t, conf)
    t.eq(reports_of(st)['Q1']['state'], 'delivered', 'now delivered')
    t.eq(st['alerts'], [], 'and the alert is resolved')
    t.eq(sha256(os.path.join(out, '%s_Q1_v1.json' % GRANT)),
         t.sql("SELECT sha256 FROM traject.documents WHERE format = 'json'")[0], 'the stored bytes')


def test_failing_folder_is_retried_with_an_alert(t):
    conf, out = setup(t)
    os.rmdir(out)
    r = once(t, conf, Q1_MOMENT)
    t.eq(rows(t, 'SELECT state, attempts, last_error IS NOT NULL FROM traject.deliveries'),
         [['queued', '1', 't']] * 2, 'kept for a retry, with the error')
    t.ok(re.search(r'^<2>ALERT failing: grant TEST-DAEMON report Q1: ', r.err, re.M),
         'waiting will not fix a missing folder: an alert', r)
    t.eq(reports_of(status(t, conf))['Q1']['state'], 'delivering', 'status: delivering')
    os.mkdir(out)
    once(t, conf, '2011-04-09T22:10:00Z')  # past retry_max (2 s) on the service clock
    t.eq(files(out), names('Q1'), 'delivered on the next pass')
    t.eq(t.sql('SELECT count(*) FROM traject.alerts WHERE resolved_at IS NULL'), ['0'],
         'the alert is resolved')


def test_not_delivered_alert_before_due(t):
    conf, out = setup(t)
    os.rmdir(out)  # deliveries fail, so Q1 stays undelivered
    once(t, conf, Q1_MOMENT)
    once(t, conf, '2011-04-13T21:59:00Z')  # before deadline - 48 h = 2011-04-13T22:00Z
    t.eq(t.sql("SELECT count(*) FROM traject.alerts WHERE kind = 'not_delivered'"), ['0'],
         'no warning before warn_hours')
    r = once(t, conf, '2011-04-13T22:00:00Z')
    t.ok(re.search(r'^<2>ALERT not_delivered: grant TEST-DAEMON report Q1: is due on 2011-04-15',
                   r.err, re.M), 'warned warn_hours before it is due', r)
    r = once(t, conf, '2011-04-15T22:00:00Z')
    t.ok(re.search(r'^<2>ALERT late: grant TEST-DAEMON report Q1: was due on 2011-04-15', r.err,
                   re.M), 'late from the end of the due date', r)
    t.eq(t.sql('SELECT kind FROM traject.alerts WHERE resolved_at IS NULL ORDER BY kind'),
         ['failing', 'late', 'not_delivered'], 'each open once')
    once(t, conf, '2011-04-16T00:00:00Z')
    t.eq(t.sql('SELECT count(*) FROM traject.alerts'), ['3'], 'raised once, not on every pass')


def test_expired_lease_is_taken_over(t):
    conf, out = setup(t)
    t.succeeds(t.ctl('--config', conf, 'deliver', '--grant', GRANT, '--report', 'Q1'), 'queue Q1')
    # an instance claimed both documents and was killed: one lease ran out, one has not
    t.sql("UPDATE traject.deliveries SET state = 'delivering', lease_owner = 'trajectd@dead:1:0',"
          " attempts = 1, lease_until = CASE WHEN doc_id = (SELECT min(doc_id) FROM"
          " traject.documents) THEN clock_timestamp() - interval '1 s'"
          " ELSE clock_timestamp() + interval '1 hour' END")
    once(t, conf, Q1_MOMENT)
    t.eq(rows(t, 'SELECT state, attempts, lease_owner FROM traject.deliveries ORDER BY doc_id'),
         [['delivered', '2', ''], ['delivering', '1', 'trajectd@dead:1:0']],
         'the expired lease is taken over (attempt 2), the live one is left alone')
    t.eq(rows(t, 'SELECT attempt, outcome FROM traject.delivery_attempts'), [['2', 'delivered']],
         'the attempt is recorded under its number')
    fmt = t.sql('SELECT format FROM traject.documents ORDER BY doc_id LIMIT 1')[0]
    t.eq(files(out), ['%s_Q1_v1.%s' % (GRANT, fmt)], 'only the taken-over document was written')
    t.eq(sha256(os.path.join(out, files(out)[0])),
         t.sql('SELECT sha256 FROM traject.documents ORDER BY doc_id LIMIT 1')[0],
         'the same stored bytes')


def wait_for(t, what, cond, seconds=15):
    end = time.time() + seconds
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.1)
    t.ok(False, 'timed out waiting for ' + what)


def test_loop_wakes_on_notify_and_stops_on_sigterm(t):
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant-future.json')), 'grant load')
    out = os.path.join(t.tmp, 'outbox')
    os.mkdir(out)
    conf = config(t, 'file://' + out)
    errlog = open(os.path.join(t.tmp, 'daemon.err'), 'w+')
    proc = subprocess.Popen(tjtest.trajectd('--config', conf), stdout=subprocess.DEVNULL, stderr=errlog)
    try:
        wait_for(t, 'the instance to register',
                 lambda: t.sql('SELECT count(*) FROM traject.instances') == ['1'])
        st = status(t, conf)
        t.eq(len(st['instances']), 1, 'status shows the live instance')
        t.eq(st['instances'][0]['pid'], proc.pid, 'with its pid')
        # nothing is due for months: only a NOTIFY can wake it within the test
        t.succeeds(t.ctl('--config', conf, 'deliver', '--grant', 'TEST-FUTURE', '--report', 'P1'),
                   'deliver')
        wait_for(t, 'the delivery', lambda: len(files(out)) == 2, seconds=20)
        t.eq(files(out), names('P1', grant='TEST-FUTURE'), 'woken by NOTIFY trajectd, it delivered')
        proc.send_signal(signal.SIGTERM)
        t.eq(proc.wait(timeout=20), 0, 'SIGTERM: a clean exit')
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    errlog.seek(0)
    err = errlog.read()
    errlog.close()
    t.ok(re.search(r'^<6>stopping on signal 15$', err, re.M), 'says why it stops', err)
    t.eq(t.sql('SELECT stopped_at IS NOT NULL FROM traject.instances'), ['t'], 'marked stopped')
    t.eq(status(t, conf)['instances'], [], 'no live instance any more')


# --- trajectctl deliver -------------------------------------------------------
def test_deliver_queues_and_once_delivers(t):
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant-future.json')), 'grant load')
    out = os.path.join(t.tmp, 'outbox')
    os.mkdir(out)
    conf = config(t, 'file://' + out)
    g = 'TEST-FUTURE'
    r = t.succeeds(t.ctl('--config', conf, 'deliver', '--grant', g, '--report', 'P1'), 'deliver')
    t.ok(re.match(r'grant TEST-FUTURE report P1: version 1 generated \(known at \S+\), '
                  r'2 documents queued for file://', r.out), 'generated and queued', r)
    t.eq(files(out), [], 'nothing delivered by the command itself')
    t.eq(reports_of(status(t, conf), g)['P1']['state'], 'generated', 'status: generated')
    t.eq(rows(t, 'SELECT reason, late, generated_by LIKE $$trajectctl@%$$ FROM traject.report_versions'),
         [['manual', 'f', 't']], 'a manual version 1')
    once(t, conf)  # the real clock: P1 and P2 are far from their moments
    t.eq(files(out), names('P1', grant=g), 'the next pass delivers it')
    t.eq(t.sql('SELECT count(*) FROM traject.report_versions'), ['1'], 'P2 is not generated')
    reps = reports_of(status(t, conf), g)
    t.eq((reps['P1']['state'], reps['P1']['version'], reps['P2']['state']),
         ('delivered', 1, 'scheduled'), 'status')

    r = t.succeeds(t.ctl('--config', conf, 'deliver', '--grant', g, '--report', 'P1'), 'again')
    t.ok('version 1 is already delivered' in r.out and 'nothing queued' in r.out,
         'a delivered report is not sent again without --new-version', r)
    r = t.succeeds(t.ctl('--config', conf, 'deliver', '--grant', g, '--report', 'P1',
                         '--new-version'), 'deliver --new-version')
    t.ok(r.out.startswith('grant TEST-FUTURE report P1: version 2 generated'), 'a corrected version', r)
    once(t, conf)
    t.eq(files(out), sorted(names('P1', 1, g) + names('P1', 2, g)), 'version 2 beside version 1')
    keys = t.sql('SELECT idempotency_key FROM traject.documents ORDER BY version, format')
    t.eq(len(set(keys)), 4, 'every version and format has its own key')
    with open(os.path.join(out, '%s_P1_v2.json' % g)) as f:
        t.eq(json.load(f)['report']['version'], 2, 'the document says version 2')
    t.eq(t.sql("SELECT reason FROM traject.report_versions WHERE version = 2"), ['new_version'],
         'recorded as a new version')


def test_deliver_errors(t):
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant-future.json')), 'grant load')
    conf = config(t, 'file://' + t.tmp)
    t.fails(t.ctl('--config', conf, 'deliver', '--grant', 'TEST-FUTURE'), 'no --report', rc=2,
            pattern=r'^usage: trajectctl deliver --grant ID --report REPORT_ID')
    t.fails(t.ctl('--config', conf, 'deliver', '--grant', 'TEST-FUTURE', '--report', 'P9'),
            'unknown report', pattern=r"no report 'P9' in its calendar \(its reports: P1, P2\)")
    t.fails(t.ctl('--config', conf, 'deliver', '--grant', 'NOPE', '--report', 'P1'),
            'unknown grant', pattern=r"no grant 'NOPE'")
    t.fails(t.ctl('deliver', '--grant', 'TEST-FUTURE', '--report', 'P1'), 'no target configured',
            pattern=r'no \[delivery\] url is configured')
    t.eq(t.sql('SELECT count(*) FROM traject.report_versions'), ['0'], 'nothing stored')


def test_deliver_refuses_a_report_whose_as_of_has_not_passed(t):
    """A version 1 made before the day after its as_of would miss data and stay the official one."""
    today = datetime.datetime.now(zoneinfo.ZoneInfo('Europe/Amsterdam')).date()
    grant = {
        'id': 'TEST-AHEAD', 'grantor': 'Provincie Test', 'grantee': 'Gemeente Test',
        'decision_date': '2019-12-01', 'period': {'start': '2020-01-01', 'end': '2099-12-31'},
        'amount_granted': '50000.00', 'target_trajectories': 10,
        'reports': [{'id': 'T0', 'kind': 'progress', 'as_of': today.isoformat(),
                     'due': '2099-04-15'},
                    {'id': 'F1', 'kind': 'progress', 'as_of': '2099-03-31', 'due': '2099-04-15'}]}
    t.succeeds(t.ctl('grant', 'load', t.write('ahead.json', json.dumps(grant))), 'grant load')
    out = os.path.join(t.tmp, 'outbox')
    os.mkdir(out)
    conf = config(t, 'file://' + out)
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    t.fails(t.ctl('--config', conf, 'deliver', '--grant', 'TEST-AHEAD', '--report', 'T0'),
            'as_of today (the time zone\'s day) is refused',
            pattern=r"^trajectctl: report T0 of grant TEST-AHEAD is as of %s, a day that has "
                    r"not passed: .* Wait until %s \(the service generates it on 2099-04-10, "
                    r"lead_days before its due date 2099-04-15\), or preview it with "
                    r"'trajectctl report --grant TEST-AHEAD --report T0'$"
                    % (today.isoformat(), tomorrow))
    for extra in ([], ['--new-version']):
        t.fails(t.ctl('--config', conf, 'deliver', '--grant', 'TEST-AHEAD', '--report', 'F1',
                      *extra), 'an as_of in 2099 is refused %s' % extra,
                pattern=r'is as of 2099-03-31, a day that has not passed: .* Wait until 2099-04-01')
    t.eq(t.sql('SELECT count(*) FROM traject.report_versions'), ['0'], 'no version stored')
    t.eq(t.sql('SELECT count(*) FROM traject.deliveries'), ['0'], 'nothing queued')
    r = t.succeeds(t.ctl('report', '--grant', 'TEST-AHEAD', '--report', 'F1'),
                   'the preview the message points to works')
    t.ok(r.out.strip() != '', 'and prints a report', r)
    once(t, conf)
    t.eq(files(out), [], 'the service does not make them either')


def test_stored_documents_are_frozen(t):
    conf, out = setup(t)
    once(t, conf, Q1_MOMENT)
    for sql, what in (("UPDATE traject.documents SET body = 'x'", 'a document'),
                      ('DELETE FROM traject.report_versions', 'a version')):
        try:
            t.sql(sql)
            t.ok(False, '%s cannot be changed' % what)
        except tjtest.Failure as e:
            t.ok('never changed or removed' in str(e), '%s cannot be changed' % what, e)
    t.sql("UPDATE traject.deliveries SET state = 'queued', delivered_at = NULL, receipt_at = NULL")
    try:
        t.sql('DELETE FROM traject.deliveries')
        t.ok(False, 'an undelivered delivery cannot be removed')
    except tjtest.Failure as e:
        t.ok('never pruned' in str(e), 'an undelivered delivery cannot be removed', e)
    try:
        t.sql("INSERT INTO traject.report_versions SELECT grant_key, report_id, 1, grant_version,"
              " kind, as_of, due, known_at, 'manual', NULL, late, generated_at, 'x'"
              " FROM traject.report_versions")
        t.ok(False, 'no second version 1')
    except tjtest.Failure as e:
        t.ok('report_versions_pkey' in str(e), 'the primary key refuses a second version 1', e)


# --- HTTPS --------------------------------------------------------------------


def test_https_retry_then_receipt(t):
    receiver = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'receiver.py')
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant.json')), 'grant load')
    ca, cert, key = tjtest.make_certs(t.tmp, 'trajectd daemon test CA')
    script = os.path.join(t.tmp, 'script.json')
    with open(script, 'w') as f:
        json.dump([{'status': 503, 'headers': {'Retry-After': '10'}},
                   {'status': 503, 'headers': {'Retry-After': '10'}},
                   {'status': 201, 'headers': {'X-Receipt': 'R-1'}, 'body': 'receipt one'},
                   {'status': 201, 'headers': {'X-Receipt': 'R-2'}, 'body': 'receipt two'}], f)
    log = os.path.join(t.tmp, 'log.jsonl')
    proc = subprocess.Popen([sys.executable, receiver, '--cert', cert, '--key', key,
                             '--script', script, '--log', log],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        m = re.match(r'PORT (\d+)', proc.stdout.readline())
        t.ok(m is not None, 'the receiver started')
        # retry_base 1: the first retry's own backoff is 0 or 1 s, so only the
        # receiver's Retry-After (10 s, below retry_max) can put it 10 s later
        conf = t.write('trajectd.conf', '[database]\nconninfo = %s\n\n[schedule]\nlead_days = 5\n'
                       'time_zone = Europe/Amsterdam\n\n[delivery]\n'
                       'url = https://127.0.0.1:%s/inbox\nformats = xml json\ntimeout = 10\n'
                       'retry_base = 1\nretry_max = 30\nwarn_hours = 48\nca_file = %s\n'
                       % (t.conninfo, m.group(1), ca))
        r = once(t, conf, Q1_MOMENT)
        t.eq(rows(t, 'SELECT state, attempts, last_error LIKE $$%503%$$ FROM traject.deliveries'),
             [['queued', '1', 't']] * 2, '503: both kept for a retry')
        t.eq(t.sql('SELECT retry_after FROM traject.delivery_attempts'), ['10', '10'],
             'the Retry-After is recorded')
        t.eq(rows(t, 'SELECT next_attempt_at - $$2011-04-09T22:00:00Z$$ >= interval $$10 s$$,'
                     ' next_attempt_at - $$2011-04-09T22:00:00Z$$ < interval $$14 s$$'
                     ' FROM traject.deliveries'),
             [['t', 't']] * 2, 'the retry waits for Retry-After (10 s), not the 0..1 s backoff')
        t.ok(r.err.count('<4>') == 2, 'a warning per failed attempt', r)
        once(t, conf, '2011-04-09T22:00:05Z')
        t.eq(rows(t, 'SELECT state, attempts FROM traject.deliveries'), [['queued', '1']] * 2,
             'a pass 5 s later does not try them: Retry-After has not passed')
        once(t, conf, '2011-04-09T22:00:20Z')
        t.eq(rows(t, 'SELECT state, attempts, receipt_status, convert_from(receipt_body, $$UTF8$$)'
                     ' FROM traject.deliveries ORDER BY delivery_id'),
             [['delivered', '2', '201', 'receipt one'], ['delivered', '2', '201', 'receipt two']],
             'delivered on the second try, receipt kept')
        t.eq(t.sql('SELECT convert_from(receipt_headers, $$UTF8$$) ~ $$X-Receipt: R-[12]\r\n$$'
                   ' FROM traject.deliveries'), ['t', 't'], 'the receipt headers are kept')
        with open(log) as f:
            seen = [json.loads(line) for line in f if '"request"' in line]
        t.eq(len(seen), 4, 'four requests')
        by_key = {}
        for e in seen:
            # the header is a structured-field string: "tj1-..."
            k = [v for h, v in e['headers'] if h.lower() == 'idempotency-key'][0].strip('"')
            by_key.setdefault(k, []).append(e['body_sha256'])
        stored = dict(rows(t, 'SELECT idempotency_key, sha256 FROM traject.documents'))
        t.eq(by_key, {k: [v, v] for k, v in stored.items()},
             'each document went twice with its own key and the same stored bytes')
        t.eq(t.sql('SELECT count(*) FROM traject.delivery_attempts'), ['4'], 'four attempts recorded')
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


tjtest.main(globals())
