"""Least privilege and row-level security with real LOGIN roles
(docs/security.md): `trajectctl migrate --roles`, ownership, the
role-grantee map, and every trajectctl command (and trajectd --once) run as
an administrator, a reader, the service and the owner.

Two grants of two municipalities (tests/data/roles): ROLES-EAST of
"Gemeente Oost" with events-east.csv (E-1 registered and helped, E-2
registered: 3 events, 2 trajectories) and ROLES-WEST of "Gemeente West"
with events-west.csv (W-1 registered with a coordinator, W-2, W-3: 4 events,
3 trajectories). Login roles are created per test with a unique prefix and
dropped at its end; the cluster's group roles stay (they are idempotent).
"""
import glob
import os
import re
import shutil
import subprocess
import tempfile
import time

import tjtest

DATA = tjtest.Test.data('roles')
EAST, WEST = 'ROLES-EAST', 'ROLES-WEST'
GROUPS = ['trajectd_owner', 'trajectd_service', 'trajectd_admin', 'trajectd_reader']
REGISTER = ['grants', 'grant_versions', 'obligations', 'calendar', 'trajectories',
            'import_batches', 'events', 'voids', 'report_versions', 'documents',
            'deliveries', 'delivery_attempts', 'alerts', 'role_grantees', 'explanations']


class Roles:
    """Login roles of one test: name -> group; mapped grantees."""

    def __init__(self, t):
        self.t = t
        self.prefix = 'tjr_%s_' % t.db[3:11]
        self.made = []
        t.succeeds(t.ctl('migrate', '--roles'), 'migrate --roles')

    def make(self, name, group, *grantees):
        role = self.prefix + name
        self.t.sql('CREATE ROLE %s LOGIN IN ROLE %s' % (role, group))
        self.made.append(role)
        for g in grantees:
            self.t.succeeds(self.t.ctl('role', 'grant-grantee', role, g),
                            'map %s to %s' % (role, g))
        return role

    def drop(self):
        for role in self.made:
            self.t.psql('postgres', 'DROP ROLE IF EXISTS %s' % role)


def with_roles(fn):
    """Run fn(t, roles) and drop the test's login roles whatever happens."""
    def run(t):
        roles = Roles(t)
        try:
            fn(t, roles)
        finally:
            roles.drop()
    run.__name__ = fn.__name__
    return run


def ctl_as(t, role, *args, conf=None):
    full = tjtest.WRAP + [tjtest.CTL, '--db', 'dbname=%s user=%s' % (t.db, role)]
    if conf:
        full += ['--config', conf]
    full += [str(a) for a in args]
    return tjtest.Result(full, subprocess.run(full, capture_output=True, text=True))


def sql_as(t, role, sql):
    """(ok, rows or error text) of SQL run as role."""
    p = subprocess.run(['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-U', role,
                        '-d', t.db], input=sql, capture_output=True, text=True)
    if p.returncode != 0:
        return False, p.stderr
    return True, [r for r in p.stdout.split('\n') if r]


def denied(t, role, sql, what):
    ok, out = sql_as(t, role, sql)
    t.ok(not ok and re.search(r'permission denied|must be owner', out) is not None,
         '%s is refused for %s' % (what, role), out)


def load_both(t, east_admin, west_admin):
    t.succeeds(ctl_as(t, east_admin, 'grant', 'load', os.path.join(DATA, 'grant-east.json')),
               'east admin loads ROLES-EAST')
    t.succeeds(ctl_as(t, east_admin, 'import', '--grant', EAST,
                      os.path.join(DATA, 'events-east.csv')), 'east admin imports')
    t.succeeds(ctl_as(t, west_admin, 'grant', 'load', os.path.join(DATA, 'grant-west.json')),
               'west admin loads ROLES-WEST')
    t.succeeds(ctl_as(t, west_admin, 'import', '--grant', WEST,
                      os.path.join(DATA, 'events-west.csv')), 'west admin imports')


def delivery_conf(t, role):
    out = os.path.join(t.tmp, 'outbox')
    os.makedirs(out, exist_ok=True)
    return t.write('trajectd-%s.conf' % role,
                   '[database]\nconninfo = dbname=%s user=%s\n\n[delivery]\nurl = file://%s\n'
                   % (t.db, role, out)), out


