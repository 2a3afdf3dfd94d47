"""An independent oracle of the trajectd milestone indicators.

This is a second, deliberately naive implementation of
../shared/spec/indicators.md (and the report shape of formats.md), written
from the specification alone in plain Python (stdlib only), so that the real
engine (SQL + C) can be checked against it by tests/it_oracle.py and
tests/it_example.py. It favours obviousness over speed: every indicator is
recomputed from the raw event list for every reference date.

Exactness: money is decimal.Decimal, ratios are fractions.Fraction, and every
rounding is half away from zero done by hand on exact fractions, so no binary
floating point is involved anywhere.

The knowledge time K is modelled by the caller: pass exactly the events
recorded at or before K (in recording order) and the indexes of those voided
by a correction recorded at or before K.

Decisions where the specification is silent (the project's, see
docs/example.md): children/assessment = latest by date, then by recording
order; rates are rounded to 4 decimals and spelled trimmed (0.5, 1, 0.6667);
p90 is percentile_cont(0.9) rounded to 1 decimal; a cumulative projection is
value * days(start, D) / days(start, C), compared exactly and reported
rounded to 4 decimals (money: to cents); from the due date on the reported
(rounded) value is compared; no_plan needs C - registered > 14 days;
extra_children_within_budget uses the rounded cost_per_child_helped.

Run `python3 tests/oracle.py` for its self-check on small hand-computed cases.
"""
import csv
import datetime
import io
import json
from decimal import Decimal
from fractions import Fraction

CLOSE_REASONS = ('goals_reached', 'referred', 'dropped_out', 'moved', 'other')
CUMULATIVE = ('trajectories_started', 'trajectories_helped', 'trajectories_closed',
              'children_helped', 'indications_avoided', 'costs_total')
MONEY = ('costs_total', 'amount_committed', 'amount_settled', 'budget_remaining',
         'cost_per_child_helped')
RATES = ('indication_avoidance_rate', 'heavier_care_avoided_rate',
         'children_helped_per_10k_eur')
# The indicators object in the order of the table in indicators.md.
INDICATOR_ORDER = (
    'trajectories_started', 'trajectories_helped', 'trajectories_closed',
    'trajectories_active', 'closed_by_reason', 'children_helped', 'indications_needed',
    'indications_requested', 'indications_avoided', 'indication_avoidance_rate',
    'escalations', 'heavier_care_avoided_rate', 'median_days_to_help', 'p90_days_to_help',
    'costs_total', 'amount_committed', 'amount_settled', 'budget_remaining',
    'cost_per_child_helped', 'children_helped_per_10k_eur', 'data_quality',
    'extra_children_within_budget')
SERIES_KEYS = ('trajectories_started', 'trajectories_helped', 'trajectories_closed',
               'children_helped', 'costs_total')


# --- small exact helpers ----------------------------------------------------
def date(s):
    return datetime.date.fromisoformat(s) if isinstance(s, str) else s


def round_half_away(x, places):
    """Round the exact number x (Fraction/int/Decimal) half away from zero."""
    q = Fraction(x) * (10 ** places)
    sign = -1 if q < 0 else 1
    n = (abs(q) + Fraction(1, 2)).__floor__()
    return Decimal(sign * n).scaleb(-places)


def money(x):
    """Exact money (cents) as the report spells it: '1234.50'."""
    return str(round_half_away(x, 2).quantize(Decimal('0.01')))


def rate(x):
    """A rate: 4 decimals, half away from zero, trailing zeros trimmed."""
    return trim(round_half_away(x, 4))


def trim(d):
    """Decimal without trailing fractional zeros (1.5000 -> 1.5, 2.0 -> 2)."""
    d = Decimal(d)
    if d == d.to_integral_value():
        return Decimal(int(d))
    return d.normalize()


