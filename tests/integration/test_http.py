# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTTP endpoint (--http-listen): /metrics in the Prometheus text format,
read with curl and checked by prometheus_client's parser and promtool, whose
values are the D-Bus Statistics properties; /healthz; 404 and 405; HTTPS;
the bearer token; the options refused at start."""

import os
import signal
import smtplib
import socket
import subprocess

import pytest
from gi.repository import GLib

import relais_helpers as H
from smtp_peers import Peer, make_certificates

prometheus_parser = pytest.importorskip("prometheus_client.parser")

TOKEN = "s3cret-Token_for.tests~42"
SPAMMER = "spammer@bad.example"
# a rule name with the characters a label value must escape (\ and ")
RULE = 'Bad "guy" \\ list'
MX1 = "127.0.0.21"          # mx1.direct.test, MX 10 of direct.test (tests/dns/test.conf)


def curl(url, *args):
    """(status, headers as a lower-case dict, body) of one curl request."""
    H.require_tool("curl")
    p = subprocess.run(["curl", "-sS", "--max-time", "20", "-D", "-", *args, url],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, "curl %s failed (%d): %s" % (url, p.returncode, p.stderr)
    head, _, body = p.stdout.decode("utf-8").partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def start_http_daemon(request, tmp_path, session_bus, *options, scheme="http"):
    d = H.make_daemon(request, tmp_path, session_bus.address, extra_args=options)
    # a port none of the daemon's SMTP endpoints took
    port = next(p for p in H.free_ports(4) if p not in (d.port, d.submission_port, d.smtps_port))
    d.extra_args += ["--http-listen", "127.0.0.1:%d" % port]
    d.start()
    H.wait_tcp("127.0.0.1", port, 20)
    d.http = "%s://127.0.0.1:%d" % (scheme, port)
    return d


@pytest.fixture
def http_daemon(request, tmp_path, session_bus):
    return start_http_daemon(request, tmp_path, session_bus)


def samples(text):
    """{(sample name, sorted label pairs): value}, parsed by prometheus_client."""
    out = {}
    for family in prometheus_parser.text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


# D-Bus Statistics property -> its sample in /metrics
PLAIN = {
    "Connections": ("relais_connections_total", ()),
    "SessionsOpen": ("relais_sessions_open", ()),
    "MessagesReceived": ("relais_messages_received_total", ()),
    "DeliveredLocal": ("relais_delivered_total", (("route", "local"),)),
    "DeliveredRemote": ("relais_delivered_total", (("route", "remote"),)),
    "Deferred": ("relais_deferred_total", ()),
    "Bounced": ("relais_bounced_total", ()),
    "Discarded": ("relais_discarded_total", ()),
    "Rejected": ("relais_rejected_total", ()),
    "BytesReceived": ("relais_received_bytes_total", ()),
    "BytesSent": ("relais_sent_bytes_total", ()),
    "TlsSessions": ("relais_tls_sessions_total", ()),
    "AuthSuccesses": ("relais_auth_successes_total", ()),
    "AuthFailures": ("relais_auth_failures_total", ()),
    "QueueLength": ("relais_queue_length", ()),
    "QueueOldestAge": ("relais_queue_oldest_age_seconds", ()),
}


def differences(stats, metrics):
    """What differs between the D-Bus properties and the parsed samples."""
    diff = []
    for prop, key in PLAIN.items():
        if metrics.get(key) != stats[prop]:
            diff.append("%s=%s but %s=%s" % (prop, stats[prop], key, metrics.get(key)))

    def labelled(name, label):
        return {dict(k[1])[label]: v for k, v in metrics.items() if k[0] == name}

    if labelled("relais_rejected_by_reason_total", "reason") != stats["RejectedByReason"]:
        diff.append("RejectedByReason %s vs %s" % (stats["RejectedByReason"],
                                                  labelled("relais_rejected_by_reason_total", "reason")))
    if labelled("relais_rule_hits_total", "rule") != stats["RuleHits"]:
        diff.append("RuleHits %s vs %s" % (stats["RuleHits"], labelled("relais_rule_hits_total", "rule")))
    checks = {"%s:%s" % (dict(k[1])["check"], dict(k[1])["result"]): v
              for k, v in metrics.items() if k[0] == "relais_check_results_total"}
    if checks != stats["CheckResults"]:
        diff.append("CheckResults %s vs %s" % (stats["CheckResults"], checks))
    return diff


def test_metrics_parse_and_agree_with_dbus(http_daemon):
    d = http_daemon
    rcpt = d.setup_mailbox()
    d.add_rule(RULE, "black", "sender", SPAMMER, "reject")
    # start() knocked at every SMTP port; the D-Bus property may lag a second
    connections = samples(curl(d.http + "/metrics")[2])[("relais_connections_total", ())]
    with smtplib.SMTP(d.host, d.port, timeout=20) as s:
        for i in range(3):
            s.sendmail(H.SENDER, [rcpt], H.make_message(to=rcpt))
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            s.sendmail(SPAMMER, [rcpt], H.make_message(to=rcpt, sender=SPAMMER))
        assert refused.value.recipients[rcpt][0] == 554
    d.wait_messages(3)

    # The D-Bus properties follow the counters within a second: wait until
    # both sides show the same, settled values.
    state = {}

    def agree():
        stats = d.stats()
        status, headers, body = curl(d.http + "/metrics")
        state.update(stats=stats, status=status, headers=headers, body=body,
                     metrics=samples(body) if status == 200 else {})
        state["diff"] = differences(stats, state["metrics"])
        return (status == 200 and stats["DeliveredLocal"] == 3 and stats["QueueLength"] == 0
                and not state["diff"])

    H.wait_for(agree, 20, "/metrics to show the D-Bus Statistics values",
               details=lambda: "%s %s" % (state.get("status"), state.get("diff")))
    stats, metrics, body = state["stats"], state["metrics"], state["body"]
    assert state["headers"]["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert stats["MessagesReceived"] == 3 and stats["Connections"] == connections + 1
    assert stats["RuleHits"]["blacklist:" + RULE] == 1
    assert metrics[("relais_rule_hits_total", (("rule", "blacklist:" + RULE),))] == 1
    assert 'rule="blacklist:Bad \\"guy\\" \\\\ list"' in body
    assert abs(metrics[("relais_start_time_seconds", ())] * 1e6 - stats["StartTime"]) < 2

    # every family has its help and type
    families = {line.split()[2] for line in body.splitlines() if line.startswith("# TYPE ")}
    helps = {line.split()[2] for line in body.splitlines() if line.startswith("# HELP ")}
    assert families == helps and "relais_delivery_duration_seconds" in families

    # the latency histogram counts every delivery, in cumulative buckets
    hist = {float(dict(k[1])["le"]): v for k, v in metrics.items()
            if k[0] == "relais_delivery_duration_seconds_bucket"}
    bounds = sorted(hist)
    assert bounds[-1] == float("inf") and hist[float("inf")] == 3
    assert all(hist[a] <= hist[b] for a, b in zip(bounds, bounds[1:]))
    assert metrics[("relais_delivery_duration_seconds_count", ())] == 3
    assert 0 <= metrics[("relais_delivery_duration_seconds_sum", ())] < 3 * 60
    assert hist[60.0] == 3

    promtool = H.require_tool("promtool")
    p = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0 and p.stdout.strip() == "" and p.stderr.strip() == "", \
        "promtool: %s%s" % (p.stdout, p.stderr)


def test_histogram_counts_remote_deliveries(http_daemon):
    if os.environ.get("RELAIS_TEST_NET") != "1":
        pytest.skip("needs build-aux/with-test-net (the MX of direct.test on 127.0.0.21)")
    d = http_daemon
    mx = Peer(MX1).start()
    try:
        rcpt = d.setup_mailbox()
        d.dbus().call(H.IFACE_ACCOUNTS, "UpdateAccount", "(sa{sv}b)",
                      ("alice", {"Forwards": GLib.Variant("as", ["bob@direct.test"])}, False))
        with smtplib.SMTP(d.host, d.port, timeout=20) as s:
            s.sendmail(H.SENDER, [rcpt], H.make_message(to=rcpt))
        mx.wait_received(1)
    finally:
        mx.stop()
    state = {}

    def counted():
        stats = d.stats()
        metrics = samples(curl(d.http + "/metrics")[2])
        state.update(stats=stats, metrics=metrics)
        return stats["DeliveredRemote"] == 1 and stats["QueueLength"] == 0 and not differences(stats, metrics)

    H.wait_for(counted, 20, "the remote delivery in the statistics", details=lambda: repr(state))
    stats, metrics = state["stats"], state["metrics"]
    deliveries = stats["DeliveredLocal"] + stats["DeliveredRemote"]
    assert metrics[("relais_delivery_duration_seconds_count", ())] == deliveries
    assert metrics[("relais_delivery_duration_seconds_bucket", (("le", "+Inf"),))] == deliveries


def test_healthz_says_503_while_shutting_down(http_daemon):
    d = http_daemon
    mailbox = d.setup_mailbox()
    with H.RawSMTP(d.host, d.port, timeout=30) as c:
        c.greeting()
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % H.SENDER).code == 250
        assert c.cmd("RCPT TO:<%s>" % mailbox).code == 250
        assert c.cmd("DATA").code == 354
        # SIGTERM: the listeners close, this session may still end its message
        d.proc.send_signal(signal.SIGTERM)
        H.wait_for(lambda: curl(d.http + "/healthz")[0] == 503, 20, "/healthz to say 503")
        status, _, body = curl(d.http + "/healthz")
        assert (status, body) == (503, "smtp: not accepting connections (not started yet, or shutting down)\n")
        c.send(b"Subject: last one\r\n\r\nbody\r\n.\r\n")
        assert c.reply().code == 250
        last = c.reply()                                     # then the 421
        assert last.code == 421 and last.text.startswith("4.3.2 "), last
    assert d.proc.wait(30) == 0


def test_healthz_reports_a_broken_spool_and_recovers(http_daemon):
    d = http_daemon
    assert curl(d.http + "/healthz")[::2] == (200, "ok\n")
    # HEAD: the headers of GET, no body (HTTP/1.0: the server closes after the answer)
    with socket.create_connection(("127.0.0.1", int(d.http.rsplit(":", 1)[1])), timeout=20) as sock:
        sock.sendall(b"HEAD /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        answer = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 ") and b"\r\nContent-Length: 3" in head and body == b"", answer

    # The spool replaced by a file: no write can succeed, root's neither.
    spool = os.path.join(d.state_dir, "spool")
    os.rename(spool, spool + ".away")
    with open(spool, "w") as f:
        f.write("not a directory\n")
    try:
        status, headers, body = curl(d.http + "/healthz")
        assert status == 503, body
        assert body == "spool: %s: Not a directory\n" % os.path.join(spool, "tmp")
    finally:
        os.unlink(spool)
        os.rename(spool + ".away", spool)
    assert curl(d.http + "/healthz")[::2] == (200, "ok\n")


def test_unknown_paths_and_methods(http_daemon):
    d = http_daemon
    assert curl(d.http + "/")[0] == 404
    assert curl(d.http + "/metrics/extra")[0] == 404
    for method in ("POST", "PUT", "DELETE"):
        status, headers, _ = curl(d.http + "/metrics", "-X", method)
        assert status == 405 and headers["allow"] == "GET, HEAD", (method, status)
    # a request body is never wanted: refused, and the endpoint goes on
    big = d.state_dir + "/../big-body"
    with open(big, "wb") as f:
        f.write(b"x" * (8 << 20))
    assert curl(d.http + "/healthz", "--data-binary", "@" + big)[0] == 405
    assert curl(d.http + "/healthz")[::2] == (200, "ok\n")


def test_https_with_a_bearer_token(request, tmp_path, session_bus):
    ca, cert, key = make_certificates(str(tmp_path / "certs"), names=("localhost",), ips=("127.0.0.1",))
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    d = start_http_daemon(request, tmp_path, session_bus, "--http-tls-cert", cert, "--http-tls-key", key,
                          "--http-token-file", str(token_file), scheme="https")
    url = d.http + "/healthz"

    status, headers, _ = curl(url, "--cacert", ca)
    assert status == 401 and headers["www-authenticate"] == 'Bearer realm="relaisd"'
    status, headers, _ = curl(url, "--cacert", ca, "-H", "Authorization: Bearer wrong-" + TOKEN)
    assert status == 401 and 'error="invalid_token"' in headers["www-authenticate"]
    status, _, _ = curl(url, "--cacert", ca, "-H", "Authorization: Bearer " + TOKEN[:-1])
    assert status == 401
    status, _, _ = curl(url, "--cacert", ca, "-H", "Authorization: Basic " + TOKEN)
    assert status == 401
    assert curl(url, "--cacert", ca, "-X", "POST", "--data-binary", "x" * 100000)[0] == 401
    assert curl(url, "--cacert", ca, "-H", "Authorization: Bearer " + TOKEN)[::2] == (200, "ok\n")
    status, _, body = curl(d.http + "/metrics", "--cacert", ca, "-H", "Authorization: bearer " + TOKEN)
    assert status == 200 and "\nrelais_messages_received_total 0\n" in body
    # no plain HTTP on the HTTPS port
    p = subprocess.run(["curl", "-sS", "--max-time", "10", d.http.replace("https:", "http:") + "/healthz"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 or not p.stdout.startswith("ok")


def run_relaisd(tmp_path, *options):
    """relaisd with OPTIONS, expected to refuse to start: (exit status, stderr)."""
    state = tmp_path / "state"
    state.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBUS_")}
    p = subprocess.run([H.relaisd_path(), "--session", "--state-dir", str(state),
                        "--listen", "127.0.0.1:%d" % H.free_port(), *options],
                       capture_output=True, text=True, timeout=30, env=env, stdin=subprocess.DEVNULL)
    return p.returncode, p.stderr


def test_refuses_a_public_address_without_a_token(tmp_path):
    rc, err = run_relaisd(tmp_path, "--http-listen", "0.0.0.0:%d" % H.free_port())
    assert rc != 0
    assert "is not a loopback address" in err and "--http-token-file" in err, err
    rc, err = run_relaisd(tmp_path, "--http-listen", "[::]:%d" % H.free_port())
    assert rc != 0 and "is not a loopback address" in err, err


@pytest.mark.parametrize("options, message", [
    (["--http-listen", "127.0.0.1"], "invalid address"),
    (["--http-listen", "127.0.0.1:70000"], "invalid address"),
    (["--http-listen", "localhost:9100"], "invalid address"),
    (["--http-listen", "127.0.0.1:0"], "--http-listen: invalid address “127.0.0.1:0”: the port must be"),
    # the SMTP endpoints share the parser and say which option is wrong too
    (["--listen", "[::1]"], "--listen: invalid address “[::1]”: expected IP:PORT"),
    (["--submission-listen", "mail:587"], "--submission-listen: invalid address “mail:587”"),
    (["--http-token-file", "/dev/null"], "need --http-listen"),
    (["--http-listen", "127.0.0.1:9100", "--http-tls-cert", "/nonexistent"], "go together"),
    (["--http-listen", "127.0.0.1:9100", "--http-token-file", "/nonexistent/token"],
     "--http-token-file: "),
    (["--http-listen", "127.0.0.1:9100", "--http-token-file", "/dev/null"], "one token"),
    (["--http-listen", "127.0.0.1:9100", "--http-tls-cert", "/nonexistent/c.pem",
      "--http-tls-key", "/nonexistent/k.pem"], "--http-tls-cert/--http-tls-key: "),
])
def test_bad_option_values_are_refused(tmp_path, options, message):
    rc, err = run_relaisd(tmp_path, *options)
    assert rc != 0 and message in err, (rc, err)


def test_refuses_a_busy_port(request, tmp_path, session_bus, http_daemon):
    port = int(http_daemon.http.rsplit(":", 1)[1])
    rc, err = run_relaisd(tmp_path / "other", "--http-listen", "127.0.0.1:%d" % port)
    assert rc == 1 and "Cannot listen for HTTP on 127.0.0.1:%d" % port in err, err

