-- 002: the milestone indicators of indicators.md as set-based SQL functions.
--
-- Everything a report says is computed here, so that an auditor can run
-- the very same functions from psql, e.g.
--   SELECT * FROM traject.indicators(traject.grant_key('OV-2011-AMB-01'),
--                                    '2011-09-30', '2011-10-12T08:00:00Z');
-- Every function takes (grant, reference date C, knowledge time K) and sees
-- only what was known at K about the days up to C. They are LANGUAGE sql,
-- STABLE and not STRICT, so the planner inlines them into the calling query
-- and the grant_key condition reaches the index events_grant_traj: the time
-- of one report does not depend on how many other grants the database holds.
-- docs/indicators.md explains each definition in words.
--
-- Spelling: counts are bigint; rates are rounded half away from zero to 4
-- decimals (round(numeric, 4) does that) and trimmed of trailing zeros
-- (trim_scale: 0.5, 1, 0.6667), days to help are rounded to 1 decimal and
-- trimmed; money has exactly 2 decimals. A ratio over 0 is NULL.

-- The grant_key of a grant id (NULL when there is none); for psql users.
CREATE FUNCTION traject.grant_key(p_id text) RETURNS bigint
    LANGUAGE sql STABLE AS $$
    SELECT g.grant_key FROM traject.grants g WHERE g.id = p_id
$$;

-- The grant definition a report at knowledge time K uses: the newest
-- version known at K. No row: the grant was not yet known at K.
CREATE FUNCTION traject.grant_version_at(p_grant bigint, p_known_at timestamptz)
    RETURNS SETOF traject.grant_versions
    LANGUAGE sql STABLE AS $$
    SELECT v.* FROM traject.grant_versions v
    WHERE v.grant_key = p_grant AND v.known_at <= p_known_at
    ORDER BY v.known_at DESC
    LIMIT 1
$$;

-- The events a report at (C, K) sees: dated up to C, recorded at or before
-- K, and not voided by a correction recorded at or before K.
CREATE FUNCTION traject.visible_events(p_grant bigint, p_as_of date, p_known_at timestamptz)
    RETURNS SETOF traject.events
    LANGUAGE sql STABLE AS $$
    SELECT e.* FROM traject.events e
    WHERE e.grant_key = p_grant
      AND e.event_date <= p_as_of
      AND e.recorded_at <= p_known_at
      AND NOT EXISTS (SELECT 1 FROM traject.voids x
                      WHERE x.event_id = e.event_id AND x.recorded_at <= p_known_at)
$$;

-- One row per trajectory that exists at (C, K), i.e. has a visible
-- `registered` event; the events of any other trajectory are ignored.
-- "Latest" (children, assessment, closing) is by event date, then by
-- recording order (recorded_at, then event_id: the order within a file).
CREATE FUNCTION traject.trajectory_state(p_grant bigint, p_as_of date, p_known_at timestamptz)
    RETURNS TABLE (traj_key bigint, reference text, registered date, children integer,
                   assessment text, helped boolean, help_started date, days_to_help integer,
                   indication_requested boolean, escalated boolean, closed date,
                   closing_reason text, costs_total numeric, has_coordinator boolean,
                   has_plan boolean)
    LANGUAGE sql STABLE AS $$
    SELECT e.traj_key,
           t.ref::text,
           min(e.event_date) FILTER (WHERE e.kind = 'registered'),
           coalesce((array_agg(e.value ORDER BY e.event_date DESC, e.recorded_at DESC,
                                                e.event_id DESC)
                     FILTER (WHERE e.kind = 'children'))[1]::integer, 1),
           (array_agg(e.value ORDER BY e.event_date DESC, e.recorded_at DESC, e.event_id DESC)
                FILTER (WHERE e.kind = 'assessed'))[1],
           bool_or(e.kind = 'help_started'),
           min(e.event_date) FILTER (WHERE e.kind = 'help_started'),
           min(e.event_date) FILTER (WHERE e.kind = 'help_started')
               - min(e.event_date) FILTER (WHERE e.kind = 'registered'),
           bool_or(e.kind = 'indication_requested'),
           bool_or(e.kind = 'escalated'),
           max(e.event_date) FILTER (WHERE e.kind = 'closed'),
           (array_agg(e.value ORDER BY e.event_date DESC, e.recorded_at DESC, e.event_id DESC)
                FILTER (WHERE e.kind = 'closed'))[1],
           round(coalesce(sum(e.amount) FILTER (WHERE e.kind = 'cost'), 0), 2),
           bool_or(e.kind = 'coordinator'),
           bool_or(e.kind = 'plan')
    FROM traject.visible_events(p_grant, p_as_of, p_known_at) e
    JOIN traject.trajectories t ON t.traj_key = e.traj_key AND t.grant_key = p_grant
    GROUP BY e.traj_key, t.ref
    HAVING bool_or(e.kind = 'registered')
