-- 003: the reporting outbox (docs/daemon.md).
--
-- A report of the calendar is generated once per version: the version row,
-- its documents (one per format, the exact bytes and their sha256) and one
-- delivery per document and target are written in ONE transaction, before
-- anything is sent. Delivery only reads the stored bytes, so every retry
-- sends the same document with the same idempotency key.
--
-- Several trajectd instances share one database. Uniqueness is kept by
-- constraints, not only by code: a (grant, report, version) exists once, a
-- (document, target) is delivered by one row, an alert is open once. A
-- delivery is claimed with FOR UPDATE SKIP LOCKED and a lease
-- (lease_owner, lease_until on the database's real clock); a claim whose
-- lease ran out (its instance died) is taken over, and the retry sends the
-- same bytes with the same key, so a receiver never sees two different
-- documents for one delivery.
--
-- Clocks: known_at (K) and the leases and heartbeats are the database's
-- real clock; generated_at, next_attempt_at, delivered_at, raised_at are
-- the service clock (trajectd --clock), which scheduling and lateness use.
-- receipt_at is when the receiver answered, by the real clock.

-- Generators of one grant serialize on pg_advisory_xact_lock(outbox_lock_class(), grant_key).
CREATE FUNCTION traject.outbox_lock_class() RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 1414156098 $$; -- 'TJOB'

-- The running trajectd processes ("which instances are alive").
CREATE TABLE traject.instances (
    instance_id    text PRIMARY KEY CHECK (instance_id ~ '^[A-Za-z0-9._:@-]{1,200}$'),
    host           text NOT NULL,
    pid            integer NOT NULL CHECK (pid > 0),
    started_at     timestamptz NOT NULL,
    heartbeat_at   timestamptz NOT NULL,
    service_clock  timestamptz NOT NULL,  -- the service clock at the last heartbeat
    stopped_at     timestamptz
);

-- One computed version of one calendar report: the knowledge time K and
-- why and when it was made. Version 1 is the scheduled (or first manual)
-- generation; a higher version is a corrected report with its own keys.
CREATE TABLE traject.report_versions (
    grant_key      bigint NOT NULL REFERENCES traject.grants,
    report_id      traject.ref NOT NULL,
    version        integer NOT NULL CHECK (version >= 1),
    grant_version  integer NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('progress', 'determination')),
    as_of          date NOT NULL,
    due            date NOT NULL,
    known_at       timestamptz NOT NULL,
    reason         text NOT NULL CHECK (reason IN ('scheduled', 'manual', 'new_version')),
    scheduled_for  timestamptz,           -- the generation moment (scheduled only)
    late           boolean NOT NULL,      -- generated after its due date (local)
    generated_at   timestamptz NOT NULL,
    generated_by   text NOT NULL,
    PRIMARY KEY (grant_key, report_id, version),
    FOREIGN KEY (grant_key, grant_version) REFERENCES traject.grant_versions,
    CHECK (as_of <= due),
    CHECK ((reason = 'scheduled') = (scheduled_for IS NOT NULL)),
    CHECK (reason <> 'new_version' OR version > 1)
);

-- The bytes of one version in one format. The sha256 is checked by the
-- database itself, and the bytes can never change afterwards.
CREATE TABLE traject.documents (
    doc_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    grant_key        bigint NOT NULL,
    report_id        traject.ref NOT NULL,
    version          integer NOT NULL,
    format           text NOT NULL CHECK (format IN ('xml', 'json')),
    body             bytea NOT NULL,
    sha256           text NOT NULL CHECK (sha256 = encode(sha256(body), 'hex')),
    idempotency_key  text NOT NULL UNIQUE,
    UNIQUE (grant_key, report_id, version, format),
    FOREIGN KEY (grant_key, report_id, version) REFERENCES traject.report_versions
);

-- One document on its way to one target (the [delivery] url at queue time).
--   queued      waiting for next_attempt_at (attempts = 0: not yet tried)
--   delivering  claimed by lease_owner until lease_until
--   delivered   the receipt is stored (terminal)
--   rejected    the target refused it (terminal until 'trajectctl deliver' queues it again)
CREATE TABLE traject.deliveries (
    delivery_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc_id            bigint NOT NULL REFERENCES traject.documents,
    target            text NOT NULL CHECK (target ~ '^(https://|file:///)'),
    state             text NOT NULL DEFAULT 'queued'
                      CHECK (state IN ('queued', 'delivering', 'delivered', 'rejected')),
    attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    queued_at         timestamptz NOT NULL,
    next_attempt_at   timestamptz NOT NULL,
    lease_owner       text,
    lease_until       timestamptz,
    last_error        text,
    delivered_at      timestamptz,
    receipt_status    integer,
    receipt_headers   bytea,
    receipt_body      bytea,
    receipt_path      text,
    receipt_at        timestamptz,
    UNIQUE (doc_id, target),
    CHECK ((state = 'delivering') = (lease_owner IS NOT NULL AND lease_until IS NOT NULL)),
    CHECK ((state = 'delivered') = (delivered_at IS NOT NULL AND receipt_at IS NOT NULL))
);
CREATE INDEX deliveries_open ON traject.deliveries (next_attempt_at)
    WHERE state IN ('queued', 'delivering');

-- Every attempt, as it ended.
CREATE TABLE traject.delivery_attempts (
    delivery_id   bigint NOT NULL REFERENCES traject.deliveries,
    attempt       integer NOT NULL CHECK (attempt >= 1),
    instance_id   text NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('delivered', 'retry', 'rejected')),
    http_status   integer,
    error         text,
    retry_after   integer,
    elapsed_ms    bigint NOT NULL,
    finished_at   timestamptz NOT NULL,    -- service clock
    next_attempt_at timestamptz,           -- for a retry
    PRIMARY KEY (delivery_id, attempt)
);

