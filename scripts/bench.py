#!/usr/bin/env python3
"""quail's benchmark driver; run it through scripts/bench, which builds first.

Measures, on this machine, in a fresh temporary QUAIL_HOME:
  - the disk ceiling: write 4 KiB to a new file + fsync + rename + fsync of the
    directory, in a loop: the cost of one durable commit, which every queued
    message pays at least once;
  - injection through quail-queue (message on fd 0, envelope on fd 1) and
    through quail-inject, with 1 and with P parallel injectors, nothing draining;
  - local delivery: N messages queued with quail-send stopped, then quail-send
    started and timed until the Maildir's new/ holds N files.
Every rate is also given as a ratio to the disk ceiling. Then the SMTP part
(scripts/bench_smtp.py): quail-smtpd and a private Postfix, each a backup MX whose
primary is down, under the same smtp-source load; and the memory of one idle SMTP
session in each. Then the relay part (scripts/bench_relay.py): both relaying to
smtp-sink as the primary, the rate with the primary up and the drain of a backlog
after the primary returns. Then the TLS part (scripts/bench_tls.py): accept over STARTTLS with the
primary down (P6), from a load client of our own, and the relay rate to a Postfix primary that
offers STARTTLS (P3 over TLS), with a test CA made by openssl. Then the large-queue part (scripts/bench_large.py): one million queued
messages, quail-send's start-up to first delivery, its peak memory, and injection beside that queue.
`--only smtp,relay` runs just those parts (queue, smtp, relay, tls, large). Loopback only,
bounded loops and timeouts; writes nothing outside its temporary directory.
"""

import argparse
import concurrent.futures
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from bench_common import make_queue, stop

import bench_large
import bench_relay
import bench_smtp
import bench_tls

MESSAGE_SIZE = 4096
RECIPIENT = "user@example.test"


def make_message(size):
    """A plain LF-ended message of exactly `size` bytes."""
    head = (
        "From: bench@quail.local\n"
        "To: user@example.test\n"
        "Subject: quail bench\n"
        "Message-ID: <bench@quail.local>\n"
        "\n"
    ).encode()
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.\n"  # 64 bytes
    body = bytearray()
    while len(head) + len(body) < size:
        body += line
    message = head + bytes(body)
    return message[: size - 1] + b"\n"


def create_home(parent, name):
    """A QUAIL_HOME with control/me, control/locals, control/validrcptto and a queue laid out as QueueLayout.create() does."""
    home = os.path.join(parent, name)
    os.makedirs(os.path.join(home, "control"))
    with open(os.path.join(home, "control", "me"), "w") as f:
        f.write("quail.local\n")
    with open(os.path.join(home, "control", "locals"), "w") as f:
        f.write("example.test\n")
    # A locals domain takes only the names it knows (a Maildir or a validrcptto line).
    with open(os.path.join(home, "control", "validrcptto"), "w") as f:
        f.write(RECIPIENT + "\n")
    queue = os.path.join(home, "queue")
    make_queue(queue)
    return home


def count_files(directory):
    try:
        with os.scandir(directory) as entries:
            return sum(1 for e in entries if not e.name.startswith("."))
    except FileNotFoundError:
        return 0


def last_line(text):
    text = text.decode(errors="replace") if isinstance(text, bytes) else text
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1].strip() if lines else ""


# --- disk ceiling ---------------------------------------------------------------


def disk_ceiling(parent, n):
    base = os.path.join(parent, "ceiling")
    tmp, new = os.path.join(base, "tmp"), os.path.join(base, "new")
    os.makedirs(tmp)
    os.makedirs(new)
    data = make_message(MESSAGE_SIZE)
    start = time.monotonic()
    directory = os.open(new, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(n):
            path = os.path.join(tmp, str(i))
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, data)
            os.fsync(fd)
            os.close(fd)
            os.rename(path, os.path.join(new, str(i)))
            os.fsync(directory)
    finally:
        os.close(directory)
    elapsed = time.monotonic() - start
    return n / elapsed, elapsed


# --- injection ------------------------------------------------------------------