$$;

-- num / den rounded half away from zero to 4 decimals and trimmed; NULL
-- when den is 0.
CREATE FUNCTION traject.rate(p_num numeric, p_den numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p_den = 0 THEN NULL ELSE trim_scale(round(p_num / p_den, 4)) END
$$;

-- Whether "a op b" holds; false when either side is NULL.
CREATE FUNCTION traject.holds(p_op text, p_a numeric, p_b numeric) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(CASE p_op
        WHEN '>=' THEN p_a >= p_b
        WHEN '<=' THEN p_a <= p_b
        WHEN '>' THEN p_a > p_b
        WHEN '<' THEN p_a < p_b
        WHEN '==' THEN p_a = p_b
    END, false)
$$;

-- One row of every indicator of indicators.md (obligations_of takes it).
CREATE TYPE traject.indicator_set AS (trajectories_started bigint, trajectories_helped bigint,
    trajectories_closed bigint, trajectories_active bigint,
    closed_goals_reached bigint, closed_referred bigint,
    closed_dropped_out bigint, closed_moved bigint, closed_other bigint,
    children_helped bigint, indications_needed bigint,
    indications_requested bigint, indications_avoided bigint,
    indication_avoidance_rate numeric, escalations bigint,
    heavier_care_avoided_rate numeric, median_days_to_help numeric,
    p90_days_to_help numeric, costs_total numeric, amount_committed numeric,
    amount_settled numeric, budget_remaining numeric,
    cost_per_child_helped numeric, children_helped_per_10k_eur numeric,
    no_coordinator bigint, no_plan bigint, no_assessment bigint,
    extra_children_within_budget numeric);

-- Every indicator of indicators.md at (C, K), in one pass over the
-- trajectory states. No row when the grant was not yet known at K.
CREATE FUNCTION traject.indicators(p_grant bigint, p_as_of date, p_known_at timestamptz)
    RETURNS SETOF traject.indicator_set
    LANGUAGE sql STABLE AS $$
    WITH a AS (
        SELECT count(*) AS started,
               count(*) FILTER (WHERE s.helped) AS helped,
               count(s.closed) AS closed,
               count(*) FILTER (WHERE s.closing_reason = 'goals_reached') AS goals_reached,
               count(*) FILTER (WHERE s.closing_reason = 'referred') AS referred,
               count(*) FILTER (WHERE s.closing_reason = 'dropped_out') AS dropped_out,
               count(*) FILTER (WHERE s.closing_reason = 'moved') AS moved,
               count(*) FILTER (WHERE s.closing_reason = 'other') AS other,
               coalesce(sum(s.children) FILTER (WHERE s.helped), 0) AS children_helped,
               count(*) FILTER (WHERE s.assessment = 'needs_indication') AS needed,
               count(*) FILTER (WHERE s.indication_requested) AS requested,
               count(*) FILTER (WHERE s.helped AND s.assessment = 'needs_indication'
                                AND NOT s.indication_requested) AS avoided,
               count(*) FILTER (WHERE s.helped AND s.escalated) AS escalations,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY s.days_to_help)
                   FILTER (WHERE s.helped) AS median,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY s.days_to_help)
                   FILTER (WHERE s.helped) AS p90,
               round(coalesce(sum(s.costs_total), 0), 2) AS costs,
               count(*) FILTER (WHERE NOT s.has_coordinator) AS no_coordinator,
               count(*) FILTER (WHERE NOT s.has_plan AND p_as_of - s.registered > 14) AS no_plan,
               count(*) FILTER (WHERE s.assessment IS NULL) AS no_assessment
        FROM traject.trajectory_state(p_grant, p_as_of, p_known_at) s
    ), b AS (
        SELECT a.*, v.amount_granted, v.amount_per_trajectory, v.baseline_cost_per_child,
               CASE WHEN a.children_helped > 0
                    THEN round(a.costs / a.children_helped, 2) END AS cpc
        FROM a CROSS JOIN traject.grant_version_at(p_grant, p_known_at) v
    )
    SELECT b.started, b.helped, b.closed, b.started - b.closed,
           b.goals_reached, b.referred, b.dropped_out, b.moved, b.other,
           b.children_helped, b.needed, b.requested, b.avoided,
           traject.rate(b.avoided, b.needed),
           b.escalations,
           traject.rate(b.helped - b.escalations, b.helped),
           -- percentile_cont gives float8; its true value here has at most
           -- one decimal, so rounding the numeric conversion is exact.
           trim_scale(round(b.median::numeric, 1)),
           trim_scale(round(b.p90::numeric, 1)),
           b.costs,
           round(b.amount_per_trajectory * b.started, 2),
           round(b.amount_per_trajectory * b.closed, 2),
           round(b.amount_granted - b.amount_per_trajectory * b.started, 2),
           b.cpc,
           traject.rate(b.children_helped * 10000, b.costs),
           b.no_coordinator, b.no_plan, b.no_assessment,
           -- div() is exact integer division (= floor for these non-negative
           -- amounts); it uses the rounded cost_per_child_helped.
           CASE WHEN b.cpc > 0 AND b.baseline_cost_per_child > 0
                THEN div(b.amount_granted, b.cpc) - div(b.amount_granted, b.baseline_cost_per_child)
           END
    FROM b
