"""trajectctl explain and the outlook of trajectctl status: obligations and data
quality at today's date, and the forecast of the determination.

The forecast cases are built around today (the database's date in
Europe/Amsterdam), so that "if the period ended today" and the straight-line
projection to the period's end can be worked out by hand: a period of 365
days of which today is day 100.
"""
import datetime
import json
import os
import re

import tjtest

DET = tjtest.Test.data('reports', 'determination')


def load_det(t):
    t.succeeds(t.ctl('grant', 'load', os.path.join(DET, 'grant.json')), 'grant load')
    t.succeeds(t.ctl('import', '--grant', 'RPT-DET', os.path.join(DET, 'events.csv')), 'import')


def explanations(t):
    return t.sql('SELECT obligation_id, body FROM traject.explanations ORDER BY explanation_id')


def test_explain_refusals(t):
    load_det(t)
    ex = ['explain', '--grant', 'RPT-DET', '--obligation']
    usage = r'^usage: trajectctl explain --grant ID --obligation OID \(--text TEXT \| --file FILE\)'
    t.fails(t.ctl('explain', '--grant', 'RPT-DET', '--text', 'x'), 'no --obligation', rc=2,
            pattern=usage)
    t.fails(t.ctl(*(ex + ['P1'])), 'neither --text nor --file', rc=2, pattern=usage)
    t.fails(t.ctl(*(ex + ['P1', '--text', 'a', '--file', '/dev/null'])), 'both', rc=2,
            pattern=usage)
    t.fails(t.ctl('explain', '--grant', 'NOPE', '--obligation', 'P1', '--text', 'why'),
            'unknown grant', pattern=r"no grant 'NOPE'")
    t.fails(t.ctl(*(ex + ['P9', '--text', 'why'])), 'unknown obligation',
            pattern=r"grant RPT-DET has no obligation 'P9' \(version 1\); its obligations are: "
                    r"P1, P2, P3$")
    t.fails(t.ctl(*(ex + ['P 1', '--text', 'why'])), 'a malformed obligation id',
            pattern=r"'P 1' is not an obligation id")
    # 123456782 passes the eleven-test
    t.fails(t.ctl(*(ex + ['P1', '--text', 'family of 123456782 moved'])), 'a possible BSN',
            pattern=r'nine digits that pass the BSN eleven-test')
    t.fails(t.ctl(*(ex + ['P1', '--text', '  \n\t '])), 'blank', pattern=r'explanation is empty')
    t.fails(t.ctl(*(ex + ['P1', '--text', 'bell\a'])), 'a control character',
            pattern=r'control characters')
    t.fails(t.ctl(*(ex + ['P1', '--text', 'é' * 4001])), '4001 characters',
            pattern=r'has 4001 characters, more than 4000')
    t.fails(t.ctl(*(ex + ['P1', '--file', os.path.join(t.tmp, 'missing.txt')])),
            'a missing file', pattern=r'missing.txt: cannot open')
    t.eq(explanations(t), [], 'nothing stored by any refusal')
    # 4000 characters (8000 bytes) are fine
    t.succeeds(t.ctl(*(ex + ['P1', '--text', 'é' * 4000])), '4000 characters')
    t.eq(t.sql('SELECT length(body) FROM traject.explanations'), ['4000'], 'stored whole')


def test_explain_append_only(t):
    load_det(t)
    ex = ['explain', '--grant', 'RPT-DET', '--obligation']
    r = t.succeeds(t.ctl(*(ex + ['P1', '--text', 'first'])), 'first explanation')
    t.ok(r.out.startswith('grant RPT-DET obligation P1: explanation recorded at ')
         and '(1 for this obligation;' in r.out, 'says what it did', r)
    path = t.write('why.txt', 'line one\nline two\n\n')
    r = t.succeeds(t.ctl(*(ex + ['P1', '--file', path])), 'from a file')
    t.ok('(2 for this obligation;' in r.out, 'the second one for P1', r)
    t.succeeds(t.ctl(*(ex + ['P3', '--file', '-']), stdin='from standard input\n'), 'stdin')
    t.eq(explanations(t), ['P1|first', 'P1|line one', 'line two', 'P3|from standard input'],
         'kept in order; a file without its trailing newlines (psql prints the newline)')
    for sql in ("UPDATE traject.explanations SET body = 'changed'",
                'DELETE FROM traject.explanations'):
        try:
            t.sql(sql)
            t.ok(False, 'refused: ' + sql)
        except tjtest.Failure as e:
            t.ok('never changed or removed' in str(e), 'refused: ' + sql, e)
    try:
        t.sql("INSERT INTO traject.explanations (grant_key, obligation_id, body, recorded_at)"
              " SELECT grant_key, 'P1', 'see 123456782', now() FROM traject.grants")
        t.ok(False, 'a BSN written past trajectctl is refused')
    except tjtest.Failure as e:
        t.ok('explanations_body_check' in str(e), 'the CHECK refuses a BSN', e)
    t.eq(len(explanations(t)), 4, 'still four')
    # a report known before the second explanation still shows the first
    first = t.sql("SELECT traject.iso_utc(min(recorded_at)) FROM traject.explanations")[0]
    rep = t.succeeds(t.ctl('report', '--grant', 'RPT-DET', '--report', 'determination',
                           '--known-at', first), 'report at the first explanation').json()
    t.eq((rep['obligations'][0]['explanation'], rep['obligations'][0]['explained_at']),
         ('first', first), 'K = the first explanation: it is the one carried')
    rep = t.succeeds(t.ctl('report', '--grant', 'RPT-DET', '--report', 'determination'),
                     'report now').json()
    t.eq(rep['obligations'][0]['explanation'], 'line one\nline two', 'now the newest')


