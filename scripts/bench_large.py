#!/usr/bin/env python3
"""scripts/bench's large-queue part (issue 6, P4): one million queued messages.

quail:
  queue     generated, not injected (quail-queue would take ~25 minutes for 1M here), in the
            exact on-disk form quail-queue and quail-send leave (QueueWriter, QueueLayout,
            MessageState): each message is one spool file, envelope `Fsender\\0Trecip\\0\\0` then a
            quail-queue `Received:` line and the 4 KiB bench message, written under tmp/ and
            renamed to mess/H/ID where ID is its inode and H = ID mod 23 (as quail-send's take-in
            leaves it), with a `quail-state 1` record in state/H/ID as quail-send saves it after one
            failed attempt at a primary that is down (attempts 1, quail-remote's "could not reach"
            text, next attempt 10 min to 24 h ahead, birth up to two days back, spool file mtime =
            birth, record mtime = next attempt).
            Plus TODO fresh messages in todo/ (committed while quail-send was stopped) and one
            message, for live.test, due at once.
  start-up  live.test is routed to a small SMTP sink on 127.0.0.2 (this script), partner.test to
            a port of 127.0.0.2 where nothing listens. quail-send is started and timed from its
            exec to the sink's receipt of the live message (end of DATA); its VmHWM (peak RSS) is
            read from /proc when that happens and again once it has read every state record
            (its status line says so; it delivers before that, reading records in its loop).
  injection quail-queue, PARALLEL at a time, INJECT messages of 4 KiB to partner.test (down), with
            quail-send running on the 1M queue, against the same with quail-send running on an empty
            queue; runs alternate, the median of each is compared.

Postfix (Debian's, a private instance from postfix_peer.py, run only as root):
  A faithful 1M-message Postfix queue cannot be generated quickly (its queue files are Postfix's
  record format, named after inode and time, hashed by its own rules); filling it through SMTP
  runs at about Postfix's accept rate (~800 msg/s here), ~21 min for 1M. So Postfix is measured
  at --postfix-messages (default 100000), labelled as such: the backlog is queued through
  `smtp-source -s 20` with the primary down and deferred by Postfix itself; a live.test message,
  queued first and deferred too, has its deferred file's mtime set to the past (as `postqueue -i`
  does); Postfix is stopped, the sink started, and `postfix start` is timed to the sink's receipt.
  Memory: VmHWM of qmgr and the sum of VmHWM over the instance's processes. Injection: smtp-source
  -s PARALLEL -m INJECT with the backlog against an empty instance.

Loopback only; every wait bounded; every process started is stopped; everything under --dir
(default /tmp) in a directory quail-large-*, removed at the end unless --keep.
"""

import argparse
import os
import pwd
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from bench_common import SPLIT, make_queue, read_text, stop

SENDER = "sender@example.org"
DOWN_DOMAIN = "partner.test"  # its primary is down
LIVE_DOMAIN = "live.test"  # its primary is the sink
RELAY_HOST = "127.0.0.2"
MESSAGE_SIZE = 4096
# quail runs as an unprivileged user, as installed: the queue is that user's and so are quail-send and the injectors.
# (Run as root, a static quail-send looks up the `quail` user with getpwnam, which crashes in libnss_systemd when
# that user does not exist; as a plain user it does not look anyone up.)
RUN_AS = pwd.getpwnam("nobody")
DOWN_ERROR = f"could not reach any mail exchanger for {DOWN_DOMAIN}; last: {RELAY_HOST}: Connection refused (#4.4.1)"


def make_message(size=MESSAGE_SIZE):
    head = (f"From: {SENDER}\nTo: user@{DOWN_DOMAIN}\nSubject: quail large-queue bench\n"
            "Message-ID: <large@quail.local>\n\n").encode()
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.\n"
    body = bytearray()
    while len(head) + len(body) < size:
        body += line
    return (head + bytes(body))[: size - 1] + b"\n"


def escape(value):
    """MessageState's escape: bytes <= 0x20, % and DEL as %XX; empty as %."""
    if not value:
        return "%"
    return "".join(f"%{b:02X}" if b <= 0x20 or b in (0x25, 0x7F) else chr(b) for b in value.encode())


def envelope(recipient):
    return b"F" + SENDER.encode() + b"\0T" + recipient.encode() + b"\0\0"


