-- 005: row-level security, the grantee scope of a grant, and the last line
-- of defence against citizen service numbers (docs/security.md).
--
-- Who may see what is decided here, by policies, for every role; which
-- role may write where is decided by the privileges that
-- `trajectctl migrate --roles` (lib/roles.c) grants to the group roles
-- trajectd_owner, trajectd_service, trajectd_admin and trajectd_reader.
-- This file names those roles only as text, so it applies (as every
-- migration) whether or not they exist yet.
--
-- The scope: a grant belongs to the grantee of its newest version
-- (grants.scope_grantee, kept by a trigger). traject.role_grantees maps a
-- role to the grantees it acts for; a member of a mapped role sees those
-- grants and everything hanging off them, nothing else. The owner and the
-- service (and the schema's owner before --roles ran) see every grant
-- through an explicit policy: no role here needs BYPASSRLS. RLS is FORCEd,
-- so the owner is bound by the policies too. Superusers bypass RLS as
-- PostgreSQL always lets them (the tests connect as one).
--
-- Every helper runs as its caller (no SECURITY DEFINER anywhere) with a
-- fixed search_path, so a caller cannot redirect the functions or
-- operators a policy uses.

-- True when text holds a run of exactly nine digits that passes the BSN
-- eleven-test: the SQL twin of tj_contains_bsn() in lib/value.c.
CREATE FUNCTION traject.may_hold_bsn(p_text text) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog AS $$
DECLARE
    m text[];
    s integer;
BEGIN
    IF p_text !~ '[0-9]{9}' THEN
        RETURN false; -- the common case, decided without the loop
    END IF;
    FOR m IN SELECT regexp_matches(p_text, '(?<![0-9])[0-9]{9}(?![0-9])', 'g') LOOP
        s := 0;
        FOR i IN 1..9 LOOP
            s := s + (CASE WHEN i < 9 THEN 10 - i ELSE -1 END) * (ascii(substr(m[1], i, 1)) - 48);
        END LOOP;
        IF s % 11 = 0 THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END $$;

-- Whether the current user is a member of the role named p_role (false
-- when there is no such role: the group roles may not exist yet).
CREATE FUNCTION traject.is_member(p_role text) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog AS $$
    SELECT EXISTS (SELECT 1 FROM pg_roles r
                   WHERE r.rolname = p_role AND pg_has_role(r.oid, 'MEMBER'))
$$;

-- Roles that see every grant: the owner, the service, and whoever owns the
-- schema (the migrating role before `migrate --roles` handed it over).
CREATE FUNCTION traject.sees_all() RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog AS $$
    SELECT traject.is_member('trajectd_owner') OR traject.is_member('trajectd_service')
        OR pg_has_role((SELECT n.nspowner FROM pg_namespace n WHERE n.nspname = 'traject'),
                       'MEMBER')
$$;

-- Which roles act for which grantees. The grantee is the grant decision's
-- "grantee" text, matched exactly. Written by the owner
-- (trajectctl role grant-grantee); a role reads its own rows.
CREATE TABLE traject.role_grantees (
    role_name  text NOT NULL CHECK (length(role_name) BETWEEN 1 AND 63),
    grantee    text NOT NULL CHECK (btrim(grantee) <> '' AND NOT traject.may_hold_bsn(grantee)),
    PRIMARY KEY (role_name, grantee)
);

-- Whether the current user acts for p_grantee (through any role it is a
-- member of).
CREATE FUNCTION traject.acts_for(p_grantee text) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog AS $$
    SELECT EXISTS (SELECT 1 FROM traject.role_grantees m
                   JOIN pg_roles r ON r.rolname = m.role_name
                   WHERE m.grantee = p_grantee AND pg_has_role(r.oid, 'MEMBER'))
$$;

-- The scope of a grant: the grantee of its newest version. NULL only
-- between the INSERT of a new grant and the INSERT of its first version,
-- inside the loading transaction (nobody else can see such a row).
ALTER TABLE traject.grants ADD COLUMN scope_grantee text;
UPDATE traject.grants g SET scope_grantee = v.grantee
FROM (SELECT DISTINCT ON (grant_key) grant_key, grantee
      FROM traject.grant_versions ORDER BY grant_key, version DESC) v
WHERE v.grant_key = g.grant_key;

-- A clear refusal before the policy's bare "violates row-level security":
-- a version may only name a grantee the loading role acts for.
CREATE FUNCTION traject.grant_version_scope() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog AS $$
BEGIN
    IF NOT (traject.sees_all() OR traject.acts_for(NEW.grantee)) THEN
        RAISE EXCEPTION 'role % does not act for grantee "%"', current_user, NEW.grantee
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'the owner maps a role to a grantee with: '
                         'trajectctl role grant-grantee ROLE GRANTEE';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER grant_versions_scope BEFORE INSERT ON traject.grant_versions
    FOR EACH ROW EXECUTE FUNCTION traject.grant_version_scope();

-- The newest version moves the grant's scope along (an amendment may rename
-- the grantee; the loader must act for the old and the new name).
CREATE FUNCTION traject.grant_scope_follow() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog AS $$
BEGIN
    UPDATE traject.grants SET scope_grantee = NEW.grantee
    WHERE grant_key = NEW.grant_key AND scope_grantee IS DISTINCT FROM NEW.grantee;
    RETURN NULL;
