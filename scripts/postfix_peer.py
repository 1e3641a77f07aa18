#!/usr/bin/env python3
"""A private Postfix instance configured as a backup MX, to measure quail against.

Used by scripts/bench.py (SMTP accept rate, idle session memory); it can also run
on its own for a look by hand:

    python3 scripts/postfix_peer.py --port 2526 --relay-port 2527 --seconds 300

The instance lives entirely under one directory (its own main.cf, master.cf,
queue and data directories, its log file) and listens on 127.0.0.1:PORT only. It
is a backup MX for one domain: `relay_domains = partner.test`, nothing local
(`mydestination =`), mail for partner.test goes to `smtp:[127.0.0.2]:RELAY_PORT`
through `transport_maps` (quail's `smtproutes` line `partner.test:[127.0.0.2]:PORT`),
and `mynetworks` is empty, so a client on loopback is an outside sender: it may
relay to partner.test only, as quail's `rcpthosts` allows. Everything else is
Postfix 3.7's default, fsync of queue files included. Not defaults, each for a
reason given beside it in `main_cf()`: no chroot (the private queue has none of
the files a chroot needs), no anvil limit for 127.0.0.0/8 and 200 smtpd
processes (quail's `concurrencyincoming` in the bench), a log file instead of
syslog.

Needs Debian's `postfix` package (`scripts/test` installs it) and root: the
master runs as root and its daemons as the `postfix` user, which must be able to
reach the directory (every parent must be searchable by others).
"""

import argparse
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

POSTFIX = "/usr/sbin/postfix"
SMTP_SOURCE = "/usr/sbin/smtp-source"
# Queues that hold messages (defer/ and bounce/ hold logs about them, not messages).
MESSAGE_QUEUES = ["maildrop", "incoming", "active", "deferred", "hold"]

# The Debian package's services, without chroot, and the smtpd listener on our port only.
MASTER_CF = """\
# service  type  private unpriv  chroot  wakeup  maxproc command
{listen}   inet  n       -       n       -       {maxproc} smtpd
pickup     unix  n       -       n       60      1       pickup
cleanup    unix  n       -       n       -       0       cleanup
qmgr       unix  n       -       n       300     1       qmgr
rewrite    unix  -       -       n       -       -       trivial-rewrite
bounce     unix  -       -       n       -       0       bounce
defer      unix  -       -       n       -       0       bounce
trace      unix  -       -       n       -       0       bounce
verify     unix  -       -       n       -       1       verify
flush      unix  n       -       n       1000?   0       flush
proxymap   unix  -       -       n       -       -       proxymap
proxywrite unix  -       -       n       -       1       proxymap
tlsmgr     unix  -       -       n       1000?   1       tlsmgr
tlsproxy   unix  -       -       n       -       0       tlsproxy
smtp       unix  -       -       n       -       -       smtp
relay      unix  -       -       n       -       -       smtp
showq      unix  n       -       n       -       -       showq
error      unix  -       -       n       -       -       error
retry      unix  -       -       n       -       -       error
discard    unix  -       -       n       -       -       discard
local      unix  -       n       n       -       -       local
anvil      unix  -       -       n       -       1       anvil
scache     unix  -       -       n       -       1       scache
postlog    unix-dgram n  -       n       -       1       postlogd
"""


class PeerError(Exception):
    """The instance could not be set up, started or stopped; the text says why."""


def postfix_installed():
    """None when Postfix and smtp-source are there, else the reason they are not usable."""
    for program in [POSTFIX, SMTP_SOURCE]:
        if not os.access(program, os.X_OK):
            return f"{program} missing (apt-get install postfix; scripts/test does)"
    try:
        import pwd

        pwd.getpwnam("postfix")
    except KeyError:
        return "no postfix user (the Debian package creates it)"
    if os.geteuid() != 0:
        return "a private Postfix instance needs root"
    return None


def run_postfix_command(argv, timeout=60):
    """Runs a Postfix command with a terminal on stderr, the only way it prints its errors
    there rather than only to syslog; returns (exit status, what it printed)."""
    master, slave = pty.openpty()
    output = bytearray()
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
        os.close(slave)
        slave = None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                process.kill()
                process.wait()
                return -1, output.decode(errors="replace") + f"\n(killed after {timeout} s)"
            ready, _, _ = select.select([master], [], [], min(remaining, 0.1))
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: every writer has closed the terminal
                    chunk = b""
                if chunk:
                    output += chunk
                    continue
                try:
                    process.wait(timeout=max(remaining, 0.1))
                except subprocess.TimeoutExpired:
                    continue
                break
            if process.poll() is not None:
                break
        return process.returncode, output.decode(errors="replace").replace("\r\n", "\n")
    finally:
        os.close(master)
        if slave is not None:
            os.close(slave)