def received_line(birth, pid):
    t = time.gmtime(birth)  # MailDate.format: "Sat, 21 Nov 2026 11:35:16 +0000", day without a leading zero
    stamp = f"{time.strftime('%a', t)}, {t.tm_mday} {time.strftime('%b %Y %H:%M:%S', t)} +0000"
    return f"Received: (quail {pid} invoked by uid 0); {stamp}\n".encode()


def state_record(birth, size, offset, recipient, attempts, next_attempt, last_error, last_attempt):
    """MessageState.encoded, byte for byte."""
    return (f"quail-state 1\nbirth {birth}\nbytes {size}\noffset {offset}\nheld 0\nsender {escape(SENDER)}\n"
            f"rcpt pending {attempts} {next_attempt} {escape(recipient)} {escape(last_error)} % {last_attempt}\n").encode()


def create_home(home, smtproutes):
    control = os.path.join(home, "control")
    os.makedirs(control)
    for name, value in {"me": "backup.test", "rcpthosts": f"{DOWN_DOMAIN}\n{LIVE_DOMAIN}",
                        "smtproutes": smtproutes}.items():
        with open(os.path.join(control, name), "w") as f:
            f.write(value + "\n")
    queue = os.path.join(home, "queue")
    make_queue(queue)
    os.chmod(home, 0o755)
    for root, dirs, files in os.walk(home):
        for name in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.chown(name, RUN_AS.pw_uid, RUN_AS.pw_gid)
    return queue


def as_user():
    """subprocess keyword arguments that run a program as RUN_AS."""
    return {"user": RUN_AS.pw_uid, "group": RUN_AS.pw_gid, "extra_groups": []}


def write_file(path, data, mtime=None):
    """A queue file: mode 0600, RUN_AS's; `mtime` as quail-send sets a state record's (its next attempt)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if os.geteuid() == 0:
            os.fchown(fd, RUN_AS.pw_uid, RUN_AS.pw_gid)
        os.write(fd, data)
        if mtime is not None:
            os.utime(fd, (mtime, mtime))
    finally:
        os.close(fd)


def spool_one(queue, name, data, mtime):
    """Writes a spool file under tmp/ and returns (fd closed) its path and inode, the queue id."""
    path = os.path.join(queue, "tmp", name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if os.geteuid() == 0:
            os.fchown(fd, RUN_AS.pw_uid, RUN_AS.pw_gid)
        os.write(fd, data)
        ino = os.fstat(fd).st_ino
        os.utime(fd, (mtime, mtime))
    finally:
        os.close(fd)
    return path, ino


def generate_worker(queue, worker, count, now, seed):
    """`count` taken-in messages for DOWN_DOMAIN, each with the state quail-send leaves after one failed attempt."""
    rng = random.Random(seed)
    recipient = f"user@{DOWN_DOMAIN}"
    env = envelope(recipient)
    body = make_message()
    pid = 40000 + worker
    for i in range(count):
        birth = now - rng.randrange(60, 2 * 86400)
        data = env + received_line(birth, pid) + body
        path, ino = spool_one(queue, f"{pid}.{now}.{i}", data, birth)
        bucket = ino % SPLIT
        os.rename(path, os.path.join(queue, "mess", str(bucket), str(ino)))
        last_attempt = max(birth, now - rng.randrange(0, 600))
        next_attempt = now + rng.randrange(600, 86400)
        record = state_record(birth, len(data) - len(env), len(env), recipient, 1, next_attempt, DOWN_ERROR, last_attempt)
        fd = os.open(os.path.join(queue, "state", str(bucket), str(ino)), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, record)
            os.utime(fd, (next_attempt, next_attempt))  # quail-send's save: the record's mtime is its next work
        finally:
            os.close(fd)


def generate_quail_queue(queue, total, todo, now, workers=2):
    """total taken-in messages (one of them for LIVE_DOMAIN, due at once) and `todo` fresh ones in todo/."""
    bulk = total - 1 - todo
    shares = [bulk // workers + (1 if w < bulk % workers else 0) for w in range(workers)]
    children = []
    for w, share in enumerate(shares):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.setgroups([])
                os.setgid(RUN_AS.pw_gid)
                os.setuid(RUN_AS.pw_uid)
                generate_worker(queue, w, share, now, seed=w)
            except BaseException as error:  # a child must never return into the caller's code
                print(f"bench_large: generator {w}: {error}", file=sys.stderr)
                code = 1
            os._exit(code)
        children.append(pid)
    failed = 0
    for pid in children:
        _, status = os.waitpid(pid, 0)
        failed += status != 0
    if failed:
        raise RuntimeError(f"{failed} generator process(es) failed")
    body = make_message()
    # The live message: taken in, one earlier failed attempt (its primary was down), due a minute ago.
    live = f"user@{LIVE_DOMAIN}"
    env = envelope(live)
    write_live(queue, now, body)
    # Fresh messages quail-queue committed while quail-send was stopped: no state record yet.
    env = envelope(f"user@{DOWN_DOMAIN}")
    for i in range(todo):
        data = env + received_line(now, 39998) + body
        path, ino = spool_one(queue, f"39998.{now}.{i}", data, now)
        os.rename(path, os.path.join(queue, "todo", str(ino)))
    return ino


# --- the sink -----------------------------------------------------------------------


class Sink:
    """A minimal SMTP server on RELAY_HOST:port that notes when each message's DATA ends."""

    def __init__(self, port):
        self.port = port
        self.received = []  # time.monotonic() of each message's end of DATA
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind((RELAY_HOST, port))
        self.server.listen(64)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(connection,), daemon=True).start()

    def session(self, connection):
        connection.settimeout(30)
        try:
            reader = connection.makefile("rb")
            connection.sendall(b"220 sink.test ESMTP\r\n")
            in_data = False
            for line in reader:
                if in_data:
                    if line == b".\r\n":
                        self.received.append(time.monotonic())
                        in_data = False
                        connection.sendall(b"250 ok\r\n")
                    continue
                verb = line[:4].upper()
                if verb == b"DATA":
                    in_data = True
                    connection.sendall(b"354 go ahead\r\n")
                elif verb == b"QUIT":
                    connection.sendall(b"221 bye\r\n")
                    return
                elif verb == b"EHLO":
                    connection.sendall(b"250-sink.test\r\n250 8BITMIME\r\n")
                else:
                    connection.sendall(b"250 ok\r\n")
        except OSError:
            pass
        finally:
            connection.close()

    def close(self):
        self.server.close()