# --- set-up and ownership ------------------------------------------------------
@with_roles
def test_setup_ownership_and_flags(t, roles):
    r = t.succeeds(t.ctl('migrate', '--roles'), 'migrate --roles again (idempotent)')
    t.ok('schema traject belongs to trajectd_owner' in r.out, 'says what it did', r)
    t.eq(t.sql("SELECT rolname, rolcanlogin, rolsuper, rolbypassrls, rolcreaterole,"
               " rolcreatedb FROM pg_roles WHERE rolname LIKE 'trajectd\\_%' ORDER BY 1"),
         ['%s|f|f|f|f|f' % g for g in sorted(GROUPS)], 'four NOLOGIN group roles, no powers')
    t.eq(t.sql("SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'traject'"),
         ['trajectd_owner'], 'the schema belongs to trajectd_owner')
    t.eq(t.sql("SELECT count(*) FROM pg_class WHERE relnamespace = 'traject'::regnamespace"
               " AND relowner <> 'trajectd_owner'::regrole"), ['0'],
         'every table, index and sequence belongs to trajectd_owner')
    t.eq(t.sql("SELECT count(*) FROM pg_proc WHERE pronamespace = 'traject'::regnamespace"
               " AND proowner <> 'trajectd_owner'::regrole"), ['0'],
         'every function belongs to trajectd_owner')
    t.eq(t.sql("SELECT count(*) FROM pg_type WHERE typnamespace = 'traject'::regnamespace"
               " AND typowner <> 'trajectd_owner'::regrole"), ['0'],
         'every type and domain belongs to trajectd_owner')
    t.eq(t.sql("SELECT p.oid::regprocedure FROM pg_proc p"
               " WHERE p.pronamespace = 'traject'::regnamespace AND p.prosecdef"), [],
         'no SECURITY DEFINER function anywhere in schema traject')
    t.eq(t.sql("SELECT relname FROM pg_class WHERE relnamespace = 'traject'::regnamespace"
               " AND relkind = 'r' AND NOT (relrowsecurity AND relforcerowsecurity)"
               " ORDER BY 1"), ['instances', 'schema_migrations'],
         'RLS enabled and FORCEd on every table but the two without grant data')
    t.eq(t.sql("SELECT count(*) FROM pg_class c WHERE relnamespace = 'traject'::regnamespace"
               " AND relkind = 'r' AND relrowsecurity AND NOT EXISTS (SELECT 1 FROM pg_policy p"
               " WHERE p.polrelid = c.oid)"), ['0'], 'and every one of them has a policy')
    for g in ('trajectd_service', 'trajectd_admin', 'trajectd_reader'):
        t.eq(t.sql("SELECT"
                   " (SELECT count(*) FROM pg_class WHERE relowner = '%s'::regrole)"
                   " + (SELECT count(*) FROM pg_proc WHERE proowner = '%s'::regrole)"
                   " + (SELECT count(*) FROM pg_type WHERE typowner = '%s'::regrole)"
                   " + (SELECT count(*) FROM pg_namespace WHERE nspowner = '%s'::regrole)"
                   % (g, g, g, g)), ['0'], '%s owns nothing' % g)
    t.eq(t.sql("SELECT has_database_privilege('public', current_database(), 'CONNECT'),"
               " has_database_privilege('public', current_database(), 'TEMPORARY'),"
               " has_schema_privilege('public', 'traject', 'USAGE')"), ['f|f|f'],
         'PUBLIC may not connect, make temporary tables or use the schema')
    t.eq(t.sql("SELECT has_database_privilege('trajectd_admin', current_database(), 'TEMP'),"
               " has_database_privilege('trajectd_service', current_database(), 'TEMP'),"
               " has_database_privilege('trajectd_reader', current_database(), 'TEMP')"),
         ['t|f|f'], 'only administrators make (import) temporary tables')


@with_roles
def test_owner_login_migrates_and_sees_all(t, roles):
    east = roles.make('east', 'trajectd_admin', 'Gemeente Oost')
    west = roles.make('west', 'trajectd_admin', 'Gemeente West')
    owner = roles.make('owner', 'trajectd_owner')
    load_both(t, east, west)
    r = t.succeeds(ctl_as(t, owner, 'migrate'), 'the owner login runs migrate')
    t.ok('up to date' in r.out, 'nothing to apply', r)
    r = t.succeeds(ctl_as(t, owner, 'grant', 'list', '--json'), 'owner: grant list')
    t.eq([g['id'] for g in r.json()], [EAST, WEST], 'the owner sees every grant (FORCEd RLS)')
    ok, rows = sql_as(t, owner, 'SELECT count(*) FROM traject.events')
    t.eq(rows, ['7'], 'the owner counts both registers: 3 + 4 events')
    late = roles.make('late', 'trajectd_reader')
    t.succeeds(ctl_as(t, owner, 'role', 'grant-grantee', late, 'Gemeente West'),
               'the owner login maps a role')
    r = t.succeeds(ctl_as(t, late, 'grant', 'list', '--json'), 'the newly mapped reader')
    t.eq([g['id'] for g in r.json()], [WEST], 'sees the grant of its grantee at once')