class Injector:
    """Runs one injection program per message with the message (and envelope) from files."""

    def __init__(self, kind, bin_dir, home, message_file, envelope_file):
        self.kind = kind
        self.env = dict(os.environ, QUAIL_HOME=home)
        self.message_file = message_file
        self.envelope_file = envelope_file
        if kind == "quail-queue":
            self.argv = [os.path.join(bin_dir, "quail-queue")]
        else:
            self.argv = [os.path.join(bin_dir, "quail-inject"), RECIPIENT]

    def once(self, _=None):
        with open(self.message_file, "rb") as message:
            if self.kind == "quail-queue":
                with open(self.envelope_file, "rb") as envelope:
                    p = subprocess.run(self.argv, stdin=message, stdout=envelope, stderr=subprocess.PIPE, env=self.env)
            else:
                p = subprocess.run(self.argv, stdin=message, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env)
        return p.returncode, p.stderr


def inject_many(injector, n, parallel):
    """Injects n messages with `parallel` injectors at a time; (rate, elapsed, failures, last error)."""
    failures, last_error = 0, ""
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        for status, stderr in pool.map(injector.once, range(n)):
            if status != 0:
                failures += 1
                last_error = f"exit {status}: {last_line(stderr)}"
    elapsed = time.monotonic() - start
    return n / elapsed, elapsed, failures, last_error


def injection_case(args, work, kind, parallel, files, results, label):
    home = create_home(work, f"home-{kind}-{parallel}")
    injector = Injector(kind, args.bin, home, *files)
    todo = os.path.join(home, "queue", "todo")
    # One probe first, so a program that does not work yet is reported, not timed.
    status, stderr = injector.once()
    if status != 0 or count_files(todo) != 1:
        reason = f"exit {status}: {last_line(stderr)}" if status != 0 else "exit 0 but nothing in queue/todo"
        results.append((label, None, f"n/a: {kind} not functional ({reason})"))
        return
    os.unlink(os.path.join(todo, os.listdir(todo)[0]))
    rate, elapsed, failures, last_error = inject_many(injector, args.n, parallel)
    queued = count_files(todo)
    note = f"{args.n} in {elapsed:.2f} s"
    if failures or queued != args.n:
        note += f"; {failures} failed ({last_error}), {queued} queued"
    results.append((label, rate, note))


def startup_floor_case(args, work, parallel, message_file, results, label):
    """quail-queue's cost without the disk: the message is read, the empty envelope is refused (exit 91)."""
    home = create_home(work, f"home-floor-{parallel}")
    empty = os.path.join(work, "empty-envelope")
    open(empty, "wb").close()
    injector = Injector("quail-queue", args.bin, home, message_file, empty)
    status, stderr = injector.once()
    if status == 0:
        results.append((label, None, "n/a: quail-queue accepted an empty envelope"))
    else:
        rate, elapsed, _, _ = inject_many(injector, args.n, parallel)
        results.append((label, rate, f"{args.n} in {elapsed:.2f} s, each refused with exit {status}"))


# --- local delivery ---------------------------------------------------------------


