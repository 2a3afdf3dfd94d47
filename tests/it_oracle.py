"""Randomized differential test: the real engine against tests/oracle.py.

For many seeds (deterministic: seed n always makes the same case) this
generates a grant decision and a VALID event history full of edge cases
(empty grants, even and odd helped counts, same-date corrections of
children and assessment, corrections recorded in a later file, costs after
closing, escalations without help, registrations before and after the
period, events after the reference date), loads them with the real
`trajectctl grant load` and `trajectctl import` (one to three files), voids
a few events with `trajectctl void`, and then compares
`trajectctl report --format json` field by field with the oracle for
several reference dates C and knowledge times K (after the first file,
before the voids, now) and for the calendar's reports (including
determination requests). Each report is also made as XML, which must
carry exactly the JSON's content and be valid against
reports/trajectd-report-2.xsd (one xmllint run per seed).

A mismatch prints the seed, the command, and one line per differing field.
Rerun one case with TJ_SEEDS=17 (comma-separated list) and keep its
database with TJ_KEEP=1. TJ_SEED_COUNT changes the number of seeds.
"""
import datetime
import json
import os
import random
import re
import string
import sys
from decimal import Decimal
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402
import tjtest  # noqa: E402

DAY = datetime.timedelta(days=1)
SEED_COUNT = int(os.environ.get('TJ_SEED_COUNT', '50'))
GROUPS = 5  # test functions; each gets one database for its share of seeds
SCALAR_INDICATORS = (
    'trajectories_started', 'trajectories_helped', 'trajectories_closed',
    'trajectories_active', 'children_helped', 'indications_needed',
    'indications_requested', 'indications_avoided', 'indication_avoidance_rate',
    'escalations', 'heavier_care_avoided_rate', 'median_days_to_help',
    'p90_days_to_help', 'costs_total', 'amount_committed', 'amount_settled',
    'budget_remaining', 'cost_per_child_helped', 'children_helped_per_10k_eur',
    'extra_children_within_budget')
OPS = ('>=', '<=', '>', '<', '==')
REF_CHARS = string.ascii_letters + string.digits + '._-'