def searchable_by_others(path):
    """The first directory on the way to `path` that the postfix user cannot search, or None."""
    path = os.path.abspath(path)
    while True:
        if not os.stat(path).st_mode & 0o001:
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def count_files(directory):
    """Regular files under `directory`, at any depth (Postfix hashes deferred/ into subdirectories)."""
    total = 0
    for _, _, files in os.walk(directory):
        total += len(files)
    return total


class PostfixPeer:
    """One private Postfix instance under `base`: start(), queued(), stop()."""

    def __init__(self, base, port, relay_port, relay_host="127.0.0.2", domain="partner.test",
                 hostname="backup.test", maxproc=200, settings=(), listen_host="127.0.0.1", transport=None):
        self.base = os.path.abspath(base)
        self.listen_host = listen_host
        # The transport_maps entry for `domain`; by default the primary, relayed to by SMTP.
        self.transport = transport or f"smtp:[{relay_host}]:{relay_port}"
        self.port = port
        self.relay_port = relay_port
        self.relay_host = relay_host
        self.domain = domain
        self.hostname = hostname
        self.maxproc = maxproc
        self.settings = list(settings)  # extra "name = value" lines for main.cf, last word wins
        self.config = os.path.join(self.base, "etc")
        self.queue = os.path.join(self.base, "spool")
        self.data = os.path.join(self.base, "data")
        self.log = os.path.join(self.base, "maillog")
        self.master_pid = None

    def main_cf(self):
        return f"""\
# A private Postfix instance: a backup MX for {self.domain}, written by scripts/postfix_peer.py.
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.data}
myhostname = {self.hostname}
mydomain = {self.hostname}
myorigin = $myhostname
# The smtpd listener's address is in master.cf ({self.listen_host}); Postfix takes only 127.0.0.1 on lo here.
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
# Nothing is delivered here; {self.domain} is relayed to its primary, which is down.
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains = {self.domain}
transport_maps = texthash:{self.config}/transport
# No trusted network: the bench client is an outside sender, relaying to {self.domain} only.
mynetworks =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
# All the load comes from 127.0.0.1: without this, anvil refuses its 51st connection
# (smtpd_client_connection_count_limit = 50); quail has no per-client limit.
smtpd_client_event_limit_exceptions = 127.0.0.0/8
# No syslog in the bench: log to a file of our own (postlogd).
maillog_file_prefixes = {self.base}
maillog_file = {self.log}
biff = no
""" + "".join(f"{line}\n" for line in self.settings)

    def start(self, timeout=30):
        """Writes the configuration, starts the master and waits until the port greets."""
        os.makedirs(self.config, mode=0o755, exist_ok=True)
        os.chmod(self.base, 0o755)
        blocked = searchable_by_others(self.base)
        if blocked:
            raise PeerError(f"{blocked} is not searchable by others; the postfix user must reach {self.base}")
        os.makedirs(self.queue, mode=0o755, exist_ok=True)
        os.makedirs(self.data, mode=0o700, exist_ok=True)
        shutil.chown(self.data, "postfix", "postfix")
        with open(os.path.join(self.config, "main.cf"), "w") as f:
            f.write(self.main_cf())
        with open(os.path.join(self.config, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(listen=f"{self.listen_host}:{self.port}", maxproc=self.maxproc))
        with open(os.path.join(self.config, "transport"), "w") as f:
            f.write(f"{self.domain} {self.transport}\n")
        # `postfix check` creates the queue directories with the owners and modes Postfix wants.
        status, output = run_postfix_command([POSTFIX, "-c", self.config, "check"])
        if status != 0:
            raise PeerError(f"postfix check exited {status}: {output.strip() or self.log_tail()}")
        status, output = run_postfix_command([POSTFIX, "-c", self.config, "start"])
        self.master_pid = self.read_master_pid()
        if status != 0:
            raise PeerError(f"postfix start exited {status}: {output.strip() or self.log_tail()}")
        greeting = wait_for_greeting(self.listen_host, self.port, timeout)
        if not greeting.startswith("220"):
            raise PeerError(f"no SMTP greeting on {self.listen_host}:{self.port} within {timeout} s "
                            f"({greeting or 'nothing'}); log: {self.log_tail()}")
        self.master_pid = self.read_master_pid()

    def read_master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return self.master_pid

    def is_master(self, pid):
        """Whether `pid` is this instance's master (and not a process that reused a stale pid):
        the master runs in the queue directory."""
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
            return comm == "master" and os.readlink(f"/proc/{pid}/cwd") == os.path.realpath(self.queue)
        except OSError:
            return False

    def queued(self):
        """Messages in the queue: files in maildrop, incoming, active, deferred and hold."""
        return sum(count_files(os.path.join(self.queue, q)) for q in MESSAGE_QUEUES)

    def delivery_status(self, recipient, timeout=60):
        """The first log line with the delivery status for `recipient` (`status=sent`, `deferred`, ...), waiting up
        to `timeout` seconds for it; empty when none came."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with open(self.log, errors="replace") as f:
                    line = next((l for l in f if f"to=<{recipient}>" in l and "status=" in l), "")
            except OSError:
                line = ""
            if line or time.monotonic() >= deadline:
                return line.strip()
            time.sleep(0.1)

    def log_tail(self, lines=3):
        try:
            with open(self.log, errors="replace") as f:
                return " | ".join(l.strip() for l in f.readlines()[-lines:])
        except OSError:
            return "no log"

    def stop(self, timeout=30):
        """`postfix stop`, then waits for the master and its children; kills them if they linger.
        Returns None, or what went wrong."""
        trouble = None
        pid = self.read_master_pid()
        if pid is None or not alive(pid) or not self.is_master(pid):
            return None
        status, output = run_postfix_command([POSTFIX, "-c", self.config, "stop"])
        if status != 0:
            trouble = f"postfix stop exited {status}: {output.strip()}"
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        # The master runs in a session of its own, and its daemons in its process group.
        group = pid if process_group(pid) in (pid, None) else None
        if alive(pid):
            trouble = f"the master (pid {pid}) did not exit within {timeout} s of postfix stop (killed)"
            os.kill(pid, signal.SIGKILL)
        if group is not None:
            deadline = time.monotonic() + 10
            while group_members(group) and time.monotonic() < deadline:
                time.sleep(0.1)
            for member in group_members(group):
                try:
                    os.kill(member, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.master_pid = None
        return trouble

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def process_group(pid):
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def group_members(group):
    """Live processes of one process group (found through /proc)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group and fields[0] != "Z":
                members.append(int(entry))
    return members


def wait_for_greeting(host, port, timeout):
    """Connects until the server greets (bounded); returns the greeting line, or '' / the error."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=5) as s:
                reader = s.makefile("rb")
                line = reader.readline().decode(errors="replace").strip()
                try:
                    s.sendall(b"QUIT\r\n")
                    reader.readline()
                except OSError:
                    pass
                return line
        except OSError as error:
            last = str(error)
            time.sleep(0.1)
    return last


def free_port(host="127.0.0.1"):
    """A TCP port nothing listens on at `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description="run a private Postfix backup MX on loopback for a while")
    parser.add_argument("--port", type=int, default=0, help="SMTP port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--relay-port", type=int, default=0, help="the dead primary's port on 127.0.0.2")
    parser.add_argument("--dir", default=None, help="parent of the instance directory (default $TMPDIR or /tmp)")
    parser.add_argument("--seconds", type=float, default=300, help="stop after this long (default 300)")
    parser.add_argument("-o", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra main.cf setting, as postfix -o takes it (repeatable)")
    args = parser.parse_args()
    reason = postfix_installed()
    if reason:
        sys.exit(f"postfix_peer: {reason}")
    import tempfile

    base = tempfile.mkdtemp(prefix="quail-postfix-", dir=args.dir)
    settings = [" = ".join(part.strip() for part in s.split("=", 1)) for s in args.settings]
    peer = PostfixPeer(base, args.port or free_port(), args.relay_port or free_port("127.0.0.2"), settings=settings)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        peer.start()
        print(f"postfix backup MX for {peer.domain} on 127.0.0.1:{peer.port}, primary [127.0.0.2]:{peer.relay_port}")
        print(f"config {peer.config}, log {peer.log}; stops in {args.seconds:.0f} s or on Ctrl-C", flush=True)
        time.sleep(args.seconds)
    except KeyboardInterrupt:
        pass
    except PeerError as error:
        print(f"postfix_peer: {error}", file=sys.stderr)
        return 1
    finally:
        trouble = peer.stop()
        if trouble:
            print(f"postfix_peer: {trouble}", file=sys.stderr)
        print(f"{peer.queued()} messages were queued")
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
