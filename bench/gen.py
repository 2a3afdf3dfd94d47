#!/usr/bin/env python3
"""Deterministic benchmark data for trajectd: grant decisions and event files.

Everything is a pure function of the seed, so two runs (or two machines)
measure the same bytes. Python 3 standard library only.

    bench/gen.py grants --count N --trajectories M --out DIR [--first K] [--seed S]
        writes DIR/grants/BENCH-NNN.json and DIR/events/BENCH-NNN.csv for the
        grants K..K+N-1 (default K=1), each with M trajectories. Grants are
        independent: "--first 11 --count 90" adds the same files a single
        "--count 100" run would have made for 11..100.
    bench/gen.py events --rows R --out FILE [--grant ID] [--seed S]
        writes one events file of exactly R data rows for one grant (the
        1,000,000-row import), and FILE.json, a grant decision that fits it.

The mix of events follows examples/ (docs/example.md): every trajectory is
registered; most get a coordinator, a family size, an assessment, a plan and
help within weeks; some an indication requested anyway or an escalation;
costs month by month; most are closed, with costs after closing now and then.
About 11 events per trajectory, so 342 grants x 1,300 trajectories is about
5 million events, a national year (docs/performance.md).
"""
import argparse
import datetime
import json
import os
import random
import sys

DAY = datetime.timedelta(days=1)
YEAR = 2011
PER_TRAJECTORY_CENTS = 500000  # EUR 5,000.00, as the bundled example
REASONS = (('goals_reached', 60), ('referred', 15), ('dropped_out', 12), ('moved', 8),
           ('other', 5))
ESCALATIONS = ('residential', 'foster_care', 'day_treatment', 'other')


def weighted(rng, pairs):
    total = sum(w for _, w in pairs)
    x = rng.randrange(total)
    for value, w in pairs:
        if x < w:
            return value
        x -= w
    raise AssertionError('unreachable')


