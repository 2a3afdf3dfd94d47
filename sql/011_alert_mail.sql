-- 011: alerts by e-mail, and the alert of a database that stays away
-- (docs/daemon.md, "Alerts").
--
-- The database alert: an outage of the database as ONE instance saw it
-- (raised_by), raised when the connection is back, with raised_at = when
-- the connection was lost. It belongs to no grant and no report: kind
-- 'database' is the only kind whose grant_key and report_id are NULL, and
-- it must have them NULL. One row per outage and instance: the partial
-- unique index makes a repeated INSERT of the same outage (its reply was
-- lost with the connection) a no-op. The one-open-alert-per-report-and-kind
-- rule of alerts_one_open stays for the other kinds (NULLs never conflict).
--
-- The mail outbox: an alert that opens is mailed exactly once across all
-- instances. The instance whose INSERT raised it queues it ('pending')
-- when it has mail configured, else 'none'; rows from before this
-- migration are 'none' (no mail storm on upgrade). Sending works like a
-- delivery: claimed with FOR UPDATE SKIP LOCKED and a lease ('sending',
-- mail_lease_owner/mail_lease_until), attempted, and recorded while the
-- lease is ours as 'sent', as 'pending' again with mail_next_at (a retry
-- with backoff), or 'failed' with mail_error (a permanent refusal, or the
-- last of a few attempts). Mail times are the database's real clock
-- (clock_timestamp()), like leases: they are about processes and the mail
-- server, not the calendar.

ALTER TABLE traject.alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE traject.alerts
    ADD CONSTRAINT alerts_kind_check
        CHECK (kind IN ('rejected', 'not_delivered', 'late', 'failing', 'database')),
    ALTER COLUMN grant_key DROP NOT NULL,
    ALTER COLUMN report_id DROP NOT NULL,
    ADD CONSTRAINT alerts_subject CHECK (CASE WHEN kind = 'database'
                                              THEN grant_key IS NULL AND report_id IS NULL
                                              ELSE grant_key IS NOT NULL AND report_id IS NOT NULL
                                         END),
    -- who resolved it: the instance (the report was delivered) or the role
    -- that ran 'trajectctl alert resolve'
    ADD COLUMN resolved_by text,
    ADD COLUMN mail_state text NOT NULL DEFAULT 'none'
        CHECK (mail_state IN ('none', 'pending', 'sending', 'sent', 'failed')),
    ADD COLUMN mail_attempts integer NOT NULL DEFAULT 0 CHECK (mail_attempts >= 0),
    ADD COLUMN mail_next_at timestamptz,      -- pending: not before (NULL: at once)
    ADD COLUMN mail_lease_owner text,
    ADD COLUMN mail_lease_until timestamptz,
    ADD COLUMN mailed_at timestamptz,         -- when the mail server accepted it
    ADD COLUMN mail_error text,               -- why the last attempt failed
    ADD CONSTRAINT alerts_mail_lease
        CHECK ((mail_state = 'sending') = (mail_lease_owner IS NOT NULL AND mail_lease_until IS NOT NULL)),
    ADD CONSTRAINT alerts_mail_sent CHECK ((mail_state = 'sent') = (mailed_at IS NOT NULL));

CREATE UNIQUE INDEX alerts_database_once ON traject.alerts (raised_by, raised_at)
    WHERE kind = 'database';
CREATE INDEX alerts_mail_due ON traject.alerts (mail_next_at)
    WHERE mail_state IN ('pending', 'sending');

-- A database alert belongs to no grant: like traject.instances it is about
-- the shared service, so every role that reads alerts sees it (and an
-- administrator may resolve it). Report alerts still follow their grant.
DROP POLICY by_grant ON traject.alerts;
CREATE POLICY by_grant ON traject.alerts
    USING (grant_key IS NULL OR grant_key IN (SELECT g.grant_key FROM traject.grants g));