def free_port(host=RELAY_HOST):
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def memory(pid):
    """(VmHWM, VmRSS) in KiB from /proc/PID/status, or (None, None)."""
    values = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values.get("VmHWM"), values.get("VmRSS")


# --- quail --------------------------------------------------------------------------


def count_todo(queue):
    return len(os.listdir(os.path.join(queue, "todo")))


def inject_batch(bin_dir, home, count, parallel, work):
    """count messages through quail-queue, `parallel` at a time; (rate, failures)."""
    import concurrent.futures
    message_file = os.path.join(work, "inject-message")
    envelope_file = os.path.join(work, "inject-envelope")
    if not os.path.exists(message_file):
        with open(message_file, "wb") as f:
            f.write(make_message())
        with open(envelope_file, "wb") as f:
            f.write(envelope(f"user@{DOWN_DOMAIN}"))
    env = dict(os.environ, QUAIL_HOME=home)
    argv = [os.path.join(bin_dir, "quail-queue")]

    def once(_):
        with open(message_file, "rb") as m, open(envelope_file, "rb") as e:
            return subprocess.run(argv, stdin=m, stdout=e, stderr=subprocess.DEVNULL, env=env, **as_user()).returncode

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        failures = sum(1 for status in pool.map(once, range(count)) if status != 0)
    return count / (time.monotonic() - start), failures


class QuailSend:
    def __init__(self, bin_dir, home, log_path):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.started = time.monotonic()
        self.process = subprocess.Popen([os.path.join(bin_dir, "quail-send")], stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=self.log, env=dict(os.environ, QUAIL_HOME=home),
                                        start_new_session=True, **as_user())

    def wait_for_line(self, text, timeout, interval=0.05):
        """Seconds from exec until quail-send's log holds `text`, or None."""
        deadline = self.started + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if text in read_text(self.log_path):
                return time.monotonic() - self.started
            time.sleep(interval)
        return None

    def wait_for_status(self, timeout):
        """Seconds until the first `status: local` line (the loop is running), or None."""
        return self.wait_for_line("status: local", timeout)

    def wait_for_whole_queue(self, timeout):
        """Seconds until quail-send has read the state of every queued message (its status line
        `read the state of all N queued messages`), or None. It delivers before that: start-up lists the
        spool and reads the records in its loop, the earliest due first."""
        return self.wait_for_line("status: read the state of all", timeout, 0.2)

    def stop(self):
        trouble = stop(self.process)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.log.close()
        return trouble