def local_delivery_case(args, work, files, results, label):
    home = create_home(work, "home-local")
    injector = Injector("quail-queue", args.bin, home, *files)
    rate, elapsed, failures, last_error = inject_many(injector, args.n, args.parallel)
    if failures:
        results.append((label, None, f"n/a: queueing failed ({failures} of {args.n}: {last_error})"))
        return
    maildir_new = os.path.join(home, "mail", "example.test", "user", "new")
    log_path = os.path.join(home, "quail-send.log")
    with open(log_path, "wb") as log:
        start = time.monotonic()
        process = subprocess.Popen(
            [os.path.join(args.bin, "quail-send")],
            # The home is this run's own: started as root, quail-send keeps root (QUAIL_USER=root) instead of refusing.
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=dict(os.environ, QUAIL_HOME=home, QUAIL_USER="root"),
        )
        delivered, exited, stalled = 0, None, False
        deadline = start + args.timeout
        progress_at = start
        while time.monotonic() < deadline:
            now_delivered = count_files(maildir_new)
            if now_delivered != delivered:
                delivered, progress_at = now_delivered, time.monotonic()
            if delivered >= args.n:
                break
            exited = process.poll()
            if exited is not None:
                break
            if time.monotonic() - progress_at > args.stall:
                stalled = True
                break
            time.sleep(0.02)
        elapsed = time.monotonic() - start
        with open(log_path, "rb") as f:
            last = last_line(f.read()[-4000:])  # before SIGTERM adds its own lines
        trouble = stop(process)
    delivered = count_files(maildir_new)
    if delivered >= args.n:
        note = f"{args.n} in {elapsed:.2f} s"
        if trouble:
            note += f"; quail-send {trouble}"
        results.append((label, args.n / elapsed, note))
    elif exited is not None:
        results.append((label, None, f"n/a: quail-send exited {exited} after {elapsed:.1f} s, "
                        f"{delivered} of {args.n} delivered ({last})"))
    else:
        why = f"no new delivery for {args.stall:.0f} s" if stalled else f"timed out after {args.timeout:.0f} s"
        results.append((label, None, f"n/a: {why}, {delivered} of {args.n} delivered after {elapsed:.1f} s "
                        f"(last log line: {last or 'none'})"))


# --- report -------------------------------------------------------------------------


PARTS = ["queue", "smtp", "relay", "tls", "large"]


