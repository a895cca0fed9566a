# SPDX-License-Identifier: GPL-3.0-or-later
"""Driving relais-settings in tests: a private X server (Xvfb), the real app
on the module's private session bus, and its test hook
(org.relais.Settings.Test, see gui/relais-test-hook.h) to read what a field
shows, edit it as a user would, run window actions and save screenshots.

Screenshots go to <build>/meson-logs/screenshots/<lang>/ (the CI artifacts)."""

import os
import subprocess
import tempfile
import time

import pytest
from gi.repository import GLib

import relais_helpers as H

HOOK_NAME = "org.relais.Settings"
HOOK_PATH = "/org/relais/Settings/Test"
HOOK_IFACE = "org.relais.Settings.Test"


def settings_path():
    build = os.environ.get("RELAIS_BUILD_ROOT")
    path = os.path.join(build, "gui", "relais-settings") if build else None
    if path is None or not os.access(path, os.X_OK):
        pytest.skip("relais-settings is not built (configure with -Dgui=enabled)")
    return path


def screenshot_dir(lang):
    build = os.environ.get("RELAIS_BUILD_ROOT", tempfile.gettempdir())
    d = os.path.join(build, "meson-logs", "screenshots", lang)
    os.makedirs(d, exist_ok=True)
    return d


class Xvfb:
    """A private X server; DISPLAY for the app."""

    def __init__(self, directory):
        H.require_tool("Xvfb")
        self.log_path = os.path.join(directory, "xvfb.log")
        read_fd, write_fd = os.pipe()
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24",
                 "-nolisten", "tcp", "-noreset"],
                pass_fds=(write_fd,), stdout=log, stderr=subprocess.STDOUT)
        os.close(write_fd)
        number = b""
        deadline = time.monotonic() + 20
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            chunk = os.read(read_fd, 16)
            if not chunk:
                break
            number += chunk
        os.close(read_fd)
        if not number.strip():
            self.stop()
            raise RuntimeError("Xvfb did not start; see %s" % self.log_path)
        self.display = ":" + number.decode().strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class App:
    """relais-settings under Xvfb with its test hook on BUS_ADDRESS."""

    def __init__(self, directory, display, bus_address, lang="en", extra_env=None):
        self.bus_address = bus_address
        self.lang = lang
        self.log_path = os.path.join(directory, "relais-settings-%s.log" % lang)
        env = dict(os.environ)
        env.update({
            "DISPLAY": display,
            "DBUS_SESSION_BUS_ADDRESS": bus_address,
            "RELAIS_SETTINGS_BUS": "session",
            "RELAIS_SETTINGS_TEST_HOOK": "1",
            "GSK_RENDERER": "cairo",
            "GDK_DEBUG": "gl-disable",
            "GTK_A11Y": "none",
            "GSETTINGS_BACKEND": "memory",
            "NO_AT_BRIDGE": "1",
        })
        env.pop("WAYLAND_DISPLAY", None)
        env.pop("DBUS_SYSTEM_BUS_ADDRESS", None)   # never an outer system bus
        env.pop("LANGUAGE", None)
        build = os.environ.get("RELAIS_BUILD_ROOT")
        if build:
            env["RELAIS_LOCALEDIR"] = os.path.join(build, "po")
        if lang == "fr":
            env["LANG"] = "fr_FR.UTF-8"
            env["LC_ALL"] = "fr_FR.UTF-8"
        else:
            env["LANG"] = "C.UTF-8"
            env["LC_ALL"] = "C.UTF-8"
        env.update(extra_env or {})
        self.client = H.DBusClient(bus_address)
        H.register_log("relais-settings-" + lang, self.log_path)
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([settings_path()], env=env, stdout=log, stderr=subprocess.STDOUT)
        H.wait_for(self._hook_ready, 20, "relais-settings to show its window",
                   details=lambda: open(self.log_path).read())

    def _hook_ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("relais-settings exited with %s:\n%s"
                                 % (self.proc.returncode, open(self.log_path).read()))
        try:
            return self.state()["connected"] is not None
        except H.DBusCallError:
            return False

    def _call(self, method, params, reply_type):
        return self.client.raw_call(HOOK_NAME, HOOK_PATH, HOOK_IFACE, method, params, reply_type)

    def get(self, name):
        """(value, sensitive, error) of a field or probe."""
        return tuple(self._call("Get", GLib.Variant("(s)", (name,)), "(vbs)"))

    def value(self, name):
        return self.get(name)[0]

    def set(self, name, value, signature=None):
        v = GLib.Variant(signature, value) if signature else H.guess_variant(value)
        self._call("Set", GLib.Variant("(sv)", (name, v)), None)

    def call(self, name, argument=None, signature="s"):
        arg = GLib.Variant(signature, argument if argument is not None else "")
        return self._call("Call", GLib.Variant("(sv)", (name, arg)), "(v)")[0]

    def names(self):
        return self._call("List", None, "(as)")[0]

    def state(self):
        return self.call("window.state")

    def action(self, action, target=None):
        return self.call("window.action", action if target is None else "%s:%s" % (action, target))

    def show_page(self, name):
        self.action("win.show-page", name)
        H.wait_for(lambda: self.state()["page"] == name, 5, "page %s to show" % name)

    def wait_value(self, name, expected, timeout=5):
        H.wait_for(lambda: self.value(name) == expected, timeout,
                   "%s to show %r" % (name, expected), details=lambda: repr(self.get(name)))

    def screenshot(self, page, settle=0.3):
        """Shows PAGE and saves <screenshots>/<lang>/<page>.png; returns the path."""
        self.show_page(page)
        self.call("window.resize", (900, 1000), "(ii)")   # room for most of a page
        time.sleep(settle)   # let the page lay out and draw once before rendering
        path = os.path.join(screenshot_dir(self.lang), page + ".png")
        size = []

        def taken():
            # a loaded machine (sanitizers) may not have drawn the page yet
            try:
                size[:] = self.call("window.screenshot", path)
            except H.DBusCallError as e:
                if "nothing drawn yet" not in str(e):
                    raise
                return False
            return True

        H.wait_for(taken, 20, "the window to be drawn for a screenshot of %s" % page, interval=0.2)
        width, height = size
        assert width > 0 and height > 0
        assert os.path.getsize(path) > 1000, path
        return path

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.client.close()
        H.unregister_log("relais-settings-" + self.lang)
