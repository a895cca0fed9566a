# SPDX-License-Identifier: GPL-3.0-or-later
"""Hardening (issue 10): every file relaisd makes in its state folder is its
own alone (files 0600, folders 0700, its uid); TLS is 1.2 or 1.3 only by
default (no SSL 3, TLS 1.0 or 1.1), and --tls-priority sets the GnuTLS
priority string, checked at start. (That no secret reaches the log, the
audit trail or D-Bus is test_audit.py's and test_auth.py's.)"""

import os
import smtplib
import ssl
import stat
import subprocess

import pytest

from relais_helpers import SENDER, make_daemon, make_message, require_tool


def tls_version(daemon, flag):
    """The protocol an openssl client asking for FLAG (-tls1_1 ...) gets
    after STARTTLS, or None when the handshake fails."""
    openssl = require_tool("openssl")
    p = subprocess.run([openssl, "s_client", "-starttls", "smtp", flag, "-cipher", "DEFAULT@SECLEVEL=0",
                        "-connect", "%s:%d" % (daemon.host, daemon.port), "-brief"],
                       input="QUIT\n", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    for line in p.stdout.splitlines():
        if line.startswith("Protocol version:"):
            return line.split(":", 1)[1].strip()
    return None


def test_state_files_are_the_daemons_alone(daemon, mailbox):
    daemon.add_account("carol", password="Carol-Secret-1")
    with smtplib.SMTP(daemon.host, daemon.port, timeout=15) as s:
        s.starttls(context=ssl._create_unverified_context())
        s.sendmail(SENDER, [mailbox], make_message("private", "hello\n", to=mailbox))
    daemon.wait_messages(1)
    daemon.stop()                       # the WAL and the spool as they are left
    uid = os.geteuid()
    seen = 0
    for root, dirs, files in os.walk(daemon.state_dir):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            want = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
            assert stat.S_IMODE(st.st_mode) == want, "%s is %o, not %o" % (path, stat.S_IMODE(st.st_mode), want)
            assert st.st_uid == uid, "%s belongs to uid %d" % (path, st.st_uid)
            seen += 1
    assert stat.S_IMODE(os.stat(daemon.state_dir).st_mode) == 0o700
    assert seen > 10, seen                 # database, spool, mailbox, TLS files were there


def test_tls_refuses_old_versions(daemon):
    assert tls_version(daemon, "-tls1") is None
    assert tls_version(daemon, "-tls1_1") is None
    assert tls_version(daemon, "-tls1_2") == "TLSv1.2"
    assert tls_version(daemon, "-tls1_3") == "TLSv1.3"
    log = open(daemon.log_path, errors="replace").read()
    assert "TLS priority: NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" in log


def test_tls_priority_option(request, tmp_path, session_bus):
    d = make_daemon(request, tmp_path, session_bus.address, submission=False, smtps=False,
                    extra_args=["--tls-priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3"])
    d.start()
    assert tls_version(d, "-tls1_2") is None
    assert tls_version(d, "-tls1_3") == "TLSv1.3"


@pytest.mark.parametrize("value", ["NORMAL:+NO-SUCH-THING", ""])
def test_tls_priority_checked_at_start(tmp_path, value):
    argv = [os.environ["RELAISD"], "--session", "--state-dir", str(tmp_path), "--tls-priority", value]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30,
                       env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent"))
    if value == "":
        # empty: the default, and the bus (absent here) is what stops it
        assert "--tls-priority" not in p.stdout, p.stdout
        return
    assert p.returncode == 2, p.stdout
    assert "--tls-priority: 'NORMAL:+NO-SUCH-THING' is not a GnuTLS priority string" in p.stdout, p.stdout
