-- 004: what the long-running trajectd needs from the schema (docs/daemon.md, "The loop").
--
-- Wake-ups: a running trajectd LISTENs on the channel trajectd and runs a
-- pass when it hears something. Generation and trajectctl deliver notify
-- in their own code (lib/outbox.c); here every other write that can change
-- what is due notifies as well, by a statement trigger, so no writer can
-- forget it: a grant load or amendment (a new calendar: a report may be
-- due at once), an import and a void (new data). PostgreSQL sends the
-- notification at commit and folds equal ones of one transaction into one;
-- a rolled-back write wakes nobody.
--
-- Outages: an instance that lost the database and reconnected counts it in
-- its instances row, so an administrator can see afterwards that it ran on
-- while the database was away (the log says it at the time).

CREATE FUNCTION traject.wake_trajectd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('trajectd', TG_ARGV[0]);
    RETURN NULL;
END $$;

CREATE TRIGGER grant_versions_wake AFTER INSERT ON traject.grant_versions
    FOR EACH STATEMENT EXECUTE FUNCTION traject.wake_trajectd('grant');
CREATE TRIGGER import_batches_wake AFTER INSERT ON traject.import_batches
    FOR EACH STATEMENT EXECUTE FUNCTION traject.wake_trajectd('import');
CREATE TRIGGER voids_wake AFTER INSERT ON traject.voids
    FOR EACH STATEMENT EXECUTE FUNCTION traject.wake_trajectd('void');

ALTER TABLE traject.instances
    ADD COLUMN db_outages integer NOT NULL DEFAULT 0 CHECK (db_outages >= 0),
    ADD COLUMN db_lost_at timestamptz,   -- real clock: when the last outage was noticed
    ADD COLUMN db_back_at timestamptz;   -- real clock: when it reconnected after it