def cents(n):
    return '%d.%02d' % (n // 100, n % 100)


def seeds():
    if os.environ.get('TJ_SEEDS'):
        return [int(s) for s in os.environ['TJ_SEEDS'].split(',')]
    return list(range(1, SEED_COUNT + 1))


# --- generating a case ----------------------------------------------------------
class Case:
    """One generated grant: its document, its files and what to check."""

    def __init__(self, seed):
        self.seed = seed
        self.rng = random.Random(seed)
        self.gid = 'R%04d' % seed
        self.features = set()
        self.xml = []  # the XML reports made, validated together
        self.make_period()
        self.make_events()
        self.make_files()
        self.make_dates()
        self.make_grant()
        self.void_picks = self.pick_voids()
        self.make_correction()

    def make_period(self):
        rng = self.rng
        self.start = datetime.date(2011, 1, 1) + rng.choice(
            [0, 0, rng.randrange(0, 330)]) * DAY
        self.end = self.start + rng.choice([0, rng.randrange(20, 400), 364]) * DAY

    def make_events(self):
        rng = self.rng
        n = rng.choice([0, rng.randrange(1, 6), rng.randrange(1, 12), rng.randrange(8, 36)])
        if n == 0:
            self.features.add('empty grant')
        length = (self.end - self.start).days
        refs = set()
        while len(refs) < n:
            if rng.random() < 0.7:
                refs.add('T-%03d' % rng.randrange(1, 1000))
            else:  # any reference the format allows, but no possible BSN
                ref = rng.choice(string.ascii_letters) + ''.join(
                    rng.choice(REF_CHARS) for _ in range(rng.randrange(0, 12)))
                if not re.search('[0-9]{9}', ref):
                    refs.add(ref)
        self.trajectories = {}
        for ref in sorted(refs):
            reg = self.start + rng.randrange(-30, length + 60) * DAY
            if reg > self.end:
                self.features.add('registered after the period')
            if reg < self.start:
                self.features.add('registered before the period')
            self.trajectories[ref] = self.trajectory(reg)

    def trajectory(self, reg):
        """(date, event, value, late) tuples of one valid trajectory; late
        marks a correction that the case system exports in a later file
        ('same date' or 'later date' than the value it corrects)."""
        rng = self.rng
        ev = [(reg, 'registered', '', False)]

        def after(lo, hi):
            return reg + rng.randrange(lo, hi) * DAY

        if rng.random() < 0.85:
            ev.append((after(0, 5), 'coordinator', 'coach-%02d' % rng.randrange(1, 9), False))
            if rng.random() < 0.1:
                ev.append((after(5, 90), 'coordinator', 'coach-%02d' % rng.randrange(1, 9), False))
        for kind, values in (('children', None), ('assessed', ('needs_indication', 'no_indication'))):
            if rng.random() < 0.85:
                d = after(0, 10)
                v = values and rng.choice(values) or str(rng.choice([1, 1, 2, 2, 3, 4, 20]))
                ev.append((d, kind, v, False))
                if rng.random() < 0.3:  # a correction, sometimes on the same date
                    d2 = d if rng.random() < 0.5 else after(0, 80)
                    v2 = values and rng.choice(values) or str(rng.randrange(1, 6))
                    late = rng.random() < 0.4 and ('same date' if d2 == d else 'later date')
                    ev.append((d2, kind, v2, late))
                    if d2 == d:
                        self.features.add('same-date %s correction' % kind)
        if rng.random() < 0.8:
            ev.append((after(0, 30), 'plan', '', False))
        helped = rng.random() < 0.7
        if helped:
            ev.append((after(0, 60), 'help_started', '', False))
        if rng.random() < 0.15:
            ev.append((after(0, 90), 'indication_requested', '', False))
        if rng.random() < 0.12:
            ev.append((after(0, 120), 'escalated',
                       rng.choice(('residential', 'foster_care', 'day_treatment', 'other')), False))
            if not helped:
                self.features.add('escalation without help')
        for _ in range(rng.choice([0, 0, 1, 2, 4])):
            amount = rng.choice([rng.randrange(1, 300001), 45000, 120050, 1])
            ev.append((after(0, 200), 'cost', cents(amount), False))
        if rng.random() < 0.5:
            last = max(d for d, k, _, _ in ev if k != 'cost')
            closed = last + rng.randrange(0, 60) * DAY
            ev.append((closed, 'closed',
                       rng.choice(('goals_reached', 'referred', 'dropped_out', 'moved', 'other')),
                       False))
            if rng.random() < 0.3:
                ev.append((closed + rng.randrange(0, 40) * DAY, 'cost',
                           cents(rng.randrange(1, 90001)), False))
            if any(k == 'cost' and d > closed for d, k, _, _ in ev):
                self.features.add('cost after closing')
        return ev

    def make_files(self):
        """Split the history into 1-3 weekly-export-like files by date; late
        corrections go into the file after their date's; lines shuffled."""
        rng = self.rng
        rows = [(d, ref, k, v, late) for ref, evs in self.trajectories.items()
                for d, k, v, late in evs]
        nfiles = rng.choice([1, 2, 3]) if rows else 0
        dates = sorted({r[0] for r in rows})
        cuts = sorted(rng.sample(dates, min(nfiles - 1, max(len(dates) - 1, 0)))) if rows else []
        files = [[] for _ in range(len(cuts) + 1)]
        for d, ref, k, v, late in sorted(rows, key=lambda r: (r[0], r[1], r[2] != 'registered')):
            i = sum(1 for c in cuts if d > c)
            if late and i + 1 < len(files):
                i += 1
                self.features.add('correction recorded in a later file')
                if late == 'same date':
                    self.features.add('same-date correction in a later file')
            files[i].append((ref, d.isoformat(), k, v))
        self.files = [f for f in files if f]
        for f in self.files:
            if rng.random() < 0.5:
                rng.shuffle(f)  # line order must not matter, except for ties
        if len(self.files) > 1:
            self.features.add('several files')
        # the oracle's events in recording order: file by file, line by line
        self.events = oracle.events_from([r for f in self.files for r in f])

    def make_dates(self):
        """Reference dates: before, at the start, inside, at the end of and
        after the period, a month end, the last event date, and an event
        date plus 14 days (the no_plan boundary)."""
        rng = self.rng
        length = (self.end - self.start).days
        cs = {self.start - rng.randrange(1, 20) * DAY, self.start, self.end,
              self.start + rng.randrange(0, length + 1) * DAY,
              self.end + rng.randrange(1, 200) * DAY}
        me = datetime.date(self.end.year, self.end.month, 1) - DAY
        if me >= self.start:
            cs.add(me)
        if self.events:
            cs.add(max(e.date for e in self.events))
            cs.add(rng.choice(self.events).date)
            # the edge of the 14 days without a plan
            cs.add(rng.choice(self.events).date + 14 * DAY)
        self.dates = sorted(cs)
        if self.events and max(e.date for e in self.events) > self.dates[0]:
            self.features.add('events after C')

    def make_grant(self):
        rng = self.rng
        target = rng.randrange(1, 41)
        per = rng.choice([500000, rng.randrange(1, 900001)])
        doc = {'id': self.gid, 'title': 'random case %d' % self.seed,
               'grantor': 'Provincie %d' % self.seed, 'grantee': 'Gemeente Test',
               'decision_date': (self.start - 10 * DAY).isoformat(),
               'period': {'start': self.start.isoformat(), 'end': self.end.isoformat()}}
        mode = rng.random()
        if mode < 0.4:  # amount_per_trajectory left to its default
            doc['amount_granted'] = cents(per * target)
        elif mode < 0.8:
            doc['amount_granted'] = cents(per * target)
            doc['amount_per_trajectory'] = cents(per)
        else:  # a per-trajectory amount that does not divide the grant
            doc['amount_granted'] = cents(rng.randrange(0, 20000001))
            doc['amount_per_trajectory'] = cents(per)
        doc['target_trajectories'] = target
        if rng.random() < 0.7:
            doc['baseline'] = {
                'cost_per_child': cents(rng.choice([750000, rng.randrange(1, 1000001), 0])),
                'days_to_help': rng.choice([42, rng.randrange(0, 90)]),
                'indication_rate': Decimal(rng.choice(['0.8', '0.5', '1', '0', '0.6667']))}
        self.grant = oracle.Grant(doc)  # for the oracle values used as targets
        doc['obligations'] = [self.obligation(i) for i in range(rng.choice([0, 2, 5, 8]))]
        reports = []
        has_determination = rng.random() < 0.7  # a grant has at most one
        for i, c in enumerate(rng.sample(self.dates, min(len(self.dates), rng.randrange(1, 4)))):
            kind = 'determination' if i == 0 and has_determination else 'progress'
            reports.append({'id': '%s-%d' % (kind[:3], i), 'kind': kind, 'as_of': c.isoformat(),
                            'due': (c + rng.randrange(0, 40) * DAY).isoformat()})
        doc['reports'] = reports
        self.doc = doc
        self.grant = oracle.Grant(doc)
        self.text = oracle.dumps(doc) + '\n'

    def obligation(self, i):
        rng = self.rng
        name = rng.choice(SCALAR_INDICATORS)
        due = rng.choice(self.dates + [self.end, self.start + rng.randrange(0, 500) * DAY])
        value = oracle.indicators(self.grant, self.events, due)[name]
        before = [c for c in self.dates if self.start <= c < due]
        if name in oracle.CUMULATIVE and before and rng.random() < 0.3:
            # the target is the projection from some C, rounded as the report
            # shows it: only the exact comparison tells on_track from at_risk
            c = rng.choice(before)
            v = Fraction(Decimal(oracle.indicators(self.grant, self.events, c)[name]))
            proj = v * ((due - self.start).days + 1) / ((c - self.start).days + 1)
            target = (oracle.money(proj) if name in oracle.MONEY
                      else oracle.trim(oracle.round_half_away(proj, 4)))
            self.features.add('target on a rounded projection')
        elif value is not None and rng.random() < 0.35:
            target = value  # hits the boundary of the comparison
            if name in oracle.MONEY and Decimal(value) < 0:
                target = '0.00'
        elif name in oracle.MONEY:
            target = cents(rng.randrange(0, 3000001))
        elif name in oracle.RATES:
            target = Decimal(rng.choice(['0', '0.25', '0.5', '0.6667', '0.8', '1', '12.5']))
        elif name in ('median_days_to_help', 'p90_days_to_help'):
            target = Decimal(rng.randrange(0, 120)) / 2
        elif name == 'extra_children_within_budget':
            target = rng.randrange(-50, 2000)
        else:
            target = rng.randrange(0, 40)
        return {'id': 'P%d' % (i + 1), 'indicator': name, 'op': rng.choice(OPS),
                'target': target, 'due': due.isoformat(),
                'description': 'obligation %d on %s' % (i + 1, name)}

    def pick_voids(self):
        """Indexes of events to void: only events whose (trajectory, date,
        event, value) is unique, so that `events --json` names them."""
        rng = self.rng
        if not self.events or rng.random() < 0.4:
            return []
        keys = {}
        for i, e in enumerate(self.events):
            keys.setdefault(key(e), []).append(i)
        unique = [ix[0] for ix in keys.values() if len(ix) == 1]
        picks = rng.sample(unique, min(len(unique), rng.randrange(1, 4)))
        if rng.random() < 0.3:  # the registration itself: the trajectory disappears
            regs = [i for i in unique if self.events[i].event == 'registered']
            if regs:
                picks.append(rng.choice(regs))
        picks = sorted(set(picks))
        if picks:
            self.features.add('voids')
        if any(self.events[i].event == 'registered' for i in picks):
            self.features.add('void of a registration')
        return picks

    def make_correction(self):
        """A correction as an administrator makes it: void a wrong
        registration (or closing) and import the right one in a new file."""
        rng = self.rng
        self.fix_voids, self.fix_rows = [], []
        if not self.events or rng.random() < 0.6:
            return
        gone = {self.events[i].trajectory for i in self.void_picks
                if self.events[i].event == 'registered'}
        voided = set(self.void_picks)
        live = [i for i, e in enumerate(self.events) if i not in voided
                and e.event in ('registered', 'closed') and e.trajectory not in gone]
        for i in rng.sample(live, min(len(live), rng.randrange(1, 3))):
            e = self.events[i]
            if e.event == 'registered':  # it was earlier: no event before it
                d = e.date - rng.randrange(1, 15) * DAY
                row = (e.trajectory, d.isoformat(), 'registered', '')
                self.features.add('registration corrected')
            else:  # closed later, for another reason: nothing but costs after it
                last = max(x.date for j, x in enumerate(self.events)
                           if x.trajectory == e.trajectory and j not in voided
                           and x.event not in ('cost', 'closed'))
                d = max(e.date, last) + rng.randrange(0, 30) * DAY
                reasons = [r for r in oracle.CLOSE_REASONS if r != e.value]
                row = (e.trajectory, d.isoformat(), 'closed', rng.choice(reasons))
                self.features.add('closing corrected')
            self.fix_voids.append(i)
            self.fix_rows.append(row)

    def csv(self, i):
        return 'trajectory,date,event,value\n' + ''.join(
            '%s,%s,%s,%s\n' % r for r in self.files[i])

    def coverage(self):
        """Edge cases this case exercises at its reference dates."""
        f = set(self.features)
        for c in self.dates:
            n = oracle.indicators(self.grant, self.events, c)['trajectories_helped']
            if n:
                f.add('odd helped count' if n % 2 else 'even helped count')
        for s in self.doc['reports']:
            if s['kind'] == 'determination':
                f.add('determination')
        return f


def key(e):
    return (e.trajectory, e.date.isoformat(), e.event, e.value)


# --- driving the engine -------------------------------------------------------------
def run_case(t, case):
    gid = case.gid
    t.succeeds(t.ctl('grant', 'load', t.write(gid + '.json', case.text)), gid + ': grant load')
    known = []  # recorded_at of each file, in order
    for i in range(len(case.files)):
        path = t.write('%s-%d.csv' % (gid, i), case.csv(i))
        t.succeeds(t.ctl('import', '--grant', gid, path), '%s: import file %d' % (gid, i))
        stored = t.succeeds(t.ctl('events', '--grant', gid, '--json'), gid + ': events').json()
        known.append(max(e['recorded_at'] for e in stored))
    stored = t.succeeds(t.ctl('events', '--grant', gid, '--json'), gid + ': events').json()
    t.eq(len(stored), len(case.events), '%s: every event stored' % gid)
    ids = {}
    for e in sorted(stored, key=lambda e: e['id']):
        ids.setdefault((e['trajectory'], e['date'], e['event'], e['value']), []).append(e['id'])
    def void(picks):
        for i in picks:
            (eid,) = ids[key(case.events[i])]
            t.succeeds(t.ctl('void', '--grant', gid, eid, '--reason',
                             'seed %d correction' % case.seed), '%s: void event %d' % (gid, eid))

    void(case.void_picks)
    voided = case.void_picks + case.fix_voids
    events = case.events
    if case.fix_rows:
        void(case.fix_voids)
        stored = t.succeeds(t.ctl('events', '--grant', gid, '--json'), gid + ': events').json()
        voided_at = max(e['voided_at'] for e in stored if e['voided'])
        path = t.write(gid + '-fix.csv', 'trajectory,date,event,value\n' + ''.join(
            '%s,%s,%s,%s\n' % r for r in case.fix_rows))
        t.succeeds(t.ctl('import', '--grant', gid, path), gid + ': import the corrections')
        events = case.events + oracle.events_from(case.fix_rows)
        for e in events[len(case.events):]:
            e.seq += len(case.events)
    rng = random.Random(case.seed * 7919)

    # every reference date, now (after the voids and corrections)
    for c in case.dates:
        check(t, case, c, None, events, voided)
    # before the voids: K = the time the last file was recorded
    if voided:
        for c in rng.sample(case.dates, 2):
            check(t, case, c, known[-1], case.events, ())
    # between the voids of a correction and the import of the right events
    if case.fix_rows:
        for c in rng.sample(case.dates, 2):
            check(t, case, c, voided_at, case.events, voided)
    # after the first file only
    if len(known) > 1:
        first = oracle.events_from(case.files[0])
        for c in rng.sample(case.dates, 2):
            check(t, case, c, known[0], first, ())
    # the calendar: --report uses its as_of, kind and due
    for rep in case.doc['reports']:
        check(t, case, oracle.date(rep['as_of']), None, events, voided, rep)
    # every XML made above, in one xmllint run
    tjtest.xmllint(t, 'seed %d: the XML reports' % case.seed, paths=case.xml)


def check(t, case, c, k, events, voided, rep=None):
    args = ['report', '--grant', case.gid, '--format', 'json']
    args += ['--report', rep['id']] if rep else ['--as-of', c.isoformat()]
    if k:
        args += ['--known-at', k]
    r = t.ctl(*args)
    what = 'seed %d: trajectctl %s' % (case.seed, ' '.join(args))
    t.ok(r.rc == 0, what + ' (exit 0)', r)
    got = json.loads(r.out, parse_float=Decimal)
    # the same report (at the same K) as XML: the JSON's content, checked
    # against the XSD in run_case
    xargs = args[:4] + ['xml'] + args[5:]
    if not k:
        xargs += ['--known-at', got['report']['known_at']]
    x = t.ctl(*xargs)
    t.ok(x.rc == 0, what + ' --format xml (exit 0)', x)
    tjtest.xml_carries_json(t, what + ' --format xml', x.out, r.out)
    case.xml.append(t.write('%s-%d.xml' % (case.gid, len(case.xml)), x.out))
    kind = rep['kind'] if rep else 'progress'
    want = oracle.report(case.grant, events, c, voided, kind=kind)
    problems = compare(got, want, case, c, k, rep)
    if len(problems) > 40:
        problems[40:] = ['... and %d more' % (len(problems) - 40)]
    t.ok(not problems, '%s: differs from the oracle (TJ_SEEDS=%d reruns it):\n  %s' % (
        what, case.seed, '\n  '.join(problems)))


def compare(got, want, case, c, k, rep):
    out = []
    allowed = {'schema', 'grant', 'report', 'indicators', 'baseline', 'obligations',
               'series', 'determination'}
    extra = sorted(set(got) - allowed)
    if extra:
        out.append('/: unexpected keys %s' % extra)
    if 'baseline' in got and 'baseline' not in want:
        out.append('/baseline: present, but the grant has no baseline')
    if 'determination' in got and 'determination' not in want:
        out.append('/determination: present in a progress report')
    out += oracle.diff({k2: got.get(k2) for k2 in want}, want)
    ind = got.get('indicators') or {}
    extra = sorted(set(ind) - set(oracle.INDICATOR_ORDER))
    if extra:
        out.append('/indicators: unexpected keys %s' % extra)
    g = got.get('grant') or {}
    doc = case.doc
    out += oracle.diff(g, {
        'id': doc['id'], 'grantor': doc['grantor'], 'grantee': doc['grantee'],
        'period': doc['period'], 'amount_granted': doc['amount_granted'],
        'amount_per_trajectory': oracle.money(case.grant.per),
        'target_trajectories': doc['target_trajectories']}, '/grant')
    rpt = got.get('report') or {}
    out += oracle.diff(rpt, {
        'id': rep['id'] if rep else None, 'kind': rep['kind'] if rep else 'progress',
        'as_of': c.isoformat(), 'due': rep['due'] if rep else None}, '/report')
    if k and rpt.get('known_at') != k:
        out.append('/report/known_at: got %r, want %r' % (rpt.get('known_at'), k))
    return out


def run_group(t, g):
    mine = [s for i, s in enumerate(seeds()) if i % GROUPS == g]
    for s in mine:
        run_case(t, Case(s))


def test_random_0(t):
    run_group(t, 0)


def test_random_1(t):
    run_group(t, 1)


def test_random_2(t):
    run_group(t, 2)


def test_random_3(t):
    run_group(t, 3)


def test_random_4(t):
    run_group(t, 4)


def test_generator_covers_the_edge_cases(t):
    """The seeds together must exercise every edge case the brief lists,
    or the differential test proves less than it claims."""
    seen = set()
    for s in seeds():
        seen |= Case(s).coverage()
    if os.environ.get('TJ_SEEDS'):
        t.ok(True, 'coverage not checked for a chosen seed list')
        return
    for f in ('empty grant', 'even helped count', 'odd helped count',
              'same-date children correction', 'same-date assessed correction',
              'same-date correction in a later file', 'correction recorded in a later file',
              'cost after closing', 'escalation without help', 'registered after the period',
              'registered before the period', 'events after C', 'several files', 'voids',
              'void of a registration', 'determination', 'registration corrected',
              'closing corrected', 'target on a rounded projection'):
        t.ok(f in seen, 'some seed has: ' + f, sorted(seen))


def test_oracle_self_check(t):
    """The oracle's own hand-computed cases (python3 tests/oracle.py)."""
    problems = oracle._selfcheck()
    t.eq(problems, [], 'oracle self-check')


tjtest.main(globals())
