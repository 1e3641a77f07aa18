"""scripts/bench's SMTP part: quail-smtpd against Postfix, both a backup MX whose primary is down.

For each session count S, the same Postfix `smtp-source` command line,

    smtp-source -s S -m N -l 4096 -M client.example.org -f sender@example.org -t user@partner.test 127.0.0.1:PORT

goes first to `quail-smtpd --listen` (with `quail-send` running) and then to a private
Postfix instance (scripts/postfix_peer.py), each fresh, each relaying partner.test to
[127.0.0.2]:PORT2 where nothing listens. A rate counts only when smtp-source exits 0
with nothing on its output and the queue then holds all N messages (`quail-qstat
--json`; Postfix's queue files). Also: the memory (VmRSS) of the process serving one
idle session, after the greeting and EHLO, in each; and smtp-sink as the client's
ceiling. Loopback only; every wait is bounded; everything started is stopped.
"""

import json
import os
import signal
import socket
import subprocess
import time

import postfix_peer
from bench_common import read_text
from postfix_peer import PeerError, free_port, wait_for_greeting

SENDER = "sender@example.org"
RECIPIENT = "user@partner.test"
DOMAIN = "partner.test"
HELO = "client.example.org"
RELAY_HOST = "127.0.0.2"  # the primary; nothing listens there
CONCURRENCY = 200  # quail's concurrencyincoming, Postfix's smtpd maxproc
SMTP_SINK = "/usr/sbin/smtp-sink"


def last_lines(text, count=2):
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    return " | ".join(lines[-count:])


# --- quail ------------------------------------------------------------------------


