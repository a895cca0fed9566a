# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the integration tests: they drive the real relaisd binary
(RELAISD) on loopback, on a private D-Bus bus started here, with real
clients (smtplib, swaks, busctl, gdbus, Gio). Nothing here talks to an outer
session or system bus: every module gets its own dbus-daemon, every test its
own state directory. The helpers live in relais_helpers.py.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import relais_helpers as H  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, print the logs of the daemon and of the buses/mocks."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for name, path in list(H.LOGS.items()):
            try:
                with open(path, "r", errors="replace") as f:
                    text = f.read()
            except OSError as e:
                text = "(could not read %s: %s)" % (path, e)
            if len(text) > 60000:
                text = "...(truncated)...\n" + text[-60000:]
            report.sections.append(("%s log (%s)" % (name, path), text))


@pytest.fixture(scope="module")
def session_bus(tmp_path_factory):
    """A private session-type dbus-daemon for this test module."""
    d = tmp_path_factory.mktemp("bus")
    bus = H.MessageBus.start_session(str(d))
    H.register_log("dbus-daemon", bus.log_path)
    yield bus
    H.unregister_log("dbus-daemon")
    bus.stop()


@pytest.fixture
def daemon(request, tmp_path, session_bus):
    """A running relaisd (SMTP, submission and SMTPS ports) on the module's
    private session bus, with a fresh state dir."""
    d = H.make_daemon(request, tmp_path, session_bus.address)
    d.start()
    return d


@pytest.fixture
def mailbox(daemon):
    """The daemon with local domain relais.test and account alice; returns the address."""
    return daemon.setup_mailbox()


@pytest.fixture(scope="module")
def xvfb(tmp_path_factory):
    """A private X server for the app tests of this module."""
    import gui_helpers as G
    d = tmp_path_factory.mktemp("x")
    server = G.Xvfb(str(d))
    H.register_log("Xvfb", server.log_path)
    yield server
    H.unregister_log("Xvfb")
    server.stop()


@pytest.fixture
def app(tmp_path, xvfb, session_bus, daemon):
    """relais-settings (English) in a window, connected to DAEMON."""
    import gui_helpers as G
    a = G.App(str(tmp_path), xvfb.display, session_bus.address, "en")
    H.wait_for(lambda: a.state()["connected"], 10, "the app to connect to relaisd")
    yield a
    a.stop()


@pytest.fixture
def app_fr(tmp_path, xvfb, session_bus, daemon):
    """relais-settings in French (LANG=fr_FR.UTF-8), connected to DAEMON."""
    import gui_helpers as G
    a = G.App(str(tmp_path), xvfb.display, session_bus.address, "fr")
    H.wait_for(lambda: a.state()["connected"], 10, "the app to connect to relaisd")
    yield a
    a.stop()
