-- 014: the last error of a report in status is its latest attempt's error.
--
-- 003's report_states took max(last_error) over the documents of a version:
-- the alphabetically greatest text, so a report whose XML failed yesterday
-- with "timeout ..." and whose JSON failed just now with "HTTP 503 ..."
-- showed yesterday's timeout. Now each delivery's last_error is dated by
-- its latest attempt (finished_at, the service clock), and a document and a
-- version show the error of the delivery whose attempt ended last (a
-- delivery without attempts last; ties: the newest delivery). Everything
-- else is 003's function unchanged.
CREATE OR REPLACE FUNCTION traject.report_states(p_grant bigint, p_now timestamptz, p_tz text)
RETURNS TABLE (report_id text, kind text, as_of date, due date, version integer,
               state text, attempts integer, delivered_at timestamptz, late boolean,
               last_error text, generated_late boolean)
LANGUAGE sql STABLE AS $$
WITH cal AS (
    SELECT c.id, c.kind, c.as_of, c.due, c.position
    FROM traject.calendar c
    WHERE c.grant_key = p_grant AND c.version = traject.current_grant_version(p_grant)
), dls AS (
    SELECT dl.*,
           (SELECT max(a.finished_at) FROM traject.delivery_attempts a
            WHERE a.delivery_id = dl.delivery_id) AS tried_at
    FROM traject.deliveries dl
    JOIN traject.documents d ON d.doc_id = dl.doc_id
    WHERE d.grant_key = p_grant
), per_doc AS (
    SELECT d.report_id, d.version, d.doc_id,
           coalesce(bool_or(dl.state = 'delivered'), false) AS accepted,
           coalesce(bool_or(dl.state IN ('queued', 'delivering')), false) AS pending,
           coalesce(bool_or(dl.state = 'rejected'), false) AS refused,
           coalesce(bool_or(dl.state = 'delivering'), false) AS leased,
           coalesce(sum(dl.attempts), 0)::integer AS attempts,
           min(dl.delivered_at) AS delivered_at,
           (array_agg(dl.last_error ORDER BY dl.tried_at DESC NULLS LAST, dl.delivery_id DESC)
                FILTER (WHERE dl.last_error IS NOT NULL AND dl.state <> 'delivered'))[1] AS last_error,
           (array_agg(dl.tried_at ORDER BY dl.tried_at DESC NULLS LAST, dl.delivery_id DESC)
                FILTER (WHERE dl.last_error IS NOT NULL AND dl.state <> 'delivered'))[1] AS error_at
    FROM traject.documents d
    LEFT JOIN dls dl ON dl.doc_id = d.doc_id
    WHERE d.grant_key = p_grant
    GROUP BY d.report_id, d.version, d.doc_id
), per_version AS (
    SELECT report_id, version,
           bool_and(accepted) AS all_accepted,
           bool_or(refused AND NOT accepted AND NOT pending) AS any_refused,
           bool_or(leased) AS any_leased,
           sum(attempts)::integer AS attempts,
           CASE WHEN bool_and(accepted) THEN max(delivered_at) END AS delivered_at,
           (array_agg(last_error ORDER BY error_at DESC NULLS LAST, doc_id DESC)
                FILTER (WHERE last_error IS NOT NULL))[1] AS last_error
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