def dumps(v, indent=2, _level=0):
    """JSON text of an oracle value with Decimals spelled exactly (for the
    docs and for failure messages); keys keep their order."""
    pad = ' ' * (indent * (_level + 1))
    end = ' ' * (indent * _level)
    if isinstance(v, dict):
        if not v:
            return '{}'
        items = ['%s%s: %s' % (pad, json.dumps(k), dumps(x, indent, _level + 1))
                 for k, x in v.items()]
        return '{\n' + ',\n'.join(items) + '\n' + end + '}'
    if isinstance(v, list):
        if not v:
            return '[]'
        items = [pad + dumps(x, indent, _level + 1) for x in v]
        return '[\n' + ',\n'.join(items) + '\n' + end + ']'
    if isinstance(v, Decimal):
        return str(v)
    return json.dumps(v, ensure_ascii=False)


# --- the grant ----------------------------------------------------------------
class Grant:
    """The fields of a grant decision (formats.md) that the indicators use."""

    def __init__(self, doc):
        self.doc = doc
        self.id = doc['id']
        self.start = date(doc['period']['start'])
        self.end = date(doc['period']['end'])
        self.granted = Decimal(doc['amount_granted'])
        self.target = int(doc['target_trajectories'])
        if 'amount_per_trajectory' in doc:
            self.per = Decimal(doc['amount_per_trajectory'])
        else:
            per = Fraction(self.granted) / self.target
            if (per * 100).denominator != 1:
                raise ValueError('amount_granted / target_trajectories is not whole cents')
            self.per = Decimal(per.numerator) / Decimal(per.denominator)
        self.baseline = doc.get('baseline')
        self.obligations = doc.get('obligations', [])
        self.reports = doc.get('reports', [])

    def baseline_cost(self):
        if not self.baseline or self.baseline.get('cost_per_child') is None:
            return None
        return Decimal(self.baseline['cost_per_child'])


# --- events -------------------------------------------------------------------
class Event:
    """One event as the case system exports it; seq = recording order."""

    __slots__ = ('trajectory', 'date', 'event', 'value', 'seq')

    def __init__(self, trajectory, date_, event, value, seq):
        self.trajectory = trajectory
        self.date = date(date_)
        self.event = event
        self.value = value if value not in ('', None) else None
        self.seq = seq

    def __repr__(self):
        return 'Event(%s %s %s %s #%d)' % (self.trajectory, self.date, self.event,
                                           self.value, self.seq)


def parse_csv(text, first_seq=0):
    """Events of one CSV file (formats.md), in line (= recording) order."""
    rows = list(csv.reader(io.StringIO(text.lstrip('\ufeff'), newline='')))
    if rows[0] != ['trajectory', 'date', 'event', 'value']:
        raise ValueError('bad header %r' % rows[0])
    out = []
    for r in rows[1:]:
        if not r:
            continue
        out.append(Event(r[0], r[1], r[2], r[3], first_seq + len(out)))
    return out


def events_from(rows):
    """Events from (trajectory, date, event, value) tuples in recording order."""
    return [Event(t, d, e, v, i) for i, (t, d, e, v) in enumerate(rows)]


# --- per trajectory at C --------------------------------------------------------
class State:
    def __init__(self, ref):
        self.ref = ref
        self.registered = None
        self.children = 1
        self.assessment = None
        self.help_date = None
        self.indication_requested = False
        self.escalated = False
        self.closed_date = None
        self.reason = None
        self.coordinator = False
        self.plan = False
        self.costs = Decimal('0.00')

    @property
    def helped(self):
        return self.help_date is not None

    @property
    def days_to_help(self):
        return (self.help_date - self.registered).days


