"""The bundled example (examples/): the grant OV-2011-AMB-01 and its events.

Loads examples/grant.json and imports examples/events-2011.csv and
examples/events-2012.csv with the real trajectctl, then checks the reports
of the calendar (2011-Q3, 2011, determination) against numbers computed by
hand (the working is in docs/example.md) and, field by field, against the
independent oracle (tests/oracle.py).
"""
import json
import os
import sys
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402
import tjtest  # noqa: E402

GRANT = 'OV-2011-AMB-01'
FILES = ('events-2011.csv', 'events-2012.csv')
D = Decimal

# By hand: docs/example.md, sections "2011-Q3", "2011" and "Determination".
HAND = {
    '2011-Q3': {
        'indicators': {
            'trajectories_started': 17, 'trajectories_helped': 13, 'trajectories_closed': 2,
            'trajectories_active': 15,
            'closed_by_reason': {'goals_reached': 0, 'referred': 1, 'dropped_out': 1,
                                 'moved': 0, 'other': 0},
            'children_helped': 26, 'indications_needed': 14, 'indications_requested': 2,
            'indications_avoided': 9, 'indication_avoidance_rate': D('0.6429'),
            'escalations': 1, 'heavier_care_avoided_rate': D('0.9231'),
            'median_days_to_help': D(14), 'p90_days_to_help': D(21),
            'costs_total': '7420.50', 'amount_committed': '85000.00',
            'amount_settled': '10000.00', 'budget_remaining': '65000.00',
            'cost_per_child_helped': '285.40', 'children_helped_per_10k_eur': D('35.0381'),
            'data_quality': {'no_coordinator': 1, 'no_plan': 1, 'no_assessment': 1},
            'extra_children_within_budget': 505,
        },
        # (value, projection, status) of P1..P6
        'obligations': [(17, D('22.7289'), 'at_risk'), (D('0.6429'), D('0.6429'), 'on_track'),
                        (D('0.9231'), D('0.9231'), 'on_track'),
                        (26, D('34.7619'), 'on_track'), ('285.40', '285.40', 'on_track'),
                        (D(14), D(14), 'on_track')],
    },
    '2011': {
        'indicators': {
            'trajectories_started': 30, 'trajectories_helped': 25, 'trajectories_closed': 10,
            'trajectories_active': 20,
            'closed_by_reason': {'goals_reached': 4, 'referred': 3, 'dropped_out': 2,
                                 'moved': 1, 'other': 0},
            'children_helped': 44, 'indications_needed': 25, 'indications_requested': 5,
            'indications_avoided': 18, 'indication_avoidance_rate': D('0.72'),
            'escalations': 2, 'heavier_care_avoided_rate': D('0.92'),
            'median_days_to_help': D(21), 'p90_days_to_help': D(28),
            'costs_total': '20306.75', 'amount_committed': '150000.00',
            'amount_settled': '50000.00', 'budget_remaining': '0.00',
            'cost_per_child_helped': '461.52', 'children_helped_per_10k_eur': D('21.6677'),
            'data_quality': {'no_coordinator': 1, 'no_plan': 2, 'no_assessment': 1},
            'extra_children_within_budget': 305,
        },
        'obligations': [(30, D(30), 'met'), (D('0.72'), D('0.72'), 'met'),
                        (D('0.92'), D('0.92'), 'met'), (44, D(44), 'met'),
                        ('461.52', '461.52', 'met'), (D(21), D(21), 'met')],
    },
    'determination': {
        'indicators': {
            'trajectories_started': 32, 'trajectories_helped': 31, 'trajectories_closed': 18,
            'trajectories_active': 14,
            'closed_by_reason': {'goals_reached': 10, 'referred': 4, 'dropped_out': 2,
                                 'moved': 1, 'other': 1},
            'children_helped': 53, 'indications_needed': 27, 'indications_requested': 5,
            'indications_avoided': 22, 'indication_avoidance_rate': D('0.8148'),
            'escalations': 2, 'heavier_care_avoided_rate': D('0.9355'),
            'median_days_to_help': D(21), 'p90_days_to_help': D(42),
            'costs_total': '23196.75', 'amount_committed': '160000.00',
            'amount_settled': '90000.00', 'budget_remaining': '-10000.00',
            'cost_per_child_helped': '437.67', 'children_helped_per_10k_eur': D('22.848'),
            'data_quality': {'no_coordinator': 1, 'no_plan': 1, 'no_assessment': 0},
            'extra_children_within_budget': 322,
        },
        'obligations': [(32, D('22.5919'), 'met'), (D('0.8148'), D('0.8148'), 'met'),
                        (D('0.9355'), D('0.9355'), 'met'), (53, D('37.4178'), 'met'),
                        ('437.67', '437.67', 'met'), (D(21), D(21), 'met')],
        'determination': {'trajectories_realised': 30, 'amount_determined': '150000.00',
                          'amount_difference': '0.00'},
    },
}
# Settlement lines checked by hand (reference -> registered, closed, reason, costs, realised).
SETTLEMENT = {
    'T-001': ('2011-06-06', '2011-11-30', 'goals_reached', '2851.00', True),
    'T-005': ('2011-06-27', '2012-02-28', 'goals_reached', '1550.00', True),
    'T-007': ('2011-07-11', '2011-09-02', 'dropped_out', '400.00', True),
    'T-008': ('2011-07-18', None, None, '500.00', True),
    'T-016': ('2011-09-26', '2011-10-31', 'referred', '200.00', True),
    'T-019': ('2011-10-10', '2012-03-09', 'other', '300.00', True),
    'T-031': ('2012-01-09', None, None, '500.00', False),
    'T-032': ('2012-01-16', None, None, '0.00', False),
}
# Series points of the 2011 report checked by hand:
# date -> (started, helped, closed, children_helped, costs_total)
SERIES_2011 = {
    '2011-01-31': (0, 0, 0, 0, '0.00'),
    '2011-05-31': (0, 0, 0, 0, '0.00'),
    '2011-06-30': (5, 3, 0, 6, '0.00'),
    '2011-07-31': (9, 6, 0, 14, '2200.00'),
    '2011-12-31': (30, 25, 10, 44, '20306.75'),
}


