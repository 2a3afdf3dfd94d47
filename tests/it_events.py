"""trajectctl events and void: the listing (text and --json), its order and
filter, empty lists, and voiding with every refusal."""
import os

import tjtest

GRANT = 'G-IMPORT'
DATA = tjtest.Test.data('import')


def setup(t, csv='good.csv'):
    t.succeeds(t.ctl('grant', 'load', os.path.join(DATA, 'grant.json')), 'grant load')
    if csv:
        t.succeeds(t.ctl('import', '--grant', GRANT, os.path.join(DATA, csv)), 'import ' + csv)


def recorded(t):
    return t.sql('SELECT traject.iso_utc(recorded_at) FROM traject.import_batches'
                 ' ORDER BY batch_id')


def test_json_keys_and_values(t):
    setup(t)
    rec = recorded(t)[0]
    r = t.succeeds(t.ctl('events', '--grant', GRANT, '--json'), 'events --json')
    want = [(1, 'T-001', '2011-06-06', 'registered', None),
            (2, 'T-001', '2011-06-06', 'coordinator', 'coach-07'),
            (3, 'T-001', '2011-06-06', 'children', '2'),
            (4, 'T-001', '2011-06-08', 'assessed', 'needs_indication'),
            (5, 'T-001', '2011-06-10', 'plan', None),
            (6, 'T-001', '2011-06-14', 'help_started', None),
            (7, 'T-001', '2011-07-01', 'cost', '450.00'),
            (8, 'T-001', '2011-12-01', 'closed', 'goals_reached'),
            (9, 'T-002', '2011-07-01', 'registered', None),
            (10, 'T-002', '2011-07-03', 'assessed', 'no_indication'),
            (11, 'T-002', '2011-07-04', 'escalated', 'residential'),
            (12, 'T-002', '2011-07-05', 'cost', '1234.50')]
    t.eq(r.json(), [{'id': i, 'trajectory': ref, 'date': d, 'event': e, 'value': v,
                     'recorded_at': rec, 'voided': False} for i, ref, d, e, v in want],
         'every event with exactly these keys')
    t.ok(rec.endswith('Z') and rec[10] == 'T', 'recorded_at is traject.iso_utc', rec)


def test_text_table(t):
    setup(t)
    rec = recorded(t)[0]
    r = t.succeeds(t.ctl('events', '--grant', GRANT, '--trajectory', 'T-002'), 'events text')
    # Widths: the longest id ('10') and the header 'ID': 2; TRAJECTORY 10 (the header);
    # EVENT 10 ('registered'); VALUE 13 ('no_indication'); the last column unpadded.
    fmt = '%2s  %-10s  %-10s  %-10s  %-13s  %s'
    want = [fmt % ('ID', 'TRAJECTORY', 'DATE', 'EVENT', 'VALUE', 'RECORDED_AT'),
            fmt % ('9', 'T-002', '2011-07-01', 'registered', '', rec),
            fmt % ('10', 'T-002', '2011-07-03', 'assessed', 'no_indication', rec),
            fmt % ('11', 'T-002', '2011-07-04', 'escalated', 'residential', rec),
            fmt % ('12', 'T-002', '2011-07-05', 'cost', '1234.50', rec)]
    t.eq(r.out.split('\n'), want + [''], 'aligned table')


def test_order_and_filter(t):
    setup(t, csv=None)
    p = t.write('order.csv', 'trajectory,date,event,value\n'
                'T-2,2011-06-09,plan,\n'
                'T-2,2011-06-05,registered,\n'
                'b-1,2011-06-01,registered,\n'
                'T-10,2011-06-01,registered,\n'
                'A-1,2011-06-02,registered,\n'
                'T-2,2011-06-05,coordinator,c\n')
    t.succeeds(t.ctl('import', '--grant', GRANT, p), 'import')
    ids = [e['id'] for e in t.succeeds(t.ctl('events', '--grant', GRANT, '--json'), 'list').json()]
    t.eq(ids, [5, 4, 2, 6, 1, 3], 'bytewise by reference (A-1, T-10, T-2, b-1), date, id')
    r = t.succeeds(t.ctl('events', '--grant', GRANT, '--trajectory', 'T-2', '--json'), 'filter')
    t.eq([(e['id'], e['event']) for e in r.json()],
         [(2, 'registered'), (6, 'coordinator'), (1, 'plan')], 'one trajectory')


