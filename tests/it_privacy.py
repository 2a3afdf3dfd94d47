"""Privacy (docs/security.md): no value that may be a BSN gets into any
free-text field, by trajectctl or by any other client, and no secret
appears in trajectd's or trajectctl's logs, argv or environment.

The BSN-like values are hand-checked with the eleven-test:
  111222333: 9*1+8*1+7*1+6*2+5*2+4*2+3*3+2*3-1*3 = 66 = 6*11   passes
  123456782: 9*1+8*2+7*3+6*4+5*5+4*6+3*7+2*8-1*2 = 154 = 14*11 passes
  123456789: the same eight digits, then -1*9: 156 - 9 = 147 = 13*11 + 4  fails
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

import tjtest

BSN = '111222333'
BSN2 = '123456782'
DATA = tjtest.Test.data('roles')
TRAJECTD = os.environ.get('TRAJECTD', 'trajectd')
RECEIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'receiver.py')
GRANT = 'ROLES-EAST'


def counts(t):
    return t.sql('SELECT (SELECT count(*) FROM traject.grants),'
                 ' (SELECT count(*) FROM traject.grant_versions),'
                 ' (SELECT count(*) FROM traject.import_batches),'
                 ' (SELECT count(*) FROM traject.events),'
                 ' (SELECT count(*) FROM traject.voids),'
                 ' (SELECT count(*) FROM traject.role_grantees),'
                 ' (SELECT count(*) FROM traject.explanations)')


def grant_with(t, name, edit):
    with open(os.path.join(DATA, 'grant-east.json')) as f:
        g = json.load(f)
    g['obligations'] = [{'id': 'P1', 'indicator': 'trajectories_started', 'op': '>=',
                         'target': 2, 'due': '2011-12-31', 'description': 'two started'}]
    edit(g)
    return t.write(name, json.dumps(g, indent=2))


def refused(t, r, what, pattern):
    t.fails(r, what, pattern=pattern)
    for digits in (BSN, BSN2):
        t.ok(digits not in r.out and digits not in r.err, what + ': the digits are not echoed',
             r)


def test_bsn_refused_in_every_free_text_field(t):
    t.succeeds(t.ctl('grant', 'load', grant_with(t, 'ok.json', lambda g: None)), 'a clean grant')
    t.succeeds(t.ctl('import', '--grant', GRANT, os.path.join(DATA, 'events-east.csv')),
               'clean events')
    before = counts(t)
    text = 'may contain a BSN'
    cases = [
        ('title', lambda g: g.update(title='Dossier %s' % BSN), text),
        ('grantor', lambda g: g.update(grantor='Provincie %s' % BSN2), text),
        ('grantee', lambda g: g.update(grantee='Gemeente %s' % BSN), text),
        ('description', lambda g: g['obligations'][0].update(description='kind ' + BSN), text),
        ('grant id', lambda g: g.update(id=BSN), 'looks like a BSN'),
        ('obligation id', lambda g: g['obligations'][0].update(id=BSN2), 'looks like a BSN'),
        ('report id', lambda g: g['reports'][0].update(id=BSN), 'looks like a BSN'),
    ]
    for what, edit, pattern in cases:
        refused(t, t.ctl('grant', 'load', grant_with(t, 'amended.json', edit)),
                'grant ' + what, pattern)
    refused(t, t.ctl('grant', 'load', grant_with(t, 'besluit-%s.json' % BSN, lambda g: None)),
            'grant file name', 'file name holds nine digits that pass the BSN eleven-test')
    head = 'trajectory,date,event,value\n'
    refused(t, t.ctl('import', '--grant', GRANT,
                     t.write('ref.csv', head + '%s,2011-05-01,registered,\n' % BSN)),
            'trajectory reference', 'TJ011')
    refused(t, t.ctl('import', '--grant', GRANT,
                     t.write('coach.csv', head + 'E-1,2011-05-01,coordinator,coach-%s\n' % BSN2)),
            'coordinator value', 'TJ011')
    refused(t, t.ctl('import', '--grant', GRANT,
                     t.write('week-%s.csv' % BSN, head + 'E-3,2011-05-01,registered,\n')),
            'import file name', 'file name holds nine digits that pass the BSN eleven-test')
    refused(t, t.ctl('void', '--grant', GRANT, '1', '--reason', 'wrong child %s' % BSN),
            'void reason', 'BSN eleven-test')
    refused(t, t.ctl('role', 'grant-grantee', 'postgres', 'Gemeente %s' % BSN2),
            'role grantee', 'BSN eleven-test')
    refused(t, t.ctl('explain', '--grant', GRANT, '--obligation', 'P1', '--text',
                     'child %s moved away' % BSN), 'explanation', 'BSN')
    t.eq(counts(t), before, 'nothing was stored')
    # nine digits that fail the test, and longer runs, are not a BSN: accepted
    r = t.succeeds(t.ctl('import', '--grant', GRANT,
                         t.write('week-123456789.csv', head + 'E-3,2011-05-01,registered,\n')),
                   'a file name with nine digits that fail the eleven-test')
    t.eq(t.sql('SELECT file_name FROM traject.import_batches ORDER BY batch_id DESC LIMIT 1'),
         ['week-123456789.csv'], 'stored as given')


def test_database_refuses_bsn_from_any_client(t):
    t.succeeds(t.ctl('grant', 'load', grant_with(t, 'ok.json', lambda g: None)), 'a clean grant')
    t.succeeds(t.ctl('import', '--grant', GRANT, os.path.join(DATA, 'events-east.csv')),
               'clean events')
    # the SQL twin of tj_contains_bsn (sql/005_roles.sql), on hand-checked strings
    cases = [(BSN, True), (BSN2, True), ('x%sy' % BSN, True), ('a 111222333 b', True),
             ('123456789', False), ('1%s' % BSN, False), ('%s0' % BSN2, False),
             ('12345678', False), ('', False), ('000000000', True), ('111-222-333', False),
             ('ab123456789 %s' % BSN, True)]
    got = t.sql('SELECT traject.may_hold_bsn(v) FROM (VALUES %s) x(i, v) ORDER BY i'
                % ', '.join("(%d, '%s')" % (i, v) for i, (v, _) in enumerate(cases)))
    t.eq(got, ['t' if want else 'f' for _, want in cases], 'may_hold_bsn agrees with the C test')
    key = t.sql("SELECT grant_key FROM traject.grants WHERE id = 'ROLES-EAST'")[0]
    stmts = [
        ("INSERT INTO traject.grants (id, created_at) VALUES ('%s', now())" % BSN,
         'grants_no_bsn'),
        ("INSERT INTO traject.grant_versions SELECT grant_key, 9, now(), 'g-%s.json',"
         " source_sha256, document, title, grantor, grantee, decision_date, period_start,"
         " period_end, currency, amount_granted, target_trajectories, amount_per_trajectory"
         " FROM traject.grant_versions" % BSN, 'grant_versions_no_bsn'),
        ("INSERT INTO traject.trajectories (grant_key, ref) VALUES (%s, '%s')" % (key, BSN2),
         'trajectories_no_bsn'),
        ("INSERT INTO traject.import_batches (grant_key, file_name, sha256, row_count,"
         " recorded_at) VALUES (%s, 'x%s.csv', repeat('a', 64), 0, now())" % (key, BSN),
         'import_batches_no_bsn'),
        ("INSERT INTO traject.events (grant_key, traj_key, batch_id, line, event_date, kind,"
         " value, recorded_at) SELECT grant_key, traj_key, batch_id, 99, event_date,"
         " 'coordinator', 'c-%s', now() FROM traject.events LIMIT 1" % BSN, 'events_no_bsn'),
        ("INSERT INTO traject.voids VALUES (1, %s, 'BSN %s', now())" % (key, BSN2),
         'voids_no_bsn'),
        ("INSERT INTO traject.obligations VALUES (%s, 1, 'P9', 'trajectories_started', '>=',"
         " 1, '2011-12-31', 'kind %s', 9)" % (key, BSN), 'obligations_no_bsn'),
        ("INSERT INTO traject.calendar VALUES (%s, 1, '%s', 'progress', '2011-01-01',"
         " '2011-02-01', 9)" % (key, BSN2), 'calendar_no_bsn'),
    ]
    before = counts(t)
    for sql, constraint in stmts:
        p = subprocess.run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', t.db, '-c', sql],
                           capture_output=True, text=True)
        t.ok(p.returncode != 0 and constraint in p.stderr,
             'the database refuses it: %s' % constraint, p.stderr)
    t.eq(counts(t), before, 'nothing was stored')


# --- secrets ---------------------------------------------------------------------
def openssl(t, *args):
    p = subprocess.run(['openssl'] + list(args), capture_output=True, text=True)
    t.ok(p.returncode == 0, 'openssl ' + args[0], p.stderr)


def key_material(path):
    """The base64 lines of a PEM file: what must never leak."""
    with open(path) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith('-----')]


def leaks(text, secrets):
    return [s for s in secrets if s in text]


def test_secrets_not_in_logs_argv_or_environment(t):
    password = 'pw-' + os.urandom(12).hex()
    key, cert = os.path.join(t.tmp, 'client.key'), os.path.join(t.tmp, 'client.pem')
    openssl(t, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
            '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=trajectd-test',
            '-addext', 'extendedKeyUsage=clientAuth')
    secrets = [password] + key_material(key)
    t.ok(len(secrets) >= 3, 'the key has base64 lines to look for', secrets)
    t.succeeds(t.ctl('grant', 'load', os.path.join(DATA, 'grant-east.json')), 'grant load')
    t.succeeds(t.ctl('import', '--grant', GRANT, os.path.join(DATA, 'events-east.csv')),
               'import')
    # A receiver that requires our client certificate (its own CA) and answers every
    # request 503: every attempt makes a TLS handshake with the client key and fails,
    # so trajectd logs and stores errors while it holds the key.
    ca, server_cert, server_key = tjtest.make_certs(t.tmp, 'trajectd privacy test CA')
    script = t.write('script.json', json.dumps([{'status': 503, 'body': 'busy'}] * 50))
    rlog = os.path.join(t.tmp, 'receiver.jsonl')
    rcv = subprocess.Popen([sys.executable, RECEIVER, '--cert', server_cert, '--key', server_key,
                            '--script', script, '--log', rlog, '--client-ca', cert,
                            '--require-client-cert'],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = re.match(r'PORT (\d+)', rcv.stdout.readline())
    conf = t.write('trajectd.conf',
                   '[database]\nconninfo = dbname=%s password=%s\n\n[delivery]\n'
                   'url = https://127.0.0.1:%s/inbox\nca_file = %s\nclient_cert = %s\n'
                   'client_key = %s\ntimeout = 5\nretry_base = 1\nretry_max = 2\n'
                   % (t.db, password, port.group(1) if port else '1', ca, cert, key))
    os.chmod(key, 0o600)
    env = {k: v for k, v in os.environ.items() if k != 'PGPASSWORD'}
    check = subprocess.run([TRAJECTD, '-n', '--config', conf], capture_output=True, text=True,
                           env=env)
    t.eq(check.returncode, 0, 'trajectd -n accepts the configuration')
    t.eq(leaks(check.stdout + check.stderr, secrets), [], 'trajectd -n prints no secret')
    log = open(os.path.join(t.tmp, 'trajectd.log'), 'w+')
    proc = subprocess.Popen([TRAJECTD, '--config', conf, '--clock', '2011-07-12T12:00:00+02:00'],
                            stdout=log, stderr=log, env=env)
    try:
        t.ok(port is not None, 'the receiver runs')
        end = time.time() + 30
        while time.time() < end and t.sql("SELECT count(*) FROM traject.delivery_attempts") in (
                ['0'], ['1']):
            time.sleep(0.2)
        attempts = int(t.sql('SELECT count(*) FROM traject.delivery_attempts')[0])
        t.ok(attempts >= 2, 'trajectd made delivery attempts', attempts)
        with open(rlog) as f:
            seen = [json.loads(line) for line in f if '"request"' in line]
        t.ok(seen and all(e['client_cn'] == 'trajectd-test' for e in seen),
             'the receiver saw every attempt signed with our client key', seen)
        with open('/proc/%d/cmdline' % proc.pid, 'rb') as f:
            cmdline = f.read().decode('utf-8', 'replace')
        with open('/proc/%d/environ' % proc.pid, 'rb') as f:
            environ = f.read().decode('utf-8', 'replace')
        t.eq(leaks(cmdline, secrets), [], 'no secret in /proc/PID/cmdline')
        t.ok(cmdline.split('\0')[:2] == [TRAJECTD, '--config'], 'cmdline is what we ran',
             cmdline)
        t.eq(leaks(environ, secrets), [], 'no secret in /proc/PID/environ')
        t.ok('PGPASSWORD' not in environ, 'no PGPASSWORD in its environment', environ)
        proc.send_signal(signal.SIGTERM)
        t.eq(proc.wait(timeout=30), 0, 'stops cleanly')
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        rcv.terminate()
        rcv.wait(timeout=10)
        rcv.stdout.close()
    log.seek(0)
    text = log.read()
    log.close()
    t.ok(re.search(r'^<4>.*503', text, re.M), 'the failed attempts were logged', text)
    t.eq(leaks(text, secrets), [], 'no secret in the log')
    stored = '\n'.join(t.sql("SELECT last_error FROM traject.deliveries UNION ALL"
                             " SELECT error FROM traject.delivery_attempts UNION ALL"
                             " SELECT message FROM traject.alerts"))
    t.ok('503' in stored, 'the errors were stored', stored)
    t.eq(leaks(stored, secrets), [], 'no secret in the stored errors, attempts or alerts')


def test_password_never_in_error_messages(t):
    password = 'pw-' + os.urandom(12).hex()
    bad = 'host=%s port=1 dbname=nowhere user=nobody password=%s' % (t.tmp, password)
    conf = t.write('bad.conf', '[database]\nconninfo = %s\n\n[delivery]\n'
                               'url = file://%s\n' % (bad, t.tmp))
    env = {k: v for k, v in os.environ.items() if k != 'PGPASSWORD'}
    r = subprocess.run([tjtest.CTL, '--config', conf, 'status'], capture_output=True, text=True,
                       env=env)
    t.ok(r.returncode == 1 and 'cannot connect to the database' in r.stderr,
         'trajectctl says it cannot connect', r.stderr)
    t.ok(password not in r.stdout + r.stderr, 'trajectctl does not print the password', r.stderr)
    r = subprocess.run([TRAJECTD, '--config', conf, '--once'], capture_output=True, text=True,
                       env=env, timeout=60)
    t.ok(r.returncode != 0, 'trajectd --once fails without a database', r.stderr)
    t.ok(password not in r.stdout + r.stderr, 'trajectd does not print the password', r.stderr)
    r = subprocess.run([TRAJECTD, '-n', '--config', conf], capture_output=True, text=True,
                       env=env)
    t.ok(password not in r.stdout + r.stderr, 'trajectd -n does not print the password',
         r.stdout + r.stderr)


tjtest.main(globals())
