-- 008: the series of a report in one pass (docs/performance.md, "The calendar").
--
-- traject.series of 002_indicators.sql computed the full indicators again
-- for every month end (a lateral call of traject.indicators per point):
-- for a determination request of a 1,300-trajectory grant that is 17 full
-- aggregations, about 480 ms of the 690 ms of the whole report, and most of
-- the time of trajectd's calendar. This version reads the visible events
-- once (as at C) and derives every point from them:
--   - a trajectory exists at point P when its registered date <= P; it is
--     helped / closed at P when its help_started / closed date <= P (any
--     such event dated <= P is one the point sees, and the first decides);
--   - its children at P are the value of its latest children event dated
--     <= P (latest: date, then recorded_at, then event_id, as
--     traject.trajectory_state orders them), 1 when there is none;
--   - costs at P are the costs dated <= P of the trajectories existing at P.
-- Exactly what traject.indicators(grant, P, K) gives for these five columns
-- (checked against the old definition on generated data, and by
-- tests/it_oracle.py and the golden reports); same signature and row order.
CREATE OR REPLACE FUNCTION traject.series(p_grant bigint, p_as_of date, p_known_at timestamptz)
    RETURNS TABLE (point date, trajectories_started bigint, trajectories_helped bigint,
                   trajectories_closed bigint, children_helped bigint, costs_total numeric)
    LANGUAGE sql STABLE AS $$
    WITH points AS (
        SELECT (m + interval '1 month - 1 day')::date AS point
        FROM traject.grant_version_at(p_grant, p_known_at) v,
             generate_series(date_trunc('month', v.period_start::timestamp),
                             p_as_of::timestamp, interval '1 month') AS m
        WHERE (m + interval '1 month - 1 day')::date < p_as_of
        UNION ALL
        SELECT p_as_of
    ), ev AS MATERIALIZED (
        SELECT e.traj_key, e.event_date, e.kind, e.value, e.amount, e.recorded_at, e.event_id
        FROM traject.visible_events(p_grant, p_as_of, p_known_at) e
        JOIN traject.trajectories t ON t.traj_key = e.traj_key AND t.grant_key = p_grant
    ), tr AS (
        SELECT ev.traj_key,
               min(ev.event_date) FILTER (WHERE ev.kind = 'registered') AS reg,
               min(ev.event_date) FILTER (WHERE ev.kind = 'help_started') AS help,
               min(ev.event_date) FILTER (WHERE ev.kind = 'closed') AS clo
        FROM ev GROUP BY ev.traj_key
        HAVING bool_or(ev.kind = 'registered')
    ), ch AS (
        SELECT DISTINCT ON (ev.traj_key, ev.event_date) ev.traj_key, ev.event_date AS since,
               ev.value::integer AS n
        FROM ev WHERE ev.kind = 'children'
        ORDER BY ev.traj_key, ev.event_date, ev.recorded_at DESC, ev.event_id DESC
    ), chi AS (
        SELECT ch.traj_key, ch.since, ch.n,
               lead(ch.since) OVER (PARTITION BY ch.traj_key ORDER BY ch.since) AS until
        FROM ch
    ), counts AS (
        SELECT p.point,
               count(*) FILTER (WHERE tr.reg <= p.point) AS started,
               count(*) FILTER (WHERE tr.reg <= p.point AND tr.help <= p.point) AS helped,
               count(*) FILTER (WHERE tr.reg <= p.point AND tr.clo <= p.point) AS closed,
               coalesce(sum(coalesce(c.n, 1))
                        FILTER (WHERE tr.reg <= p.point AND tr.help <= p.point), 0) AS children
        FROM points p CROSS JOIN tr
        LEFT JOIN chi c ON c.traj_key = tr.traj_key AND c.since <= p.point
                       AND (c.until IS NULL OR c.until > p.point)
        GROUP BY p.point
    ), costs AS (
        SELECT p.point, sum(ev.amount) AS costs
        FROM points p
        JOIN ev ON ev.kind = 'cost' AND ev.event_date <= p.point
        JOIN tr ON tr.traj_key = ev.traj_key AND tr.reg <= p.point
        GROUP BY p.point
    )
    SELECT p.point, coalesce(c.started, 0), coalesce(c.helped, 0), coalesce(c.closed, 0),
           coalesce(c.children, 0), round(coalesce(k.costs, 0), 2)
    FROM points p
    LEFT JOIN counts c ON c.point = p.point
    LEFT JOIN costs k ON k.point = p.point
$$;
