-- 013: corrections to 009's report_data.
--
-- helped: a trajectory without help_started has s.help NULL, and
-- `s.help <= d.as_of` is then NULL, not false, so traject.trajectory_state
-- (and every trajectory_row) said helped = NULL where 002 said false and
-- docs/indicators.md says "it has a help_started event". The indicators
-- did not change (FILTER (WHERE helped) treats NULL as false), only the
-- per-trajectory state. The function below is 009's with that one line
-- changed: coalesce(s.help <= d.as_of, false).

CREATE OR REPLACE FUNCTION traject.report_data(p_grant bigint, p_dates date[], p_points date[],
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
    ), d AS MATERIALIZED (
        SELECT DISTINCT x AS as_of FROM unnest(p_dates || p_settle) AS x WHERE x IS NOT NULL
    ), st AS MATERIALIZED (
        -- the state of every trajectory at each date of p_dates and p_settle;
        -- w: where the latest event of each timeline kind dated <= C is
        SELECT d.as_of, s.traj_key, s.reference, s.reg AS registered,
               coalesce(CASE WHEN traject.timeline_kind(s.tl_key[w.ch]) = 2
                             THEN s.tl_val[w.ch] END::integer, 1) AS children,
               CASE WHEN traject.timeline_kind(s.tl_key[w.asm]) = 1
                    THEN s.tl_val[w.asm] END AS assessment,
               coalesce(s.help <= d.as_of, false) AS helped,
               CASE WHEN s.help <= d.as_of THEN s.help END AS help_started,
               CASE WHEN s.help <= d.as_of THEN s.help - s.reg END AS days_to_help,
               coalesce(s.ireq <= d.as_of, false) AS indication_requested,
               coalesce(s.esc <= d.as_of, false) AS escalated,
               CASE WHEN traject.timeline_kind(s.tl_key[w.cl]) = 3
                    THEN traject.timeline_date(s.tl_key[w.cl]) END AS closed,
               CASE WHEN traject.timeline_kind(s.tl_key[w.cl]) = 3
                    THEN s.tl_val[w.cl] END AS closing_reason,
               round(coalesce(CASE WHEN traject.timeline_kind(s.tl_key[w.co]) = 4
                                   THEN s.tl_val[w.co]::numeric END, 0), 2) AS costs_total,
               coalesce(s.coord <= d.as_of, false) AS has_coordinator,
               coalesce(s.plan <= d.as_of, false) AS has_plan
        FROM d
        JOIN s ON s.reg <= d.as_of
        CROSS JOIN LATERAL (
            SELECT width_bucket(traject.timeline_key(1, d.as_of), s.tl_key) AS asm,
                   width_bucket(traject.timeline_key(2, d.as_of), s.tl_key) AS ch,
                   width_bucket(traject.timeline_key(3, d.as_of), s.tl_key) AS cl,
                   width_bucket(traject.timeline_key(4, d.as_of), s.tl_key) AS co
        ) w
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
        SELECT w.a, 0, 1, 0,
               coalesce(CASE WHEN traject.timeline_kind(s.tl_key[w.ch]) = 2
                             THEN s.tl_val[w.ch] END::integer, 1), 0
        FROM s CROSS JOIN LATERAL (
            SELECT greatest(s.reg, s.help) AS a,
                   width_bucket(traject.timeline_key(2, greatest(s.reg, s.help)), s.tl_key) AS ch
        ) w
        WHERE s.help IS NOT NULL
        UNION ALL
        -- the first closed event: the one after the last key before kind 3
        SELECT greatest(s.reg, traject.timeline_date(s.tl_key[w.i])), 0, 0, 1, 0, 0
        FROM s CROSS JOIN LATERAL (
            SELECT width_bucket(30000000, s.tl_key) + 1 AS i
        ) w
        WHERE traject.timeline_kind(s.tl_key[w.i]) = 3
        UNION ALL
        -- the timeline's children and cost events (the previous element of
        -- the same kind holds the value before)
        SELECT CASE WHEN c.kind = 4 THEN greatest(s.reg, c.day) ELSE c.day END, 0, 0, 0,
               CASE WHEN c.kind = 2
                    THEN c.val::integer
                         - coalesce(CASE WHEN traject.timeline_kind(s.tl_key[c.k - 1]) = 2
                                         THEN s.tl_val[c.k - 1] END::integer, 1)
                    ELSE 0 END,
               CASE WHEN c.kind = 4
                    THEN c.val::numeric
                         - coalesce(CASE WHEN traject.timeline_kind(s.tl_key[c.k - 1]) = 4
                                         THEN s.tl_val[c.k - 1] END::numeric, 0)
                    ELSE 0 END
        FROM s CROSS JOIN LATERAL (
            SELECT traject.timeline_kind(u.key) AS kind, traject.timeline_date(u.key) AS day,
                   u.val, u.k
            FROM unnest(s.tl_key, s.tl_val) WITH ORDINALITY AS u(key, val, k)
        ) c
        WHERE (c.kind = 2 AND s.help IS NOT NULL AND c.day > greatest(s.reg, s.help))
           OR c.kind = 4
    ), daily AS (
        -- the running totals by day, as sorted arrays
        SELECT array_agg(y.day ORDER BY y.day) AS days,
               array_agg(y.started ORDER BY y.day) AS started,
               array_agg(y.helped ORDER BY y.day) AS helped,
               array_agg(y.closed ORDER BY y.day) AS closed,
               array_agg(y.children ORDER BY y.day) AS children,
               array_agg(y.costs ORDER BY y.day) AS costs
        FROM (SELECT c.day,
                     sum(sum(c.started)) OVER w AS started, sum(sum(c.helped)) OVER w AS helped,
                     sum(sum(c.closed)) OVER w AS closed,
                     sum(sum(c.children)) OVER w AS children,
                     sum(sum(c.costs)) OVER w AS costs
              FROM changes c GROUP BY c.day
              WINDOW w AS (ORDER BY c.day)) y
    ), points AS (
        SELECT p.as_of,
               coalesce(y.started[w.i], 0)::bigint AS started,
               coalesce(y.helped[w.i], 0)::bigint AS helped,
               coalesce(y.closed[w.i], 0)::bigint AS closed,
               coalesce(y.children[w.i], 0)::bigint AS children,
               round(coalesce(y.costs[w.i], 0), 2) AS costs
        FROM (SELECT DISTINCT x AS as_of FROM unnest(p_points) AS x WHERE x IS NOT NULL) p
        CROSS JOIN daily y
        CROSS JOIN LATERAL (SELECT width_bucket(p.as_of, y.days) AS i) w
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

-- voids.grant_key must be the voided event's grant. Reports find a grant's
-- voids by grant_key (report_data: NOT IN over the grant's voids, one hashed
-- look-up per event), and nothing tied the two: a void stamped with another
-- grant was silently ignored by the reports of the event's grant. A trigger
-- rather than a foreign key on (event_id, grant_key), which would need a
-- second unique index on traject.events (docs/performance.md: imports).
-- trajectctl void always stamped the event's own grant; a row that does not
-- can only come from hand-written SQL, and is a question for a person, not
-- for a migration: the migration stops and names the rows.
DO $$
DECLARE
    bad text;
BEGIN
    SELECT string_agg(format('event %s (voided under grant_key %s, its grant_key is %s)',
                             v.event_id, v.grant_key, e.grant_key), ', ' ORDER BY v.event_id)
    INTO bad
    FROM traject.voids v JOIN traject.events e USING (event_id)
    WHERE v.grant_key <> e.grant_key;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'traject.voids has voids stamped with another grant than their event''s: %', bad
            USING HINT = 'correct voids.grant_key by hand (the reports of the event''s grant '
                         'ignore these voids today), then migrate again';
    END IF;
END
$$;

CREATE FUNCTION traject.void_of_own_grant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM traject.events e
                   WHERE e.event_id = NEW.event_id AND e.grant_key = NEW.grant_key) THEN
        RAISE EXCEPTION 'a void must carry its event''s grant: event % is not an event of grant_key %',
            NEW.event_id, NEW.grant_key
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;

-- AFTER, like a foreign key: the row-level security of 005 refuses a row of
-- another grantee's grant first, with its own message.
CREATE CONSTRAINT TRIGGER voids_own_grant AFTER INSERT OR UPDATE OF event_id, grant_key
    ON traject.voids
    FOR EACH ROW EXECUTE FUNCTION traject.void_of_own_grant();