# --- grant administrators --------------------------------------------------------
@with_roles
def test_admin_sees_only_its_grantee(t, roles):
    east = roles.make('east', 'trajectd_admin', 'Gemeente Oost')
    west = roles.make('west', 'trajectd_admin', 'Gemeente West')
    load_both(t, east, west)
    r = t.succeeds(ctl_as(t, east, 'grant', 'list', '--json'), 'east: grant list')
    t.eq([g['id'] for g in r.json()], [EAST], 'east lists only its own grant')
    r = t.succeeds(ctl_as(t, west, 'status', '--json'), 'west: status')
    t.eq([g['id'] for g in r.json()['grants']], [WEST], 'west status shows only its own grant')
    r = t.succeeds(ctl_as(t, east, 'events', '--grant', EAST, '--json'), 'east: events')
    t.eq([(e['trajectory'], e['event']) for e in r.json()],
         [('E-1', 'registered'), ('E-1', 'help_started'), ('E-2', 'registered')],
         'east sees its 3 events')
    r = t.succeeds(ctl_as(t, east, 'report', '--grant', EAST, '--as-of', '2011-06-30',
                          '--format', 'json'), 'east: report')
    ind = r.json()['indicators']
    t.eq((ind['trajectories_started'], ind['trajectories_helped']), (2, 1),
         'east report: 2 started (E-1, E-2), 1 helped (E-1)')
    for table, want in [('grants', '1'), ('grant_versions', '1'), ('calendar', '2'),
                        ('trajectories', '2'), ('import_batches', '1'), ('events', '3'),
                        ('role_grantees', '1')]:
        ok, rows = sql_as(t, east, 'SELECT count(*) FROM traject.%s' % table)
        t.eq(rows, [want], 'east counts %s rows of %s by SQL' % (want, table))
    ok, rows = sql_as(t, west, "SELECT count(*) FROM traject.events WHERE value = 'coach-1'")
    t.eq(rows, ['1'], 'west sees its own coordinator event')


@with_roles
def test_admin_cannot_touch_another_grantee(t, roles):
    east = roles.make('east', 'trajectd_admin', 'Gemeente Oost')
    west = roles.make('west', 'trajectd_admin', 'Gemeente West')
    load_both(t, east, west)
    conf, _ = delivery_conf(t, east)
    before = t.sql('SELECT (SELECT count(*) FROM traject.events),'
                   ' (SELECT count(*) FROM traject.voids),'
                   ' (SELECT count(*) FROM traject.grant_versions),'
                   ' (SELECT count(*) FROM traject.report_versions),'
                   ' (SELECT count(*) FROM traject.explanations)')
    nogrant = r"no grant 'ROLES-WEST'"
    t.fails(ctl_as(t, east, 'events', '--grant', WEST), 'east: events of west', pattern=nogrant)
    t.fails(ctl_as(t, east, 'import', '--grant', WEST, os.path.join(DATA, 'events-west.csv')),
            'east: import into west', pattern=nogrant)
    t.fails(ctl_as(t, east, 'void', '--grant', WEST, '4', '--reason', 'not mine'),
            'east: void in west', pattern=nogrant)
    t.fails(ctl_as(t, east, 'report', '--grant', WEST, '--as-of', '2011-06-30'),
            'east: report of west', pattern=nogrant)
    t.fails(ctl_as(t, east, 'status', '--grant', WEST), 'east: status of west',
            pattern=nogrant)
    t.fails(ctl_as(t, east, 'deliver', '--grant', WEST, '--report', 'Q2', conf=conf),
            'east: deliver west', pattern=nogrant)
    t.fails(ctl_as(t, east, 'explain', '--grant', WEST, '--obligation', 'P1', '--text',
                   'not mine'), 'east: explain for west', pattern=nogrant)
    t.fails(ctl_as(t, east, 'grant', 'load', os.path.join(DATA, 'grant-west-claimed.json')),
            'east: an amendment of west naming east', pattern='belongs to a grant this role '
            'may not see')
    t.fails(ctl_as(t, east, 'grant', 'load', os.path.join(DATA, 'grant-new-for-west.json')),
            'east: a new grant for west',
            pattern='does not act for grantee "Gemeente West"')
    ok, rows = sql_as(t, east, "SELECT count(*) FROM traject.events e JOIN traject.grants g"
                               " USING (grant_key) WHERE g.id = 'ROLES-WEST'")
    t.eq(rows, ['0'], 'west events are invisible to east even by SQL')
    wkey, wevent = t.sql("SELECT g.grant_key, min(e.event_id) FROM traject.grants g"
                         " JOIN traject.events e USING (grant_key) WHERE g.id = 'ROLES-WEST'"
                         " GROUP BY g.grant_key")[0].split('|')
    ok, out = sql_as(t, east, "INSERT INTO traject.voids (event_id, grant_key, reason,"
                              " recorded_at) VALUES (%s, %s, 'not mine', now())" % (wevent, wkey))
    t.ok(not ok and 'row-level security' in out, 'east cannot write a row of west by SQL', out)
    t.eq(t.sql('SELECT (SELECT count(*) FROM traject.events),'
               ' (SELECT count(*) FROM traject.voids),'
               ' (SELECT count(*) FROM traject.grant_versions),'
               ' (SELECT count(*) FROM traject.report_versions),'
               ' (SELECT count(*) FROM traject.explanations)'), before, 'nothing was stored')


