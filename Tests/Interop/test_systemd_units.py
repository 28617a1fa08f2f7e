"""The systemd units in contrib/systemd pass `systemd-analyze verify`, and keep their sandbox.

The units name /usr/local/bin/postoffice; the check runs on copies that name the binary under
test instead (verify insists that ExecStart is executable). An unknown key or a bad value is only
a warning to systemd, so any output at all fails the test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness import procs

UNITS = Path(__file__).resolve().parents[2] / "contrib" / "systemd"
NAMES = ["postoffice.service", "postoffice-expire.service", "postoffice-expire.timer"]


def directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_units_pass_systemd_analyze_verify(workdir, postoffice_bin):
    for name in NAMES:
        text = (UNITS / name).read_text()
        (workdir / name).write_text(text.replace("/usr/local/bin/postoffice", str(postoffice_bin)))
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: run scripts/install-deps.sh"
    result = procs.run([analyze, "verify", *(str(workdir / name) for name in NAMES)], check=False, timeout=120)
    output = (result.stdout + result.stderr).decode("utf-8", "replace")
    assert result.returncode == 0 and output.strip() == "", output


def test_server_unit_keeps_its_sandbox():
    unit = directives((UNITS / "postoffice.service").read_text())
    expected = {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
        "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter": "@system-service",
        "LockPersonality": "yes",
        "MemoryDenyWriteExecute": "yes",
        "User": "postoffice",
    }
    for key, value in expected.items():
        assert unit.get(key) == [value], (key, unit.get(key))
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert unit["ExecStart"][0].split()[1] == "serve"
    expire = directives((UNITS / "postoffice-expire.service").read_text())
    assert expire["ExecStart"][0].split()[1] == "expire"
    assert expire["PrivateNetwork"] == ["yes"] and expire["CapabilityBoundingSet"] == [""]
    timer = directives((UNITS / "postoffice-expire.timer").read_text())
    assert timer["OnCalendar"] == ["daily"] and timer["Persistent"] == ["true"]


def test_expire_unit_runs_the_expire_command(workdir, postoffice_bin):
    """The timer's service runs `postoffice expire --config FILE` as written in the unit."""
    argv = directives((UNITS / "postoffice-expire.service").read_text())["ExecStart"][0].split()
    assert argv[1:3] == ["expire", "--config"], argv
    mail = workdir / "mail"
    old = mail / "alice" / "Maildir" / "new" / "1000000000.M1P1Q1.host"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"Subject: from 2001\n\nold\n")
    passwd = workdir / "passwd"
    passwd.write_text("alice:{PLAIN}x\n")
    config = workdir / "postoffice.toml"
    config.write_text(f'[server]\nmaildir = "{mail}/%u/Maildir"\npasswd_file = "{passwd}"\nexpire_days = 30\n')
    result = procs.run([str(postoffice_bin), *argv[1:-1], str(config)])
    assert b"expire: removed 1 messages" in result.stdout, result.stdout
    assert not old.exists()
