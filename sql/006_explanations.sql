-- 006: the grantee's explanations of obligations, and the forecast of the
-- determination that `trajectctl status` shows (docs/reports.md).
--
-- An explanation is the grantee's word on an obligation that is not met
-- (or at risk): `trajectctl explain --grant ID --obligation P2 --text ...`.
-- Append-only like the register: a later explanation replaces an earlier
-- one for reports whose knowledge time K is after it, and an earlier report
-- keeps the one it saw. A write takes the grant's shared register lock and
-- stamps recorded_at after it (docs/design.md), so a report at K sees
-- exactly the explanations recorded at or before K.

CREATE TABLE traject.explanations (
    explanation_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    grant_key       bigint NOT NULL REFERENCES traject.grants,
    obligation_id   traject.ref NOT NULL,
    body            text NOT NULL CHECK (btrim(body) <> '' AND length(body) <= 4000
                                         AND NOT traject.may_hold_bsn(body)),
    recorded_at     timestamptz NOT NULL,
    recorded_by     text NOT NULL DEFAULT current_user
);
CREATE INDEX explanations_grant ON traject.explanations (grant_key, obligation_id, recorded_at);

CREATE TRIGGER explanations_frozen BEFORE UPDATE OR DELETE ON traject.explanations
    FOR EACH ROW EXECUTE FUNCTION traject.outbox_refuse(
        'an explanation is never changed or removed: record a new one');

-- Visible (and writable, where the privileges allow) with its grant, as
-- every register table (005).
ALTER TABLE traject.explanations ENABLE ROW LEVEL SECURITY;
ALTER TABLE traject.explanations FORCE ROW LEVEL SECURITY;
CREATE POLICY by_grant ON traject.explanations
    USING (grant_key IN (SELECT g.grant_key FROM traject.grants g));

-- The explanation of one obligation a report at knowledge time K carries:
-- the newest recorded at or before K (no row: none).
CREATE FUNCTION traject.explanation_at(p_grant bigint, p_obligation text,
                                       p_known_at timestamptz)
    RETURNS TABLE (body text, recorded_at timestamptz)
    LANGUAGE sql STABLE AS $$
    SELECT x.body, x.recorded_at FROM traject.explanations x
    WHERE x.grant_key = p_grant AND x.obligation_id = p_obligation
      AND x.recorded_at <= p_known_at
    ORDER BY x.recorded_at DESC, x.explanation_id DESC
    LIMIT 1
$$;

-- The forecast of the determination at C (status: C = today, K = now).
--   amount_determined: what would be determined if the period ended at C
--     (traject.determination at C: trajectories registered within the
--     period up to C, times the fixed amount, at most the amount granted);
--   shortfall: amount_granted - amount_determined;
--   projected_realised: the realised trajectories drawn on a straight line
--     from period.start through C to period.end,
--     realised * days(start, end) / days(start, C), 4 decimals; the count
--     itself from period.end on; NULL before period.start;
--   projected_amount: min(amount_granted, amount_per_trajectory *
--     projected_realised), to cents;
--   at_risk: the projection falls short of the amount granted, compared
--     exactly (per * realised * days(start, end) < granted * days(start, C),
--     C at most period.end); false before period.start (nothing to project).
CREATE FUNCTION traject.forecast(p_grant bigint, p_as_of date, p_known_at timestamptz)
    RETURNS TABLE (as_of date, trajectories_realised bigint, amount_granted numeric,
                   amount_determined numeric, shortfall numeric, projected_realised numeric,
                   projected_amount numeric, at_risk boolean)
    LANGUAGE sql STABLE AS $$
    WITH x AS (
        SELECT d.trajectories_realised AS realised, d.amount_determined, d.amount_difference,
               v.amount_granted, v.amount_per_trajectory,
               (v.period_end - v.period_start + 1)::numeric AS period_days,
               (least(p_as_of, v.period_end) - v.period_start + 1)::numeric AS c_days,
               p_as_of < v.period_start AS before
        FROM traject.determination(p_grant, p_as_of, p_known_at) d
        CROSS JOIN traject.grant_version_at(p_grant, p_known_at) v
    )
    SELECT p_as_of, x.realised, round(x.amount_granted, 2), x.amount_determined,
           x.amount_difference,
           CASE WHEN x.before THEN NULL
                ELSE trim_scale(round(x.realised * x.period_days / x.c_days, 4)) END,
           CASE WHEN x.before THEN NULL
                ELSE round(least(x.amount_granted,
                                 x.amount_per_trajectory * x.realised * x.period_days / x.c_days),
                           2) END,
           NOT x.before AND x.amount_per_trajectory * x.realised * x.period_days
                            < x.amount_granted * x.c_days
    FROM x
$$;