-- What the administrator must look at: a rejected document, a report not
-- delivered warn_hours before it is due, a late report, and a delivery
-- that keeps failing in a way waiting will not fix (TLS verification, a
-- bad target). Open (resolved_at IS NULL) at most once per report and
-- kind; resolved when the report is delivered.
CREATE TABLE traject.alerts (
    alert_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('rejected', 'not_delivered', 'late', 'failing')),
    grant_key    bigint NOT NULL REFERENCES traject.grants,
    report_id    traject.ref NOT NULL,
    message      text NOT NULL,
    raised_at    timestamptz NOT NULL,
    raised_by    text NOT NULL,
    resolved_at  timestamptz
);
CREATE UNIQUE INDEX alerts_one_open ON traject.alerts (grant_key, report_id, kind)
    WHERE resolved_at IS NULL;

-- Stored reports are evidence: their bytes never change, and nothing that
-- was not delivered is ever removed.
CREATE FUNCTION traject.outbox_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation';
END $$;

CREATE TRIGGER report_versions_frozen BEFORE UPDATE OR DELETE ON traject.report_versions
    FOR EACH ROW EXECUTE FUNCTION traject.outbox_refuse('a generated report version is never changed or removed');
CREATE TRIGGER documents_frozen BEFORE UPDATE OR DELETE ON traject.documents
    FOR EACH ROW EXECUTE FUNCTION traject.outbox_refuse('a stored document is never changed or removed');
CREATE TRIGGER deliveries_kept BEFORE DELETE ON traject.deliveries
    FOR EACH ROW WHEN (OLD.state <> 'delivered')
    EXECUTE FUNCTION traject.outbox_refuse('an undelivered document is never pruned');

-- The newest version of a grant's definition (its calendar is the current one).
CREATE FUNCTION traject.current_grant_version(p_grant bigint) RETURNS integer
    LANGUAGE sql STABLE AS $$
    SELECT max(version) FROM traject.grant_versions WHERE grant_key = p_grant $$;

-- Where each report of a grant's current calendar stands, for status.
-- A version is delivered when each of its documents was accepted by some
-- target, rejected when a document was refused and is not queued again.
-- The report's state is its newest version's; it is late when it was not
-- delivered (any version) by the end of its due date in zone p_tz.
CREATE FUNCTION traject.report_states(p_grant bigint, p_now timestamptz, p_tz text)
RETURNS TABLE (report_id text, kind text, as_of date, due date, version integer,
               state text, attempts integer, delivered_at timestamptz, late boolean,
               last_error text, generated_late boolean)
LANGUAGE sql STABLE AS $$
WITH cal AS (
    SELECT c.id, c.kind, c.as_of, c.due, c.position
    FROM traject.calendar c
    WHERE c.grant_key = p_grant AND c.version = traject.current_grant_version(p_grant)
), per_doc AS (
    SELECT d.report_id, d.version, d.doc_id,
           coalesce(bool_or(dl.state = 'delivered'), false) AS accepted,
           coalesce(bool_or(dl.state IN ('queued', 'delivering')), false) AS pending,
           coalesce(bool_or(dl.state = 'rejected'), false) AS refused,
           coalesce(bool_or(dl.state = 'delivering'), false) AS leased,
           coalesce(sum(dl.attempts), 0)::integer AS attempts,
           min(dl.delivered_at) AS delivered_at,
           (array_agg(dl.last_error ORDER BY dl.delivery_id DESC)
                FILTER (WHERE dl.last_error IS NOT NULL AND dl.state <> 'delivered'))[1] AS last_error
    FROM traject.documents d
    LEFT JOIN traject.deliveries dl ON dl.doc_id = d.doc_id
    WHERE d.grant_key = p_grant
    GROUP BY d.report_id, d.version, d.doc_id
), per_version AS (
    SELECT report_id, version,
           bool_and(accepted) AS all_accepted,
           bool_or(refused AND NOT accepted AND NOT pending) AS any_refused,
           bool_or(leased) AS any_leased,
           sum(attempts)::integer AS attempts,
           CASE WHEN bool_and(accepted) THEN max(delivered_at) END AS delivered_at,
           max(last_error) AS last_error
    FROM per_doc GROUP BY report_id, version
), latest AS (
    SELECT DISTINCT ON (rv.report_id) rv.report_id, rv.version, rv.late
    FROM traject.report_versions rv WHERE rv.grant_key = p_grant
    ORDER BY rv.report_id, rv.version DESC
), first_delivery AS (
    SELECT pv.report_id, min(pv.delivered_at) AS delivered_at
    FROM per_version pv GROUP BY pv.report_id
)
SELECT cal.id::text, cal.kind, cal.as_of, cal.due, l.version,
       CASE WHEN l.version IS NULL THEN 'scheduled'
            WHEN pv.any_refused THEN 'rejected'
            WHEN pv.all_accepted THEN 'delivered'
            WHEN pv.attempts > 0 OR pv.any_leased THEN 'delivering'
            ELSE 'generated' END,
       coalesce(pv.attempts, 0),
       pv.delivered_at,
       CASE WHEN fd.delivered_at IS NOT NULL
            THEN (fd.delivered_at AT TIME ZONE p_tz)::date > cal.due
            ELSE (p_now AT TIME ZONE p_tz)::date > cal.due END,
       pv.last_error,
       coalesce(l.late, false)
FROM cal
LEFT JOIN latest l ON l.report_id = cal.id
LEFT JOIN per_version pv ON pv.report_id = l.report_id AND pv.version = l.version
LEFT JOIN first_delivery fd ON fd.report_id = cal.id
ORDER BY cal.position
$$;
