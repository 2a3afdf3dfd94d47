-- 007: the register at national scale (docs/performance.md, "Import").
--
-- Measured on 1,000,000 events: the three foreign keys of traject.events
-- (grant, trajectory, batch) cost about 9 s of a 22 s import, because a
-- foreign key is checked row by row (an index probe and a KEY SHARE lock of
-- the referenced row per event). Here they become one set-based check per
-- statement, which is also stricter: an event's trajectory and batch must
-- belong to the event's own grant (the foreign keys allowed an event of
-- grant A to name a trajectory of grant B).
--
-- What a foreign key also guarantees is that the referenced rows stay. The
-- register is append-only (docs/design.md), so trajectories and import
-- batches are made so explicitly: UPDATE, DELETE and TRUNCATE are refused.
-- traject.events -> traject.grants holds through traject.trajectories,
-- whose foreign key to traject.grants stays (a trajectory row per new
-- reference, not per event). traject.voids -> traject.events stays as it is.
--
-- The index events_traj (traj_key) goes: every query reaches events by
-- grant and trajectory, which events_grant_traj (grant_key, traj_key,
-- event_date) serves, and it cost about 1 s per million imported events.

ALTER TABLE traject.events
    DROP CONSTRAINT events_grant_key_fkey,
    DROP CONSTRAINT events_traj_key_fkey,
    DROP CONSTRAINT events_batch_id_fkey;
DROP INDEX traject.events_traj;

-- The statement's new events, all at once: one pass over them that keeps
-- each distinct (grant, trajectory, batch) -- about one in ten -- and then
-- two index probes per distinct triple, instead of three probes per event.
-- (Not "LIMIT 1" over the events themselves: the planner then probes per
-- event, hoping to stop early.) Runs as the inserting role, so row-level
-- security applies: an event may only name rows its writer can see.
CREATE FUNCTION traject.events_check_refs() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    bad record;
BEGIN
    SELECT k.grant_key, k.traj_key, k.batch_id,
           EXISTS (SELECT 1 FROM traject.trajectories t
                   WHERE t.traj_key = k.traj_key AND t.grant_key = k.grant_key) AS traj_ok
    INTO bad
    FROM (SELECT DISTINCT n.grant_key, n.traj_key, n.batch_id FROM new_events n) k
    WHERE NOT EXISTS (SELECT 1 FROM traject.trajectories t
                      WHERE t.traj_key = k.traj_key AND t.grant_key = k.grant_key)
       OR NOT EXISTS (SELECT 1 FROM traject.import_batches b
                      WHERE b.batch_id = k.batch_id AND b.grant_key = k.grant_key)
    LIMIT 1;
    IF FOUND AND NOT bad.traj_ok THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            MESSAGE = format('an event names trajectory %s, which is not a trajectory of '
                             'grant %s', bad.traj_key, bad.grant_key),
            HINT = 'store the trajectory in traject.trajectories first, for the same grant';
    ELSIF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            MESSAGE = format('an event names import batch %s, which is not a batch of grant %s',
                             bad.batch_id, bad.grant_key),
            HINT = 'store the batch in traject.import_batches first, for the same grant';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER events_refs AFTER INSERT ON traject.events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION traject.events_check_refs();

-- Rows that events name are never changed or removed.
CREATE FUNCTION traject.refuse_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'restrict_violation',
        MESSAGE = format('traject.%s is append-only: its rows are never updated or deleted',
                         TG_TABLE_NAME),
        HINT = 'a wrong event is voided with trajectctl void; nothing else is removed';
END $$;

CREATE TRIGGER trajectories_append_only BEFORE UPDATE OR DELETE ON traject.trajectories
    FOR EACH ROW EXECUTE FUNCTION traject.refuse_change();
CREATE TRIGGER trajectories_no_truncate BEFORE TRUNCATE ON traject.trajectories
    FOR EACH STATEMENT EXECUTE FUNCTION traject.refuse_change();
CREATE TRIGGER import_batches_append_only BEFORE UPDATE OR DELETE ON traject.import_batches
    FOR EACH ROW EXECUTE FUNCTION traject.refuse_change();
CREATE TRIGGER import_batches_no_truncate BEFORE TRUNCATE ON traject.import_batches
    FOR EACH STATEMENT EXECUTE FUNCTION traject.refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON traject.events
    FOR EACH STATEMENT EXECUTE FUNCTION traject.refuse_change();
