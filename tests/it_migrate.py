"""trajectctl migrate: idempotent, recorded, refuses a newer database."""
import os
import subprocess

import tjtest


def test_migrate_is_idempotent(t):
    r = t.succeeds(t.ctl('migrate'), 'second migrate')
    t.ok('up to date' in r.out, 'says the schema is up to date', r)
    rows = t.sql('SELECT count(*), max(version) FROM traject.schema_migrations')
    n, v = rows[0].split('|')
    t.eq(n, v, 'one row per migration, numbered 1..N')


def test_refuses_newer_database(t):
    t.sql("INSERT INTO traject.schema_migrations (version, name) VALUES (999, 'future')")
    r = t.fails(t.ctl('migrate'), 'migrate on a newer database', pattern=r'version 999.*upgrade')
    known = int(t.sql("SELECT max(version) FROM traject.schema_migrations WHERE version < 999")[0])
    t.eq(r.err, 'trajectctl: the database has schema version 999 but this program knows schema '
         'versions only up to %d: upgrade trajectd (trajectd and trajectctl are one package) '
         'before using this database\n' % known, 'the message')
    t.fails(t.ctl('grant', 'list'), 'other commands too', pattern=r'version 999')
    # trajectd prints the same library message: it must not name trajectctl
    conf = t.write('td.conf', '[database]\nconninfo = %s\n[delivery]\nurl = file://%s\n'
                   % (t.conninfo, t.tmp))
    full = [os.environ.get('TRAJECTD', 'trajectd'), '--config', conf, '--once']
    d = tjtest.Result(full, subprocess.run(full, capture_output=True, text=True, timeout=60))
    t.fails(d, 'trajectd on a newer database', pattern=r'version 999 but this program knows')
    t.ok('trajectctl knows' not in d.err, 'trajectd does not call itself trajectctl', d.err)


def test_commands_need_migrated_schema(t):
    t.sql('DROP SCHEMA traject CASCADE')
    t.fails(t.ctl('grant', 'list'), 'unmigrated database', pattern=r"run 'trajectctl migrate'")
    t.succeeds(t.ctl('migrate'), 'migrate from scratch')


def test_no_database_is_a_clear_error(t):
    r = t.ctl('--db', 'dbname=does_not_exist_here', 'migrate')
    # --db given twice: the last one wins, as getopt does
    t.fails(r, 'missing database', pattern=r'cannot connect to the database')


tjtest.main(globals())