class QuailPeer:
    """quail-send + quail-smtpd --listen in a fresh QUAIL_HOME under `base`: a backup MX for partner.test."""

    name = "quail"

    def __init__(self, bin_dir, base, port, relay_port, control=None):
        self.bin = bin_dir
        self.extra_control = control or {}
        self.base = base
        self.home = os.path.join(base, "home")
        self.port = port
        self.relay_port = relay_port
        # The home is this run's own: started as root, the daemons keep root (QUAIL_USER=root) instead of refusing.
        self.env = dict(os.environ, QUAIL_HOME=self.home, QUAIL_USER="root")
        self.send = None
        self.smtpd = None
        self.send_log = os.path.join(base, "quail-send.log")
        self.smtpd_log = os.path.join(base, "quail-smtpd.log")

    def write_control(self):
        control = os.path.join(self.home, "control")
        os.makedirs(control)
        files = {
            "me": "bench.test",
            "rcpthosts": DOMAIN,
            "smtproutes": f"{DOMAIN}:[{RELAY_HOST}]:{self.relay_port}",
            "concurrencyincoming": str(CONCURRENCY),
            **self.extra_control,
        }
        for name, value in files.items():
            # A PEM file may hold a private key (servercert.pem): readable by its owner only.
            with open(os.open(os.path.join(control, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                              0o600 if name.endswith(".pem") else 0o644), "w") as f:
                f.write(value + "\n")

    def start(self, timeout=30):
        os.makedirs(self.base, exist_ok=True)
        self.write_control()
        # quail-send creates queue/ at start and logs a first "status:" line once it reads the trigger.
        self.send = self.spawn("quail-send", [], self.send_log)
        deadline = time.monotonic() + timeout
        while "status:" not in read_text(self.send_log):
            if self.send.poll() is not None:
                raise PeerError(f"quail-send exited {self.send.returncode}: {last_lines(read_text(self.send_log))}")
            if time.monotonic() > deadline:
                raise PeerError(f"quail-send logged no status: line within {timeout} s")
            time.sleep(0.05)
        self.smtpd = self.spawn("quail-smtpd", ["--listen", f"127.0.0.1:{self.port}"], self.smtpd_log)
        greeting = wait_for_greeting("127.0.0.1", self.port, max(deadline - time.monotonic(), 1))
        if not greeting.startswith("220"):
            status = self.smtpd.poll()
            state = f"exited {status}" if status is not None else "running"
            raise PeerError(f"no SMTP greeting on 127.0.0.1:{self.port} within {timeout} s ({greeting or 'nothing'}); "
                            f"quail-smtpd {state}: {last_lines(read_text(self.smtpd_log)) or 'no output'}")

    def spawn(self, program, arguments, log_path):
        with open(log_path, "ab") as log:
            # A session of its own, so that stop() can reach the per-connection children too.
            return subprocess.Popen([os.path.join(self.bin, program)] + arguments, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, env=self.env, start_new_session=True)

    @property
    def listener_pid(self):
        return self.smtpd.pid if self.smtpd else None

    def queued(self):
        """quail-qstat --json's message count (queued and not yet processed together), or None and why."""
        p = subprocess.run([os.path.join(self.bin, "quail-qstat"), "--json"], capture_output=True, env=self.env,
                           timeout=60)
        try:
            report = json.loads(p.stdout)
            return int(report["messages"]), p.stdout.decode().strip()
        except (ValueError, KeyError, TypeError):
            return None, f"quail-qstat --json exited {p.returncode}: {last_lines(p.stdout.decode() + p.stderr.decode())}"

    def log_tail(self):
        return f"quail-smtpd: {last_lines(read_text(self.smtpd_log)) or 'no output'}"

    def stop(self, grace=45):
        """SIGTERM to quail-smtpd and quail-send; then SIGKILL to whatever is left of their sessions."""
        trouble = []
        for process, program in [(self.smtpd, "quail-smtpd"), (self.send, "quail-send")]:
            if process is None:
                continue
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    trouble.append(f"{program} did not exit within {grace} s of SIGTERM (killed)")
            kill_group(process.pid)
            process.wait()
        self.smtpd = self.send = None
        return "; ".join(trouble) or None


def kill_group(group):
    """SIGKILL to a process group we created (start_new_session), if any member is left."""
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class PostfixPeer(postfix_peer.PostfixPeer):
    name = "Postfix"

    def __init__(self, base, port, relay_port, settings=()):
        super().__init__(base, port, relay_port, relay_host=RELAY_HOST, domain=DOMAIN, maxproc=CONCURRENCY,
                         settings=settings)

    @property
    def listener_pid(self):
        return self.master_pid

    def queued(self):
        count = super().queued()
        corrupt = postfix_peer.count_files(os.path.join(self.queue, "corrupt"))
        return count, f"{count} queue files" + (f", {corrupt} in corrupt/" if corrupt else "")

    def log_tail(self):
        return f"maillog: {super().log_tail(2)}"


# --- load and measurements ------------------------------------------------------------


def smtp_source_argv(sessions, messages, size, port):
    return [postfix_peer.SMTP_SOURCE, "-s", str(sessions), "-m", str(messages), "-l", str(size), "-M", HELO,
            "-f", SENDER, "-t", RECIPIENT, f"127.0.0.1:{port}"]


def run_smtp_source(sessions, messages, size, port, timeout):
    """Runs smtp-source once; (seconds, exit status, output). Killed after `timeout` (status None)."""
    argv = smtp_source_argv(sessions, messages, size, port)
    start = time.monotonic()
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        output, _ = process.communicate(timeout=timeout)
        status = process.returncode
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        status = None
    finally:
        if process.poll() is None:  # interrupted (Ctrl-C, SIGTERM): it goes too
            process.kill()
            process.wait()
    return time.monotonic() - start, status, output.decode(errors="replace")


def accept_case(peer, sessions, messages, size, timeout):
    """One MTA, one session count: (rate or None, note, failed). `failed` means the MTA misbehaved."""
    try:
        peer.start()
    except PeerError as error:
        return None, f"did not start: {error}", True
    elapsed, status, output = run_smtp_source(sessions, messages, size, peer.port, timeout)
    queued, detail = settled_count(peer, messages)
    summary = f"{messages} in {elapsed:.2f} s"
    if status is None:
        return None, f"smtp-source killed after {timeout:.0f} s; {queued} of {messages} queued; {peer.log_tail()}", True
    if status != 0 or output.strip():
        return None, (f"smtp-source exited {status} after {elapsed:.1f} s: {last_lines(output)}; "
                      f"{queued} of {messages} queued; {peer.log_tail()}"), True
    if queued != messages:
        return None, f"smtp-source exited 0 in {elapsed:.2f} s, but {queued} of {messages} queued ({detail})", True
    return messages / elapsed, summary, False


def settled_count(peer, expected, patience=10):
    """The queue's message count, read again for up to `patience` s while it differs from `expected`:
    a scan that races the scheduler moving a message between directories can miss it once."""
    deadline = time.monotonic() + patience
    while True:
        queued, detail = peer.queued()
        if queued == expected or time.monotonic() > deadline:
            return queued, detail
        time.sleep(0.5)


def sink_case(work, sessions, messages, size, timeout):
    """smtp-sink accepts and stores nothing: the client's own ceiling on this machine."""
    port = free_port()
    log = os.path.join(work, "smtp-sink.log")
    with open(log, "wb") as f:
        sink = subprocess.Popen([SMTP_SINK, "-u", "nobody", f"127.0.0.1:{port}", str(CONCURRENCY)],
                                stdin=subprocess.DEVNULL, stdout=f, stderr=f, start_new_session=True)
    try:
        greeting = wait_for_greeting("127.0.0.1", port, 10)
        if not greeting.startswith("220"):
            return None, f"smtp-sink did not greet ({greeting}; {last_lines(read_text(log))})"
        elapsed, status, output = run_smtp_source(sessions, messages, size, port, timeout)
        if status != 0 or output.strip():
            return None, f"smtp-source exited {status}: {last_lines(output)}"
        return messages / elapsed, f"{messages} in {elapsed:.2f} s"
    finally:
        sink.terminate()
        try:
            sink.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        kill_group(sink.pid)
        sink.wait()


def read_reply(reader):
    """One SMTP reply (all its lines); the last line."""
    for _ in range(100):
        line = reader.readline().decode(errors="replace")
        if not line:
            return ""
        if line[3:4] != "-":
            return line.strip()
    return "reply too long"


def socket_holders(inode):
    holders = []
    target = f"socket:[{inode}]"
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                if os.readlink(f"/proc/{entry}/fd/{fd}") == target:
                    holders.append(int(entry))
                    break
        except OSError:
            continue
    return holders


def decode_address(text):
    """/proc/net/tcp{,6} address HEX:PORT → (IPv4 dotted quad or IPv6 text, port)."""
    import ipaddress

    address, port = text.split(":")
    raw = bytes.fromhex(address)
    # Each 32-bit word is in host (little-endian) order.
    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(raw)
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ip), int(port, 16)