def quail_startup(args, work, step):
    """Generates the queue, times quail-send's start-up to first delivery; returns a dict of figures."""
    result = {}
    home = os.path.join(work, "quail-home")
    sink_port, dead_port = free_port(), free_port()
    queue = create_home(home, f"{DOWN_DOMAIN}:[{RELAY_HOST}]:{dead_port}\n{LIVE_DOMAIN}:[{RELAY_HOST}]:{sink_port}")
    now = int(time.time())
    step(f"quail: generating {args.large_messages} queued messages ({args.large_todo} of them in todo/)")
    t = time.monotonic()
    generate_quail_queue(queue, args.large_messages, args.large_todo, now)
    subprocess.run(["sync"], timeout=600)
    result["generate_seconds"] = time.monotonic() - t
    step(f"quail: queue generated in {result['generate_seconds']:.0f} s")
    sink = Sink(sink_port)
    runs = []
    try:
        for run in range(args.large_startups):
            if args.large_cold:
                subprocess.run(["sync"], timeout=600)
                with open("/proc/sys/vm/drop_caches", "w") as f:
                    f.write("3\n")
            step(f"quail: start-up run {run + 1}{' (cold cache)' if args.large_cold else ''}")
            before = len(sink.received)
            send = QuailSend(args.bin, home, os.path.join(work, f"quail-send-{run}.log"))
            peak, first, exited = 0, None, None
            deadline = send.started + args.large_limit
            while time.monotonic() < deadline:
                hwm, _ = memory(send.process.pid)
                peak = max(peak, hwm or 0)
                if len(sink.received) > before:
                    first = sink.received[before] - send.started
                    break
                exited = send.process.poll()
                if exited is not None:
                    break
                time.sleep(0.05)
            figures = {"first": first, "hwm_first": memory(send.process.pid)[0] or peak}
            if first is None:
                figures["why"] = (f"quail-send exited {exited}" if exited is not None else
                                  f"no delivery within {args.large_limit:.0f} s") + \
                                 f"; log: {' | '.join(read_text(send.log_path).strip().splitlines()[-2:])}"
            else:
                figures["whole"] = send.wait_for_whole_queue(max(args.large_limit, 900))
                time.sleep(args.large_settle)
                figures["hwm_idle"], figures["rss_idle"] = memory(send.process.pid)
                cpu = cpu_seconds(send.process.pid)
                figures["cpu"] = cpu
            if run == 0 and first is not None:
                result["injection"] = injection_compare(args, work, home, queue, step, sink_port, dead_port)
            figures["stop"] = send.stop()
            runs.append(figures)
            # The live message is delivered and gone: put it back for the next run.
            if run + 1 < args.large_startups:
                write_live(queue, now)
    finally:
        sink.close()
        result["runs"] = runs
        step("quail: removing the generated queue")
        remove_tree(home)
    return result


def remove_tree(path):
    """rm -rf: a million-message queue goes several times faster than with shutil.rmtree."""
    subprocess.run(["rm", "-rf", "--one-file-system", path], timeout=3600)
    shutil.rmtree(path, ignore_errors=True)