@with_roles
def test_admin_void_and_deliver_own(t, roles):
    east = roles.make('east', 'trajectd_admin', 'Gemeente Oost')
    west = roles.make('west', 'trajectd_admin', 'Gemeente West')
    load_both(t, east, west)
    conf, out = delivery_conf(t, east)
    eid = t.sql("SELECT e.event_id FROM traject.events e JOIN traject.trajectories r"
                " USING (traj_key) WHERE r.ref = 'E-2'")[0]
    t.succeeds(ctl_as(t, east, 'void', '--grant', EAST, eid, '--reason', 'entered twice'),
               'east voids its own event')
    t.succeeds(ctl_as(t, east, 'explain', '--grant', EAST, '--obligation', 'P1', '--text',
                      'E-2 was entered twice'), 'east explains its own obligation')
    t.eq(t.sql("SELECT g.id, x.obligation_id, x.recorded_by FROM traject.explanations x"
               " JOIN traject.grants g USING (grant_key)"), ['ROLES-EAST|P1|%s' % east],
         'one explanation, of east, recorded by its login role')
    r = t.succeeds(ctl_as(t, east, 'deliver', '--grant', EAST, '--report', 'Q2', conf=conf),
                   'east queues its own report')
    t.ok('version 1 generated' in r.out, 'a version was generated', r)
    t.eq(t.sql("SELECT g.id, rv.report_id, rv.version FROM traject.report_versions rv"
               " JOIN traject.grants g USING (grant_key)"), ['ROLES-EAST|Q2|1'],
         'one report version, of east')
    t.eq(t.sql("SELECT count(*) FROM traject.deliveries WHERE state = 'queued'"), ['2'],
         'xml and json queued')
    r = t.succeeds(ctl_as(t, east, 'deliver', '--grant', EAST, '--report', 'Q2', conf=conf),
                   'east: deliver again (nothing new)')
    t.eq(t.sql('SELECT count(*) FROM traject.report_versions'), ['1'], 'still one version')


@with_roles
def test_amendment_renaming_the_grantee(t, roles):
    east = roles.make('east', 'trajectd_admin', 'Gemeente Oost')
    merged = roles.make('merged', 'trajectd_admin', 'Gemeente Oost-West')
    both = roles.make('both', 'trajectd_admin', 'Gemeente Oost', 'Gemeente Oost-West')
    t.succeeds(ctl_as(t, east, 'grant', 'load', os.path.join(DATA, 'grant-east.json')),
               'east loads ROLES-EAST')
    t.fails(ctl_as(t, east, 'grant', 'load', os.path.join(DATA, 'grant-east-merged.json')),
            'east alone cannot move the grant to another grantee',
            pattern='does not act for grantee "Gemeente Oost-West"')
    r = t.succeeds(ctl_as(t, both, 'grant', 'load', os.path.join(DATA,
                                                                  'grant-east-merged.json')),
                   'a role acting for both names records the amendment')
    t.ok('version 2' in r.out, 'version 2', r)
    t.eq(t.sql("SELECT scope_grantee FROM traject.grants WHERE id = 'ROLES-EAST'"),
         ['Gemeente Oost-West'], 'the scope follows the newest version')
    r = t.succeeds(ctl_as(t, east, 'grant', 'list', '--json'), 'east: grant list')
    t.eq(r.json(), [], 'the old grantee no longer sees it')
    r = t.succeeds(ctl_as(t, merged, 'grant', 'list', '--json'), 'merged: grant list')
    t.eq([(g['id'], g['grantee']) for g in r.json()], [(EAST, 'Gemeente Oost-West')],
         'the new grantee sees it')


@with_roles
def test_unmapped_admin_sees_nothing(t, roles):
    east = roles.make('east', 'trajectd_admin', 'Gemeente Oost')
    west = roles.make('west', 'trajectd_admin', 'Gemeente West')
    nobody = roles.make('nobody', 'trajectd_admin')
    load_both(t, east, west)
    r = t.succeeds(ctl_as(t, nobody, 'grant', 'list', '--json'), 'unmapped: grant list')
    t.eq(r.json(), [], 'no grant at all')
    for table in REGISTER:
        ok, rows = sql_as(t, nobody, 'SELECT count(*) FROM traject.%s' % table)
        t.eq(rows, ['0'], 'unmapped admin sees no row of %s' % table)
    t.fails(ctl_as(t, nobody, 'grant', 'load', os.path.join(DATA, 'grant-east.json')),
            'unmapped: grant load of a taken id', pattern='may not see')
    t.fails(ctl_as(t, nobody, 'grant', 'load', os.path.join(DATA, 'grant-new-for-west.json')),
            'unmapped: a new grant', pattern='does not act for grantee')
    t.eq(t.sql('SELECT count(*) FROM traject.grants'), ['2'], 'no grant was added')