def states(events, C, voided=()):
    """The trajectories that exist at C, keyed by reference."""
    C = date(C)
    voided = set(voided)
    seen = [e for i, e in enumerate(events) if i not in voided and e.date <= C]
    by_ref = {}
    for e in seen:
        by_ref.setdefault(e.trajectory, []).append(e)
    out = {}
    for ref, evs in by_ref.items():
        regs = [e for e in evs if e.event == 'registered']
        if not regs:
            continue  # without a visible registered it does not exist at C
        assert len(regs) == 1, 'two registered events for %s' % ref
        s = State(ref)
        s.registered = regs[0].date

        def latest(kind):
            xs = [e for e in evs if e.event == kind]
            return max(xs, key=lambda e: (e.date, e.seq)) if xs else None

        ch = latest('children')
        if ch:
            s.children = int(ch.value)
        a = latest('assessed')
        if a:
            s.assessment = a.value
        for e in evs:
            if e.event == 'help_started':
                assert s.help_date is None, 'two help_started for %s' % ref
                s.help_date = e.date
            elif e.event == 'indication_requested':
                s.indication_requested = True
            elif e.event == 'escalated':
                s.escalated = True
            elif e.event == 'closed':
                assert s.closed_date is None, 'two closed for %s' % ref
                s.closed_date, s.reason = e.date, e.value
            elif e.event == 'coordinator':
                s.coordinator = True
            elif e.event == 'plan':
                s.plan = True
            elif e.event == 'cost':
                s.costs += Decimal(e.value)
        out[ref] = s
    return out


def percentile_cont(values, f):
    """PostgreSQL percentile_cont(f): linear interpolation between ranks."""
    v = sorted(values)
    pos = Fraction(f) * (len(v) - 1)
    lo = pos.__floor__()
    hi = pos.__ceil__()
    return Fraction(v[lo]) + (pos - lo) * (v[hi] - v[lo])


# --- indicators -------------------------------------------------------------------
def indicators(grant, events, C, voided=()):
    """The `indicators` object at C."""
    ts = states(events, C, voided).values()
    started = len(ts)
    helped = [s for s in ts if s.helped]
    closed = [s for s in ts if s.closed_date is not None]
    children_helped = sum(s.children for s in helped)
    needed = [s for s in ts if s.assessment == 'needs_indication']
    requested = [s for s in ts if s.indication_requested]
    avoided = [s for s in helped
               if s.assessment == 'needs_indication' and not s.indication_requested]
    escalations = [s for s in helped if s.escalated]
    days = [s.days_to_help for s in helped]
    costs = sum((s.costs for s in ts), Decimal('0.00'))
    committed = grant.per * started
    settled = grant.per * len(closed)
    cpc = round_half_away(Fraction(costs) / children_helped, 2) if children_helped else None
    base = grant.baseline_cost()
    if cpc and base:
        extra = ((Fraction(grant.granted) / Fraction(cpc)).__floor__()
                 - (Fraction(grant.granted) / Fraction(base)).__floor__())
    else:
        extra = None
    ind = {
        'trajectories_started': started,
        'trajectories_helped': len(helped),
        'trajectories_closed': len(closed),
        'trajectories_active': started - len(closed),
        'closed_by_reason': {r: sum(1 for s in closed if s.reason == r) for r in CLOSE_REASONS},
        'children_helped': children_helped,
        'indications_needed': len(needed),
        'indications_requested': len(requested),
        'indications_avoided': len(avoided),
        'indication_avoidance_rate':
            rate(Fraction(len(avoided), len(needed))) if needed else None,
        'escalations': len(escalations),
        'heavier_care_avoided_rate':
            rate(Fraction(len(helped) - len(escalations), len(helped))) if helped else None,
        'median_days_to_help': trim(round_half_away(percentile_cont(days, Fraction(1, 2)), 1))
        if days else None,
        'p90_days_to_help': trim(round_half_away(percentile_cont(days, Fraction(9, 10)), 1))
        if days else None,
        'costs_total': money(costs),
        'amount_committed': money(committed),
        'amount_settled': money(settled),
        'budget_remaining': money(grant.granted - committed),
        'cost_per_child_helped': money(cpc) if cpc is not None else None,
        'children_helped_per_10k_eur':
            rate(Fraction(children_helped * 10000) / Fraction(costs)) if costs else None,
        'data_quality': {
            'no_coordinator': sum(1 for s in ts if not s.coordinator),
            'no_plan': sum(1 for s in ts if not s.plan and (date(C) - s.registered).days > 14),
            'no_assessment': sum(1 for s in ts if s.assessment is None),
        },
        'extra_children_within_budget': extra,
    }
    assert tuple(ind) == INDICATOR_ORDER
    return ind