def load(t):
    t.succeeds(t.ctl('grant', 'load', t.example('grant.json')), 'grant load')
    for f in FILES:
        t.succeeds(t.ctl('import', '--grant', GRANT, t.example(f)), 'import ' + f)


def oracle_events():
    events = []
    for f in FILES:
        with open(tjtest.Test.example(f), newline='') as fh:
            events += oracle.parse_csv(fh.read(), len(events))
    return events


def report(t, *args):
    r = t.succeeds(t.ctl('report', '--grant', GRANT, '--format', 'json', *args),
                   'report ' + ' '.join(args))
    return json.loads(r.out, parse_float=Decimal)


def check_hand(t, got, rid):
    hand = HAND[rid]
    problems = oracle.diff(got['indicators'], hand['indicators'], '/indicators')
    t.eq(problems, [], rid + ': indicators as computed by hand')
    obs = [(o['value'], o['projection'], o['status']) for o in got['obligations']]
    t.eq([o['id'] for o in got['obligations']], ['P1', 'P2', 'P3', 'P4', 'P5', 'P6'],
         rid + ': obligations in grant order')
    want = [{'value': v, 'projection': p, 'status': s} for v, p, s in hand['obligations']]
    have = [{'value': v, 'projection': p, 'status': s} for v, p, s in obs]
    t.eq(oracle.diff(have, want, '/obligations'), [], rid + ': obligations by hand')
    if 'determination' in hand:
        det = got['determination']
        t.eq(oracle.diff(det, hand['determination'], '/determination'), [],
             rid + ': determination by hand')


def check_oracle(t, got, rid, as_of, kind):
    g = json.load(open(t.example('grant.json')))
    want = oracle.report(g, oracle_events(), as_of, kind=kind)
    problems = oracle.diff({k: got.get(k) for k in want}, want)
    t.eq(problems, [], rid + ': the whole report agrees with the oracle')


def test_example_loads(t):
    t.succeeds(t.ctl('grant', 'load', t.example('grant.json')), 'grant load')
    r = t.succeeds(t.ctl('import', '--grant', GRANT, t.example('events-2011.csv')), 'import 2011')
    t.ok('219 events of 30 trajectories' in r.out, 'import says 219 events of 30', r)
    r = t.succeeds(t.ctl('import', '--grant', GRANT, t.example('events-2012.csv')), 'import 2012')
    t.ok('33 events of 15 trajectories' in r.out, 'import says 33 events of 15', r)
    events = t.succeeds(t.ctl('events', '--grant', GRANT, '--json'), 'events').json()
    t.eq(len(events), 252, 'all events stored')
    t.eq(len({e['trajectory'] for e in events}), 32, '32 trajectories')


