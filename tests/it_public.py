"""The public version (trajectctl report --public): a property test over many
generated grants, and the command-line details.

For every generated grant (random or calendar period, amounts, obligations,
0-30 trajectories with random histories, family sizes corrected after help
started, sometimes nothing registered before the start) and several reference
dates, the full report and the public one (JSON, XML and HTML) are made at the
same knowledge time, with a random threshold T, and the public one is checked
against the full one and against every relation the document states
(docs/reports.md "The public version"):

- it carries no trajectory reference, no settlement line and no explanation;
- no count from 1 to T-1 is shown: every count is its true value (0 or >= T),
  "<T" (true value 1..T-1) or "x"; every other value is true or "x";
- started = closed + active and closed = the sum of closed_by_reason: a
  rule-aware attacker who knows the published cells and the rules themselves
  ("<T" is 1..T-1, and an "x" stands only where the rules put one) enumerates
  every assignment the rules would publish so; each withheld cell must keep at
  least two possible values (none can be worked out by subtraction);
- amounts, rates and medians computed from a withheld count are withheld;
- series: no two shown values of a cumulative field (the value at C included)
  differ by 1..T-1, and a withheld point is never pinned between two equal
  shown ones; for started, with realised = started at the period's end -
  started before its start, every level the attacker can pin (shown points,
  points pinned by their bounds, the count at the end) is 0 or >= T apart from
  the others (but the count at the end against the value at C: a known limit);
  the costs are shown at C only; started, helped and closed never fall in the
  full report (the attacker's bounds rely on it), children helped may;
- an obligation's value is its indicator's, and its projection and status go
  with it;
- the XML is valid against the XSD and (parsed) carries every cell of the
  JSON with the same value or marker; the HTML is well-formed (xmllint --noout), its table of all
  indicators, its tiles and realised show what the XML shows, and its chart
  has one dot per shown series value.
TJ_PUBLIC_SEEDS=N sets the number of grants (default 48); TJ_PUBLIC_SEED=s
reruns one.
"""
import datetime
import json
import os
import random
import re
import subprocess
import xml.etree.ElementTree as ET

import tjtest

XSD = os.path.join(tjtest.SRC, 'reports', 'trajectd-report-2.xsd')
NS = '{urn:trajectd:report:2}'
XNIL = '{http://www.w3.org/2001/XMLSchema-instance}nil'
H = '{http://www.w3.org/1999/xhtml}'
SVG = '{http://www.w3.org/2000/svg}'
REASONS = ['goals_reached', 'referred', 'dropped_out', 'moved', 'other']
COUNTS = ['trajectories_started', 'trajectories_helped', 'trajectories_closed',
          'trajectories_active', 'children_helped', 'indications_needed',
          'indications_requested', 'indications_avoided', 'escalations']
SERIES = ['trajectories_started', 'trajectories_helped', 'trajectories_closed',
          'children_helped']
MONOTONE = {'trajectories_started', 'trajectories_helped', 'trajectories_closed'}
INDICATORS = ['trajectories_started', 'trajectories_helped', 'trajectories_closed',
              'trajectories_active', 'children_helped', 'indications_needed',
              'indications_requested', 'indications_avoided', 'indication_avoidance_rate',
              'escalations', 'heavier_care_avoided_rate', 'median_days_to_help',
              'p90_days_to_help', 'costs_total', 'amount_committed', 'amount_settled',
              'budget_remaining', 'cost_per_child_helped', 'children_helped_per_10k_eur',
              'extra_children_within_budget']
MONEY = {'costs_total', 'amount_committed', 'amount_settled', 'budget_remaining',
         'cost_per_child_helped'}


def day(d):
    return d.isoformat()


