-- 009: every number of a report, at several dates, from one reading of the
-- events (docs/indicators.md "How it is computed", docs/performance.md).
--
-- A report needs the indicators at its reference date C, the cumulative
-- ones at every month end before C (its series) and, for a determination
-- request, every trajectory's state at C; the daemon generates all due
-- reports of a grant at once, at one knowledge time K. 002 computed each of
-- those from scratch: a series of 17 points read the grant's events 17
-- times, and every trajectory's events were sorted three times per date.
-- Here the visible events are read once, up to the latest date asked, into
-- one summary per trajectory, and every date is derived from it:
--   - "there is such an event dated <= C" (registered, help started,
--     indication requested, escalated, coordinator, plan) holds exactly when
--     the earliest event of that kind is dated <= C, and that earliest date
--     is the one that counts (days to help = earliest help_started - earliest
--     registered, as before);
--   - "the latest by date, then by recording order" (children, assessment,
--     closing) is a timeline: the events of the kind in that order, with
--     their dates; the latest at C is the last one dated <= C, found by
--     width_bucket(C, dates), which counts the dates <= C;
--   - a cost event carries its trajectory's running total up to its day.
-- The series, which needs only five cumulative counts, is summed from the
-- days on which each count changes (docs/indicators.md, "Series") instead of
-- evaluating every trajectory at every month end.
--
-- The functions of 002 and 008 keep their names and results and are now
-- views of traject.report_data: one definition of every indicator.
-- tests/it_oracle.py compares the results with an independent
-- implementation on random grants; the golden reports of tests/data/reports
-- did not change by one byte.

-- One trajectory's state at a date, with what the determination request
-- says of it (amount, realised).
CREATE TYPE traject.trajectory_row AS (traj_key bigint, reference text, registered date,
    children integer, assessment text, helped boolean, help_started date,
    days_to_help integer, indication_requested boolean, escalated boolean, closed date,
    closing_reason text, costs_total numeric, has_coordinator boolean, has_plan boolean,
    amount numeric, realised boolean);

-- The cumulative indicators of a series point (formats.md).
CREATE TYPE traject.series_point AS (trajectories_started bigint,
    trajectories_helped bigint, trajectories_closed bigint, children_helped bigint,
    costs_total numeric);

-- The totals of a determination request.
CREATE TYPE traject.determination_totals AS (trajectories_realised bigint,
    amount_determined numeric, amount_difference numeric);

-- The latest date of a list (NULL for none). A function, not a sub-select
-- at the call site, so the set-returning functions it feeds are inlined.
CREATE FUNCTION traject.latest_date(p_dates date[]) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT max(x) FROM unnest(p_dates) AS x
$$;