def today(t):
    return datetime.date.fromisoformat(
        t.sql("SELECT (now() AT TIME ZONE 'Europe/Amsterdam')::date")[0])


def forecast_grant(t, gid, start, realised_before_today):
    """A 365-day grant starting at start: EUR 100,000.00 for 20 trajectories."""
    end = start + datetime.timedelta(days=364)
    grant = {
        'id': gid, 'grantor': 'Provincie Overijssel', 'grantee': 'Gemeente Vooruit',
        'decision_date': start.isoformat(),
        'period': {'start': start.isoformat(), 'end': end.isoformat()},
        'amount_granted': '100000.00', 'target_trajectories': 20,
        'obligations': [{'id': 'P1', 'indicator': 'trajectories_started', 'op': '>=',
                         'target': 20, 'due': end.isoformat()}],
        'reports': [{'id': 'determination', 'kind': 'determination',
                     'as_of': (end + datetime.timedelta(days=30)).isoformat(),
                     'due': (end + datetime.timedelta(days=60)).isoformat()}],
    }
    t.succeeds(t.ctl('grant', 'load', t.write(gid + '.json', json.dumps(grant))), 'load ' + gid)
    rows = ['trajectory,date,event,value',
            # registered before the period: counts as started, never realised
            'F-00,%s,registered,' % (start - datetime.timedelta(days=3)).isoformat(),
            'F-00,%s,coordinator,coach-1' % (start - datetime.timedelta(days=3)).isoformat()]
    for i in range(realised_before_today):
        d = start + datetime.timedelta(days=10 * i)
        rows.append('F-%02d,%s,registered,' % (i + 1, d.isoformat()))
    if len(rows) > 3:
        t.succeeds(t.ctl('import', '--grant', gid, t.write(gid + '.csv', '\n'.join(rows) + '\n')),
                   'import ' + gid)
    return grant


def status_of(t, gid):
    r = t.succeeds(t.ctl('status', '--grant', gid, '--json'), 'status --json')
    return r.json()['grants'][0]


def test_forecast_on_course(t):
    day0 = today(t)
    start = day0 - datetime.timedelta(days=99)  # today is day 100 of 365
    forecast_grant(t, 'FC-ON', start, 6)
    g = status_of(t, 'FC-ON')
    if g['forecast']['as_of'] != day0.isoformat():  # midnight passed meanwhile: once more
        day0 = today(t)
        g = status_of(t, 'FC-ON')
    # realised 6 (F-01..F-06: days 1, 11, ..., 51), F-00 registered before the start
    # if the period ended today: 6 * 5000.00 = 30000.00; shortfall 70000.00
    # projection 6 * 365 / 100 = 21.9 -> 109500.00, capped at 100000.00: not at risk
    t.eq(g['forecast'], {'as_of': day0.isoformat(), 'trajectories_realised': 6,
                         'amount_granted': '100000.00', 'amount_determined': '30000.00',
                         'shortfall': '70000.00', 'projected_realised': 21.9,
                         'projected_amount': '100000.00', 'at_risk': False},
         'the forecast, worked by hand')
    # P1: started 7 (F-00 too) at today; 7 * 365 / 100 = 25.55 >= 20: on_track
    o = g['obligations'][0]
    t.eq((o['id'], o['value'], o['projection'], o['status'], o['explanation']),
         ('P1', 7, 25.55, 'on_track', None), 'P1 as a report at today shows it')
    # only F-00 has a coordinator; nobody has a plan (F-01..F-05 registered > 14 days
    # ago; F-06 on day 51 too) or an assessment
    t.eq(g['data_quality'], {'no_coordinator': 6, 'no_plan': 7, 'no_assessment': 7},
         'data quality at today')
    text = t.succeeds(t.ctl('status', '--grant', 'FC-ON'), 'status as text').out
    t.ok('forecast     EUR 30000.00 of 100000.00 would be determined if the period ended '
         'today (6 trajectories realised); shortfall 70000.00' in text, 'forecast line', text)
    t.ok('projected to the period\'s end: 21.9 trajectories, EUR 100000.00: on course for the '
         'full amount' in text, 'projection line', text)
    t.ok('P1     trajectories_started >= 20, due %s: 7 (projection 25.55)  on_track'
         % (start + datetime.timedelta(days=364)).isoformat() in text, 'obligation line', text)
    t.ok('data quality 6 without a coordinator, 7 without a plan after 14 days, '
         '7 without an assessment' in text, 'data quality line', text)


