-- 012: the whole register is append-only in the database itself.
--
-- 007 made trajectories and import_batches refuse UPDATE and DELETE (and
-- events TRUNCATE), but events, voids, grant versions and their obligations
-- and calendar rows could still be changed or removed by any writer with the
-- privilege: append-only (docs/design.md) was only a habit of the code. No
-- code path or migration updates or deletes these rows (a correction is a
-- void row, an amendment a new version), so the same triggers go on them.
-- A row-level BEFORE trigger costs nothing on INSERT.

-- The hint now says what to do for the table at hand (TG_ARGV[0]); the
-- triggers of 007 pass none and keep the hint about voids.
CREATE OR REPLACE FUNCTION traject.refuse_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'restrict_violation',
        MESSAGE = format('traject.%s is append-only: its rows are never updated or deleted',
                         TG_TABLE_NAME),
        HINT = coalesce(TG_ARGV[0],
                        'a wrong event is voided with trajectctl void; nothing else is removed');
END $$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON traject.events
    FOR EACH ROW EXECUTE FUNCTION traject.refuse_change();

CREATE TRIGGER voids_append_only BEFORE UPDATE OR DELETE ON traject.voids
    FOR EACH ROW EXECUTE FUNCTION traject.refuse_change(
        'a void is final: the event stays voided');
CREATE TRIGGER voids_no_truncate BEFORE TRUNCATE ON traject.voids
    FOR EACH STATEMENT EXECUTE FUNCTION traject.refuse_change(
        'a void is final: the event stays voided');

CREATE TRIGGER grant_versions_append_only BEFORE UPDATE OR DELETE ON traject.grant_versions
    FOR EACH ROW EXECUTE FUNCTION traject.refuse_change(
        'a grant is changed by loading an amendment: trajectctl grant load');
CREATE TRIGGER grant_versions_no_truncate BEFORE TRUNCATE ON traject.grant_versions
    FOR EACH STATEMENT EXECUTE FUNCTION traject.refuse_change(
        'a grant is changed by loading an amendment: trajectctl grant load');
CREATE TRIGGER obligations_append_only BEFORE UPDATE OR DELETE ON traject.obligations
    FOR EACH ROW EXECUTE FUNCTION traject.refuse_change(
        'a grant is changed by loading an amendment: trajectctl grant load');
CREATE TRIGGER obligations_no_truncate BEFORE TRUNCATE ON traject.obligations
    FOR EACH STATEMENT EXECUTE FUNCTION traject.refuse_change(
        'a grant is changed by loading an amendment: trajectctl grant load');
CREATE TRIGGER calendar_append_only BEFORE UPDATE OR DELETE ON traject.calendar
    FOR EACH ROW EXECUTE FUNCTION traject.refuse_change(
        'a grant is changed by loading an amendment: trajectctl grant load');
CREATE TRIGGER calendar_no_truncate BEFORE TRUNCATE ON traject.calendar
    FOR EACH STATEMENT EXECUTE FUNCTION traject.refuse_change(
        'a grant is changed by loading an amendment: trajectctl grant load');
