# SPDX-License-Identifier: GPL-3.0-or-later
"""relais-settings with relaisd on a private system-type bus, where polkit
(python-dbusmock's polkitd) decides: the rows stay insensitive and the lock
button shows while the configure action is not allowed, and become editable
when it is. The app's own name and test hook stay on a private session bus."""

import gui_helpers as G
import relais_helpers as H
from test_polkit import ACTION_CONFIGURE, ACTION_QUEUE, polkit_mock, set_allowed, system_bus  # noqa: F401


def start_app(tmp_path, xvfb, session_bus, system_bus):  # noqa: F811
    a = G.App(str(tmp_path), xvfb.display, session_bus.address, "en",
              extra_env={"RELAIS_SETTINGS_BUS": "system",
                         "DBUS_SYSTEM_BUS_ADDRESS": system_bus.address})
    H.wait_for(lambda: a.state()["connected"], 10, "the app to connect on the system bus")
    return a


def test_rows_locked_until_polkit_allows(request, tmp_path, xvfb, session_bus, system_bus,  # noqa: F811
                                         polkit_mock):  # noqa: F811
    set_allowed(polkit_mock, [])
    d = H.make_daemon(request, tmp_path, system_bus.address, session=False, submission=False, smtps=False)
    d.start()

    app = start_app(tmp_path, xvfb, session_bus, system_bus)
    try:
        state = app.state()
        assert state["bus"] == "system"
        assert state["lock-visible"] and not state["can-edit"]
        value, sensitive, _ = app.get("General.MaxRecipients")
        assert value == 100 and not sensitive          # shown, not editable
        # a test (or a user) cannot edit a locked row
        try:
            app.set("General.MaxRecipients", 5, "u")
            raise AssertionError("a locked row accepted an edit")
        except H.DBusCallError as e:
            assert "not editable" in e.message, e
        assert d.general()["MaxRecipients"] == 100
        assert not app.get("Status.queue")[1]          # queue actions locked too
    finally:
        app.stop()

    set_allowed(polkit_mock, [ACTION_CONFIGURE])
    app = start_app(tmp_path, xvfb, session_bus, system_bus)
    try:
        H.wait_for(lambda: app.state()["can-edit"], 5, "polkit to allow editing")
        assert app.get("General.MaxRecipients")[1]
        app.set("General.MaxRecipients", 5, "u")
        app.action("win.apply")
        H.wait_for(lambda: not app.state()["dirty"], 5, "the page to be applied")
        assert d.general()["MaxRecipients"] == 5
        # configure does not allow managing the queue: that is its own action
        assert not app.get("Status.queue")[1]
    finally:
        app.stop()


def test_queue_actions_follow_their_own_polkit_action(request, tmp_path, xvfb, session_bus,  # noqa: F811
                                                      system_bus, polkit_mock):  # noqa: F811
    set_allowed(polkit_mock, [ACTION_QUEUE])
    d = H.make_daemon(request, tmp_path, system_bus.address, session=False, submission=False, smtps=False)
    d.start()
    app = start_app(tmp_path, xvfb, session_bus, system_bus)
    try:
        H.wait_for(lambda: app.get("Status.queue")[1], 5, "the queue actions to be allowed")
        assert not app.state()["can-edit"]
        assert not app.get("General.MaxRecipients")[1]
    finally:
        app.stop()