def test_forecast_at_risk(t):
    day0 = today(t)
    start = day0 - datetime.timedelta(days=99)
    forecast_grant(t, 'FC-RISK', start, 4)
    t.succeeds(t.ctl('explain', '--grant', 'FC-RISK', '--obligation', 'P1', '--text',
                     'Registrations pick up after the summer.'), 'explain P1')
    g = status_of(t, 'FC-RISK')
    # realised 4: 20000.00 now, shortfall 80000.00; 4 * 365 / 100 = 14.6 -> 73000.00:
    # 5000 * 4 * 365 = 7,300,000 < 100000 * 100 = 10,000,000: at risk
    f = g['forecast']
    t.eq((f['trajectories_realised'], f['amount_determined'], f['shortfall'],
          f['projected_realised'], f['projected_amount'], f['at_risk']),
         (4, '20000.00', '80000.00', 14.6, '73000.00', True), 'the forecast flags the risk')
    # P1: 5 started * 365 / 100 = 18.25 < 20: at_risk, with the explanation
    o = g['obligations'][0]
    t.eq((o['value'], o['projection'], o['status'], o['explanation']),
         (5, 18.25, 'at_risk', 'Registrations pick up after the summer.'),
         'at risk, explained')
    text = t.succeeds(t.ctl('status', '--grant', 'FC-RISK'), 'status as text').out
    t.ok('14.6 trajectories, EUR 73000.00: AT RISK of a shortfall' in text, 'risk in text', text)
    t.ok('at_risk  <<' in text, 'the obligation is marked', text)


def test_forecast_before_the_period(t):
    start = today(t) + datetime.timedelta(days=10)
    forecast_grant(t, 'FC-LATER', start, 0)
    f = status_of(t, 'FC-LATER')['forecast']
    t.eq((f['trajectories_realised'], f['amount_determined'], f['shortfall'],
          f['projected_realised'], f['projected_amount'], f['at_risk']),
         (0, '0.00', '100000.00', None, None, False),
         'before the period: nothing realised, nothing to project, no risk flagged yet')
    text = t.succeeds(t.ctl('status', '--grant', 'FC-LATER'), 'text').out
    t.ok('the period has not started: nothing to project yet' in text, 'says so', text)


def test_forecast_after_the_period(t):
    start = today(t) - datetime.timedelta(days=400)
    forecast_grant(t, 'FC-DONE', start, 3)
    f = status_of(t, 'FC-DONE')['forecast']
    # the period is over: the projection is the count itself, 3 * 5000.00 < 100000.00
    t.eq((f['trajectories_realised'], f['amount_determined'], f['projected_realised'],
          f['projected_amount'], f['at_risk']), (3, '15000.00', 3, '15000.00', True),
         'after the period the forecast is the determination')
    # P1 was due at the period's end: started 4 (F-00 too) < 20, decided by the value;
    # the text shows no projection (the JSON keeps it: 4 * 365 / 401 days)
    text = t.succeeds(t.ctl('status', '--grant', 'FC-DONE'), 'status as text').out
    end = (start + datetime.timedelta(days=364)).isoformat()
    t.ok('P1     trajectories_started >= 20, due %s: 4  not_met  <<\n' % end in text,
         'a past obligation without its projection', text)