-- One row per trajectory registered by p_upto, as seen at K: the earliest
-- date of each kind that counts by existence, and the timelines.
CREATE FUNCTION traject.trajectory_summary(p_grant bigint, p_upto date, p_known_at timestamptz)
    RETURNS TABLE (traj_key bigint, reference text, reg date, help date, ireq date,
                   esc date, coord date, plan date, ch_on date[], ch_val text[],
                   as_on date[], as_val text[], cl_on date[], cl_val text[],
                   co_on date[], co_sum numeric[])
    LANGUAGE sql STABLE AS $$
    WITH ev AS (
        -- in the order of the index events_grant_traj, so the running total
        -- and the grouping need no sort of their own
        SELECT e.traj_key, e.event_date, e.kind, e.value, e.recorded_at, e.event_id,
               sum(e.amount) FILTER (WHERE e.kind = 'cost')
                   OVER (PARTITION BY e.traj_key ORDER BY e.event_date) AS spent
        FROM traject.events e
        WHERE e.grant_key = p_grant
          AND e.event_date <= p_upto
          AND e.recorded_at <= p_known_at
          -- NOT IN over the grant's voids: one hashed look-up per event
          AND e.event_id NOT IN (SELECT x.event_id FROM traject.voids x
                                 WHERE x.grant_key = p_grant AND x.recorded_at <= p_known_at)
    ), s AS (
        SELECT ev.traj_key,
               min(ev.event_date) FILTER (WHERE ev.kind = 'registered') AS reg,
               min(ev.event_date) FILTER (WHERE ev.kind = 'help_started') AS help,
               min(ev.event_date) FILTER (WHERE ev.kind = 'indication_requested') AS ireq,
               min(ev.event_date) FILTER (WHERE ev.kind = 'escalated') AS esc,
               min(ev.event_date) FILTER (WHERE ev.kind = 'coordinator') AS coord,
               min(ev.event_date) FILTER (WHERE ev.kind = 'plan') AS plan,
               array_agg(ev.event_date ORDER BY ev.event_date, ev.recorded_at, ev.event_id)
                   FILTER (WHERE ev.kind = 'children') AS ch_on,
               array_agg(ev.value ORDER BY ev.event_date, ev.recorded_at, ev.event_id)
                   FILTER (WHERE ev.kind = 'children') AS ch_val,
               array_agg(ev.event_date ORDER BY ev.event_date, ev.recorded_at, ev.event_id)
                   FILTER (WHERE ev.kind = 'assessed') AS as_on,
               array_agg(ev.value ORDER BY ev.event_date, ev.recorded_at, ev.event_id)
                   FILTER (WHERE ev.kind = 'assessed') AS as_val,
               array_agg(ev.event_date ORDER BY ev.event_date, ev.recorded_at, ev.event_id)
                   FILTER (WHERE ev.kind = 'closed') AS cl_on,
               array_agg(ev.value ORDER BY ev.event_date, ev.recorded_at, ev.event_id)
                   FILTER (WHERE ev.kind = 'closed') AS cl_val,
               array_agg(ev.event_date ORDER BY ev.event_date, ev.event_id)
                   FILTER (WHERE ev.kind = 'cost') AS co_on,
               array_agg(ev.spent ORDER BY ev.event_date, ev.event_id)
                   FILTER (WHERE ev.kind = 'cost') AS co_sum
        FROM ev
        GROUP BY ev.traj_key
        HAVING bool_or(ev.kind = 'registered')
    )
    SELECT s.traj_key, t.ref::text, s.reg, s.help, s.ireq, s.esc, s.coord, s.plan,
           s.ch_on, s.ch_val, s.as_on, s.as_val, s.cl_on, s.cl_val, s.co_on, s.co_sum
    FROM s JOIN traject.trajectories t ON t.traj_key = s.traj_key AND t.grant_key = p_grant
$$;

