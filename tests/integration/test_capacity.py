# SPDX-License-Identifier: GPL-3.0-or-later
"""What lets relaisd hold many clients at once (issue 9: 10,000 sessions).
Every SMTP session holds a socket, so relaisd raises its soft open-file limit
to the hard limit at start (and logs it): started with a soft limit below the
number of clients, it still greets them all; the systemd unit sets
LimitNOFILE= high enough. Its SMTP sockets listen with a deep backlog, so a
burst of connections is not left waiting for SYN-ACK retransmissions."""

import os
import re
import resource
import subprocess

import pytest

from relais_helpers import RawSMTP, make_daemon, open_file_limits, require_tool, source_root

SOFT = 64
CLIENTS = 100


def test_soft_limit_raised_to_hard(request, tmp_path, session_bus):
    prlimit = require_tool("prlimit")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard < CLIENTS * 2:
        pytest.skip("the hard open-file limit here (%s) leaves no room for the test" % hard)
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < CLIENTS * 2:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    d = make_daemon(request, tmp_path, session_bus.address, submission=False, smtps=False)
    d.launcher = [prlimit, "--nofile=%d:%d" % (SOFT, hard), "--"]
    d.start()

    assert open_file_limits(d.proc.pid) == (hard, hard)
    with open(d.log_path, errors="replace") as f:
        assert "open-file limit raised from %d to %d" % (SOFT, hard) in f.read()

    # More sessions than the soft limit it started with, from one address.
    d.update_security(LimitConnections=False)
    clients = []
    try:
        for _ in range(CLIENTS):
            c = RawSMTP(d.host, d.port)
            clients.append(c)
            c.greeting()
        for c in clients:
            assert c.cmd("NOOP").code == 250
    finally:
        for c in clients:
            c.close()


def test_unit_sets_open_file_limit():
    with open(os.path.join(source_root(), "data", "relaisd.service.in")) as f:
        values = re.findall(r"^LimitNOFILE=(\d+)$", f.read(), re.M)
    assert len(values) == 1, values
    assert int(values[0]) >= 16384, "room for 10,000 SMTP sessions and the daemon's own files"


def test_listen_backlog(daemon):
    ss = require_tool("ss")
    with open("/proc/sys/net/core/somaxconn") as f:
        somaxconn = int(f.read())
    for port in (daemon.port, daemon.submission_port, daemon.smtps_port):
        out = subprocess.run([ss, "-ltnH", "sport = :%d" % port], capture_output=True, text=True,
                             check=True).stdout.split()
        # State Recv-Q Send-Q Local Peer: Send-Q of a listening socket is its backlog.
        assert out[0] == "LISTEN", out
        assert int(out[2]) >= min(1024, somaxconn), out