def write_live(queue, now, body=None):
    """The live message: taken in three days ago, one failed attempt (its primary was down then), due since long
    before the rest of the queue (quail-send was stopped meanwhile), so that it is the first one out."""
    live = f"user@{LIVE_DOMAIN}"
    env = envelope(live)
    birth = now - 3 * 86400
    data = env + received_line(birth, 39999) + (body or make_message())
    path, ino = spool_one(queue, f"39999.{now}.live{time.monotonic_ns()}", data, birth)
    os.rename(path, os.path.join(queue, "mess", str(ino % SPLIT), str(ino)))
    error = f"could not reach any mail exchanger for {LIVE_DOMAIN}; last: {RELAY_HOST}: Connection refused (#4.4.1)"
    write_file(os.path.join(queue, "state", str(ino % SPLIT), str(ino)),
               state_record(birth, len(data) - len(env), len(env), live, 1, birth + 1200, error, birth + 600), birth + 1200)


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def injection_compare(args, work, big_home, big_queue, step, sink_port, dead_port):
    """quail-queue rate with quail-send on the big queue (running now) against an empty queue with its own
    quail-send; runs alternate."""
    small_home = os.path.join(work, "quail-empty")
    create_home(small_home, f"{DOWN_DOMAIN}:[{RELAY_HOST}]:{dead_port}\n{LIVE_DOMAIN}:[{RELAY_HOST}]:{sink_port}")
    small_send = QuailSend(args.bin, small_home, os.path.join(work, "quail-send-empty.log"))
    small_send.wait_for_status(30)
    big, small, failures = [], [], 0
    try:
        for run in range(args.large_inject_repeat):
            for label, home, rates in [(f"{args.large_messages} queued", big_home, big), ("empty queue", small_home, small)]:
                step(f"quail: injection, {label}, run {run + 1}")
                rate, failed = inject_batch(args.bin, home, args.large_inject, args.parallel, work)
                rates.append(rate)
                failures += failed
    finally:
        small_send.stop()
        shutil.rmtree(small_home, ignore_errors=True)
    return {"big": big, "small": small, "failures": failures}


# --- Postfix --------------------------------------------------------------------------


def postfix_part(args, work, step):
    import postfix_peer
    from postfix_peer import PostfixPeer, PeerError

    missing = postfix_peer.postfix_installed()
    if missing:
        return {"why": missing}
    result = {"messages": args.postfix_messages}
    base = os.path.join(work, "postfix")
    os.makedirs(base)
    os.chmod(work, 0o755)
    sink_port, dead_port, port = free_port(), free_port(), free_port("127.0.0.1")
    settings = [f"relay_domains = {DOWN_DOMAIN}, {LIVE_DOMAIN}",
                # Like the generated quail queue: what failed waits an hour or more.
                "minimal_backoff_time = 3600s", "maximal_backoff_time = 7200s"]
    peer = PostfixPeer(base, port, dead_port, settings=settings)
    transport = os.path.join(peer.config, "transport")

    def write_transport(live_port):
        with open(transport, "w") as f:
            f.write(f"{DOWN_DOMAIN} smtp:[{RELAY_HOST}]:{dead_port}\n{LIVE_DOMAIN} smtp:[{RELAY_HOST}]:{live_port}\n")

    sink = None
    try:
        peer.start()
        write_transport(sink_port)  # nothing listens there yet: the live message is deferred
        subprocess.run([postfix_peer.POSTFIX, "-c", peer.config, "reload"], capture_output=True, timeout=60)
        time.sleep(2)
        step("postfix: queueing the live message (deferred while its primary is down)")
        smtp_source(port, 1, 1, f"user@{LIVE_DOMAIN}", 120)
        live_file = wait_deferred(peer, 1, 120)
        if live_file is None:
            return {"why": f"the live message was not deferred within 120 s ({peer.log_tail()})"}
        live_file = live_file[0]
        step(f"postfix: queueing {args.postfix_messages} messages with smtp-source -s {args.parallel}")
        t = time.monotonic()
        smtp_source(port, args.parallel, args.postfix_messages, f"user@{DOWN_DOMAIN}", args.large_limit * 20)
        if wait_deferred(peer, args.postfix_messages + 1, args.large_limit * 20) is None:
            return {"why": f"the backlog was not all deferred in time ({peer.queued()} queued)"}
        result["fill_seconds"] = time.monotonic() - t
        step(f"postfix: backlog deferred after {result['fill_seconds']:.0f} s")
        # Postfix's injection with the backlog, while it runs.
        big = []
        for run in range(args.large_inject_repeat):
            step(f"postfix: injection with the backlog, run {run + 1}")
            big.append(timed_smtp_source(port, args.parallel, args.large_inject))
        peer.stop()
        past = time.time() - 60
        os.utime(live_file, (past, past))  # due now, as postqueue -i leaves it
        subprocess.run(["sync"], timeout=600)
        sink = Sink(sink_port)
        step("postfix: postfix start with the backlog, timing until the live message arrives")
        started = time.monotonic()
        status, output = postfix_peer.run_postfix_command([postfix_peer.POSTFIX, "-c", peer.config, "start"])
        if status != 0:
            return {"why": f"postfix start exited {status}: {output.strip()}"}
        peer.master_pid = peer.read_master_pid()
        deadline = started + args.large_limit
        while not sink.received and time.monotonic() < deadline:
            time.sleep(0.05)
        result["first"] = sink.received[0] - started if sink.received else None
        time.sleep(args.large_settle)
        result["qmgr_hwm"], result["total_hwm"] = postfix_memory(peer)
        small = []
        peer.stop()
        # The same injection against a fresh, empty instance.
        empty = PostfixPeer(os.path.join(work, "postfix-empty"), free_port("127.0.0.1"), dead_port, settings=settings)
        try:
            empty.start()
            for run in range(args.large_inject_repeat):
                step(f"postfix: injection into an empty queue, run {run + 1}")
                small.append(timed_smtp_source(empty.port, args.parallel, args.large_inject))
        finally:
            empty.stop()
        result["injection"] = {"big": big, "small": small}
    except PeerError as error:
        result["why"] = str(error)
    finally:
        if sink:
            sink.close()
        peer.stop()
    return result