def _exact_value(name, ind):
    """The indicator as an exact Fraction for comparisons (None stays None)."""
    v = ind[name]
    if v is None:
        return None
    return Fraction(Decimal(v)) if isinstance(v, (str, Decimal)) else Fraction(v)


def _compare(a, op, b):
    return {'>=': a >= b, '<=': a <= b, '>': a > b, '<': a < b, '==': a == b}[op]


def obligations(grant, ind, C):
    """The `obligations` list at C, given the indicators at C."""
    C = date(C)
    out = []
    for ob in grant.obligations:
        name, op, D = ob['indicator'], ob['op'], date(ob['due'])
        target = Fraction(Decimal(str(ob['target'])))
        value = ind[name]
        exact = _exact_value(name, ind)
        if exact is None:
            projection, status = None, ('not_met' if C >= D else 'at_risk')
        else:
            if name in CUMULATIVE and C >= grant.start:
                proj = exact * ((D - grant.start).days + 1) / ((C - grant.start).days + 1)
                projection = money(proj) if name in MONEY else trim(round_half_away(proj, 4))
            else:
                proj, projection = exact, value
            if C >= D:
                status = 'met' if _compare(exact, op, target) else 'not_met'
            else:
                status = 'on_track' if _compare(proj, op, target) else 'at_risk'
        out.append({
            'id': ob['id'], 'indicator': name, 'description': ob.get('description'),
            'op': op,
            'target': money(Decimal(ob['target'])) if name in MONEY
            else trim(Decimal(str(ob['target']))),
            'due': ob['due'], 'value': value, 'projection': projection, 'status': status,
        })
    return out


def month_ends(start, C):
    """Month ends from the month of start, before C; then C itself."""
    start, C = date(start), date(C)
    points = []
    y, m = start.year, start.month
    while C >= start:
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        end = datetime.date(ny, nm, 1) - datetime.timedelta(days=1)
        if end >= C:
            break
        points.append(end)
        y, m = ny, nm
    points.append(C)
    return points


def series(grant, events, C, voided=()):
    out = []
    for d in month_ends(grant.start, C):
        ind = indicators(grant, events, d, voided)
        point = {'date': d.isoformat()}
        point.update({k: ind[k] for k in SERIES_KEYS})
        out.append(point)
    return out


def determination(grant, events, C, voided=()):
    ts = sorted(states(events, C, voided).values(), key=lambda s: s.ref)
    realised = sum(1 for s in ts if grant.start <= s.registered <= grant.end)
    determined = min(grant.granted, grant.per * realised)
    ind = indicators(grant, events, C, voided)
    return {
        'trajectories_realised': realised,
        # the financial part (schema 2): the indicators at C, repeated
        'amount_granted': money(grant.granted),
        'amount_committed': ind['amount_committed'],
        'amount_settled': ind['amount_settled'],
        'costs_total': ind['costs_total'],
        'amount_determined': money(determined),
        'amount_difference': money(grant.granted - determined),
        'settlement': [{
            'reference': s.ref,
            'registered': s.registered.isoformat(),
            'closed': s.closed_date.isoformat() if s.closed_date else None,
            'closing_reason': s.reason,
            'amount': money(grant.per),
            'costs_total': money(s.costs),
            'realised': grant.start <= s.registered <= grant.end,
        } for s in ts],
    }