def test_empty_lists(t):
    setup(t, csv=None)
    r = t.succeeds(t.ctl('events', '--grant', GRANT, '--json'), 'empty grant')
    t.eq(r.out, '[]\n', 'an empty list stays a list')
    t.eq(t.succeeds(t.ctl('events', '--grant', GRANT), 'text').out,
         "no events in grant 'G-IMPORT'\n", 'text says so')
    t.succeeds(t.ctl('import', '--grant', GRANT, os.path.join(DATA, 'good.csv')), 'import')
    r = t.succeeds(t.ctl('events', '--grant', GRANT, '--trajectory', 'T-404', '--json'), 'none')
    t.eq(r.out, '[]\n', 'unknown trajectory: empty list')
    t.eq(t.succeeds(t.ctl('events', '--grant', GRANT, '--trajectory', 'T-404'), 'text').out,
         "no events of trajectory 'T-404' in grant 'G-IMPORT'\n", 'text says so')


def test_events_errors(t):
    r = t.fails(t.ctl('events', '--grant', 'NOPE'), 'unknown grant')
    t.eq(r.err, "trajectctl: no grant 'NOPE': load it first with 'trajectctl grant load'\n",
         'message')
    t.fails(t.ctl('events'), 'no --grant', rc=2, pattern=r'^usage: trajectctl events ')
    t.fails(t.ctl('events', '--grant', GRANT, 'extra'), 'extra argument', rc=2)
    t.fails(t.ctl('events', '--grant', GRANT, '--trajectory', 'a b'), 'bad reference', rc=2,
            pattern=r"--trajectory 'a b' is not a reference")


def test_void_and_listing(t):
    setup(t)
    r = t.succeeds(t.ctl('void', '--grant', GRANT, '8', '--reason', 'closed too early'), 'void')
    at = t.sql('SELECT traject.iso_utc(recorded_at) FROM traject.voids WHERE event_id = 8')
    t.eq(len(at), 1, 'a voids row')
    t.eq(r.out, 'event 8 (T-001 2011-12-01 closed) voided at %s\n' % at[0], 'says what')
    t.eq(t.sql('SELECT reason, grant_key = (SELECT grant_key FROM traject.grants'
               " WHERE id = 'G-IMPORT') FROM traject.voids"),
         ['closed too early|t'], 'reason and grant stored')
    t.ok(at[0] > recorded(t)[0], 'recorded after the import')
    ev = t.succeeds(t.ctl('events', '--grant', GRANT, '--json'), 'list').json()
    t.eq(ev[7], {'id': 8, 'trajectory': 'T-001', 'date': '2011-12-01', 'event': 'closed',
                 'value': 'goals_reached', 'recorded_at': recorded(t)[0], 'voided': True,
                 'void_reason': 'closed too early', 'voided_at': at[0]},
         'voided event keeps its data and says when and why')
    t.eq(sum(1 for e in ev if e['voided']), 1, 'only that one')
    text = t.succeeds(t.ctl('events', '--grant', GRANT, '--trajectory', 'T-001'), 'text').out
    t.ok(text.split('\n')[8].endswith('  VOIDED %s: closed too early' % at[0]), 'text shows it',
         text)
    r = t.fails(t.ctl('void', '--grant', GRANT, '8', '--reason', 'again'), 'twice')
    t.eq(r.err, 'trajectctl: event 8 was already voided on %s: closed too early (nothing to '
         'do: a void is final; if the right event is missing, import it in a new file)\n'
         % at[0], 'already voided, and what to do')
    t.eq(t.sql('SELECT count(*) FROM traject.voids'), ['1'], 'still one')