def smtp_source(port, sessions, messages, recipient, timeout):
    argv = ["/usr/sbin/smtp-source", "-s", str(sessions), "-m", str(messages), "-l", str(MESSAGE_SIZE),
            "-M", "client.example.org", "-f", SENDER, "-t", recipient, f"127.0.0.1:{port}"]
    p = subprocess.run(argv, capture_output=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"smtp-source exited {p.returncode}: {p.stdout[-300:]!r} {p.stderr[-300:]!r}")


def timed_smtp_source(port, sessions, messages):
    start = time.monotonic()
    smtp_source(port, sessions, messages, f"user@{DOWN_DOMAIN}", 600)
    return messages / (time.monotonic() - start)


def wait_deferred(peer, count, timeout):
    """Waits until `count` messages sit in deferred/ and none elsewhere; returns their paths, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = []
        for root, _, names in os.walk(os.path.join(peer.queue, "deferred")):
            files += [os.path.join(root, n) for n in names]
        others = sum(peer_count(peer, q) for q in ["maildrop", "incoming", "active"])
        if len(files) >= count and others == 0:
            return files
        time.sleep(1)
    return None


def peer_count(peer, name):
    total = 0
    for _, _, names in os.walk(os.path.join(peer.queue, name)):
        total += len(names)
    return total


def postfix_memory(peer):
    """(qmgr's VmHWM, the sum of VmHWM over the master's process group) in KiB."""
    group = peer.read_master_pid()
    qmgr, total = None, 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) != group:
                continue
            with open(f"/proc/{entry}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        hwm, _ = memory(int(entry))
        total += hwm or 0
        if comm == "qmgr":
            qmgr = hwm
    return qmgr, total


# --- report -----------------------------------------------------------------------------


def large_part(args, work, step):
    """Runs the quail part and then the Postfix part; returns printable lines and whether a goal failed."""
    lines, missed = [], False
    os.chmod(work, 0o755)  # quail-send and the injectors run as RUN_AS, and Postfix's daemons as postfix
    quail = quail_startup(args, work, step)
    lines.append(f"quail queue: {args.large_messages} messages of {MESSAGE_SIZE} bytes generated by scripts/bench_large.py "
                 f"in {quail['generate_seconds']:.0f} s ({args.large_messages - 1 - args.large_todo} taken in with a state "
                 f"record after one failed attempt, next attempt 10 min to 24 h ahead; 1 due now for {LIVE_DOMAIN}; "
                 f"{args.large_todo} fresh in todo/){'; page cache dropped before each start' if args.large_cold else ''}")
    lines.append("| run | start-up to first delivery | every state record read | VmHWM at first delivery | "
                 "VmHWM, every record read | CPU s |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for i, r in enumerate(quail["runs"]):
        if r["first"] is None:
            lines.append(f"| {i + 1} | n/a: {r.get('why')} | | | | |")
            missed = True
            continue
        lines.append(f"| {i + 1} | {r['first']:.2f} s | {fmt(r.get('whole'), 's')} | {mib(r['hwm_first'])} | "
                     f"{mib(r.get('hwm_idle'))} | {fmt(r.get('cpu'), '')} |")
        missed |= r["first"] > 30 or (r.get("hwm_idle") or 0) > 1 << 20
    inj = quail.get("injection")
    if inj:
        ratio = statistics.median(inj["big"]) / statistics.median(inj["small"])
        missed |= ratio < 0.9 or inj["failures"] > 0
        lines.append(f"quail-queue x{args.parallel}, {args.large_inject} msgs, quail-send running: "
                     f"{args.large_messages} queued {rates(inj['big'])}; empty {rates(inj['small'])}; ratio {ratio:.2f}"
                     f"{'; FAILURES ' + str(inj['failures']) if inj['failures'] else ''}")
    if args.postfix_messages > 0:
        step("postfix part")
        pf = postfix_part(args, work, step)
        if "why" in pf:
            lines.append(f"Postfix: n/a: {pf['why']}")
        else:
            lines.append(f"Postfix at {pf['messages']} queued (NOT 1M: filled through smtp-source in "
                         f"{pf['fill_seconds']:.0f} s; 1M would take ~{pf['fill_seconds'] * 1e6 / pf['messages'] / 60:.0f} min): "
                         f"postfix start to first delivery {fmt(pf['first'], 's')}, qmgr VmHWM {mib(pf['qmgr_hwm'])}, "
                         f"all processes' VmHWM summed {mib(pf['total_hwm'])}")
            inj = pf["injection"]
            lines.append(f"Postfix smtp-source -s {args.parallel} -m {args.large_inject}: with backlog {rates(inj['big'])}; "
                         f"empty {rates(inj['small'])}; ratio {statistics.median(inj['big']) / statistics.median(inj['small']):.2f}")
    return lines, missed


def fmt(value, unit):
    return "n/a" if value is None else f"{value:.2f}{' ' + unit if unit else ''}"


def mib(kib):
    return "n/a" if not kib else f"{kib / 1024:.0f} MiB"


def rates(values):
    return "median %.0f msg/s (%s)" % (statistics.median(values), ", ".join(f"{v:.0f}" for v in values))


def add_arguments(parser):
    parser.add_argument("--large-messages", type=int, default=1000000, help="queued messages (default 1000000)")
    parser.add_argument("--large-todo", type=int, default=1000, help="of them, fresh in todo/ (default 1000)")
    parser.add_argument("--large-startups", type=int, default=2, help="quail-send start-ups timed (default 2)")
    parser.add_argument("--large-cold", action="store_true", help="drop the page cache before each start-up (root)")
    parser.add_argument("--large-limit", type=float, default=300, help="seconds to wait for the first delivery")
    parser.add_argument("--large-settle", type=float, default=5, help="seconds after it before reading memory")
    parser.add_argument("--large-inject", type=int, default=3000, help="messages per injection run (default 3000)")
    parser.add_argument("--large-inject-repeat", type=int, default=3, help="injection runs each (default 3)")
    parser.add_argument("--postfix-messages", type=int, default=100000, help="Postfix backlog; 0 skips Postfix")


def main():
    parser = argparse.ArgumentParser(description="quail large-queue bench (issue 6, P4)")
    parser.add_argument("--bin", required=True)
    parser.add_argument("--parallel", type=int, default=20)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--keep", action="store_true")
    add_arguments(parser)
    args = parser.parse_args()
    args.bin = os.path.abspath(args.bin)
    for number in [signal.SIGTERM, signal.SIGHUP]:
        signal.signal(number, lambda received, _: sys.exit(128 + received))
    work = tempfile.mkdtemp(prefix="quail-large-", dir=args.dir)
    step = lambda text: print(f"  ... {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)
    print(f"quail large-queue bench, {time.strftime('%Y-%m-%d %H:%M %Z')}, load average "
          f"{' '.join(open('/proc/loadavg').read().split()[:3])}, work in {work}")
    try:
        lines, missed = large_part(args, work, step)
    finally:
        if not args.keep:
            remove_tree(work)
    print("\n".join(lines))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