def baseline(grant):
    b = grant.baseline
    if not b:
        return None
    out = {}
    if 'cost_per_child' in b:
        out['cost_per_child'] = money(Decimal(b['cost_per_child']))
    for k in ('days_to_help', 'indication_rate'):
        if k in b:
            out[k] = trim(Decimal(str(b[k])))
    return out


def report(grant_doc, events, C, voided=(), kind='progress'):
    """The computed parts of a report: what the engine must agree with."""
    grant = grant_doc if isinstance(grant_doc, Grant) else Grant(grant_doc)
    ind = indicators(grant, events, C, voided)
    out = {'indicators': ind}
    b = baseline(grant)
    if b is not None:
        out['baseline'] = b
    out['obligations'] = obligations(grant, ind, C)
    out['series'] = series(grant, events, C, voided)
    if kind == 'determination':
        out['determination'] = determination(grant, events, C, voided)
    return out


# --- comparing with the engine ----------------------------------------------------------
def diff(got, want, path=''):
    """Differences between a parsed engine report (json.loads with
    parse_float=Decimal) and the oracle's, as 'path: got X, want Y' lines.
    Money must be the exact string; counts ints; rates exact in value and
    in their trimmed spelling; other numbers equal in value."""
    out = []
    name = path.rsplit('/', 1)[-1]
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return ['%s: got %s, want an object' % (path or '/', _show(got))]
        for k in want:
            if k not in got:
                out.append('%s/%s: missing, want %s' % (path, k, _show(want[k])))
            else:
                out += diff(got[k], want[k], '%s/%s' % (path, k))
        return out
    if isinstance(want, list):
        if not isinstance(got, list):
            return ['%s: got %s, want a list' % (path, _show(got))]
        if len(got) != len(want):
            out.append('%s: %d items, want %d' % (path, len(got), len(want)))
        for i, (g, w) in enumerate(zip(got, want)):
            out += diff(g, w, '%s/%d' % (path, i))
        return out
    if want is None or isinstance(want, (str, bool)):
        ok = got == want and type(got) is type(want)
    elif isinstance(want, int):
        ok = type(got) is int and got == want
    else:  # Decimal: a JSON number
        ok = (type(got) in (int, Decimal)) and Decimal(got) == want
        if ok and name in RATES:
            ok = str(got) == str(want)  # the trimmed spelling (0.5, 1, 0.6667)
    if not ok:
        out.append('%s: got %s, want %s' % (path, _show(got), _show(want)))
    return out


def _show(v):
    """One-line spelling of a value in a difference message."""
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, dict):
        return '{' + ', '.join('%s: %s' % (json.dumps(k), _show(x)) for k, x in v.items()) + '}'
    if isinstance(v, list):
        return '[' + ', '.join(_show(x) for x in v) + ']'
    return json.dumps(v, ensure_ascii=False)