def server_socket_inode(client_port, server_port):
    """The inode of the server's end of our connection 127.0.0.1:client_port → 127.0.0.1:server_port."""
    for table in ["/proc/net/tcp", "/proc/net/tcp6"]:
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, remote, inode = decode_address(fields[1]), decode_address(fields[2]), fields[9]
            if local == ("127.0.0.1", server_port) and remote == ("127.0.0.1", client_port) and inode != "0":
                return inode
    return None


def memory_of(pid):
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Name", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                values[key] = value.strip()
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    values["Pss"] = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return values


def kib(text):
    return int(text.split()[0]) if text else None


def idle_session_memory(peer, settle=1.0):
    """Connects, reads the greeting, sends EHLO, waits `settle` s and reads the memory of the process
    that holds the server's end of the connection: (VmRSS in KiB or None, note)."""
    try:
        peer.start()
    except PeerError as error:
        return None, f"did not start: {error}"
    try:
        with socket.create_connection(("127.0.0.1", peer.port), timeout=10) as s:
            reader = s.makefile("rb")
            greeting = read_reply(reader)
            s.sendall(f"EHLO {HELO}\r\n".encode())
            ehlo = read_reply(reader)
            if not greeting.startswith("220") or not ehlo.startswith("250"):
                return None, f"greeting {greeting!r}, EHLO answered {ehlo!r}"
            time.sleep(settle)
            inode = server_socket_inode(s.getsockname()[1], peer.port)
            holders = [pid for pid in socket_holders(inode) if pid != peer.listener_pid] if inode else []
            if len(holders) != 1:
                return None, f"cannot tell the session's process (socket inode {inode}, holders {holders})"
            pid = holders[0]
            memory = memory_of(pid)
            s.sendall(b"QUIT\r\n")
            read_reply(reader)
        note = (f"{memory.get('Name')} pid {pid}: RssAnon {kib(memory.get('RssAnon'))}, "
                f"RssFile {kib(memory.get('RssFile'))}, Pss {kib(memory.get('Pss'))} KiB")
        return kib(memory.get("VmRSS")), note
    except OSError as error:
        return None, f"session failed: {error}"


# --- the part as a whole --------------------------------------------------------------


def peer_runner(args, work, remarks, label):
    """A run(kind, job) that calls job(peer) on a fresh quail or Postfix instance under `work`, each with its
    own dead-or-alive primary port on RELAY_HOST, always stopped afterwards; trouble stopping goes to
    `remarks`."""
    counter = iter(range(1000))

    def run(kind, job, control=None, settings=()):
        """`control`: quail control files beyond the defaults, {name: value}; `settings`: Postfix main.cf lines
        beyond the defaults."""
        base = os.path.join(work, f"{label}-{next(counter)}-{kind}")
        relay_port = free_port(RELAY_HOST)
        peer = (QuailPeer(args.bin, base, free_port(), relay_port, control) if kind == "quail"
                else PostfixPeer(base, free_port(), relay_port, settings))
        try:
            return job(peer)
        finally:
            trouble = peer.stop()
            if trouble:
                remarks.append(f"{peer.name} on port {peer.port}: {trouble}")
            # The files stay until the whole run ends (scripts/bench.py says why).

    return run