def test_status_lists_every_grant(t):
    load_det(t)
    forecast_grant(t, 'FC-ON', today(t) - datetime.timedelta(days=99), 6)
    st = t.succeeds(t.ctl('status', '--json'), 'status --json').json()
    t.eq([g['id'] for g in st['grants']], ['FC-ON', 'RPT-DET'], 'both grants, by id')
    for g in st['grants']:
        t.ok(set(g) >= {'obligations', 'data_quality', 'forecast', 'reports'},
             g['id'] + ': the outlook keys', sorted(g))
    det = st['grants'][1]
    # RPT-DET at today (long after its period): the values of the determination case
    t.eq((det['forecast']['trajectories_realised'], det['forecast']['amount_determined'],
          det['forecast']['shortfall'], det['forecast']['at_risk']),
         (5, '31250.00', '18750.00', True), 'RPT-DET: 5 realised, 31250.00 of 50000.00')
    t.eq([o['status'] for o in det['obligations']], ['not_met', 'met', 'not_met'],
         'RPT-DET obligations today (P3 due 2012-06-30 has passed: 10 < 20)')


def test_status_shows_attempts_and_the_latest_error(t):
    """The last error is the latest attempt's (not the greatest text), in JSON and on the text line."""
    t.succeeds(t.ctl('grant', 'load', t.data('daemon', 'grant.json')), 'grant load')
    out = os.path.join(t.tmp, 'outbox')
    os.mkdir(out)
    conf = t.write('trajectd.conf', '[database]\nconninfo = %s\n\n[schedule]\nlead_days = 5\n'
                   'time_zone = Europe/Amsterdam\n\n[delivery]\nurl = file://%s\n'
                   'formats = xml json\n' % (t.conninfo, out))
    t.succeeds(t.ctl('--config', conf, 'deliver', '--grant', 'TEST-DAEMON', '--report', 'Q1'),
               'deliver Q1 (two documents)')
    # Two failed attempts, as an instance records them: the XML's yesterday with a
    # text that sorts last, the JSON's an hour ago with one that sorts first.
    t.sql("WITH f AS (SELECT dl.delivery_id, d.format FROM traject.deliveries dl"
          "           JOIN traject.documents d USING (doc_id))"
          " INSERT INTO traject.delivery_attempts (delivery_id, attempt, instance_id, outcome,"
          "   error, elapsed_ms, finished_at, next_attempt_at)"
          " SELECT delivery_id, 1, 'test', 'retry',"
          "   CASE format WHEN 'xml' THEN 'timeout: no answer within 10 s'"
          "               ELSE 'HTTP 503: the inbox is full' END, 5,"
          "   now() - CASE format WHEN 'xml' THEN interval '1 day' ELSE interval '1 hour' END,"
          "   now() + interval '1 day' FROM f")
    t.sql("UPDATE traject.deliveries dl SET attempts = 1, next_attempt_at = a.next_attempt_at,"
          " last_error = a.error FROM traject.delivery_attempts a"
          " WHERE a.delivery_id = dl.delivery_id")
    st = t.succeeds(t.ctl('--config', conf, 'status', '--grant', 'TEST-DAEMON', '--json'),
                    'status --json').json()
    q1 = [r for r in st['grants'][0]['reports'] if r['id'] == 'Q1'][0]
    t.eq((q1['state'], q1['attempts'], q1['last_error']),
         ('delivering', 2, 'HTTP 503: the inbox is full'),
         'JSON: two attempts, the error of the attempt that ended last')
    text = t.succeeds(t.ctl('--config', conf, 'status', '--grant', 'TEST-DAEMON'), 'status').out
    lines = text.split('\n')
    at = [i for i, line in enumerate(lines) if line.startswith('    Q1 ')]
    t.ok(len(at) == 1, 'one Q1 line', text)
    t.ok(lines[at[0]].endswith('delivering, 2 attempts  LATE'),
         'text: the state, the attempts (and LATE: due in 2011)',
         text)
    t.ok(lines[at[0] + 1] == '      last error: HTTP 503: the inbox is full',
         'text: the latest error under it', text)
    t.ok(re.search(r'^    Q2 .*  scheduled  LATE$', text, re.M), 'a scheduled report: no attempts',
         text)
    t.sql("UPDATE traject.delivery_attempts a SET finished_at = now()"
          " FROM traject.deliveries dl JOIN traject.documents d USING (doc_id)"
          " WHERE a.delivery_id = dl.delivery_id AND d.format = 'xml'")
    st = t.succeeds(t.ctl('--config', conf, 'status', '--grant', 'TEST-DAEMON', '--json'),
                    'status --json again').json()
    q1 = [r for r in st['grants'][0]['reports'] if r['id'] == 'Q1'][0]
    t.eq(q1['last_error'], 'timeout: no answer within 10 s',
         'the XML attempt ending last makes its error the last one')


tjtest.main(globals())