-- Everything a report computes, for one grant at K, in one statement:
--   part 'i': the indicators at each date of p_dates          (as_of, ind)
--   part 'p': the series point at each date of p_points       (as_of, pt)
--   part 's': every trajectory's state at each date of p_settle (as_of, tr)
--   part 't': the determination totals at each date of p_settle (as_of, det)
-- Nothing when the grant was not yet known at K. A part that is not asked
-- for (an empty array) costs nothing.
CREATE FUNCTION traject.report_data(p_grant bigint, p_dates date[], p_points date[],
                                    p_settle date[], p_known_at timestamptz)
    RETURNS TABLE (part text, as_of date, ind traject.indicator_set,
                   pt traject.series_point, tr traject.trajectory_row,
                   det traject.determination_totals)
    LANGUAGE sql STABLE AS $$
    WITH v AS MATERIALIZED (
        SELECT * FROM traject.grant_version_at(p_grant, p_known_at)
    ), s AS MATERIALIZED (
        SELECT * FROM traject.trajectory_summary(p_grant,
            traject.latest_date(p_dates || p_points || p_settle), p_known_at)
    ), st AS MATERIALIZED (
        -- the state of every trajectory at each date of p_dates and p_settle
        -- (width_bucket: how many of the sorted dates are <= C, i.e. the
        -- index of the latest one dated <= C; 0, so NULL, when none is)
        SELECT d.as_of, s.traj_key, s.reference, s.reg AS registered,
               coalesce(s.ch_val[width_bucket(d.as_of, s.ch_on)]::integer, 1) AS children,
               s.as_val[width_bucket(d.as_of, s.as_on)] AS assessment,
               s.help <= d.as_of AS helped,
               CASE WHEN s.help <= d.as_of THEN s.help END AS help_started,
               CASE WHEN s.help <= d.as_of THEN s.help - s.reg END AS days_to_help,
               coalesce(s.ireq <= d.as_of, false) AS indication_requested,
               coalesce(s.esc <= d.as_of, false) AS escalated,
               s.cl_on[width_bucket(d.as_of, s.cl_on)] AS closed,
               s.cl_val[width_bucket(d.as_of, s.cl_on)] AS closing_reason,
               round(coalesce(s.co_sum[width_bucket(d.as_of, s.co_on)], 0), 2) AS costs_total,
               coalesce(s.coord <= d.as_of, false) AS has_coordinator,
               coalesce(s.plan <= d.as_of, false) AS has_plan
        FROM (SELECT DISTINCT x AS as_of FROM unnest(p_dates || p_settle) AS x
              WHERE x IS NOT NULL) d
        JOIN s ON s.reg <= d.as_of
    ), per_date AS (
        SELECT st.as_of,
               count(*) AS started,
               count(*) FILTER (WHERE st.helped) AS helped,
               count(st.closed) AS closed,
               count(*) FILTER (WHERE st.closing_reason = 'goals_reached') AS goals_reached,
               count(*) FILTER (WHERE st.closing_reason = 'referred') AS referred,
               count(*) FILTER (WHERE st.closing_reason = 'dropped_out') AS dropped_out,
               count(*) FILTER (WHERE st.closing_reason = 'moved') AS moved,
               count(*) FILTER (WHERE st.closing_reason = 'other') AS other,
               sum(st.children) FILTER (WHERE st.helped) AS children_helped,
               count(*) FILTER (WHERE st.assessment = 'needs_indication') AS needed,
               count(*) FILTER (WHERE st.indication_requested) AS requested,
               count(*) FILTER (WHERE st.helped AND st.assessment = 'needs_indication'
                                AND NOT st.indication_requested) AS avoided,
               count(*) FILTER (WHERE st.helped AND st.escalated) AS escalations,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY st.days_to_help)
                   FILTER (WHERE st.helped) AS median,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY st.days_to_help)
                   FILTER (WHERE st.helped) AS p90,
               sum(st.costs_total) AS costs,
               count(*) FILTER (WHERE NOT st.has_coordinator) AS no_coordinator,
               count(*) FILTER (WHERE NOT st.has_plan AND st.as_of - st.registered > 14)
                   AS no_plan,
               count(*) FILTER (WHERE st.assessment IS NULL) AS no_assessment
        FROM st
        WHERE st.as_of = ANY (p_dates)
        GROUP BY st.as_of
    ), a AS (
        -- every date asked, also one at which no trajectory exists yet
        SELECT d.as_of,
               coalesce(p.started, 0) AS started, coalesce(p.helped, 0) AS helped,
               coalesce(p.closed, 0) AS closed,
               coalesce(p.goals_reached, 0) AS goals_reached,
               coalesce(p.referred, 0) AS referred,
               coalesce(p.dropped_out, 0) AS dropped_out, coalesce(p.moved, 0) AS moved,
               coalesce(p.other, 0) AS other,
               coalesce(p.children_helped, 0) AS children_helped,
               coalesce(p.needed, 0) AS needed, coalesce(p.requested, 0) AS requested,
               coalesce(p.avoided, 0) AS avoided, coalesce(p.escalations, 0) AS escalations,
               p.median, p.p90, round(coalesce(p.costs, 0), 2) AS costs,
               coalesce(p.no_coordinator, 0) AS no_coordinator,
               coalesce(p.no_plan, 0) AS no_plan, coalesce(p.no_assessment, 0) AS no_assessment,
               CASE WHEN p.children_helped > 0
                    THEN round(round(coalesce(p.costs, 0), 2) / p.children_helped, 2)
               END AS cpc
        FROM (SELECT DISTINCT x AS as_of FROM unnest(p_dates) AS x WHERE x IS NOT NULL) d
        LEFT JOIN per_date p ON p.as_of = d.as_of
    ), changes AS (
        -- the series' counts change on these days (a trajectory counts from
        -- its registration on, so nothing is dated before that): started on
        -- reg, helped on the later of reg and help (A below), closed on the
        -- later of reg and the first closing, a cost on the later of reg and
        -- its own day; children helped by the children at A, then by the
        -- difference each later children event makes (the value before the
        -- first is 1; same-day events add up to the last one's value)
        SELECT s.reg AS day, 1 AS started, 0 AS helped, 0 AS closed, 0 AS children,
               0::numeric AS costs
        FROM s
        UNION ALL
        SELECT greatest(s.reg, s.help), 0, 1, 0,
               coalesce(s.ch_val[width_bucket(greatest(s.reg, s.help), s.ch_on)]::integer, 1), 0
        FROM s WHERE s.help IS NOT NULL
        UNION ALL
        SELECT greatest(s.reg, s.cl_on[1]), 0, 0, 1, 0, 0 FROM s WHERE s.cl_on IS NOT NULL
        UNION ALL
        SELECT c.day, 0, 0, 0,
               c.val::integer - coalesce(s.ch_val[c.k - 1]::integer, 1), 0
        FROM s, unnest(s.ch_on, s.ch_val) WITH ORDINALITY AS c(day, val, k)
        WHERE s.help IS NOT NULL AND c.day > greatest(s.reg, s.help)
        UNION ALL
        -- co_sum is the running total by day: its first element of a day
        -- carries the day's costs, the others repeat it
        SELECT greatest(s.reg, c.day), 0, 0, 0, 0, c.total - coalesce(s.co_sum[c.k - 1], 0)
        FROM s, unnest(s.co_on, s.co_sum) WITH ORDINALITY AS c(day, total, k)
        WHERE c.k = 1 OR c.total <> s.co_sum[c.k - 1]
    ), daily AS (
        SELECT c.day, sum(c.started) AS started, sum(c.helped) AS helped,
               sum(c.closed) AS closed, sum(c.children) AS children, sum(c.costs) AS costs
        FROM changes c GROUP BY c.day
    ), points AS (
        SELECT p.as_of,
               coalesce(sum(y.started), 0)::bigint AS started,
               coalesce(sum(y.helped), 0)::bigint AS helped,
               coalesce(sum(y.closed), 0)::bigint AS closed,
               coalesce(sum(y.children), 0)::bigint AS children,
               round(coalesce(sum(y.costs), 0), 2) AS costs
        FROM (SELECT DISTINCT x AS as_of FROM unnest(p_points) AS x WHERE x IS NOT NULL) p
        LEFT JOIN daily y ON y.day <= p.as_of
        GROUP BY p.as_of
    ), lines AS (
        SELECT st.*, v.amount_per_trajectory::numeric AS amount,
               st.registered BETWEEN v.period_start AND v.period_end AS realised
        FROM st CROSS JOIN v
        WHERE st.as_of = ANY (p_settle)
    )
    SELECT 'i', a.as_of,
           ROW(a.started, a.helped, a.closed, a.started - a.closed,
               a.goals_reached, a.referred, a.dropped_out, a.moved, a.other,
               a.children_helped, a.needed, a.requested, a.avoided,
               traject.rate(a.avoided, a.needed),
               a.escalations,
               traject.rate(a.helped - a.escalations, a.helped),
               -- percentile_cont gives float8; its true value here has at
               -- most one decimal, so rounding the numeric conversion is exact.
               trim_scale(round(a.median::numeric, 1)),
               trim_scale(round(a.p90::numeric, 1)),
               a.costs,
               round(v.amount_per_trajectory * a.started, 2),
               round(v.amount_per_trajectory * a.closed, 2),
               round(v.amount_granted - v.amount_per_trajectory * a.started, 2),
               a.cpc,
               traject.rate(a.children_helped * 10000, a.costs),
               a.no_coordinator, a.no_plan, a.no_assessment,
               -- div() is exact integer division (= floor for these
               -- non-negative amounts); it uses the rounded cost_per_child_helped.
               CASE WHEN a.cpc > 0 AND v.baseline_cost_per_child > 0
                    THEN div(v.amount_granted, a.cpc)
                         - div(v.amount_granted, v.baseline_cost_per_child)
               END)::traject.indicator_set,
           NULL::traject.series_point, NULL::traject.trajectory_row,
           NULL::traject.determination_totals
    FROM a CROSS JOIN v
    UNION ALL
    SELECT 'p', p.as_of, NULL,
           ROW(p.started, p.helped, p.closed, p.children, p.costs)::traject.series_point,
           NULL, NULL
    FROM points p CROSS JOIN v
    UNION ALL
    SELECT 's', l.as_of, NULL, NULL,
           ROW(l.traj_key, l.reference, l.registered, l.children, l.assessment, l.helped,
               l.help_started, l.days_to_help, l.indication_requested, l.escalated, l.closed,
               l.closing_reason, l.costs_total, l.has_coordinator, l.has_plan, l.amount,
               l.realised)::traject.trajectory_row,
           NULL
    FROM lines l
    UNION ALL
    -- amount_determined = min(amount_granted, amount_per_trajectory * realised)
    -- amount_difference = amount_granted - amount_determined
    SELECT 't', d.as_of, NULL, NULL, NULL,
           ROW(d.realised,
               round(least(v.amount_granted, v.amount_per_trajectory * d.realised), 2),
               round(v.amount_granted
                     - least(v.amount_granted, v.amount_per_trajectory * d.realised), 2)
           )::traject.determination_totals
    FROM (SELECT x.as_of,
                 (SELECT count(*) FROM lines l WHERE l.as_of = x.as_of AND l.realised) AS realised
          FROM (SELECT DISTINCT y AS as_of FROM unnest(p_settle) AS y WHERE y IS NOT NULL) x) d
    CROSS JOIN v