def test_q3_report(t):
    load(t)
    got = report(t, '--report', '2011-Q3')
    t.eq((got['report']['id'], got['report']['kind'], got['report']['as_of'],
          got['report']['due']), ('2011-Q3', 'progress', '2011-09-30', '2011-10-15'),
         'the calendar entry')
    check_hand(t, got, '2011-Q3')
    check_oracle(t, got, '2011-Q3', '2011-09-30', 'progress')


def test_year_report(t):
    load(t)
    got = report(t, '--report', '2011')
    check_hand(t, got, '2011')
    check_oracle(t, got, '2011', '2011-12-31', 'progress')
    pts = {p['date']: p for p in got['series']}
    t.eq(len(got['series']), 12, 'series: the 12 month ends of 2011')
    for d, (s, h, c, ch, costs) in SERIES_2011.items():
        p = pts.get(d, {})
        t.eq((p.get('trajectories_started'), p.get('trajectories_helped'),
              p.get('trajectories_closed'), p.get('children_helped'), p.get('costs_total')),
             (s, h, c, ch, costs), 'series point ' + d + ' by hand')
    t.eq(got['baseline'], {'cost_per_child': '7500.00', 'days_to_help': 42,
                           'indication_rate': Decimal('0.8')}, 'the baseline is carried')


def test_year_report_unchanged_by_2012_data(t):
    """The 2011 report known before the 2012 file came in has the same
    numbers as after: events dated after C do not count."""
    t.succeeds(t.ctl('grant', 'load', t.example('grant.json')), 'grant load')
    t.succeeds(t.ctl('import', '--grant', GRANT, t.example('events-2011.csv')), 'import 2011')
    k1 = max(e['recorded_at'] for e in
             t.succeeds(t.ctl('events', '--grant', GRANT, '--json'), 'events').json())
    t.succeeds(t.ctl('import', '--grant', GRANT, t.example('events-2012.csv')), 'import 2012')
    before = report(t, '--report', '2011', '--known-at', k1)
    after = report(t, '--report', '2011')
    t.eq(before['report']['known_at'], k1, 'known_at is the one asked for')
    for part in ('indicators', 'obligations', 'series'):
        t.eq(before[part], after[part], part + ' the same before and after the 2012 file')
    # the determination date, known after 2011 only: 2012 events missing
    early = report(t, '--as-of', '2012-05-31', '--known-at', k1)
    t.eq(early['indicators']['trajectories_started'], 30, 'T-031, T-032 not yet known')
    t.eq(early['indicators']['trajectories_closed'], 10, 'the 2012 closings not yet known')


def test_determination(t):
    load(t)
    got = report(t, '--report', 'determination')
    t.eq((got['report']['kind'], got['report']['as_of'], got['report']['due']),
         ('determination', '2012-05-31', '2012-06-30'), 'the determination request')
    check_hand(t, got, 'determination')
    check_oracle(t, got, 'determination', '2012-05-31', 'determination')
    lines = {s['reference']: s for s in got['determination']['settlement']}
    t.eq(sorted(lines), ['T-%03d' % i for i in range(1, 33)], 'one line per trajectory')
    for ref, (reg, closed, reason, costs, realised) in SETTLEMENT.items():
        s = lines[ref]
        t.eq((s['registered'], s['closed'], s['closing_reason'], s['amount'], s['costs_total'],
              s['realised']), (reg, closed, reason, '5000.00', costs, realised),
             'settlement line ' + ref)
    total = sum(Decimal(s['costs_total']) for s in lines.values())
    t.eq(total, Decimal(got['indicators']['costs_total']), 'the lines add up to costs_total')


def test_example_is_what_the_readme_says(t):
    """examples/README.md and docs/example.md quote these counts."""
    with open(t.example('events-2011.csv'), newline='') as f:
        rows = f.read().splitlines()
    t.eq(rows[0], 'trajectory,date,event,value', 'header')
    t.eq(len(rows) - 1, 219, 'events-2011.csv has 219 events')
    t.ok(all(r.split(',')[1] <= '2011-12-31' for r in rows[1:]), 'all dated 2011')


tjtest.main(globals())