# --- self-check: small cases computed by hand ---------------------------------------------
def _selfcheck():
    failures = []

    def eq(got, want, what):
        if got != want or type(got) is not type(want):
            failures.append('%s: got %r, want %r' % (what, got, want))

    g = Grant({
        'id': 'G', 'grantor': 'P', 'grantee': 'M', 'decision_date': '2011-05-30',
        'period': {'start': '2011-01-01', 'end': '2011-12-31'},
        'amount_granted': '150000.00', 'target_trajectories': 30,
        'baseline': {'cost_per_child': '7500.00', 'days_to_help': 42, 'indication_rate': 0.8},
        'obligations': [
            {'id': 'P1', 'indicator': 'trajectories_started', 'op': '>=', 'target': 30,
             'due': '2011-12-31'},
            {'id': 'P2', 'indicator': 'indication_avoidance_rate', 'op': '>=', 'target': 0.5,
             'due': '2011-12-31'},
            {'id': 'P3', 'indicator': 'costs_total', 'op': '<=', 'target': '10.00',
             'due': '2011-12-31'},
            {'id': 'P4', 'indicator': 'median_days_to_help', 'op': '<=', 'target': 3,
             'due': '2011-06-30'},
        ],
        'reports': [],
    })
    eq(g.per, Decimal('5000'), 'default amount per trajectory')
    ev = events_from([
        ('A', '2011-06-01', 'registered', ''),
        ('A', '2011-06-01', 'children', '2'),
        ('A', '2011-06-01', 'children', '3'),       # same date: recorded later wins
        ('A', '2011-06-02', 'assessed', 'needs_indication'),
        ('A', '2011-06-03', 'help_started', ''),    # 2 days
        ('A', '2011-06-05', 'cost', '10.01'),
        ('B', '2011-06-10', 'registered', ''),
        ('B', '2011-06-10', 'coordinator', 'c1'),
        ('B', '2011-06-11', 'assessed', 'needs_indication'),
        ('B', '2011-06-11', 'plan', ''),
        ('B', '2011-06-15', 'help_started', ''),    # 5 days
        ('B', '2011-06-16', 'indication_requested', ''),
        ('B', '2011-06-20', 'escalated', 'residential'),
        ('B', '2011-06-30', 'closed', 'referred'),
        ('B', '2011-07-04', 'cost', '0.01'),        # after closing: still counts
        ('C', '2011-06-20', 'registered', ''),
        ('C', '2011-06-21', 'escalated', 'other'),  # escalated, never helped
        ('C', '2011-06-22', 'assessed', 'no_indication'),
        ('D', '2012-01-03', 'registered', ''),      # after the period
        ('D', '2012-01-04', 'help_started', ''),    # 1 day
    ])
    ind = indicators(g, ev, '2011-06-30')
    eq(ind['trajectories_started'], 3, 'started')
    eq(ind['trajectories_helped'], 2, 'helped')
    eq(ind['children_helped'], 4, 'children: 3 (A, same-date later) + 1 (B, default)')
    eq(ind['indications_needed'], 2, 'needed')
    eq(ind['indications_avoided'], 1, 'avoided (B requested)')
    eq(ind['indication_avoidance_rate'], Decimal('0.5'), 'avoidance rate trimmed')
    eq(ind['escalations'], 1, 'escalations: C is not helped')
    eq(ind['heavier_care_avoided_rate'], Decimal('0.5'), 'heavier care avoided')
    eq(ind['median_days_to_help'], Decimal('3.5'), 'median of 2 and 5')
    eq(ind['p90_days_to_help'], Decimal('4.7'), 'p90 of 2,5 = 2 + 0.9*3')
    eq(ind['costs_total'], '10.01', 'costs up to C (B cost is after C)')
    eq(ind['cost_per_child_helped'], '2.50', '10.01/4 = 2.5025 -> 2.50')
    eq(ind['children_helped_per_10k_eur'], Decimal('3996.004'),
       '4*10000/10.01 = 3996.003996 -> 3996.0040 trimmed')
    eq(ind['amount_committed'], '15000.00', 'committed')
    eq(ind['budget_remaining'], '135000.00', 'remaining')
    eq(ind['amount_settled'], '5000.00', 'settled')
    eq(ind['closed_by_reason'], {'goals_reached': 0, 'referred': 1, 'dropped_out': 0,
                                 'moved': 0, 'other': 0}, 'closed by reason')
    eq(ind['data_quality'], {'no_coordinator': 2, 'no_plan': 1, 'no_assessment': 0},
       'data quality: A registered 29 days before C, C only 10')
    eq(ind['extra_children_within_budget'], 60000 - 20, '150000/2.50 - 150000/7500')
    obs = obligations(g, ind, '2011-06-30')
    # P1: 3 * 365 / 181 = 6.0497..., at risk; P3: 10.01 * 365/181 = 20.1859 -> "20.19"
    eq([o['status'] for o in obs], ['at_risk', 'on_track', 'at_risk', 'not_met'], 'statuses')
    eq(obs[0]['projection'], Decimal('6.0497'), 'P1 projection')
    eq(obs[2]['projection'], '20.19', 'P3 money projection')
    eq(obs[3]['projection'], Decimal('3.5'), 'P4: not cumulative, the value')
    ind = indicators(g, ev, '2011-07-31')
    eq(ind['costs_total'], '10.02', 'cost after closing counts')
    eq(ind['data_quality']['no_plan'], 2, 'C registered 41 days before C')
    # voiding A's later children event: the earlier one (2) counts
    ind = indicators(g, ev, '2011-06-30', voided={2})
    eq(ind['children_helped'], 3, 'void of the later same-date children')
    ind = indicators(g, ev, '2011-06-30', voided={0})
    eq(ind['trajectories_started'], 2, 'void of registered: A does not exist')
    eq(ind['costs_total'], '0.00', 'nor do its costs')
    det = determination(g, ev, '2012-05-31')
    eq(det['trajectories_realised'], 3, 'D is after the period')
    eq(det['amount_determined'], '15000.00', 'determined')
    eq(det['amount_difference'], '135000.00', 'difference')
    eq([s['reference'] for s in det['settlement']], ['A', 'B', 'C', 'D'], 'settlement order')
    eq(det['settlement'][1]['closed'], '2011-06-30', 'B closed')
    eq(det['settlement'][1]['costs_total'], '0.01', 'B own costs')
    eq(det['settlement'][3]['realised'], False, 'D not realised')
    eq(month_ends('2011-01-01', '2011-03-31'),
       [datetime.date(2011, 1, 31), datetime.date(2011, 2, 28), datetime.date(2011, 3, 31)],
       'series on a month end')
    eq(month_ends('2011-01-15', '2011-03-10'),
       [datetime.date(2011, 1, 31), datetime.date(2011, 2, 28), datetime.date(2011, 3, 10)],
       'series in a month')
    eq(month_ends('2011-01-15', '2010-12-31'), [datetime.date(2010, 12, 31)],
       'series before the period')
    empty = indicators(g, [], '2011-12-31')
    eq(empty['median_days_to_help'], None, 'empty: median null')
    eq(empty['costs_total'], '0.00', 'empty: costs 0.00')
    eq(empty['cost_per_child_helped'], None, 'empty: cost per child null')
    eq(empty['extra_children_within_budget'], None, 'empty: extra null')
    obs = obligations(g, empty, '2011-12-31')
    eq([o['status'] for o in obs], ['not_met', 'not_met', 'met', 'not_met'], 'empty statuses')
    eq(obs[1]['projection'], None, 'null value: null projection')
    # rounding: half away from zero at the 5th decimal, and of p90
    eq(rate(Fraction(1, 3)), Decimal('0.3333'), '1/3')
    eq(rate(Fraction(2, 3)), Decimal('0.6667'), '2/3')
    eq(rate(Fraction(1, 32)), Decimal('0.0313'), '0.03125 rounds up')
    eq(rate(Fraction(1, 1)), Decimal('1'), '1 trimmed')
    eq(money(Fraction(1, 200)), '0.01', 'half a cent rounds up')
    eq(trim(round_half_away(percentile_cont([1, 2, 3, 4, 10], Fraction(9, 10)), 1)),
       Decimal('7.6'), 'p90 of 1,2,3,4,10: 4 + 0.6*6')
    eq(diff({'indication_avoidance_rate': Decimal('0.5000')},
            {'indication_avoidance_rate': Decimal('0.5')}),
       ['/indication_avoidance_rate: got 0.5000, want 0.5'], 'rates are compared spelled')
    return failures


if __name__ == '__main__':
    import sys
    problems = _selfcheck()
    for p in problems:
        print('FAIL', p)
    print('oracle self-check: %s' % ('%d failures' % len(problems) if problems else 'ok'))
    sys.exit(1 if problems else 0)