$$;

-- The points of a report's series (formats.md): the end of every month from
-- the month of period.start up to C, the last point C itself (only C when C
-- is before the period), for the grant version known at K.
CREATE FUNCTION traject.series_points(p_grant bigint, p_as_of date, p_known_at timestamptz)
    RETURNS date[]
    LANGUAGE sql STABLE AS $$
    SELECT array_agg(p.point ORDER BY p.point) FROM (
        SELECT (m + interval '1 month - 1 day')::date AS point
        FROM traject.grant_version_at(p_grant, p_known_at) v,
             generate_series(date_trunc('month', v.period_start::timestamp),
                             p_as_of::timestamp, interval '1 month') AS m
        WHERE (m + interval '1 month - 1 day')::date < p_as_of
        UNION ALL
        SELECT p_as_of
    ) p
$$;

-- The indicators at several dates (one row per distinct date).
CREATE FUNCTION traject.indicators_at(p_grant bigint, p_dates date[], p_known_at timestamptz)
    RETURNS TABLE (as_of date, ind traject.indicator_set)
    LANGUAGE sql STABLE AS $$
    SELECT r.as_of, r.ind FROM traject.report_data(p_grant, p_dates, '{}', '{}', p_known_at) r
    WHERE r.part = 'i'
$$;

-- The functions of 002 and 008, now views of traject.report_data.
CREATE OR REPLACE FUNCTION traject.trajectory_state(p_grant bigint, p_as_of date,
                                                    p_known_at timestamptz)
    RETURNS TABLE (traj_key bigint, reference text, registered date, children integer,
                   assessment text, helped boolean, help_started date, days_to_help integer,
                   indication_requested boolean, escalated boolean, closed date,
                   closing_reason text, costs_total numeric, has_coordinator boolean,
                   has_plan boolean)
    LANGUAGE sql STABLE AS $$
    SELECT (r.tr).traj_key, (r.tr).reference, (r.tr).registered, (r.tr).children,
           (r.tr).assessment, (r.tr).helped, (r.tr).help_started, (r.tr).days_to_help,
           (r.tr).indication_requested, (r.tr).escalated, (r.tr).closed,
           (r.tr).closing_reason, (r.tr).costs_total, (r.tr).has_coordinator,
           (r.tr).has_plan
    FROM traject.report_data(p_grant, '{}', '{}', ARRAY[p_as_of], p_known_at) r
    WHERE r.part = 's'