def test_void_refusals(t):
    setup(t)
    t.succeeds(t.ctl('grant', 'load', os.path.join(DATA, 'grant-other.json')), 'other grant')
    r = t.fails(t.ctl('void', '--grant', GRANT, '999', '--reason', 'x'), 'no such event')
    t.eq(r.err, "trajectctl: grant 'G-IMPORT' has no event 999 (list its events with "
         "'trajectctl events --grant G-IMPORT')\n", 'message')
    t.fails(t.ctl('void', '--grant', 'G-OTHER', '1', '--reason', 'x'), 'event of another grant',
            pattern=r"grant 'G-OTHER' has no event 1 ")
    t.fails(t.ctl('void', '--grant', 'NOPE', '1', '--reason', 'x'), 'unknown grant',
            pattern=r"no grant 'NOPE'")
    for bad in ('abc', '0', '1.5', '99999999999999999999', '-1', ''):
        t.fails(t.ctl('void', '--grant', GRANT, bad, '--reason', 'x'), 'id %r' % bad, rc=2)
    t.fails(t.ctl('void', '--grant', GRANT, '1'), 'no --reason', rc=2,
            pattern=r'^usage: trajectctl void --grant ID EVENT_ID --reason TEXT$')
    t.fails(t.ctl('void', '--grant', GRANT, '1', '2', '--reason', 'x'), 'two ids', rc=2)
    t.fails(t.ctl('void', '--grant', GRANT, '1', '--reason', '   '), 'blank reason',
            pattern=r'the reason is empty')
    r = t.fails(t.ctl('void', '--grant', GRANT, '1', '--reason', 'client 111222333'), 'BSN')
    t.ok('111222333' not in r.err, 'the number is not echoed', r)
    t.ok('BSN' in r.err, 'says why', r)
    t.fails(t.ctl('void', '--grant', GRANT, '1', '--reason', 'two\nlines'), 'control chars',
            pattern=r'one line of text')
    t.fails(t.ctl('void', '--grant', GRANT, '1', '--reason', 'x' * 1001), 'too long',
            pattern=r'longer than 1000 bytes')
    t.eq(t.sql('SELECT count(*) FROM traject.voids'), ['0'], 'nothing stored')
    t.succeeds(t.ctl('void', '--reason', 'x' * 1000, '--grant', GRANT, '1'),
               '1000 bytes, options in any order')


def test_void_must_carry_the_events_grant(t):
    """The reports find a grant's voids by voids.grant_key: a void stamped with
    another grant would be ignored by the reports of its event's grant."""
    setup(t)
    t.succeeds(t.ctl('grant', 'load', os.path.join(DATA, 'grant-other.json')), 'other grant')
    other = t.sql("SELECT grant_key FROM traject.grants WHERE id = 'G-OTHER'")[0]
    # an UPDATE is refused before it gets there: voids are append-only (sql/012)
    for sql, what, why in (
            ("INSERT INTO traject.voids (event_id, grant_key, reason, recorded_at)"
             " VALUES (8, %s, 'wrong grant', clock_timestamp())" % other, 'inserted',
             'must carry its event\'s grant'),
            ("BEGIN; INSERT INTO traject.voids (event_id, grant_key, reason, recorded_at)"
             " SELECT 8, grant_key, 'right grant', clock_timestamp() FROM traject.events"
             " WHERE event_id = 8; UPDATE traject.voids SET grant_key = %s; COMMIT" % other,
             'updated', 'traject.voids is append-only')):
        try:
            t.sql(sql)
            t.ok(False, 'a void with another grant than its event\'s cannot be %s' % what)
        except tjtest.Failure as e:
            t.ok(why in str(e),
                 'a void with another grant than its event\'s cannot be %s' % what, e)
    t.eq(t.sql('SELECT count(*) FROM traject.voids'), ['0'], 'nothing stored')
    t.succeeds(t.ctl('void', '--grant', GRANT, '8', '--reason', 'closed too early'),
               'trajectctl void stamps the right grant')
    t.eq(t.sql('SELECT count(*) FROM traject.voids'), ['1'], 'and is stored')
    # a database where such a void slipped in before 013: the migration stops and names it
    # (013 and the migrations after it are taken back, so that migrate runs them again)
    t.sql("DROP TRIGGER voids_own_grant ON traject.voids;"
          " DROP FUNCTION traject.void_of_own_grant();"
          " DELETE FROM traject.schema_migrations WHERE version >= (SELECT version FROM"
          "  traject.schema_migrations WHERE name = 'register_fixes');"
          " ALTER TABLE traject.voids DISABLE TRIGGER voids_append_only;"
          " UPDATE traject.voids SET grant_key = %s;"
          " ALTER TABLE traject.voids ENABLE TRIGGER voids_append_only" % other)
    t.fails(t.ctl('migrate'), 'migrate over a void of another grant',
            pattern=r'event 8 \(voided under grant_key %s, its grant_key is' % other)


def test_void_registered_then_register_again(t):
    setup(t)
    r = t.succeeds(t.ctl('void', '--grant', GRANT, '9', '--reason', 'registered twice'),
                   'void a registered event')
    t.ok("note: trajectory 'T-002' has no registered event now" in r.out, 'says so', r)
    p = t.write('again.csv', 'trajectory,date,event,value\nT-002,2011-07-01,registered,\n')
    t.eq(t.succeeds(t.ctl('import', '--grant', GRANT, p), 'register again').out,
         p + ': 1 event of 1 trajectory imported (batch 2)\n', 'no TJ021 against a voided one')


tjtest.main(globals())