def smtp_part(args, work, step):
    """Runs every SMTP case; returns (rows, remarks, failed). A row: (label, quail, Postfix, unit, note);
    a remark is a line to print under the table."""
    rows, remarks, failed = [], [], False
    os.chmod(work, 0o711)  # the postfix user must reach the Postfix instance below it
    reason = postfix_peer.postfix_installed()
    quail_smtpd = os.path.join(args.bin, "quail-smtpd")
    quail_missing = None if os.access(quail_smtpd, os.X_OK) else "n/a (quail-smtpd not built yet)"
    run = peer_runner(args, work, remarks, "smtp")

    messages, size = args.smtp_messages, args.smtp_size
    if not quail_missing and not os.access(os.path.join(args.bin, "quail-remote"), os.X_OK):
        remarks.append("quail-remote is not built: quail-send's delivery attempts fail to start it, "
                       "where Postfix's connect to the dead primary and are refused")
    if reason:
        rows.append(("accept, smtp-source", None, None, "msg/s", f"n/a: {reason}"))
        return rows, remarks, False

    sessions = max(args.smtp_sessions)
    step(f"smtp-sink, -s {sessions}: the client's ceiling")
    sink_rate, sink_note = sink_case(work, sessions, messages, size, args.smtp_timeout)
    rate_text = f"{sink_rate:.0f} msg/s ({sink_note})" if sink_rate else f"n/a ({sink_note})"
    remarks.insert(0, f"client ceiling: smtp-source -s {sessions} into smtp-sink, which stores nothing: {rate_text}")

    for sessions in args.smtp_sessions:
        runs = {"quail": [], "Postfix": []}
        # Alternating quail and Postfix, so that a change in the machine's load hits both.
        for repeat in range(args.smtp_repeat):
            for kind in runs:
                if kind == "quail" and quail_missing:
                    continue
                step(f"{kind}: smtp-source -s {sessions} -m {messages} -l {size}"
                     + (f" (run {repeat + 1} of {args.smtp_repeat})" if args.smtp_repeat > 1 else ""))
                rate, note, bad = run(kind, lambda peer: accept_case(peer, sessions, messages, size, args.smtp_timeout))
                failed = failed or bad
                runs[kind].append((rate, note))
        results = {"quail": (None, quail_missing)} if quail_missing else {}
        for kind, outcomes in runs.items():
            if outcomes:
                results[kind] = summarize(outcomes)
        notes = "; ".join(f"{k}: {v[1]}" for k, v in results.items())
        rows.append((f"accept, smtp-source -s {sessions}", results["quail"][0], results["Postfix"][0], "msg/s", notes))

    memory = {}
    for kind in ["quail", "Postfix"]:
        if kind == "quail" and quail_missing:
            memory[kind] = (None, quail_missing)
            continue
        step(f"{kind}: memory of one idle session")
        memory[kind] = run(kind, idle_session_memory)
    rows.append(("idle session after EHLO: VmRSS", memory["quail"][0], memory["Postfix"][0], "KiB",
                 "; ".join(f"{k}: {v[1]}" for k, v in memory.items())))
    return rows, remarks, failed


def summarize(outcomes):
    """Several runs of one case: (median rate, note), or (None, the failures) when any run failed."""
    bad = [note for rate, note in outcomes if rate is None]
    if bad:
        return None, "n/a: " + "; ".join(bad)
    if len(outcomes) == 1:
        return outcomes[0]
    rates = sorted(rate for rate, _ in outcomes)
    median = rates[len(rates) // 2] if len(rates) % 2 else (rates[len(rates) // 2 - 1] + rates[len(rates) // 2]) / 2
    return median, f"median of {len(rates)} runs: {', '.join(f'{r:.0f}' for r, _ in outcomes)} msg/s"


def print_table(rows, remarks):
    print()
    print("SMTP accept, primary down")
    print()
    width = max(len(r[0]) for r in rows)

    def cell(value):
        return f"{value:8.0f}" if value is not None else f"{'n/a':>8}"

    print(f"| {'case'.ljust(width)} | {'unit':5} | {'quail':>8} | {'Postfix':>8} | {'quail/Postfix':>13} | notes |")
    print(f"|{'-' * (width + 2)}|{'-' * 7}|{'-' * 9}:|{'-' * 9}:|{'-' * 14}:|-------|")
    for label, quail, postfix, unit, note in rows:
        ratio = f"{quail / postfix:13.2f}" if quail and postfix else f"{'n/a':>13}"
        print(f"| {label.ljust(width)} | {unit:5} | {cell(quail)} | {cell(postfix)} | {ratio} | {note} |")
    if remarks:
        print()
    for remark in remarks:
        print(remark)