$$;

CREATE OR REPLACE FUNCTION traject.indicators(p_grant bigint, p_as_of date,
                                              p_known_at timestamptz)
    RETURNS SETOF traject.indicator_set
    LANGUAGE sql STABLE AS $$
    SELECT (r.ind).* FROM traject.report_data(p_grant, ARRAY[p_as_of], '{}', '{}', p_known_at) r
    WHERE r.part = 'i'
$$;

CREATE OR REPLACE FUNCTION traject.series(p_grant bigint, p_as_of date, p_known_at timestamptz)
    RETURNS TABLE (point date, trajectories_started bigint, trajectories_helped bigint,
                   trajectories_closed bigint, children_helped bigint, costs_total numeric)
    LANGUAGE sql STABLE AS $$
    SELECT r.as_of, (r.pt).*
    FROM traject.report_data(p_grant, '{}',
                             traject.series_points(p_grant, p_as_of, p_known_at), '{}',
                             p_known_at) r
    WHERE r.part = 'p'
$$;

CREATE OR REPLACE FUNCTION traject.settlement(p_grant bigint, p_as_of date,
                                              p_known_at timestamptz)
    RETURNS TABLE (reference text, registered date, closed date, closing_reason text,
                   amount numeric, costs_total numeric, realised boolean)
    LANGUAGE sql STABLE AS $$
    SELECT (r.tr).reference, (r.tr).registered, (r.tr).closed, (r.tr).closing_reason,
           (r.tr).amount, (r.tr).costs_total, (r.tr).realised
    FROM traject.report_data(p_grant, '{}', '{}', ARRAY[p_as_of], p_known_at) r
    WHERE r.part = 's'
$$;

CREATE OR REPLACE FUNCTION traject.determination(p_grant bigint, p_as_of date,
                                                 p_known_at timestamptz)
    RETURNS TABLE (trajectories_realised bigint, amount_determined numeric,
                   amount_difference numeric)
    LANGUAGE sql STABLE AS $$
    SELECT (r.det).* FROM traject.report_data(p_grant, '{}', '{}', ARRAY[p_as_of], p_known_at) r
    WHERE r.part = 't'
$$;