END $$;
CREATE TRIGGER grant_versions_follow AFTER INSERT ON traject.grant_versions
    FOR EACH ROW EXECUTE FUNCTION traject.grant_scope_follow();

-- A grant row is never changed by hand: only the trigger above (one level
-- down) moves its scope. The grant loader's UPDATE privilege on
-- scope_grantee exists for that trigger and for SELECT ... FOR NO KEY UPDATE.
CREATE FUNCTION traject.grants_frozen() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog AS $$
BEGIN
    IF pg_trigger_depth() < 2 OR NEW.grant_key <> OLD.grant_key OR NEW.id <> OLD.id
       OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'a grant is never changed in place: load an amendment of it instead'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER grants_frozen BEFORE UPDATE ON traject.grants
    FOR EACH ROW EXECUTE FUNCTION traject.grants_frozen();

-- ---- policies -------------------------------------------------------------

ALTER TABLE traject.role_grantees ENABLE ROW LEVEL SECURITY;
ALTER TABLE traject.role_grantees FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON traject.role_grantees
    USING ((SELECT traject.sees_all()) OR traject.is_member(role_name));

ALTER TABLE traject.grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE traject.grants FORCE ROW LEVEL SECURITY;
CREATE POLICY every_grant ON traject.grants
    USING ((SELECT traject.sees_all()));
CREATE POLICY own_grantee ON traject.grants
    USING (scope_grantee IS NULL OR traject.acts_for(scope_grantee));

-- Everything else follows the grant it belongs to: visible (and writable,
-- where the privileges allow) exactly when that grant is visible.
ALTER TABLE traject.grant_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE traject.grant_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY by_grant ON traject.grant_versions
    USING (grant_key IN (SELECT g.grant_key FROM traject.grants g));

ALTER TABLE traject.obligations ENABLE ROW LEVEL SECURITY;
ALTER TABLE traject.obligations FORCE ROW LEVEL SECURITY;
CREATE POLICY by_grant ON traject.obligations
    USING (grant_key IN (SELECT g.grant_key FROM traject.grants g));

ALTER TABLE traject.calendar ENABLE ROW LEVEL SECURITY;
ALTER TABLE traject.calendar FORCE ROW LEVEL SECURITY;
CREATE POLICY by_grant ON traject.calendar
    USING (grant_key IN (SELECT g.grant_key FROM traject.grants g));