# --- generating grants and histories -------------------------------------------
def generate(seed):
    rng = random.Random(seed)
    gid = 'PUB-%d' % seed
    if rng.random() < 0.4:
        # a calendar year or quarter, like the example: the period's end is a
        # series point
        start, end = rng.choice([((1, 1), (12, 31)), ((4, 1), (12, 31)), ((7, 1), (12, 31)),
                                 ((1, 1), (3, 31)), ((4, 1), (6, 30)), ((7, 1), (9, 30))])
        start, end = datetime.date(2011, *start), datetime.date(2011, *end)
        length = (end - start).days + 1
    else:
        start = datetime.date(2011, 1, 1) + datetime.timedelta(days=rng.randrange(0, 200))
        length = rng.choice([90, 181, 365, 400])
        end = start + datetime.timedelta(days=length - 1)
    # sometimes nothing is registered before the start (the series then shows
    # zeros up to there, and realised is the started count at the end)
    first = rng.choice([-20, -20, length // 4])
    target = rng.randint(3, 30)
    per = rng.choice([1000, 2500, 5000])
    obligations = []
    for i in range(rng.randint(0, 5)):
        ind = rng.choice(INDICATORS)
        money = ind in MONEY
        tgt = rng.choice([1, 2, 4, 5, 10, 30]) if not money else '%d.00' % rng.choice([0, 500, 20000])
        if 'rate' in ind:
            tgt = rng.choice([0.5, 0.8])
        obligations.append({'id': 'P%d' % (i + 1), 'indicator': ind,
                            'op': rng.choice(['>=', '<=', '>', '<', '==']), 'target': tgt,
                            'due': day(end - datetime.timedelta(days=rng.choice([0, 60])))})
    grant = {
        'id': gid, 'grantor': 'Provincie Overijssel', 'grantee': 'Gemeente %d' % seed,
        'decision_date': day(start), 'period': {'start': day(start), 'end': day(end)},
        'amount_granted': '%d.00' % (per * target), 'target_trajectories': target,
        'amount_per_trajectory': '%d.00' % per, 'obligations': obligations,
        'reports': [{'id': 'determination', 'kind': 'determination',
                     'as_of': day(end + datetime.timedelta(days=30)),
                     'due': day(end + datetime.timedelta(days=60))}],
    }
    if rng.random() < 0.6:
        grant['baseline'] = {'cost_per_child': '2500.00', 'days_to_help': 30}
    rows = []
    refs = []
    # sometimes many small groups, sometimes a busy programme
    n = rng.choice([0, 1, 3, 5, 6, 9, 14, 22, 30])
    for t in range(n):
        ref = '%s-T%02d' % (gid, t)
        refs.append(ref)
        reg = start + datetime.timedelta(days=rng.randrange(first, length + 20))
        ev = [(reg, 'registered', '')]
        if rng.random() < 0.7:
            ev.append((reg, 'coordinator', 'coach-%d' % rng.randint(1, 4)))
        if rng.random() < 0.8:
            ev.append((reg, 'children', str(rng.randint(1, 4))))
        if rng.random() < 0.8:
            ev.append((reg + datetime.timedelta(days=1), 'assessed',
                       rng.choice(['needs_indication', 'no_indication'])))
        if rng.random() < 0.7:
            ev.append((reg + datetime.timedelta(days=2), 'plan', ''))
        last = reg + datetime.timedelta(days=2)
        if rng.random() < 0.8:
            helped = reg + datetime.timedelta(days=rng.randint(3, 40))
            ev.append((helped, 'help_started', ''))
            last = helped
            if rng.random() < 0.4:
                # the family size corrected after help started, mostly down:
                # children helped is not monotone, and nothing may assume it
                ev.append((helped + datetime.timedelta(days=rng.randint(15, 90)), 'children',
                           str(rng.randint(1, 2))))
            if rng.random() < 0.2:
                ev.append((helped + datetime.timedelta(days=5), 'indication_requested', ''))
            if rng.random() < 0.15:
                ev.append((helped + datetime.timedelta(days=9), 'escalated', 'residential'))
                last = helped + datetime.timedelta(days=9)
        for _ in range(rng.randint(0, 2)):
            ev.append((last + datetime.timedelta(days=rng.randint(1, 30)), 'cost',
                       '%d.%02d' % (rng.randint(50, 2000), rng.randint(0, 99))))
        if rng.random() < 0.5:
            closed = max(e[0] for e in ev) + datetime.timedelta(days=rng.randint(1, 90))
            ev.append((closed, 'closed', rng.choice(REASONS)))
        rows += ['%s,%s,%s,%s' % (ref, day(d), k, v) for d, k, v in ev]
    dates = sorted({start + datetime.timedelta(days=length // 2), end,
                    end + datetime.timedelta(days=30),
                    start + datetime.timedelta(days=rng.randrange(0, length))})
    return grant, 'trajectory,date,event,value\n' + '\n'.join(rows) + '\n', refs, dates


# --- what an attacker can work out --------------------------------------------------
def domain(v, t, bound):
    """The values a published cell may have: itself, 1..T-1 for "<T", any count for "x"."""
    if isinstance(v, int):
        return range(v, v + 1)
    if v == '<%d' % t:
        return range(1, t)
    if v == 'x':
        return range(0, bound + 1)
    raise ValueError('not a count: %r' % (v,))


def flow_rule(s, c, t, guard=True):
    """What the rules (docs/reports.md) publish for started s, closed c and
    active s - c: the attacker's copy of lib/report_public.c (guard=False:
    the rule before started was withheld at T+1 and T+2)."""
    def small(v):
        return 1 <= v < t
    a = s - c
    ps = '<%d' % t if small(s) else s
    pc = '<%d' % t if small(c) else c
    if isinstance(ps, int) and isinstance(pc, int) and small(a):
        pc = 'x'
        if guard and s <= t + 2:
            ps = 'x'
    pa = 'x' if not isinstance(ps, int) or not isinstance(pc, int) or small(a) else a
    return ps, pc, pa


def flow_feasible(ind, t, guard=True):
    """Every value each flow cell can have for an attacker who knows the
    published cells and the rules themselves: "<T" is 1..T-1, and an "x" is
    there only where the rules put one (so an x on closed beside a shown
    started says active is 1..T-1). Relations: started = closed + active,
    closed = the sum of the five reasons."""
    pub = (ind['trajectories_started'], ind['trajectories_closed'],
           ind['trajectories_active'])
    shown = [v for v in pub if isinstance(v, int)]
    bound = max(shown + [0]) + 3 * t
    reasons = [ind['closed_by_reason'][r] for r in REASONS]
    seen = {k: set() for k in ['S', 'C', 'A'] + REASONS}
    for s in domain(pub[0], t, bound):
        for c in range(0, s + 1):
            if flow_rule(s, c, t, guard) != pub:
                continue
            if all(isinstance(r, int) for r in reasons):
                # shown: the rules show them only when closed is shown, none small
                if sum(reasons) != c or not isinstance(pub[1], int):
                    continue
                vals = [{r} for r in reasons]
            elif not all(r == 'x' for r in reasons):
                raise ValueError('reasons partly shown: %r' % (reasons,))
            elif not isinstance(pub[1], int):
                vals = [set(range(0, c + 1))] * 5  # withheld with closed: any split
            else:
                # closed shown, all five x: one of them at least is 1..T-1
                if c < 1:
                    continue
                vals = [set(v for v in range(0, c + 1) if v < c or 1 <= v < t)] * 5
            seen['S'].add(s)
            seen['C'].add(c)
            seen['A'].add(s - c)
            for r, v in zip(REASONS, vals):
                seen[r] |= v
    return seen


def series_bounds(pub, t, field='trajectories_started'):
    """What a rule-aware attacker knows of a growing series field at each
    point: (lo, hi) per point, from the shown points (the counts only grow),
    from the series rule itself (a withheld point is one the rule would not
    have shown) and, for started, from realised = started at the period's end
    - started before its start. Also returns (lo, hi) of that started count at
    the end E (None when realised is not shown or the field is not started)."""
    pts = pub['series']
    grant = pub.get('grant', {}).get('period', {'start': '', 'end': '9999'})
    vals = [p[field] for p in pts]
    dates = [p['date'] for p in pts]
    n = len(vals)
    big = 10 ** 6
    lo = [v if isinstance(v, int) else (1 if v == '<%d' % t else 0) for v in vals]
    hi = [v if isinstance(v, int) else (t - 1 if v == '<%d' % t else big) for v in vals]
    real = pub.get('determination', {}).get('trajectories_realised')
    final = vals[-1] if isinstance(vals[-1], int) else None
    # E = started at the end = realised + B, B = started the day before the start
    e_lo = e_hi = None
    e_rule = field == 'trajectories_started' and isinstance(real, int) \
        and not isinstance(real, bool)
    if field == 'trajectories_started' and real is not None and not isinstance(real, bool):
        r_lo, r_hi = domain(real, t, big)[0], domain(real, t, big)[-1]
        # B <= started at any point on or after the day before the start
        b_hi = min([hi[i] for i in range(n) if dates[i] >= grant['start']] + [big])
        e_lo, e_hi = r_lo, r_hi + b_hi

    def apart(a, b):
        return a == b or abs(a - b) >= t

    def would_show(i, v):
        """The rule shows v at point i whatever E (within its bounds) is."""
        before = [0] + [x for x in vals[:i] if isinstance(x, int)]
        if not all(apart(v, x) for x in before):
            return False
        if not (apart(v, final) if final is not None else v == 0):
            return False
        if e_rule and v != final:
            # some E in [e_lo, e_hi] within 1..T-1 of v may have withheld it
            if e_lo <= v + t - 1 and e_hi >= v - t + 1 and not (e_lo == e_hi == v):
                return False
        return True

    for _ in range(4):
        for i in range(1, n):
            lo[i] = max(lo[i], lo[i - 1])
        for i in range(n - 2, -1, -1):
            hi[i] = min(hi[i], hi[i + 1])
        if e_lo is not None:
            for i in range(n):
                if dates[i] >= grant['end']:
                    lo[i] = max(lo[i], e_lo)
                if dates[i] <= grant['end']:
                    hi[i] = min(hi[i], e_hi)
            # and E itself is at least the last point before the end, at most the first after
            e_lo = max([e_lo] + [lo[i] for i in range(n) if dates[i] <= grant['end']])
            e_hi = min([e_hi] + [hi[i] for i in range(n) if dates[i] >= grant['end']])
        # the rule: a withheld point's value is one the rule would not show
        for i in range(n - 1):
            if vals[i] == 'x' and hi[i] - lo[i] < 1000:
                cand = [v for v in range(lo[i], hi[i] + 1) if not would_show(i, v)]
                if cand:
                    lo[i], hi[i] = cand[0], cand[-1]
                else:
                    lo[i], hi[i] = hi[i] + 1, hi[i]  # nothing fits: reported
    return lo, hi, (e_lo, e_hi)


def check_public(full, pub, t, refs):
    """Every way the public document pub could fall short; [] when it does not."""
    out = []
    text = json.dumps(pub)
    ind, find = pub['indicators'], full['indicators']
    small = '<%d' % t
    if pub['report']['public'] is not True or pub['report']['suppress_below'] != t:
        out.append('report.public/suppress_below: %r' % (pub['report'],))
    for ref in refs:
        if ref in text:
            out.append('trajectory reference %s in the public document' % ref)
    if '"reference"' in text or 'settlement' in pub.get('determination', {}):
        out.append('settlement lines in the public document')
    for o in pub['obligations']:
        if o['explanation'] is not None or o['explained_at'] is not None:
            out.append('%s: an explanation in the public document' % o['id'])

    def count_cell(where, got, want):
        if isinstance(got, int) and not isinstance(got, bool):
            if got != want:
                out.append('%s: shows %r, the truth is %r' % (where, got, want))
            elif 1 <= got < t:
                out.append('%s: shows the small count %d' % (where, got))
        elif got == small:
            if not 1 <= want < t:
                out.append('%s: "%s" but the count is %r' % (where, small, want))
        elif got != 'x':
            out.append('%s: %r is neither a count nor a marker' % (where, got))

    def other_cell(where, got, want):
        if got != want and got != 'x':
            out.append('%s: shows %r, the truth is %r' % (where, got, want))

    for k in COUNTS:
        count_cell('indicators.' + k, ind[k], find[k])
    for k in REASONS:
        count_cell('closed_by_reason.' + k, ind['closed_by_reason'][k],
                   find['closed_by_reason'][k])
    for k, v in ind['data_quality'].items():
        count_cell('data_quality.' + k, v, find['data_quality'][k])
    for k in INDICATORS:
        if k not in COUNTS:
            other_cell('indicators.' + k, ind[k], find[k])

    # started = closed + active; closed = the sum of the reasons
    if not out:
        seen = flow_feasible(ind, t)
        if not seen['S']:
            # not what the rules publish; judge it as the rule without the
            # started guard would have published it
            out.append('flow: no counts give these cells under the rules: %r'
                       % ([ind[k] for k in ('trajectories_started', 'trajectories_closed',
                                            'trajectories_active')],))
            seen = flow_feasible(ind, t, guard=False)
        cells = {'S': ind['trajectories_started'], 'C': ind['trajectories_closed'],
                 'A': ind['trajectories_active']}
        cells.update({r: ind['closed_by_reason'][r] for r in REASONS})
        truth = {'S': find['trajectories_started'], 'C': find['trajectories_closed'],
                 'A': find['trajectories_active']}
        truth.update({r: find['closed_by_reason'][r] for r in REASONS})
        for k, v in cells.items():
            if truth[k] not in seen[k]:
                out.append('flow: the truth %s = %d is not among %s (checker bug?)'
                           % (k, truth[k], sorted(seen[k])))
            if not isinstance(v, int) and len(seen[k]) < 2:
                out.append('flow: withheld %s (%r) can be worked out: only %s fits'
                           % (k, v, sorted(seen[k])))

    def hidden(v):
        return isinstance(v, str) and (v == 'x' or v == small)

    # what is computed from a withheld count is withheld
    rules = [
        ('trajectories_started', ['amount_committed', 'budget_remaining', 'costs_total']),
        ('trajectories_closed', ['amount_settled']),
        ('trajectories_helped', ['median_days_to_help', 'p90_days_to_help',
                                 'heavier_care_avoided_rate']),
        ('escalations', ['heavier_care_avoided_rate']),
        ('indications_avoided', ['indication_avoidance_rate']),
        ('indications_needed', ['indication_avoidance_rate']),
        ('children_helped', ['cost_per_child_helped', 'children_helped_per_10k_eur',
                             'extra_children_within_budget']),
        ('costs_total', ['cost_per_child_helped', 'children_helped_per_10k_eur',
                         'extra_children_within_budget']),
    ]
    for src, derived in rules:
        if hidden(ind[src]):
            for d in derived:
                if ind[d] is not None and ind[d] != 'x':
                    out.append('%s is shown (%r) while %s is withheld' % (d, ind[d], src))

    # series
    pts = pub['series']
    fpts = full['series']
    for f in SERIES:
        vals = [p[f] for p in pts]
        if vals[-1] != ind[f]:
            out.append('series %s at C shows %r, the indicator %r' % (f, vals[-1], ind[f]))
        for i, (v, fp) in enumerate(zip(vals, fpts)):
            count_cell('series[%d].%s' % (i, f), v, fp[f])
        shown = [0] + [v for v in vals if isinstance(v, int)]
        for a in shown:
            for b in shown:
                if 1 <= abs(a - b) < t:
                    out.append('series %s: shown values %d and %d differ by %d'
                               % (f, a, b, abs(a - b)))
        if f in MONOTONE:
            for i, v in enumerate(vals):
                if isinstance(v, int):
                    continue
                lo = max([0] + [x for x in vals[:i] if isinstance(x, int)])
                after = [x for x in vals[i + 1:] if isinstance(x, int)]
                if after and after[0] == lo:
                    out.append('series %s[%d]: withheld between two shown %d' % (f, i, lo))
    # started and realised: every level the attacker knows exactly (shown
    # points, withheld points pinned by the bounds, the started count at the
    # period's end) is 0 or at least T apart from every other; the one pair
    # left is the count at the end against the count at C (docs/reports.md,
    # known limits: started - realised)
    for f in sorted(MONOTONE):
        lo, hi, (e_lo, e_hi) = series_bounds(pub, t, f)
        final = pts[-1][f]
        for i, (a, b) in enumerate(zip(lo, hi)):
            if a > b or not a <= fpts[i][f] <= b:
                out.append('series %s[%d]: the truth %r is not within %d..%d (checker bug?)'
                           % (f, i, fpts[i][f], a, b))
        known = [(v, 'series[%d]' % i) for i, v in enumerate(lo) if v == hi[i]]
        if e_lo is not None and e_lo == e_hi:
            known.append((e_lo, 'realised + those registered before the start'))
        known.append((0, 'the start'))
        for a, wa in known:
            for b, wb in known:
                if not 1 <= abs(a - b) < t or wa >= wb:
                    continue
                if isinstance(final, int) and e_lo == e_hi and {a, b} == {e_lo, final}:
                    continue
                out.append('series %s: %s = %d and %s = %d are known, a window of %d'
                           % (f, wa, a, wb, b, abs(a - b)))
    for i, p in enumerate(pts[:-1]):
        if p['costs_total'] != 'x':
            out.append('series[%d].costs_total shown: %r' % (i, p['costs_total']))
    other_cell('series[-1].costs_total', pts[-1]['costs_total'], fpts[-1]['costs_total'])

    # obligations follow their indicator
    for o, fo in zip(pub['obligations'], full['obligations']):
        v = ind[o['indicator']]
        if o['value'] != v:
            out.append('%s: value %r, its indicator shows %r' % (o['id'], o['value'], v))
        if hidden(v) and (o['projection'] != 'x' or o['status'] != 'x'):
            out.append('%s: projection/status shown for a withheld value' % o['id'])
        if not hidden(v) and (o['projection'], o['status']) != (fo['projection'], fo['status']):
            out.append('%s: projection/status differ from the full report' % o['id'])

    # the determination
    if 'determination' in full:
        d, fd = pub['determination'], full['determination']
        count_cell('determination.trajectories_realised', d['trajectories_realised'],
                   fd['trajectories_realised'])
        for k in ('amount_granted', 'amount_committed', 'amount_settled', 'costs_total',
                  'amount_determined', 'amount_difference'):
            other_cell('determination.' + k, d[k], fd[k])
        if hidden(d['trajectories_realised']) and (d['amount_determined'] != 'x'
                                                   or d['amount_difference'] != 'x'):
            out.append('the amounts determined are shown while realised is withheld')
        for k in ('amount_committed', 'amount_settled', 'costs_total'):
            if d[k] != ind[k]:
                out.append('determination.%s %r differs from the indicator %r' % (k, d[k], ind[k]))
    return out


# --- the same document as XML and HTML ---------------------------------------------
def xml_leaves(el, path=''):
    """(path, text) of every leaf under el in document order; None for xsi:nil."""
    for c in el:
        name = c.tag[len(NS):] if c.tag.startswith(NS) else c.tag
        where = path + '.' + name if path else name
        if len(c):
            yield from xml_leaves(c, where)
        else:
            yield where, None if c.get(XNIL) == 'true' else (c.text or '')


def json_text(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return 'true' if v else 'false'
    return str(v)


def same_value(j, x):
    """JSON value j and XML text x say the same (numbers compared as numbers)."""
    if json_text(j) == x:
        return True
    if isinstance(j, float) and x is not None:
        try:
            return float(x) == j
        except ValueError:
            return False
    return False


def text_of(el):
    return ''.join(el.itertext()).strip()


def check_formats(pub, xml, html, t):
    """The public XML and HTML against the public JSON: the XML carries every
    cell of the JSON with the same value or marker (so no count 1..T-1 and the
    same cells suppressed); the HTML's cells that carry counts (the table of
    all indicators, the tiles, realised) and the chart's points show what the
    XML shows. [] when they agree."""
    out = []
    small = '<%d' % t
    markers = (small, 'x')
    try:
        x = ET.fromstring(xml.encode())
    except ET.ParseError as e:
        return ['XML does not parse: %s' % e]
    try:
        h = ET.fromstring(html.encode())
    except ET.ParseError as e:
        return ['HTML is not well-formed XHTML: %s' % e]

    # XML vs JSON, cell by cell: indicators, series, determination, obligations
    xi = list(xml_leaves(x.find(NS + 'indicators')))
    ji = []
    for k, v in pub['indicators'].items():
        if isinstance(v, dict):
            ji += [(k + '.' + k2, v2) for k2, v2 in v.items()]
        else:
            ji.append((k, v))
    if [p for p, _ in xi] != [p for p, _ in ji]:
        out.append('XML indicators %s, JSON %s' % ([p for p, _ in xi], [p for p, _ in ji]))
    else:
        for (path, xt), (_, jv) in zip(xi, ji):
            if not same_value(jv, xt):
                out.append('indicators.%s: JSON %r, XML %r' % (path, jv, xt))
    xpts = x.find(NS + 'series')
    for i, (xp, jp) in enumerate(zip(xpts, pub['series'])):
        for f in SERIES + ['costs_total']:
            xt = xp.find(NS + f)
            xt = None if xt.get(XNIL) == 'true' else xt.text
            if not same_value(jp[f], xt):
                out.append('series[%d].%s: JSON %r, XML %r' % (i, f, jp[f], xt))
    if len(xpts) != len(pub['series']):
        out.append('series: %d points in XML, %d in JSON' % (len(xpts), len(pub['series'])))
    for xo, jo in zip(x.find(NS + 'obligations'), pub['obligations']):
        for f in ('value', 'projection', 'status'):
            xt = xo.find(NS + f)
            xt = None if xt.get(XNIL) == 'true' else xt.text
            if not same_value(jo[f], xt):
                out.append('obligation %s.%s: JSON %r, XML %r' % (jo['id'], f, jo[f], xt))
    xd = x.find(NS + 'determination')
    if (xd is None) != ('determination' not in pub):
        out.append('determination in one of JSON and XML only')
    elif xd is not None:
        if xd.find(NS + 'settlement') is not None:
            out.append('settlement lines in the public XML')
        for path, xt in xml_leaves(xd):
            if not same_value(pub['determination'].get(path), xt):
                out.append('determination.%s: JSON %r, XML %r'
                           % (path, pub['determination'].get(path), xt))
    counts = set(COUNTS) | {'closed_by_reason.' + r for r in REASONS} | {
        'data_quality.' + k for k in pub['indicators']['data_quality']}
    for path, xt in xi:
        if path in counts and xt is not None and xt.isdigit() and 1 <= int(xt) < t:
            out.append('XML indicators.%s shows the small count %s' % (path, xt))

    # HTML: the table of all indicators, row by row against the XML
    table = None
    for sec in h.iter(H + 'section'):
        if sec.get('class') == 'indicators':
            table = sec.find('.//' + H + 'tbody')
    rows = [] if table is None else [r.findall(H + 'td') for r in table.findall(H + 'tr')]
    if len(rows) != len(xi):
        out.append('HTML: %d rows in the table of indicators, the XML has %d values'
                   % (len(rows), len(xi)))
    else:
        for (path, xt), tds in zip(xi, rows):
            ht = text_of(tds[1])
            if xt in markers or (path in counts and xt is not None):
                if ht != xt:
                    out.append('HTML %s shows %r, the XML %r' % (path, ht, xt))
            elif ht in markers:
                out.append('HTML %s shows %r, the XML %r' % (path, ht, xt))
    # the tiles: a count shown there is never 1..T-1 and is one the XML shows
    xtexts = {v for _, v in xi}
    for sp in h.iter(H + 'span'):
        if sp.get('class') == 'big':
            ht = text_of(sp)
            if ht not in xtexts:
                out.append('HTML tile %r is no indicator of the XML' % ht)
            if ht.isdigit() and 1 <= int(ht) < t:
                out.append('HTML tile shows the small count %s' % ht)
    # realised in the financial table
    if xd is not None:
        fin = [sec for sec in h.iter(H + 'section') if sec.get('class') == 'financial']
        tds = fin[0].findall('.//' + H + 'td') if fin else []
        real = xd.find(NS + 'trajectories_realised').text
        if not tds or text_of(tds[0]) != real:
            out.append('HTML realised %r, the XML %r'
                       % (text_of(tds[0]) if tds else None, real))
    # the chart joins the published points: one dot per shown value
    dots = {}
    for c in h.iter(SVG + 'circle'):
        cls = (c.get('class') or '').split()
        if cls[:1] == ['dot']:
            dots[cls[1]] = dots.get(cls[1], 0) + 1
    for f in SERIES:
        n = sum(1 for p in pub['series'] if isinstance(p[f], int))
        if dots.get(f, 0) != n:
            out.append('HTML chart: %d dots for %s, %d shown values' % (dots.get(f, 0), f, n))
    return out


# --- running it ------------------------------------------------------------------
def seeds():
    one = os.environ.get('TJ_PUBLIC_SEED')
    if one:
        return [int(one)]
    return list(range(1, int(os.environ.get('TJ_PUBLIC_SEEDS', '48')) + 1))


def run_seed(t, seed, stats):
    grant, csv, refs, dates = generate(seed)
    gfile = t.write('grant-%d.json' % seed, json.dumps(grant))
    t.succeeds(t.ctl('grant', 'load', gfile), 'seed %d: grant load' % seed)
    if refs:
        t.succeeds(t.ctl('import', '--grant', grant['id'], t.write('ev-%d.csv' % seed, csv)),
                   'seed %d: import' % seed)
    k = t.sql('SELECT traject.iso_utc(clock_timestamp())')[0]
    rng = random.Random(seed * 31)
    runs = [['--as-of', day(d)] for d in dates] + [['--report', 'determination']]
    for args in runs:
        th = rng.choice([3, 4, 5, 5, 5, 7, 10])
        base = ['report', '--grant', grant['id'], '--known-at', k] + args
        full = t.succeeds(t.ctl(*base), 'seed %d %s' % (seed, args)).json()
        pub = t.succeeds(t.ctl(*(base + ['--public', '--threshold', str(th)])),
                         'seed %d %s public' % (seed, args)).json()
        problems = check_public(full, pub, th, refs)
        xml = t.succeeds(t.ctl(*(base + ['--public', '--threshold', str(th), '--format', 'xml'])),
                         'seed %d %s public XML' % (seed, args)).out
        html = t.succeeds(t.ctl(*(base + ['--public', '--threshold', str(th),
                                          '--format', 'html'])),
                          'seed %d %s public HTML' % (seed, args)).out
        proc = subprocess.run(['xmllint', '--noout', '-'], input=html, capture_output=True,
                              text=True)
        if proc.returncode != 0:
            problems.append('xmllint: the HTML is not well-formed: %s' % proc.stderr[:500])
        proc = subprocess.run(['xmllint', '--noout', '--schema', XSD, '-'], input=xml,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            problems.append('xmllint: the XML is not valid: %s' % proc.stderr[:500])
        problems += check_formats(pub, xml, html, th)
        # the attacker's bounds use that started, helped and closed only grow;
        # children helped may fall (a family size corrected downwards)
        fs = full['series']
        for f in MONOTONE:
            for a, b in zip(fs, fs[1:]):
                if b[f] < a[f]:
                    problems.append('full series %s falls %s -> %s' % (f, a[f], b[f]))
        stats['started_x'] += pub['indicators']['trajectories_started'] == 'x'
        stats['children_falls'] += sum(1 for a, b in zip(fs, fs[1:])
                                       if b['children_helped'] < a['children_helped'])
        t.ok(not problems, 'seed %d, %s, threshold %d (TJ_PUBLIC_SEED=%d reruns it):\n  %s'
             % (seed, ' '.join(args), th, seed, '\n  '.join(problems)))
        text = json.dumps(pub['indicators'])
        stats['small'] += text.count('"<')
        stats['x'] += json.dumps(pub).count('"x"')
        stats['docs'] += 1
        if 'determination' in pub:
            stats['determinations'] += 1


def run_group(t, g, groups=4):
    stats = {'small': 0, 'x': 0, 'docs': 0, 'determinations': 0, 'children_falls': 0,
             'started_x': 0}
    for s in seeds():
        if s % groups == g:
            run_seed(t, s, stats)
    print('# group %d: %s' % (g, stats))
    if stats['docs'] and not os.environ.get('TJ_PUBLIC_SEED'):
        # the generator must exercise the rules, or the test proves little
        t.ok(stats['small'] > 0 and stats['x'] > 0 and stats['determinations'] > 0
             and stats['children_falls'] > 0,
             'the generated reports hit primary and secondary suppression and a falling '
             'children helped', stats)


def test_property_0(t):
    run_group(t, 0)


def test_property_1(t):
    run_group(t, 1)


def test_property_2(t):
    run_group(t, 2)


def test_property_3(t):
    run_group(t, 3)


def test_checker_catches_leaks(t):
    """The checker itself: hand-made public documents that leak are refused."""
    full = {
        'report': {'public': False, 'suppress_below': None},
        'indicators': dict(
            {k: 0 for k in COUNTS}, trajectories_started=8, trajectories_closed=7,
            trajectories_active=1, closed_by_reason=dict({r: 0 for r in REASONS},
                                                         goals_reached=7),
            data_quality={'no_coordinator': 0, 'no_plan': 0, 'no_assessment': 0},
            **{k: None for k in INDICATORS if k not in COUNTS}),
        'obligations': [],
        'series': [{'date': '2011-01-31', 'trajectories_started': 8, 'trajectories_helped': 0,
                    'trajectories_closed': 7, 'children_helped': 0, 'costs_total': '0.00'}],
    }
    good = json.loads(json.dumps(full))
    good['report'] = {'public': True, 'suppress_below': 5}
    gi = good['indicators']
    gi['trajectories_active'] = 'x'
    gi['trajectories_closed'] = 'x'
    gi['closed_by_reason'] = {r: 'x' for r in REASONS}
    good['series'][0]['trajectories_closed'] = 'x'
    t.eq(check_public(full, good, 5, []), [], 'a well-suppressed document passes')
    # started 8 and closed 7 shown: active = 1 by subtraction
    leak = json.loads(json.dumps(good))
    leak['indicators']['trajectories_closed'] = 7
    leak['series'][0]['trajectories_closed'] = 7
    problems = check_public(full, leak, 5, [])
    t.ok(any('withheld A' in p for p in problems), 'active worked out by subtraction', problems)
    # started T+1 shown, closed x: who knows the rules reads active 1..4 and
    # closed >= 5, so closed = 5 and active = 1 (the old rule's output)
    full6 = json.loads(json.dumps(full))
    full6['indicators'].update(trajectories_started=6, trajectories_closed=5,
                               closed_by_reason=dict({r: 0 for r in REASONS}, goals_reached=5))
    full6['series'][0].update(trajectories_started=6, trajectories_closed=5)
    leak = json.loads(json.dumps(good))
    leak['indicators']['trajectories_started'] = 6
    leak['series'][0]['trajectories_started'] = 6
    seen = flow_feasible(leak['indicators'], 5, guard=False)
    t.eq((seen['S'], seen['C'], seen['A']), ({6}, {5}, {1}),
         'the old rule: a rule-aware attacker pins closed = T, active = 1 beside started = T+1')
    t.ok(any('no counts give' in p for p in check_public(full6, leak, 5, [])),
         'the old rule\'s document is not what the rules publish')
    ok6 = json.loads(json.dumps(leak))
    ok6['indicators']['trajectories_started'] = 'x'
    ok6['series'][0]['trajectories_started'] = 'x'
    t.eq(check_public(full6, ok6, 5, []), [], 'started withheld too: nothing pinned')
    # realised next to the started series (the example's determination before
    # the fix): nothing before the start, Nov 27, Dec x, realised 30 gives Dec = 3
    sfull = {'grant': {'period': {'start': '2011-01-01', 'end': '2011-12-31'}},
             'report': {}, 'indicators': {}, 'obligations': [],
             'series': [{'date': d, 'trajectories_started': v} for d, v in
                        [('2011-05-31', 0), ('2011-10-31', 22), ('2011-11-30', 27),
                         ('2011-12-31', 30), ('2012-01-31', 32)]],
             'determination': {'trajectories_realised': 30}}
    spub = json.loads(json.dumps(sfull))
    spub['series'][3]['trajectories_started'] = 'x'
    lo, hi, e = series_bounds(spub, 5)
    t.eq((lo[3], hi[3], e), (30, 30, (30, 30)), 'Dec pinned to realised 30 by the zeros')
    spub['series'][2]['trajectories_started'] = 'x'
    lo, hi, e = series_bounds(spub, 5)
    t.eq((lo[2], hi[2]), (23, 30),
         'Nov withheld too: 23..30 (22 would have been shown), not pinned')
    # the reasons shown next to a withheld total
    leak = json.loads(json.dumps(good))
    leak['indicators']['closed_by_reason'] = dict({r: 0 for r in REASONS}, goals_reached=7)
    problems = check_public(full, leak, 5, [])
    t.ok(any('withheld C' in p for p in problems), 'closed worked out from its reasons',
         problems)
    # a small count shown outright, and a series window of 1
    leak = json.loads(json.dumps(good))
    leak['indicators']['trajectories_active'] = 1
    t.ok(any('small count 1' in p for p in check_public(full, leak, 5, [])),
         'a count of 1 is caught')
    series_full = json.loads(json.dumps(full))
    series_full['series'].insert(0, dict(full['series'][0], trajectories_started=7))
    leak = json.loads(json.dumps(good))
    leak['series'].insert(0, dict(good['series'][0], trajectories_started=7))
    t.ok(any('differ by 1' in p for p in check_public(series_full, leak, 5, [])),
         'a series window of 1 is caught')
    # a reference
    t.eq(check_public(full, good, 5, ['T-07']), [], 'no reference, no complaint')
    leak = json.loads(json.dumps(good))
    leak['grant'] = {'title': 'about T-07'}
    t.ok(any('T-07' in p for p in check_public(full, leak, 5, ['T-07'])), 'a reference is caught')


def test_example_determination(t):
    """The bundled example's public determination (the audit's case): realised
    30 with nothing registered before 2011 made December's started count known,
    so no shown started point may be within T of 30 (but 32, the value at C)."""
    t.succeeds(t.ctl('grant', 'load', t.example('grant.json')), 'grant load')
    for f in ('events-2011.csv', 'events-2012.csv'):
        t.succeeds(t.ctl('import', '--grant', 'OV-2011-AMB-01', t.example(f)), 'import ' + f)
    k = t.sql('SELECT traject.iso_utc(clock_timestamp())')[0]
    base = ['report', '--grant', 'OV-2011-AMB-01', '--report', 'determination', '--known-at', k]
    full = t.succeeds(t.ctl(*base), 'full').json()
    pub = t.succeeds(t.ctl(*(base + ['--public'])), 'public').json()
    xml = t.succeeds(t.ctl(*(base + ['--public', '--format', 'xml'])), 'public XML').out
    html = t.succeeds(t.ctl(*(base + ['--public', '--format', 'html'])), 'public HTML').out
    t.eq(check_public(full, pub, 5, ['T-0']) + check_formats(pub, xml, html, 5), [],
         'the public determination passes every check')
    t.eq([p['trajectories_started'] for p in pub['series']],
         [0, 0, 0, 0, 0, 5, 'x', 12, 17, 22, 'x', 'x', 32, 32, 32, 32, 32],
         'started: Nov 27 and Dec 30 withheld (30 is realised), 32 from January 2012')
    t.eq(pub['determination']['trajectories_realised'], 30, 'realised stays shown')


def test_formats_and_threshold(t):
    """The public XML is valid against the XSD and says what the JSON says; the
    threshold comes from --threshold, else [report] suppress_below, else 5."""
    d = t.data('reports', 'determination')
    t.succeeds(t.ctl('grant', 'load', os.path.join(d, 'grant.json')), 'grant load')
    t.succeeds(t.ctl('import', '--grant', 'RPT-DET', os.path.join(d, 'events.csv')), 'import')
    base = ['report', '--grant', 'RPT-DET', '--report', 'determination']
    xml = t.succeeds(t.ctl(*(base + ['--public', '--format', 'xml'])), 'public XML').out
    proc = subprocess.run(['xmllint', '--noout', '--schema', XSD, '-'], input=xml,
                          capture_output=True, text=True)
    t.ok(proc.returncode == 0, 'public XML valid against the XSD', proc.stderr)
    t.ok('<trajectories_closed>&lt;5</trajectories_closed>' in xml, 'the marker in XML', xml)
    t.ok('<public>true</public>' in xml and '<suppress_below>5</suppress_below>' in xml,
         'public and its threshold in XML')
    t.ok('D-0' not in xml and '<settlement>' not in xml, 'no settlement, no reference')
    r = t.succeeds(t.ctl(*(base + ['--public', '--threshold', '8'])), 'threshold 8').json()
    ind = r['indicators']
    t.eq((r['report']['suppress_below'], ind['trajectories_started'], ind['trajectories_helped'],
          ind['children_helped'], ind['trajectories_closed']), (8, '<8', '<8', 10, '<8'),
         'counts 1..7 withheld at 8 (7 started, 6 helped, 3 closed; 10 children shown)')
    conf = t.write('t.conf', '[report]\nsuppress_below = 4\n')
    r = t.succeeds(t.ctl('--config', conf, *(base + ['--public'])), 'config threshold').json()
    t.eq((r['report']['suppress_below'], r['indicators']['trajectories_closed'],
          r['indicators']['trajectories_started']), (4, '<4', 7),
         '[report] suppress_below = 4: closed 3 is withheld, started 7 shown')
    r = t.succeeds(t.ctl('--config', conf, *(base + ['--public', '--threshold', '6'])),
                   '--threshold wins').json()
    t.eq(r['report']['suppress_below'], 6, '--threshold overrides the configuration')
    bad = t.write('bad.conf', '[report]\nsuppress_below = 2\n')
    t.fails(t.ctl('--config', bad, *base), 'a threshold of 2 in the configuration',
            pattern=r"bad.conf:2: \[report\] suppress_below: '2' is not a whole number from 3 to 100")
    html = t.succeeds(t.ctl(*(base + ['--public', '--format', 'html'])), 'public HTML').out
    t.ok('D-0' not in html and 'openbare versie' in html and '&lt;5' in html,
         'the HTML is made from the public version')
    # the XSLT output is well-formed XHTML (it_render checks more, with chromium)
    for pub_flag in ([], ['--public']):
        page = t.succeeds(t.ctl(*(base + pub_flag + ['--format', 'html'])), 'HTML').out
        proc = subprocess.run(['xmllint', '--noout', '-'], input=page, capture_output=True,
                              text=True)
        t.ok(proc.returncode == 0, 'xmllint --noout: the %sHTML is well-formed'
             % ('public ' if pub_flag else ''), proc.stderr)
    pub = t.succeeds(t.ctl(*(base + ['--public'])), 'public JSON').json()
    t.eq(check_formats(pub, xml, html, 5), [], 'JSON, XML and HTML agree')
    # the cross-format check catches a count shown in the HTML's table only
    i = html.index('<section class="indicators">')
    j = html.index('&lt;5</span>', i)
    bad = html[:j] + '3</span>' + html[j + len('&lt;5</span>'):]
    t.ok(any('HTML' in p and "'3'" in p for p in check_formats(pub, xml, bad, 5)),
         'a 3 in the HTML table where the XML has <5 is caught')
    bad = xml.replace('<trajectories_closed>&lt;5</trajectories_closed>',
                      '<trajectories_closed>3</trajectories_closed>', 1)
    t.ok(any('small count 3' in p for p in check_formats(pub, bad, html, 5)),
         'a 3 in the XML is caught')


tjtest.main(globals())