$$;

-- What an obligation's indicator is: the cumulative counts are projected
-- linearly to a due date; the money indicators are spelled as money.
CREATE FUNCTION traject.is_cumulative(p_indicator text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_indicator IN ('trajectories_started', 'trajectories_helped', 'trajectories_closed',
                           'children_helped', 'indications_avoided', 'costs_total')
$$;

CREATE FUNCTION traject.is_money(p_indicator text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_indicator IN ('costs_total', 'amount_committed', 'amount_settled',
                           'budget_remaining', 'cost_per_child_helped')
$$;

-- The performance obligations of the grant version known at K, given the
-- indicators i at (C, K), with their value at C, projection to their due date D and status:
--   C >= D: met / not_met by the value as reported (rounded);
--   C <  D: on_track / at_risk by the projection, compared exactly
--           (value * days(start, D) against target * days(start, C), so no
--           rounding of the projection can flip a status).
-- The projection of a cumulative count is value * days(start, D) /
-- days(start, C) with days(a, b) = b - a + 1; of anything else, and of
-- every indicator while C is before the period, the value itself. A NULL
-- value is at_risk before D and not_met from D. The reported projection is
-- rounded to 4 decimals (money: to cents).
CREATE FUNCTION traject.obligations_of(p_grant bigint, p_as_of date, p_known_at timestamptz,
                                       i traject.indicator_set)
    RETURNS TABLE (id text, indicator text, description text, op text, target numeric,
                   due date, value numeric, projection numeric, status text, money boolean,
                   "position" integer)
    LANGUAGE sql STABLE AS $$
    WITH o AS (
        SELECT ob.id::text AS id, ob.indicator, ob.description, ob.op, ob.target, ob.due,
               ob.position, traject.is_money(ob.indicator) AS money,
               traject.is_cumulative(ob.indicator) AND p_as_of >= v.period_start AS scaled,
               (ob.due - v.period_start + 1)::numeric AS d_days,
               (p_as_of - v.period_start + 1)::numeric AS c_days,
               CASE ob.indicator
                   WHEN 'trajectories_started' THEN (i).trajectories_started
                   WHEN 'trajectories_helped' THEN (i).trajectories_helped
                   WHEN 'trajectories_closed' THEN (i).trajectories_closed
                   WHEN 'trajectories_active' THEN (i).trajectories_active
                   WHEN 'children_helped' THEN (i).children_helped
                   WHEN 'indications_needed' THEN (i).indications_needed
                   WHEN 'indications_requested' THEN (i).indications_requested
                   WHEN 'indications_avoided' THEN (i).indications_avoided
                   WHEN 'indication_avoidance_rate' THEN (i).indication_avoidance_rate
                   WHEN 'escalations' THEN (i).escalations
                   WHEN 'heavier_care_avoided_rate' THEN (i).heavier_care_avoided_rate
                   WHEN 'median_days_to_help' THEN (i).median_days_to_help
                   WHEN 'p90_days_to_help' THEN (i).p90_days_to_help
                   WHEN 'costs_total' THEN (i).costs_total
                   WHEN 'amount_committed' THEN (i).amount_committed
                   WHEN 'amount_settled' THEN (i).amount_settled
                   WHEN 'budget_remaining' THEN (i).budget_remaining
                   WHEN 'cost_per_child_helped' THEN (i).cost_per_child_helped
                   WHEN 'children_helped_per_10k_eur' THEN (i).children_helped_per_10k_eur
                   WHEN 'extra_children_within_budget' THEN (i).extra_children_within_budget
               END AS value
        FROM traject.grant_version_at(p_grant, p_known_at) v
        JOIN traject.obligations ob ON ob.grant_key = v.grant_key AND ob.version = v.version
    )
    SELECT o.id, o.indicator, o.description, o.op,
           CASE WHEN o.money THEN round(o.target, 2) ELSE trim_scale(o.target) END,
           o.due, o.value,
           CASE WHEN o.value IS NULL THEN NULL
                WHEN NOT o.scaled THEN o.value
                WHEN o.money THEN round(o.value * o.d_days / o.c_days, 2)
                ELSE trim_scale(round(o.value * o.d_days / o.c_days, 4))
           END,
           CASE WHEN p_as_of >= o.due THEN
                    CASE WHEN traject.holds(o.op, o.value, o.target) THEN 'met'
                         ELSE 'not_met' END
                WHEN o.scaled THEN
                    CASE WHEN traject.holds(o.op, o.value * o.d_days, o.target * o.c_days)
                         THEN 'on_track' ELSE 'at_risk' END
                ELSE
                    CASE WHEN traject.holds(o.op, o.value, o.target)
                         THEN 'on_track' ELSE 'at_risk' END
           END,
           o.money, o.position
    FROM o
$$;

-- The same for psql: the obligations at (C, K) with the indicators computed
-- on the way (a report reads both in one query, planning them once).
CREATE FUNCTION traject.obligation_status(p_grant bigint, p_as_of date, p_known_at timestamptz)
    RETURNS TABLE (id text, indicator text, description text, op text, target numeric,
                   due date, value numeric, projection numeric, status text, money boolean,
                   "position" integer)
    LANGUAGE sql STABLE AS $$
    SELECT o.*
    FROM traject.indicators(p_grant, p_as_of, p_known_at) i
    CROSS JOIN LATERAL traject.obligations_of(p_grant, p_as_of, p_known_at, i) o
$$;

-- The series of formats.md: the cumulative indicators at the end of every
-- month from the month of period.start up to C, the last point C itself
-- (only C when C is before the period). Same K for every point.
CREATE FUNCTION traject.series(p_grant bigint, p_as_of date, p_known_at timestamptz)
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
    )
    SELECT p.point, i.trajectories_started, i.trajectories_helped, i.trajectories_closed,
           i.children_helped, i.costs_total
    FROM points p
    CROSS JOIN LATERAL traject.indicators(p_grant, p.point, p_known_at) i
$$;

-- The settlement lines of the determination request: one per trajectory
-- that exists at (C, K), with the fixed amount per trajectory, its own
-- costs and whether it is realised (registered within the grant period).
CREATE FUNCTION traject.settlement(p_grant bigint, p_as_of date, p_known_at timestamptz)
    RETURNS TABLE (reference text, registered date, closed date, closing_reason text,
                   amount numeric, costs_total numeric, realised boolean)
    LANGUAGE sql STABLE AS $$
    SELECT s.reference, s.registered, s.closed, s.closing_reason,
           v.amount_per_trajectory::numeric, s.costs_total,
           s.registered BETWEEN v.period_start AND v.period_end
    FROM traject.trajectory_state(p_grant, p_as_of, p_known_at) s
    CROSS JOIN traject.grant_version_at(p_grant, p_known_at) v
$$;

-- The totals of the determination request:
--   amount_determined = min(amount_granted, amount_per_trajectory * realised)
--   amount_difference = amount_granted - amount_determined.
CREATE FUNCTION traject.determination(p_grant bigint, p_as_of date, p_known_at timestamptz)
    RETURNS TABLE (trajectories_realised bigint, amount_determined numeric,
                   amount_difference numeric)
    LANGUAGE sql STABLE AS $$
    WITH r AS (
        SELECT count(*) FILTER (WHERE s.realised) AS realised
        FROM traject.settlement(p_grant, p_as_of, p_known_at) s
    )
    SELECT r.realised,
           round(least(v.amount_granted, v.amount_per_trajectory * r.realised), 2),
           round(v.amount_granted - least(v.amount_granted, v.amount_per_trajectory * r.realised), 2)
    FROM r CROSS JOIN traject.grant_version_at(p_grant, p_known_at) v
$$;