def parts_list(text):
    """`--only`'s value: `all`, or parts joined by commas (`smtp,relay`), in the order they run."""
    if text == "all":
        return PARTS
    chosen = set(text.split(","))
    unknown = chosen - set(PARTS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown part {', '.join(sorted(unknown))!r}; choose from all, {', '.join(PARTS)}")
    return [part for part in PARTS if part in chosen]


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return model, os.cpu_count()


def load_average():
    """The 1, 5 and 15 minute load averages: figures taken on a busy machine say so."""
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def filesystem(path):
    try:
        out = subprocess.run(["df", "-T", path], capture_output=True, text=True, check=True).stdout.splitlines()
        fields = out[-1].split()
        return f"{fields[1]} on {fields[0]}"
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown filesystem"


def main():
    parser = argparse.ArgumentParser(description="quail benchmark (see docs/BENCHMARKS.md)")
    parser.add_argument("--bin", required=True, help="directory of the built programs (.build/release)")
    parser.add_argument("-n", type=int, default=2000, help="messages per case (default 2000)")
    parser.add_argument("--parallel", type=int, default=20, help="parallel injectors (default 20)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for local delivery (default 300)")
    parser.add_argument("--stall", type=float, default=30, help="give up when no delivery for this long (default 30)")
    parser.add_argument("--dir", default=None, help="where to make the temporary home (default $TMPDIR or /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--only", type=parts_list, default="all",
                        help="parts, comma-separated: queue: injection and local delivery; smtp: quail-smtpd against "
                             "Postfix; relay: relay rate and drain against Postfix; tls: accept and relay over TLS "
                             "against Postfix; large: a million queued messages (default all)")
    parser.add_argument("--smtp-messages", type=int, default=5000, help="messages per SMTP case (default 5000)")
    parser.add_argument("--smtp-sessions", default="1,20,100",
                        help="smtp-source -s values, comma-separated (default 1,20,100)")
    parser.add_argument("--smtp-size", type=int, default=4096, help="smtp-source -l (default 4096)")
    parser.add_argument("--smtp-timeout", type=float, default=600, help="seconds per SMTP case (default 600)")
    parser.add_argument("--smtp-repeat", type=int, default=1,
                        help="runs per SMTP case, quail and Postfix alternating; the median is shown (default 1)")
    parser.add_argument("--relay-messages", type=int, default=5000, help="messages per relay case (default 5000)")
    parser.add_argument("--relay-limit", type=float, default=600, help="seconds to wait for the relay rate case")
    parser.add_argument("--relay-repeat", type=int, default=3,
                        help="runs of the relay rate case, quail and Postfix in swapped order each time; the median "
                             "is shown (default 3)")
    parser.add_argument("--outage", type=float, default=20,
                        help="seconds the primary stays down after everything is queued (default 20)")
    parser.add_argument("--drain-limit", type=float, default=600,
                        help="seconds to wait for the drain after the primary returns (default 600)")
    bench_tls.add_arguments(parser)
    bench_large.add_arguments(parser)
    args = parser.parse_args()
    args.bin = os.path.abspath(args.bin)
    try:
        args.smtp_sessions = [int(v) for v in args.smtp_sessions.split(",")]
    except ValueError:
        parser.error("--smtp-sessions takes numbers separated by commas")
    if args.smtp_repeat < 1 or args.relay_repeat < 1 or args.tls_repeat < 1:
        parser.error("--smtp-repeat, --relay-repeat and --tls-repeat take 1 or more")
    if args.tls_messages < 1 or args.tls_relay_messages < 1 or args.tls_sessions < 1:
        parser.error("--tls-messages, --tls-relay-messages and --tls-sessions take 1 or more")
    needed = {"queue": ["quail-queue", "quail-inject", "quail-send"], "smtp": ["quail-send", "quail-qstat"],
              "relay": ["quail-send", "quail-smtpd", "quail-remote", "quail-qstat"],
              "tls": ["quail-send", "quail-smtpd", "quail-remote", "quail-qstat"],
              "large": ["quail-send", "quail-queue", "quail-remote"]}
    for program in sum((needed[part] for part in args.only), []):
        if not os.access(os.path.join(args.bin, program), os.X_OK):
            sys.exit(f"scripts/bench: {args.bin}/{program} is missing; build first (swift build -c release)")
    # SIGTERM and SIGHUP unwind like Ctrl-C, so the finally clauses stop what was started
    # (a Postfix master outlives us otherwise) and remove the temporary directory.
    for number in [signal.SIGTERM, signal.SIGHUP]:
        signal.signal(number, lambda received, _: sys.exit(128 + received))

    work = tempfile.mkdtemp(prefix="quail-bench-", dir=args.dir)
    model, cpus = machine()
    print(f"quail bench, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"machine: {model}, nproc {cpus}, Linux {platform.release()}, load average {load_average()}")
    print(f"disk: {filesystem(work)}, temporary home under {work}")
    if "queue" in args.only:
        print(f"N = {args.n} messages of {MESSAGE_SIZE} bytes per case, {args.parallel} parallel injectors")
    if "smtp" in args.only:
        print(f"SMTP: {args.smtp_messages} messages of smtp-source -l {args.smtp_size} per case, "
              f"sessions {','.join(map(str, args.smtp_sessions))}, {args.smtp_repeat} run(s) each; command: "
              + " ".join(bench_smtp.smtp_source_argv("S", args.smtp_messages, args.smtp_size, "PORT")))
    if "relay" in args.only:
        print(f"relay: {args.relay_messages} messages of smtp-source -l {args.smtp_size}, -s {bench_relay.SESSIONS}, "
              f"to smtp-sink on {bench_smtp.RELAY_HOST}, {args.relay_repeat} run(s) each; "
              f"drain: primary down {args.outage:.0f} s after queueing, "
              f"limit {args.drain_limit:.0f} s")
    if "tls" in args.only:
        print(f"TLS: P6 {args.tls_messages} messages of {bench_tls.BODY_SIZE} bytes over STARTTLS, {args.tls_sessions} "
              f"sessions from {min(os.cpu_count() or 1, args.tls_sessions)} client processes"
              f"{', sessions resumed' if args.tls_resume else ', full handshakes'}; P3 {args.tls_relay_messages} "
              f"messages, smtp-source -s {bench_relay.SESSIONS}, to a TLS Postfix on {bench_smtp.RELAY_HOST}; "
              f"{args.tls_key} test certificate, {args.tls_repeat} run(s) each")
    if "large" in args.only:
        print(f"large: {args.large_messages} queued messages, {args.large_startups} quail-send start-ups, injection "
              f"{args.large_inject} x {args.large_inject_repeat}; Postfix at {args.postfix_messages} queued")
    sys.stdout.flush()

    results, smtp_rows, remarks, smtp_failed = [], [], [], False
    relay_rows, relay_remarks, relay_failed = [], [], False
    tls_rows, tls_remarks, tls_failed = [], [], False
    large_lines, large_failed = [], False
    step = lambda text: print(f"  ... {text}", file=sys.stderr, flush=True)
    try:
        if "queue" in args.only:
            queue_part(args, work, results, step)
        if "smtp" in args.only:
            smtp_rows, remarks, smtp_failed = bench_smtp.smtp_part(args, work, step)
        if "relay" in args.only:
            relay_rows, relay_remarks, relay_failed = bench_relay.relay_part(args, work, step)
        if "tls" in args.only:
            tls_rows, tls_remarks, tls_failed = bench_tls.tls_part(args, work, step)
        if "large" in args.only:
            large_lines, large_failed = bench_large.large_part(args, work, step)
    finally:
        # Every case's files stay until here. ext4 without a journal passes over an inode freed in the last
        # minute (up to six while its inode table block is dirty) one at a time when it allocates the next:
        # removing 10 000 files between cases slowed the next case's every file creation, whichever MTA ran it.
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    if results:
        print_queue_table(results)
    if smtp_rows:
        bench_smtp.print_table(smtp_rows, remarks)
        if results and results[0][1]:
            ceiling = results[0][1]
            shares = [f"{label.split('smtp-source ')[-1]}: {quail / ceiling:.2f}" for label, quail, _, unit, _ in smtp_rows
                      if unit == "msg/s" and quail]
            print(f"quail's accept rate as a share of the disk ceiling ({ceiling:.0f} commits/s, this run): " + ", ".join(shares))
    if relay_rows:
        bench_relay.print_table(relay_rows, relay_remarks)
    if tls_rows:
        bench_tls.print_table(tls_rows, tls_remarks)
    if large_lines:
        print()
        print("\n".join(large_lines))
    # Cases that cannot run yet are n/a, not errors; a measured case that lost or refused messages is.
    queue_failed = any(rate is not None and "failed" in note for _, rate, note in results)
    return 1 if queue_failed or smtp_failed or relay_failed or tls_failed or large_failed else 0


def queue_part(args, work, results, step):
    """The disk ceiling, the start-up floor, injection and local delivery, appended to `results`."""
    message_file = os.path.join(work, "message")
    envelope_file = os.path.join(work, "envelope")
    with open(message_file, "wb") as f:
        f.write(make_message(MESSAGE_SIZE))
    with open(envelope_file, "wb") as f:
        f.write(b"Fbench@quail.local\0T" + RECIPIENT.encode() + b"\0\0")
    files = (message_file, envelope_file)

    step("disk ceiling")
    ceiling, elapsed = disk_ceiling(work, args.n)
    results.append(("disk ceiling: write 4 KiB + fsync + rename + dir fsync", ceiling, f"{args.n} in {elapsed:.2f} s"))
    for parallel in [1, args.parallel]:
        label = f"start-up floor: quail-queue, no commit, {parallel} at a time"
        step(label)
        startup_floor_case(args, work, parallel, message_file, results, label)
    for kind in ["quail-queue", "quail-inject"]:
        for parallel in [1, args.parallel]:
            label = f"{kind}, {parallel} injector{'s' if parallel > 1 else ''}"
            step(label)
            injection_case(args, work, kind, parallel, files, results, label)
    label = "local delivery: quail-send + quail-local to a Maildir"
    step(label)
    local_delivery_case(args, work, files, results, label)


def print_queue_table(results):
    ceiling = results[0][1]
    print()
    width = max(len(r[0]) for r in results)
    print(f"| {'case'.ljust(width)} | {'msg/s':>8} | {'x disk':>7} | notes")
    print(f"|-{'-' * width}-|-{'-' * 8}:|-{'-' * 6}:|------")
    for label, rate, note in results:
        if rate is None:
            print(f"| {label.ljust(width)} | {'n/a':>8} | {'n/a':>7} | {note}")
        else:
            print(f"| {label.ljust(width)} | {rate:8.0f} | {rate / ceiling:7.2f} | {note}")


if __name__ == "__main__":
    sys.exit(main())
