"""trajectctl migrate: idempotent, recorded, refuses a newer database."""
import tjtest


def test_migrate_is_idempotent(t):
    r = t.succeeds(t.ctl('migrate'), 'second migrate')
    t.ok('up to date' in r.out, 'says the schema is up to date', r)
    rows = t.sql('SELECT count(*), max(version) FROM traject.schema_migrations')
    n, v = rows[0].split('|')
    t.eq(n, v, 'one row per migration, numbered 1..N')


def test_refuses_newer_database(t):
    t.sql("INSERT INTO traject.schema_migrations (version, name) VALUES (999, 'future')")
    t.fails(t.ctl('migrate'), 'migrate on a newer database', pattern=r'version 999.*upgrade')
    t.fails(t.ctl('grant', 'list'), 'other commands too', pattern=r'version 999')


def test_commands_need_migrated_schema(t):
    t.sql('DROP SCHEMA traject CASCADE')
    t.fails(t.ctl('grant', 'list'), 'unmigrated database', pattern=r"run 'trajectctl migrate'")
    t.succeeds(t.ctl('migrate'), 'migrate from scratch')


def test_no_database_is_a_clear_error(t):
    r = t.ctl('--db', 'dbname=does_not_exist_here', 'migrate')
    # --db given twice: the last one wins, as getopt does
    t.fails(r, 'missing database', pattern=r'cannot connect to the database')


tjtest.main(globals())
