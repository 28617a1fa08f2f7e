#!/usr/bin/env bash
# Installs what PostOffice's build and tests need on a Debian 12 machine.
#
# Idempotent: it checks before it installs, runs `apt-get update` at most once and only when a
# package is missing, and is safe to run any number of times. Needs root (or passwordless sudo)
# only when something is missing.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# Debian packages: what the Swift build links against and the real programs the interop suite
# drives (fetchmail, mpop, getmail6, curl, Dovecot as the reference server, Postfix in front of
# the LMTP listener with swaks as its SMTP client, systemd-analyze for the units in contrib/ and
# those `fetch --install-timer` writes, dnsmasq (the binary alone, no service) as the DNS server
# that account discovery is tested against), Prometheus's promtool to check the metrics
# endpoint's output, HAProxy in front of the PROXY-protocol listeners and of the scale-out rig's
# two `serve` nodes, PostgreSQL for that rig's database, fail2ban for its fail2ban-regex, which
# checks the filter in contrib/ against a real log, and testssl.sh for the TLS audit
# (scripts/tls-audit).
DEB_PACKAGES=(
    ca-certificates
    curl
    openssl
    python3
    python3-venv
    fetchmail
    mpop
    getmail6
    dovecot-core
    dovecot-pop3d
    whois
    util-linux
    libcrypt-dev
    libsqlite3-dev
    iproute2
    postfix
    swaks
    systemd
    dnsmasq-base
    prometheus
    haproxy
    fail2ban
    testssl.sh
    postgresql
)

log() { printf 'install-deps: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        log "need root to run: $*"
        return 1
    fi
}

apt_updated=false
apt_install() {
    if [ "$apt_updated" = false ]; then
        as_root apt-get update -q
        apt_updated=true
    fi
    as_root apt-get install -y -q --no-install-recommends "$@"
}

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

missing=()
for package in "${DEB_PACKAGES[@]}"; do
    is_installed "$package" || missing+=("$package")
done

if [ "${#missing[@]}" -gt 0 ]; then
    log "installing: ${missing[*]}"
    # Keep package scripts from starting daemons (Dovecot, fetchmail) while we install: the tests
    # run their own instances and must never rely on a system service. policy-rc.d exit 101 means
    # "action forbidden" to invoke-rc.d; we only add it when none exists and remove it afterwards.
    policy=/usr/sbin/policy-rc.d
    added_policy=false
    if [ ! -e "$policy" ]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 0755 $policy"
        added_policy=true
    fi
    cleanup_policy() { if [ "$added_policy" = true ]; then as_root rm -f "$policy"; fi; }
    trap cleanup_policy EXIT
    # Postfix asks how to configure the machine's mail system: "No configuration" writes no
    # main.cf and sets up no system instance (the LMTP tests start their own, with their own
    # config_directory). Preseeding it keeps the install non-interactive.
    if printf '%s\n' "${missing[@]}" | grep -qx postfix; then
        echo "postfix postfix/main_mailer_type select No configuration" | as_root debconf-set-selections
    fi
    apt_install "${missing[@]}"
    cleanup_policy
    added_policy=false
    trap - EXIT
else
    log "Debian packages present"
fi

# Stop and disable any system Dovecot, Postfix, HAProxy and fail2ban: the suite starts its own on
# loopback ports (Postfix and HAProxy with their own configs) and never uses the machine's; of
# fail2ban it runs only fail2ban-regex.
# $2 is the service's PID file for machines without systemd.
disable_system_service() {
    local service=$1 pidfile=$2
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        if systemctl is-active --quiet "$service" 2>/dev/null || systemctl is-enabled --quiet "$service" 2>/dev/null; then
            log "stopping and disabling the system $service service"
            as_root systemctl disable --now "$service" >/dev/null 2>&1 || true
        fi
    elif [ -x "/etc/init.d/$service" ]; then
        if [ -e "$pidfile" ] && kill -0 "$(head -n 1 "$pidfile" 2>/dev/null)" 2>/dev/null; then
            log "stopping the system $service service"
            as_root "/etc/init.d/$service" stop >/dev/null 2>&1 || true
        fi
        if command -v update-rc.d >/dev/null 2>&1 && ls /etc/rc[2-5].d/S*"$service" >/dev/null 2>&1; then
            as_root update-rc.d "$service" disable >/dev/null 2>&1 || true
        fi
    fi
}
disable_system_service dovecot /run/dovecot/master.pid
disable_system_service postfix /var/spool/postfix/pid/master.pid
# Only promtool is used; the Prometheus server the package brings must not run.
disable_system_service prometheus /run/prometheus.pid
disable_system_service haproxy /run/haproxy.pid
disable_system_service fail2ban /run/fail2ban/fail2ban.pid
# Debian's PostgreSQL package creates and starts a cluster (15/main on port 5432): the
# scale-out tests run their own (initdb into a temporary data directory, on a free loopback
# port) and never touch it.
disable_system_service postgresql /var/lib/postgresql/15/main/postmaster.pid

# The unprivileged user that owns test mailboxes: Dovecot refuses mail processes with uid 0 and
# getmail6 refuses to deliver as root.
if ! id -u vmail >/dev/null 2>&1; then
    log "creating system user vmail"
    as_root useradd --system --user-group --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin vmail
fi

# PostgreSQL refuses to run as root: the test rig runs its own servers as this unprivileged
# user, which Debian's package normally creates.
if ! id -u postgres >/dev/null 2>&1; then
    log "creating system user postgres"
    as_root useradd --system --user-group --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin postgres
fi

# pytest for the interop suite, in whichever python3 is first on PATH (may be a pyenv python).
if ! python3 -c 'import pytest' >/dev/null 2>&1; then
    log "installing pytest"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        is_installed python3-pip || apt_install python3-pip
    fi
    python3 -m pip install -q pytest 2>/dev/null \
        || python3 -m pip install -q --break-system-packages pytest
fi

# getmail6 from Debian (6.18.11) loses the SIGCHLD of a delivery child that exits before it
# starts waiting, and then fails the run after 60 s ("waiting child pid N timed out"; upstream
# getmail6 issues 226 and 245). 6.20 waits on the child process itself. The suite runs this one,
# from a venv every user (including vmail, the mailbox owner) can execute.
GETMAIL6_VERSION=6.20.2
GETMAIL6_VENV=/opt/postoffice-interop/getmail6
installed_getmail6=$("$GETMAIL6_VENV/bin/python3" -c \
    'import importlib.metadata as m; print(m.version("getmail6"))' 2>/dev/null || true)
if [ "$installed_getmail6" != "$GETMAIL6_VERSION" ]; then
    log "installing getmail6 $GETMAIL6_VERSION into $GETMAIL6_VENV"
    as_root rm -rf "$GETMAIL6_VENV"
    as_root /usr/bin/python3 -m venv "$GETMAIL6_VENV"
    as_root "$GETMAIL6_VENV/bin/pip" install -q "getmail6==$GETMAIL6_VERSION"
    as_root chmod -R a+rX /opt/postoffice-interop
fi

log "ok"