def money(cents):
    return '%d.%02d' % (cents // 100, cents % 100)


def trajectory(rng, ref, start, end):
    """The chronological events of one trajectory: (date, event, value)."""
    reg = start + rng.randrange((end - start).days + 1) * DAY
    ev = [(reg, 'registered', '')]
    if rng.random() < 0.95:
        ev.append((reg, 'coordinator', 'coach-%02d' % rng.randrange(1, 41)))
    if rng.random() < 0.9:
        ev.append((reg, 'children', str(rng.choice((1, 1, 1, 2, 2, 2, 3, 3, 4, 5)))))
    day = reg + rng.randrange(0, 5) * DAY
    if rng.random() < 0.95:
        ev.append((day, 'assessed',
                   'needs_indication' if rng.random() < 0.7 else 'no_indication'))
    if rng.random() < 0.9:
        ev.append((day + rng.randrange(1, 10) * DAY, 'plan', ''))
    helped = rng.random() < 0.85
    last = day
    if helped:
        last = reg + rng.randrange(3, 45) * DAY
        ev.append((last, 'help_started', ''))
        if rng.random() < 0.1:
            ev.append((last + rng.randrange(5, 60) * DAY, 'indication_requested', ''))
        if rng.random() < 0.08:
            ev.append((last + rng.randrange(10, 120) * DAY, 'escalated',
                       rng.choice(ESCALATIONS)))
    # Costs month by month while the help runs; the trajectory closes after them.
    months = rng.randrange(1, 10) if helped else rng.randrange(0, 2)
    day = last
    for _ in range(months):
        day = day + rng.randrange(20, 40) * DAY
        ev.append((day, 'cost', money(rng.randrange(5000, 250001))))
    if rng.random() < 0.65:
        closed = day + rng.randrange(0, 30) * DAY
        # Nothing but costs may follow the closing date: close after everything.
        closed = max([closed] + [d for d, _, _ in ev])
        ev.append((closed, 'closed', weighted(rng, REASONS)))
        if rng.random() < 0.1:
            ev.append((closed + rng.randrange(0, 40) * DAY, 'cost',
                       money(rng.randrange(5000, 50001))))
    ev.sort(key=lambda e: e[0])  # stable: same-day events keep their order
    return [(ref, d.isoformat(), e, v) for d, e, v in ev]


def grant_doc(gid, n, title, grantee):
    start = datetime.date(YEAR, 1, 1)
    end = datetime.date(YEAR, 12, 31)
    reports = [{'id': '%d-Q%d' % (YEAR, q), 'kind': 'progress',
                'as_of': datetime.date(YEAR, 3 * q, 30 if q in (2, 3) else 31).isoformat(),
                'due': (datetime.date(YEAR + (q == 4), (3 * q) % 12 + 1, 15)).isoformat()}
               for q in (1, 2, 3, 4)]
    reports.append({'id': 'determination', 'kind': 'determination',
                    'as_of': '%d-05-31' % (YEAR + 1), 'due': '%d-06-30' % (YEAR + 1)})
    return {
        'id': gid, 'title': title, 'grantor': 'Provincie Benchmark', 'grantee': grantee,
        'decision_date': '%d-01-15' % YEAR,
        'period': {'start': start.isoformat(), 'end': end.isoformat()},
        'currency': 'EUR', 'amount_granted': money(PER_TRAJECTORY_CENTS * n),
        'target_trajectories': n, 'amount_per_trajectory': money(PER_TRAJECTORY_CENTS),
        'baseline': {'cost_per_child': '7500.00', 'days_to_help': 42, 'indication_rate': 0.8},
        'obligations': [
            {'id': 'P1', 'indicator': 'trajectories_started', 'op': '>=', 'target': n,
             'due': end.isoformat()},
            {'id': 'P2', 'indicator': 'indication_avoidance_rate', 'op': '>=', 'target': 0.5,
             'due': end.isoformat()},
            {'id': 'P3', 'indicator': 'cost_per_child_helped', 'op': '<=', 'target': '7500.00',
             'due': end.isoformat()},
            {'id': 'P4', 'indicator': 'median_days_to_help', 'op': '<=', 'target': 21,
             'due': end.isoformat()},
        ],
        'reports': reports,
    }


def write_csv(path, rows):
    with open(path, 'w', newline='') as f:
        f.write('trajectory,date,event,value\n')
        for r in rows:
            f.write('%s,%s,%s,%s\n' % r)


def write_json(path, doc):
    with open(path, 'w') as f:
        json.dump(doc, f, indent=2)
        f.write('\n')


def cmd_grants(a):
    os.makedirs(os.path.join(a.out, 'grants'), exist_ok=True)
    os.makedirs(os.path.join(a.out, 'events'), exist_ok=True)
    start, end = datetime.date(YEAR, 1, 1), datetime.date(YEAR, 12, 31)
    total = 0
    for g in range(a.first, a.first + a.count):
        gid = 'BENCH-%03d' % g
        rng = random.Random('%s:%s' % (a.seed, gid))  # str seeds are stable across runs
        rows = []
        for t in range(1, a.trajectories + 1):
            rows.extend(trajectory(rng, 'T-%05d' % t, start, end))
        write_json(os.path.join(a.out, 'grants', gid + '.json'),
                   grant_doc(gid, a.trajectories, 'Benchmark grant %d' % g,
                             'Gemeente %03d' % g))
        write_csv(os.path.join(a.out, 'events', gid + '.csv'), rows)
        total += len(rows)
    print('%d grants x %d trajectories: %d events in %s' %
          (a.count, a.trajectories, total, a.out))


def cmd_events(a):
    rng = random.Random('%s:%s' % (a.seed, a.grant))
    start, end = datetime.date(YEAR, 1, 1), datetime.date(YEAR, 12, 31)
    n = t = 0
    with open(a.out, 'w', newline='') as f:
        f.write('trajectory,date,event,value\n')
        while n < a.rows:
            t += 1
            # A prefix of a trajectory's chronological events is itself valid.
            for r in trajectory(rng, 'T-%07d' % t, start, end)[:a.rows - n]:
                f.write('%s,%s,%s,%s\n' % r)
                n += 1
    write_json(a.out + '.json', grant_doc(a.grant, t, 'Benchmark import', 'Gemeente Groot'))
    print('%d events of %d trajectories in %s' % (n, t, a.out))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    g = sub.add_parser('grants', help='N grant decisions with their events')
    g.add_argument('--count', type=int, required=True)
    g.add_argument('--trajectories', type=int, required=True)
    g.add_argument('--first', type=int, default=1)
    g.add_argument('--out', required=True)
    g.add_argument('--seed', default='1')
    e = sub.add_parser('events', help='one events file of exactly ROWS rows')
    e.add_argument('--rows', type=int, required=True)
    e.add_argument('--out', required=True)
    e.add_argument('--grant', default='BENCH-BIG')
    e.add_argument('--seed', default='1')
    a = p.parse_args(argv)
    if a.cmd == 'grants':
        if a.count < 0 or a.trajectories < 1 or a.first < 1 or a.first + a.count > 1000:
            p.error('grants are numbered 1..999 and have at least one trajectory')
        cmd_grants(a)
    else:
        if a.rows < 0:
            p.error('--rows must not be negative')
        cmd_events(a)


if __name__ == '__main__':
    main(sys.argv[1:])