ALTER TABLE traject.trajectories ENABLE ROW LEVEL SECURITY;
ALTER TABLE traject.trajectories FORCE ROW LEVEL SECURITY;
CREATE POLICY by_grant ON traject.trajectories
    USING (grant_key IN (SELECT g.grant_key FROM traject.grants g));

ALTER TABLE traject.import_batches ENABLE ROW LEVEL SECURITY;
ALTER TABLE traject.import_batches FORCE ROW LEVEL SECURITY;
CREATE POLICY by_grant ON traject.import_batches
    USING (grant_key IN (SELECT g.grant_key FROM traject.grants g));

ALTER TABLE traject.events ENABLE ROW LEVEL SECURITY;
ALTER TABLE traject.events FORCE ROW LEVEL SECURITY;
CREATE POLICY by_grant ON traject.events
    USING (grant_key IN (SELECT g.grant_key FROM traject.grants g));

ALTER TABLE traject.voids ENABLE ROW LEVEL SECURITY;
ALTER TABLE traject.voids FORCE ROW LEVEL SECURITY;
CREATE POLICY by_grant ON traject.voids
    USING (grant_key IN (SELECT g.grant_key FROM traject.grants g));

ALTER TABLE traject.report_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE traject.report_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY by_grant ON traject.report_versions
    USING (grant_key IN (SELECT g.grant_key FROM traject.grants g));

ALTER TABLE traject.documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE traject.documents FORCE ROW LEVEL SECURITY;
CREATE POLICY by_grant ON traject.documents
    USING (grant_key IN (SELECT g.grant_key FROM traject.grants g));

ALTER TABLE traject.alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE traject.alerts FORCE ROW LEVEL SECURITY;
CREATE POLICY by_grant ON traject.alerts
    USING (grant_key IN (SELECT g.grant_key FROM traject.grants g));

ALTER TABLE traject.deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE traject.deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY by_document ON traject.deliveries
    USING (doc_id IN (SELECT d.doc_id FROM traject.documents d));

ALTER TABLE traject.delivery_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE traject.delivery_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY by_delivery ON traject.delivery_attempts
    USING (delivery_id IN (SELECT dl.delivery_id FROM traject.deliveries dl));

-- ---- no BSN in any free text, whatever the client ---------------------------
-- The programs refuse these values with a message naming the field; the
-- constraints keep out what another client (psql, a script) might write.
ALTER TABLE traject.grants
    ADD CONSTRAINT grants_no_bsn CHECK (NOT traject.may_hold_bsn(id)
                                        AND NOT traject.may_hold_bsn(scope_grantee));
ALTER TABLE traject.grant_versions
    ADD CONSTRAINT grant_versions_no_bsn CHECK (
        NOT traject.may_hold_bsn(title) AND NOT traject.may_hold_bsn(grantor)
        AND NOT traject.may_hold_bsn(grantee) AND NOT traject.may_hold_bsn(source_name));
ALTER TABLE traject.obligations
    ADD CONSTRAINT obligations_no_bsn CHECK (NOT traject.may_hold_bsn(id)
                                             AND NOT traject.may_hold_bsn(description));
ALTER TABLE traject.calendar
    ADD CONSTRAINT calendar_no_bsn CHECK (NOT traject.may_hold_bsn(id));
ALTER TABLE traject.trajectories
    ADD CONSTRAINT trajectories_no_bsn CHECK (NOT traject.may_hold_bsn(ref));
ALTER TABLE traject.import_batches
    ADD CONSTRAINT import_batches_no_bsn CHECK (NOT traject.may_hold_bsn(file_name));
ALTER TABLE traject.events
    ADD CONSTRAINT events_no_bsn CHECK (kind <> 'coordinator' OR NOT traject.may_hold_bsn(value));
ALTER TABLE traject.voids
    ADD CONSTRAINT voids_no_bsn CHECK (NOT traject.may_hold_bsn(reason));