# --- readers -------------------------------------------------------------------
@with_roles
def test_reader_reads_but_never_writes(t, roles):
    east = roles.make('east', 'trajectd_admin', 'Gemeente Oost')
    west = roles.make('west', 'trajectd_admin', 'Gemeente West')
    reader = roles.make('reader', 'trajectd_reader', 'Gemeente Oost')
    load_both(t, east, west)
    conf, _ = delivery_conf(t, reader)
    known = t.sql('SELECT traject.iso_utc(clock_timestamp())')[0]
    for args in (['grant', 'list', '--json'], ['status', '--json'],
                 ['events', '--grant', EAST, '--json'],
                 ['report', '--grant', EAST, '--as-of', '2011-06-30', '--format', 'json',
                  '--known-at', known]):
        a = t.succeeds(ctl_as(t, east, *args), 'admin: ' + ' '.join(args[:2]))
        b = t.succeeds(ctl_as(t, reader, *args), 'reader: ' + ' '.join(args[:2]))
        if args[0] == 'status':  # instances and alerts are the same; compare the grants
            a, b = a.json()['grants'], b.json()['grants']
        else:
            a, b = a.out, b.out
        t.eq(b, a, 'the reader reads what the admin of its grantee reads: ' + args[0])
    t.fails(ctl_as(t, reader, 'events', '--grant', WEST), 'reader: events of west',
            pattern="no grant 'ROLES-WEST'")
    perm = 'permission denied'
    t.fails(ctl_as(t, reader, 'grant', 'load', os.path.join(DATA, 'grant-east.json')),
            'reader: grant load', pattern=perm)
    t.fails(ctl_as(t, reader, 'import', '--grant', EAST, os.path.join(DATA, 'events-west.csv')),
            'reader: import', pattern=perm)
    t.fails(ctl_as(t, reader, 'void', '--grant', EAST, '1', '--reason', 'x'), 'reader: void',
            pattern=perm)
    t.fails(ctl_as(t, reader, 'deliver', '--grant', EAST, '--report', 'Q2', conf=conf),
            'reader: deliver', pattern=perm)
    t.fails(ctl_as(t, reader, 'explain', '--grant', EAST, '--obligation', 'P1', '--text', 'x'),
            'reader: explain', pattern=perm)
    t.fails(ctl_as(t, reader, 'role', 'grant-grantee', reader, 'Gemeente West'),
            'reader: maps itself to west', pattern='only the owner maps roles')
    denied(t, reader, "UPDATE traject.events SET value = 'x'", 'UPDATE events')
    denied(t, reader, 'DELETE FROM traject.events', 'DELETE events')
    denied(t, reader, "INSERT INTO traject.role_grantees VALUES ('x', 'Gemeente West')",
           'INSERT role_grantees')
    t.eq(t.sql('SELECT (SELECT count(*) FROM traject.grant_versions),'
               ' (SELECT count(*) FROM traject.events), (SELECT count(*) FROM traject.voids),'
               ' (SELECT count(*) FROM traject.report_versions),'
               ' (SELECT count(*) FROM traject.role_grantees)'), ['2|7|0|0|3'],
         'nothing was written')


def pg_bin():
    for d in ['/usr/lib/postgresql/15/bin'] + sorted(glob.glob('/usr/lib/postgresql/*/bin')):
        if os.path.exists(os.path.join(d, 'pg_basebackup')):
            return d
    return None


