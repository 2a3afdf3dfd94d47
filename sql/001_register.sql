-- 001: the trajectory register.
--
-- Everything is append-only: a grant amendment is a new grant_versions row,
-- a wrong event is voided by a row in voids, nothing is updated in place.
-- Every write to a grant's register runs inside
--   pg_advisory_xact_lock_shared(traject.lock_class(), grant_key)
-- and stamps its rows with clock_timestamp() taken after that lock, while a
-- report takes the exclusive form before it picks its knowledge time K. So
-- every row recorded at or before K is committed before the report reads,
-- and a report at (C, K) computed later sees exactly the same rows.

CREATE FUNCTION traject.lock_class() RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 1414678595 $$; -- 'TJRC'

-- Timestamps leave the database in one canonical, zone-free spelling.
CREATE FUNCTION traject.iso_utc(ts timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN extract(microseconds FROM ts)::bigint % 1000000 = 0
        THEN to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        ELSE to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    END $$;

CREATE DOMAIN traject.ref AS text
    CHECK (VALUE ~ '^[A-Za-z0-9._-]{1,64}$');
CREATE DOMAIN traject.money AS numeric(14,2);

CREATE TABLE traject.grants (
    grant_key   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          traject.ref NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL
);

-- One row per load of a grant decision: version 1 is the decision, every
-- later version an amendment. A report uses the newest version whose
-- known_at <= its knowledge time.
CREATE TABLE traject.grant_versions (
    grant_key              bigint NOT NULL REFERENCES traject.grants,
    version                integer NOT NULL CHECK (version >= 1),
    known_at               timestamptz NOT NULL,
    source_name            text NOT NULL,
    source_sha256          text NOT NULL CHECK (source_sha256 ~ '^[0-9a-f]{64}$'),
    document               jsonb NOT NULL,
    title                  text,
    grantor                text NOT NULL CHECK (grantor <> ''),
    grantee                text NOT NULL CHECK (grantee <> ''),
    decision_date          date NOT NULL,
    period_start           date NOT NULL,
    period_end             date NOT NULL,
    currency               text NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
    amount_granted         traject.money NOT NULL CHECK (amount_granted >= 0),
    target_trajectories    integer NOT NULL CHECK (target_trajectories > 0),
    amount_per_trajectory  traject.money NOT NULL CHECK (amount_per_trajectory >= 0),
    baseline_cost_per_child   traject.money CHECK (baseline_cost_per_child >= 0),
    baseline_days_to_help     numeric CHECK (baseline_days_to_help >= 0),
    baseline_indication_rate  numeric CHECK (baseline_indication_rate >= 0),
    PRIMARY KEY (grant_key, version),
    UNIQUE (grant_key, known_at),
    CHECK (period_start <= period_end)
);

CREATE TABLE traject.obligations (
    grant_key    bigint NOT NULL,
    version      integer NOT NULL,
    id           traject.ref NOT NULL,
    indicator    text NOT NULL CHECK (indicator IN (
        'trajectories_started', 'trajectories_helped', 'trajectories_closed',
        'trajectories_active', 'children_helped', 'indications_needed',
        'indications_requested', 'indications_avoided',
        'indication_avoidance_rate', 'escalations',
        'heavier_care_avoided_rate', 'median_days_to_help',
        'p90_days_to_help', 'costs_total', 'amount_committed',
        'amount_settled', 'budget_remaining', 'cost_per_child_helped',
        'children_helped_per_10k_eur', 'extra_children_within_budget')),
    op           text NOT NULL CHECK (op IN ('>=', '<=', '>', '<', '==')),
    target       numeric NOT NULL,
    due          date NOT NULL,
    description  text,
    position     integer NOT NULL,
    PRIMARY KEY (grant_key, version, id),
    FOREIGN KEY (grant_key, version) REFERENCES traject.grant_versions
);

-- The reporting calendar of one grant version.
CREATE TABLE traject.calendar (
    grant_key  bigint NOT NULL,
    version    integer NOT NULL,
    id         traject.ref NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('progress', 'determination')),
    as_of      date NOT NULL,
    due        date NOT NULL,
    position   integer NOT NULL,
    PRIMARY KEY (grant_key, version, id),
    FOREIGN KEY (grant_key, version) REFERENCES traject.grant_versions,
    CHECK (as_of <= due)
);

CREATE TABLE traject.trajectories (
    traj_key   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    grant_key  bigint NOT NULL REFERENCES traject.grants,
    ref        traject.ref NOT NULL,
    UNIQUE (grant_key, ref)
);

CREATE TABLE traject.import_batches (
    batch_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    grant_key    bigint NOT NULL REFERENCES traject.grants,
    file_name    text NOT NULL,
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    row_count    integer NOT NULL CHECK (row_count >= 0),
    recorded_at  timestamptz NOT NULL,
    UNIQUE (grant_key, sha256)
);

-- One fact about one trajectory. value holds the event's text value
-- (NULL where the event has none); amount holds a cost's money.
CREATE TABLE traject.events (
    event_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    grant_key    bigint NOT NULL REFERENCES traject.grants,
    traj_key     bigint NOT NULL REFERENCES traject.trajectories,
    batch_id     bigint NOT NULL REFERENCES traject.import_batches,
    line         integer NOT NULL CHECK (line >= 2),
    event_date   date NOT NULL,
    kind         text NOT NULL,
    value        text,
    amount       traject.money,
    recorded_at  timestamptz NOT NULL,
    CHECK (CASE kind
        WHEN 'registered' THEN value IS NULL AND amount IS NULL
        WHEN 'plan' THEN value IS NULL AND amount IS NULL
        WHEN 'help_started' THEN value IS NULL AND amount IS NULL
        WHEN 'indication_requested' THEN value IS NULL AND amount IS NULL
        WHEN 'coordinator' THEN value ~ '^[A-Za-z0-9._-]{1,64}$' AND amount IS NULL
        WHEN 'children' THEN value ~ '^[0-9]{1,2}$' AND value::integer BETWEEN 1 AND 20
                             AND amount IS NULL
        WHEN 'assessed' THEN value IN ('needs_indication', 'no_indication') AND amount IS NULL
        WHEN 'escalated' THEN value IN ('residential', 'foster_care', 'day_treatment', 'other')
                              AND amount IS NULL
        WHEN 'cost' THEN value IS NULL AND amount > 0
        WHEN 'closed' THEN value IN ('goals_reached', 'referred', 'dropped_out', 'moved', 'other')
                           AND amount IS NULL
        ELSE false END)
);
CREATE INDEX events_grant_traj ON traject.events (grant_key, traj_key, event_date);
CREATE INDEX events_traj ON traject.events (traj_key);

-- A correction: the event it names no longer counts for knowledge times
-- from recorded_at on. An event is voided at most once.
CREATE TABLE traject.voids (
    event_id     bigint PRIMARY KEY REFERENCES traject.events,
    grant_key    bigint NOT NULL REFERENCES traject.grants,
    reason       text NOT NULL CHECK (btrim(reason) <> ''),
    recorded_at  timestamptz NOT NULL
);
CREATE INDEX voids_grant ON traject.voids (grant_key);