@with_roles
def test_reader_on_a_hot_standby(t, roles):
    """A physical replica of the test cluster: the reader's commands only read."""
    east = roles.make('east', 'trajectd_admin', 'Gemeente Oost')
    west = roles.make('west', 'trajectd_admin', 'Gemeente West')
    reader = roles.make('reader', 'trajectd_reader', 'Gemeente West')
    load_both(t, east, west)
    known = t.sql('SELECT traject.iso_utc(clock_timestamp())')[0]
    primary = ctl_as(t, reader, 'report', '--grant', WEST, '--as-of', '2011-06-30',
                     '--format', 'json', '--known-at', known)
    t.succeeds(primary, 'the reader reports on the primary')
    bindir = pg_bin()
    t.ok(bindir is not None, 'pg_basebackup is installed')
    # The standby's socket lives in its own folder, so the same port number is free.
    d = tempfile.mkdtemp(prefix='tj-standby-')
    owner = []
    if os.getuid() == 0:  # the cluster runs as postgres (tests/pgcluster.sh)
        owner = ['runuser', '-u', 'postgres', '--']
        shutil.chown(d, 'postgres')
    os.chmod(d, 0o755)
    data = os.path.join(d, 'data')
    started = False
    try:
        b = subprocess.run(owner + [os.path.join(bindir, 'pg_basebackup'), '-h',
                                    os.environ['PGHOST'], '-p', os.environ['PGPORT'], '-U',
                                    'postgres', '-D', data, '-R', '-X', 'stream', '-c', 'fast'],
                           capture_output=True, text=True, timeout=120)
        t.ok(b.returncode == 0, 'pg_basebackup of the test cluster', b.stderr)
        s = subprocess.run(owner + [os.path.join(bindir, 'pg_ctl'), '-D', data, '-l',
                                    os.path.join(d, 'server.log'), '-w', '-t', '60', '-o',
                                    "-c listen_addresses='' -c unix_socket_directories='%s'"
                                    " -c port=%s -c max_connections=200 -c hot_standby=on"
                                    % (d, os.environ['PGPORT']), 'start'],
                           capture_output=True, text=True, timeout=90)
        t.ok(s.returncode == 0, 'the standby starts', s.stderr)
        started = True
        standby = 'host=%s port=%s dbname=%s user=%s' % (d, os.environ['PGPORT'], t.db, reader)
        # A report on a standby needs a replayed commit (it bounds K by the replay
        # time): commit one on the primary and wait until the standby has it.
        t.sql('SELECT pg_current_xact_id()')
        end = time.time() + 30
        while time.time() < end:
            p = subprocess.run(['psql', '-X', '-A', '-t', '-d', 'host=%s port=%s dbname=%s' % (
                d, os.environ['PGPORT'], t.db), '-c',
                'SELECT pg_last_xact_replay_timestamp() IS NOT NULL'],
                capture_output=True, text=True)
            if p.stdout.strip() == 't':
                break
            time.sleep(0.2)

        def on_standby(*args):
            full = tjtest.WRAP + [tjtest.CTL, '--db', standby] + list(args)
            return tjtest.Result(full, subprocess.run(full, capture_output=True, text=True))

        r = t.succeeds(on_standby('grant', 'list', '--json'), 'standby: grant list')
        t.eq([g['id'] for g in r.json()], [WEST], 'RLS holds on the standby')
        r = t.succeeds(on_standby('report', '--grant', WEST, '--as-of', '2011-06-30',
                                  '--format', 'json', '--known-at', known), 'standby: report')
        t.eq(r.out, primary.out, 'the same bytes as on the primary')
        r = t.succeeds(on_standby('status', '--grant', WEST, '--json'), 'standby: status')
        t.eq(r.json()['grants'][0]['id'], WEST, 'status of its grant')
        r = t.succeeds(on_standby('events', '--grant', WEST, '--json'), 'standby: events')
        t.eq(len(r.json()), 4, 'the 4 events of west')
        t.fails(on_standby('events', '--grant', EAST), 'standby: events of east',
                pattern="no grant 'ROLES-EAST'")
    finally:
        if started:
            subprocess.run(owner + [os.path.join(bindir, 'pg_ctl'), '-D', data, '-m',
                                    'immediate', '-w', 'stop'], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


# --- the service ----------------------------------------------------------------
@with_roles
def test_service_reports_every_grant_and_cannot_ddl(t, roles):
    east = roles.make('east', 'trajectd_admin', 'Gemeente Oost')
    west = roles.make('west', 'trajectd_admin', 'Gemeente West')
    svc = roles.make('svc', 'trajectd_service')
    load_both(t, east, west)
    conf, out = delivery_conf(t, svc)
    d = subprocess.run(tjtest.WRAP + [os.environ.get('TRAJECTD', 'trajectd'), '--config', conf,
                                      '--once', '--clock', '2011-07-12T12:00:00+02:00'],
                       capture_output=True, text=True, timeout=120)
    t.ok(d.returncode == 0, 'trajectd --once as the service', d.stderr)
    t.eq(sorted(os.listdir(out)),
         ['ROLES-EAST_Q2_v1.json', 'ROLES-EAST_Q2_v1.xml',
          'ROLES-WEST_Q2_v1.json', 'ROLES-WEST_Q2_v1.xml'],
         'the service generated and delivered Q2 of both grants (generated 2011-07-10)')
    t.eq(t.sql("SELECT count(*) FROM traject.deliveries WHERE state = 'delivered'"), ['4'],
         'four deliveries recorded by the service')
    ok, rows = sql_as(t, svc, 'SELECT count(*) FROM traject.events')
    t.eq(rows, ['7'], 'the service reads every register (an explicit policy, no BYPASSRLS)')
    for sql, what in [('CREATE TABLE traject.x (a int)', 'CREATE TABLE in traject'),
                      ('CREATE TABLE public.x (a int)', 'CREATE TABLE in public'),
                      ('CREATE TEMP TABLE x (a int)', 'CREATE TEMP TABLE'),
                      ('ALTER TABLE traject.events ADD COLUMN x int', 'ALTER TABLE'),
                      ('ALTER TABLE traject.events DISABLE ROW LEVEL SECURITY', 'disable RLS'),
                      ('DROP TABLE traject.voids', 'DROP TABLE'),
                      ('CREATE FUNCTION traject.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$',
                       'CREATE FUNCTION'),
                      ("INSERT INTO traject.voids (event_id, grant_key, reason, recorded_at)"
                       " VALUES (1, 1, 'x', now())", 'writing the register'),
                      ("UPDATE traject.documents SET format = 'json'", 'UPDATE documents'),
                      ('DELETE FROM traject.deliveries', 'DELETE deliveries'),
                      ("INSERT INTO traject.role_grantees VALUES ('x', 'y')", 'mapping roles')]:
        denied(t, svc, sql, what)
    t.fails(ctl_as(t, svc, 'grant', 'load', os.path.join(DATA, 'grant-east.json')),
            'service: grant load', pattern='permission denied')
    t.fails(ctl_as(t, svc, 'migrate', '--roles'), 'service: migrate --roles',
            pattern='nothing was changed')


@with_roles
def test_service_mails_alerts_and_admins_resolve_their_own(t, roles):
    east = roles.make('east', 'trajectd_admin', 'Gemeente Oost')
    west = roles.make('west', 'trajectd_admin', 'Gemeente West')
    reader = roles.make('reader', 'trajectd_reader', 'Gemeente Oost')
    svc = roles.make('svc', 'trajectd_service')
    load_both(t, east, west)
    sink = tjtest.SmtpSink(os.path.join(t.tmp, 'mail'))
    try:
        # a folder that is not there: every delivery fails in a way waiting will not fix
        conf = t.write('mail.conf', '[database]\nconninfo = dbname=%s user=%s\n\n[delivery]\n'
                                    'url = file://%s/missing\n\n[alert]\nmail_to = a@example.org\n'
                                    'smtp_url = %s\n' % (t.db, svc, t.tmp, sink.url))
        d = subprocess.run([os.environ.get('TRAJECTD', 'trajectd'), '--config', conf, '--once',
                            '--clock', '2011-07-12T12:00:00+02:00'],
                           capture_output=True, text=True, timeout=120)
        t.ok(d.returncode == 0, 'trajectd --once as the service', d.stderr)
        t.eq(t.sql("SELECT g.id, a.kind, a.mail_state FROM traject.alerts a"
                   " JOIN traject.grants g USING (grant_key) ORDER BY 1"),
             ['ROLES-EAST|failing|sent', 'ROLES-WEST|failing|sent'],
             'the service raised an alert per grant and recorded their mails (its UPDATE of '
             'the mail columns)')
        t.eq(len(sink.messages()), 2, 'two mails')
        ids = dict(rows for rows in (r.split('|') for r in t.sql(
            "SELECT g.id, a.alert_id FROM traject.alerts a JOIN traject.grants g USING (grant_key)")))
        t.psql(t.db, "INSERT INTO traject.alerts (kind, message, raised_at, raised_by)"
                     " VALUES ('database', 'the database was unreachable', now(), 'trajectd@x:1:00')")
        db_id = t.sql("SELECT alert_id FROM traject.alerts WHERE kind = 'database'")[0]
        r = t.succeeds(ctl_as(t, reader, 'alert', 'list', '--json'), 'reader: alert list')
        t.eq(sorted((a['kind'], a['grant']) for a in r.json()),
             [('database', None), ('failing', EAST)],
             'a reader sees its grantee\'s alerts and the database alert, not another grantee\'s')
        t.fails(ctl_as(t, reader, 'alert', 'resolve', ids[EAST]), 'reader: resolve',
                pattern='permission denied')
        t.fails(ctl_as(t, west, 'alert', 'resolve', ids[EAST]), 'west resolves an east alert',
                pattern='no alert %s' % ids[EAST])
        r = t.succeeds(ctl_as(t, east, 'alert', 'resolve', ids[EAST]), 'east resolves its own')
        t.ok('resolved' in r.out, 'says so', r)
        t.succeeds(ctl_as(t, west, 'alert', 'resolve', db_id), 'an administrator resolves the '
                                                            'database alert')
        t.eq(t.sql("SELECT kind, resolved_by FROM traject.alerts WHERE resolved_at IS NOT NULL"
                   " ORDER BY alert_id"), ['failing|%s' % east, 'database|%s' % west],
             'each resolution names its role')
        ok, out = sql_as(t, east, "UPDATE traject.alerts SET mail_state = 'pending'")
        t.ok(not ok and 'permission denied' in out, 'an administrator cannot touch the mail '
                                                    'columns', out)
    finally:
        sink.stop()


# --- the map ----------------------------------------------------------------------
@with_roles
def test_role_commands(t, roles):
    east = roles.make('east', 'trajectd_admin')
    r = t.succeeds(t.ctl('role', 'list'), 'role list (none yet)')
    t.ok(r.out.startswith('no role acts for a grantee yet'), 'says there is none', r)
    r = t.succeeds(t.ctl('role', 'grant-grantee', east, 'Gemeente Oost'), 'map')
    t.eq(r.out, "role %s now acts for grantee 'Gemeente Oost'\n" % east, 'confirmed')
    r = t.succeeds(t.ctl('role', 'grant-grantee', east, 'Gemeente Oost'), 'map again')
    t.eq(r.out, "role %s already acts for grantee 'Gemeente Oost'\n" % east, 'idempotent')
    r = t.succeeds(t.ctl('role', 'list'), 'role list')
    t.eq(r.out, '%s\tGemeente Oost\n' % east, 'one mapping')
    t.fails(t.ctl('role', 'grant-grantee', roles.prefix + 'ghost', 'Gemeente Oost'),
            'unknown role', pattern="no role '%sghost': create it first" % roles.prefix)
    t.fails(t.ctl('role', 'grant-grantee', 'trajectd_admin', 'Gemeente Oost'),
            'a group role', pattern='is a group role: every member would act')
    bypass = roles.make('bypass', 'trajectd_admin')
    t.sql('ALTER ROLE %s BYPASSRLS' % bypass)
    t.fails(t.ctl('role', 'grant-grantee', bypass, 'Gemeente Oost'), 'a BYPASSRLS role',
            pattern="role '%s' is SUPERUSER or BYPASSRLS and sees every grantee" % bypass)
    t.fails(t.ctl('role', 'grant-grantee', 'postgres', 'Gemeente Oost'), 'a superuser',
            pattern="role 'postgres' is SUPERUSER or BYPASSRLS")
    r = t.fails(t.ctl('role', 'grant-grantee', east, 'Gemeente 111222333'),
                'a possible BSN', pattern='BSN eleven-test')
    t.ok('111222333' not in r.err, 'the digits are not repeated', r)
    t.fails(t.ctl('role', 'grant-grantee', east, '  '), 'blank', pattern='blank')
    t.fails(t.ctl('role', 'grant-grantee', east, 'a\tb'), 'control char',
            pattern='control character')
    t.fails(t.ctl('role', 'grant-grantee', east), 'usage', rc=2, pattern='usage: ')
    t.fails(t.ctl('role', 'revoke-grantee', east, 'Gemeente West'), 'revoke a missing one',
            pattern='does not act for that grantee')
    t.fails(ctl_as(t, east, 'role', 'grant-grantee', east, 'Gemeente West'),
            'an admin maps itself', pattern='only the owner maps roles to grantees')
    t.succeeds(t.ctl('grant', 'load', os.path.join(DATA, 'grant-east.json')), 'load east')
    r = t.succeeds(ctl_as(t, east, 'grant', 'list', '--json'), 'east: list')
    t.eq(len(r.json()), 1, 'east sees its grant while mapped')
    r = t.succeeds(t.ctl('role', 'revoke-grantee', east, 'Gemeente Oost'), 'revoke')
    t.eq(r.out, "role %s no longer acts for grantee 'Gemeente Oost'\n" % east, 'confirmed')
    r = t.succeeds(ctl_as(t, east, 'grant', 'list', '--json'), 'east: list after revoke')
    t.eq(r.json(), [], 'and nothing once the mapping is gone')
    ok, out = sql_as(t, 'postgres', "INSERT INTO traject.role_grantees"
                                    " VALUES ('x', 'BSN 111222333')")
    t.ok(not ok and 'role_grantees_grantee_check' in out,
         'the table refuses a possible BSN whatever the client', out)


@with_roles
def test_grant_rows_are_frozen(t, roles):
    east = roles.make('east', 'trajectd_admin', 'Gemeente Oost')
    t.succeeds(ctl_as(t, east, 'grant', 'load', os.path.join(DATA, 'grant-east.json')),
               'east loads')
    ok, out = sql_as(t, east, "UPDATE traject.grants SET scope_grantee = 'Gemeente Oost'")
    t.ok(not ok and 'never changed in place' in out, 'an admin cannot edit the scope', out)
    ok, out = sql_as(t, 'postgres', "UPDATE traject.grants SET scope_grantee = 'Gemeente West'")
    t.ok(not ok and 'never changed in place' in out, 'nor can a superuser by accident', out)
    t.eq(t.sql('SELECT scope_grantee FROM traject.grants'), ['Gemeente Oost'], 'unchanged')


tjtest.main(globals())
