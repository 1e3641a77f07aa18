"""scripts/bench's TLS part: quail and Postfix side by side, with a test CA made at bench time by `openssl`.

  P6, accept over TLS, primary down: a load client of our own (below; Python's `ssl`, one process per
      core, each running its share of the S sessions in threads: the same client for both MTAs), each
      session: connect, EHLO, STARTTLS, EHLO, MAIL, RCPT, DATA (a 4096-byte message), QUIT, one message per
      connection. Against `quail-smtpd --listen` with `control/servercert.pem` (quail-send running) and a
      private Postfix with `smtpd_tls_cert_file`/`smtpd_tls_key_file` (the same certificate),
      `smtpd_tls_security_level = may`, its default session cache and tlsmgr. Rate = N / the client's wall
      time; it counts only when every message got 250 and the queue then holds N.
  P3 over TLS, relay rate with a TLS primary: as the relay part's rate (bench_relay.py): `smtp-source -s 20`
      into the backup, which relays to the primary on 127.0.0.2, timed from smtp-source's start until the
      primary has all N; but the primary is a third private Postfix, its `smtpd` with the same certificate
      (`smtpd_tls_security_level = may`) and a `discard:` transport, counting its `status=sent` lines.
      quail relays with its default (`may`); Postfix with `smtp_tls_security_level = may`, its connection
      cache and `smtp_tls_connection_reuse = yes` (tlsproxy). The primary's queue is on tmpfs (/dev/shm)
      when there is one, so that its own fsyncs do not share the backup's disk.

Loopback only; every wait is bounded; everything started is stopped.
"""

import multiprocessing
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import postfix_peer
from bench_common import read_text
from bench_relay import SESSIONS as RELAY_SESSIONS
from bench_smtp import (CONCURRENCY, DOMAIN, HELO, RECIPIENT, RELAY_HOST, SENDER, last_lines, peer_runner,
                        run_smtp_source, settled_count, summarize)
from postfix_peer import PeerError

SERVER_NAME = "bench.test"  # the certificate's name, sent as SNI and checked by the client
BODY_SIZE = 4096
OPENSSL = "/usr/bin/openssl"
GOALS = {"accept": 1.2, "relay": 1.5}  # issue 20: quail / Postfix


def add_arguments(parser):
    parser.add_argument("--tls-messages", type=int, default=2000, help="messages per P6 TLS accept case (default 2000)")
    parser.add_argument("--tls-sessions", type=int, default=20, help="P6 client sessions at a time (default 20)")
    parser.add_argument("--tls-relay-messages", type=int, default=2000,
                        help="messages per P3 relay-over-TLS case (default 2000)")
    parser.add_argument("--tls-repeat", type=int, default=1,
                        help="runs of each TLS case per MTA, the order swapped each time; the median is shown")
    parser.add_argument("--tls-key", choices=["ec", "rsa"], default="ec",
                        help="the test certificate's key: ec (P-256, certbot's default) or rsa (2048 bits)")
    parser.add_argument("--tls-resume", action="store_true",
                        help="P6 client: each thread offers the TLS session of its previous connection")
    parser.add_argument("--tls-timeout", type=float, default=600, help="seconds per TLS case (default 600)")


# --- the test CA ----------------------------------------------------------------------------


def make_certificates(directory, key_type):
    """A test CA and a server certificate for bench.test (and 127.0.0.1, 127.0.0.2) signed by it, made with
    the openssl command: {"ca", "cert", "key", "combined"} paths; PeerError when openssl fails."""
    os.makedirs(directory, mode=0o755)
    path = lambda name: os.path.join(directory, name)
    key = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key_type == "ec"
           else ["-newkey", "rsa:2048"])

    def openssl(*arguments):
        p = subprocess.run([OPENSSL, *arguments], capture_output=True, timeout=60, cwd=directory)
        if p.returncode != 0:
            raise PeerError(f"openssl {arguments[0]} exited {p.returncode}: {last_lines(p.stderr.decode(errors='replace'))}")

    openssl("req", "-x509", "-new", "-nodes", *key, "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "2",
            "-subj", "/CN=quail bench test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-new", "-nodes", *key, "-keyout", path("server.key"), "-out", path("server.csr"),
            "-subj", f"/CN={SERVER_NAME}")
    with open(path("server.ext"), "w") as f:
        f.write(f"subjectAltName = DNS:{SERVER_NAME}, IP:127.0.0.1, IP:{RELAY_HOST}\n"
                "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\n"
                "extendedKeyUsage = serverAuth\n")
    openssl("x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
            "-CAcreateserial", "-days", "2", "-out", path("server.pem"), "-extfile", path("server.ext"))
    for name in ["ca.key", "server.key"]:
        os.chmod(path(name), 0o600)
    with open(path("server.pem")) as cert, open(path("server.key")) as key_file:
        combined = cert.read() + key_file.read()
    return {"ca": path("ca.pem"), "cert": path("server.pem"), "key": path("server.key"), "combined": combined}


# --- the load client --------------------------------------------------------------------------


def make_message():
    """A CRLF message of exactly BODY_SIZE bytes followed by the end-of-data line; no line starts with '.'."""
    head = (f"From: <{SENDER}>\r\nTo: <{RECIPIENT}>\r\nSubject: quail TLS bench\r\n"
            f"Message-ID: <tls-bench@{HELO}>\r\n\r\n").encode()
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n"  # 64 bytes
    body = bytearray(head)
    while len(body) < BODY_SIZE:
        body += line
    message = bytes(body[: BODY_SIZE - 2]) + b"\r\n"
    return message + b".\r\n"


class SessionError(Exception):
    pass


def read_reply(reader):
    """(code, [lines]) of one SMTP reply."""
    lines = []
    for _ in range(100):
        line = reader.readline()
        if not line:
            raise SessionError("connection closed" + (f" after {lines[-1]!r}" if lines else ""))
        text = line.decode(errors="replace").rstrip("\r\n")
        lines.append(text)
        if text[3:4] != "-":
            return text[:3], lines
    raise SessionError("reply too long")


def command(connection, reader, line, expected):
    if line is not None:
        connection.sendall(line)
    code, lines = read_reply(reader)
    if code != expected:
        sent = line.split(b" ")[0].strip().decode() if line else "greeting"
        raise SessionError(f"{sent}: {lines[-1]!r}")
    return lines


def one_session(context, port, message, timeout, offered):
    """One message over STARTTLS; returns the TLS session (for --tls-resume) and whether it was resumed."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        reader = raw.makefile("rb")
        command(raw, reader, None, "220")
        ehlo = command(raw, reader, f"EHLO {HELO}\r\n".encode(), "250")
        if not any(l[4:].upper().startswith("STARTTLS") for l in ehlo):
            raise SessionError("STARTTLS not offered")
        command(raw, reader, b"STARTTLS\r\n", "220")
        reader.close()
        tls = context.wrap_socket(raw, server_hostname=SERVER_NAME, session=offered)
        try:
            reader = tls.makefile("rb")
            command(tls, reader, f"EHLO {HELO}\r\n".encode(), "250")
            command(tls, reader, f"MAIL FROM:<{SENDER}>\r\n".encode(), "250")
            command(tls, reader, f"RCPT TO:<{RECIPIENT}>\r\n".encode(), "250")
            command(tls, reader, b"DATA\r\n", "354")
            command(tls, reader, message, "250")
            session, resumed = tls.session, tls.session_reused
            try:
                command(tls, reader, b"QUIT\r\n", "221")
            except (OSError, SessionError):
                pass  # the message is queued; a lost 221 is no loss
            reader.close()
            return session, resumed
        finally:
            tls.close()


def client_process(port, cafile, count, threads, timeout, resume, results):
    """One load process: `count` messages, `threads` sessions at a time. Puts (accepted, resumed, [errors])."""
    context = ssl.create_default_context(cafile=cafile)
    message = make_message()
    lock = threading.Lock()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it kills this process
    state = {"next": 0, "accepted": 0, "resumed": 0, "failed": 0, "errors": []}
    deadline = time.monotonic() + timeout

    def worker():
        offered = None
        while time.monotonic() < deadline:
            with lock:
                if state["next"] >= count:
                    return
                state["next"] += 1
            try:
                session, resumed = one_session(context, port, message, min(60, timeout), offered)
                offered = session if resume else None
                with lock:
                    state["accepted"] += 1
                    state["resumed"] += resumed
            except (OSError, SessionError, ssl.SSLError) as error:
                offered = None
                with lock:
                    if len(state["errors"]) < 5:
                        state["errors"].append(f"{type(error).__name__}: {error}")
                    state["failed"] += 1

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(max(deadline - time.monotonic(), 0) + 1)
    results.put((state["accepted"], state["resumed"], state["failed"], state["errors"]))


def run_client(port, cafile, messages, sessions, timeout, resume):
    """`os.cpu_count()` processes (at most `sessions`), the messages and sessions shared out between them;
    (seconds, accepted, resumed, failed, errors, client CPU seconds)."""
    processes = max(1, min(os.cpu_count() or 1, sessions))
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    children = []
    usage = os.times()
    start = time.monotonic()
    try:
        for i in range(processes):
            count = messages // processes + (1 if i < messages % processes else 0)
            threads = sessions // processes + (1 if i < sessions % processes else 0)
            child = ctx.Process(target=client_process, args=(port, cafile, count, threads, timeout, resume, results),
                                daemon=True)
            child.start()
            children.append(child)
        accepted = resumed = failed = 0
        errors = []
        for _ in children:
            try:
                a, r, f, e = results.get(timeout=max(start + timeout + 10 - time.monotonic(), 1))
            except Exception:  # queue.Empty: a process that never reported
                errors.append(f"a client process did not report within {timeout:.0f} s")
                break
            accepted, resumed, failed, errors = accepted + a, resumed + r, failed + f, errors + e
        elapsed = time.monotonic() - start
        for child in children:
            child.join(10)
    finally:
        for child in children:
            if child.is_alive():
                child.kill()
                child.join()
    after = os.times()
    cpu = (after.children_user - usage.children_user) + (after.children_system - usage.children_system)
    return elapsed, accepted, resumed, failed, errors, cpu


# --- P6: accept over TLS ------------------------------------------------------------------------


def accept_case(peer, certs, args):
    """(rate or None, note, failed)."""
    messages = args.tls_messages
    try:
        peer.start()
    except PeerError as error:
        return None, f"did not start: {error}", True
    elapsed, accepted, resumed, failed, errors, cpu = run_client(peer.port, certs["ca"], messages, args.tls_sessions,
                                                                 args.tls_timeout, args.tls_resume)
    queued, detail = settled_count(peer, messages)
    if accepted != messages:
        return None, (f"{accepted} of {messages} got 250 in {elapsed:.1f} s, {failed} failed "
                      f"({'; '.join(errors[:2]) or 'no error seen: timed out'}); {queued} queued; {peer.log_tail()}"), True
    if queued != messages:
        return None, f"all {messages} got 250 in {elapsed:.2f} s, but {queued} of {messages} queued ({detail})", True
    note = f"{messages} in {elapsed:.2f} s, client CPU {1000 * cpu / messages:.2f} ms/msg"
    if args.tls_resume:
        note += f", {resumed} resumed"
    return messages / elapsed, note, False


def postfix_server_settings(certs):
    return [f"smtpd_tls_cert_file = {certs['cert']}", f"smtpd_tls_key_file = {certs['key']}",
            "smtpd_tls_security_level = may"]


# --- P3 over TLS: the primary ---------------------------------------------------------------------


class TLSPrimary(postfix_peer.PostfixPeer):
    """A private Postfix on RELAY_HOST:port, the primary for partner.test: smtpd with STARTTLS (the test
    certificate), every message discarded; counts `status=sent` and the TLS connections in its log."""

    def __init__(self, base, port, certs):
        super().__init__(base, port, 0, relay_host=RELAY_HOST, domain=DOMAIN, hostname="primary.test",
                         maxproc=CONCURRENCY, listen_host=RELAY_HOST, transport="discard:primary",
                         settings=postfix_server_settings(certs) + ["smtpd_tls_loglevel = 1"])
        self.offset = 0
        self.sent = 0
        self.tls_sessions = 0
        self.partial = b""

    def read_log(self):
        """Counts the lines added to the log since the last call."""
        try:
            with open(self.log, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except OSError:
            return
        self.offset += len(chunk)
        data = self.partial + chunk
        complete, _, self.partial = data.rpartition(b"\n")
        self.sent += len(re.findall(rb"status=sent", complete))
        self.tls_sessions += len(re.findall(rb"TLS connection established from", complete))

    def wait_for(self, count, limit, start):
        """Polls until `count` were discarded or `limit` s after `start`; (seconds, received)."""
        while True:
            self.read_log()
            now = time.monotonic()
            if self.sent >= count or now - start > limit:
                return now - start, self.sent
            time.sleep(0.05)


def primary_parent(work):
    """Where the primaries live: tmpfs (/dev/shm) when there is one, else the run's directory."""
    try:
        with open("/proc/mounts") as f:
            if any(l.split()[1:3] == ["/dev/shm", "tmpfs"] for l in f):
                parent = tempfile.mkdtemp(prefix="quail-bench-primary-", dir="/dev/shm")
                os.chmod(parent, 0o711)  # the postfix user must reach the instances below it
                return parent, True
    except OSError:
        pass
    return work, False


def relay_case(peer, base, certs, messages, size, limit, remarks):
    """Primary (TLS Postfix) up: (rate or None, note, failed)."""
    primary = TLSPrimary(os.path.join(base, f"primary-{peer.relay_port}"), peer.relay_port, certs)
    try:
        primary.start()
        peer.start()
        primary.read_log()
        primary.tls_sessions = 0  # the greeting probes made none, but start from a clean count
        start = time.monotonic()
        _, status, output = run_smtp_source(RELAY_SESSIONS, messages, size, peer.port, limit)
        if status != 0 or output.strip():
            return None, f"smtp-source exited {status}: {last_lines(output)}; {peer.log_tail()}", True
        elapsed, received = primary.wait_for(messages, limit, start)
        if received < messages:
            return None, (f"{received} of {messages} at the primary after {elapsed:.0f} s; {peer.log_tail()}; "
                          f"primary: {primary.log_tail(2)}"), True
        if primary.tls_sessions == 0:
            return None, f"all {messages} at the primary in {elapsed:.2f} s, but none over TLS", True
        return messages / elapsed, (f"{messages} at the primary in {elapsed:.2f} s over "
                                    f"{primary.tls_sessions} TLS connections"), False
    except PeerError as error:
        return None, f"did not start: {error}", True
    finally:
        trouble = primary.stop()
        if trouble:
            remarks.append(f"the TLS primary on port {primary.port}: {trouble}")


# --- the part as a whole ------------------------------------------------------------------------------


def tls_part(args, work, step):
    """P6 and P3 over TLS for quail and Postfix; (rows, remarks, failed). A row: (label, quail, Postfix, unit,
    goal, note)."""
    rows, remarks, failed = [], [], False
    os.chmod(work, 0o711)  # the postfix user must reach the Postfix instances below it
    reason = postfix_peer.postfix_installed()
    if not reason and not os.access(OPENSSL, os.X_OK):
        reason = f"{OPENSSL} missing (apt-get install openssl)"
    if reason:
        return [("TLS", None, None, "", None, f"n/a: {reason}")], remarks, False
    try:
        certs = make_certificates(os.path.join(work, "tls-ca"), args.tls_key)
    except PeerError as error:
        return [("TLS", None, None, "", None, f"n/a: {error}")], remarks, True
    run = peer_runner(args, work, remarks, "tls")
    # Postfix's smtpd reads the key as root before it drops privileges; quail's servercert.pem is mode 0600.
    server_files = {"quail": {"control": {"servercert.pem": certs["combined"].rstrip("\n")}},
                    "Postfix": {"settings": postfix_server_settings(certs)}}

    messages, sessions = args.tls_messages, args.tls_sessions
    runs = {"quail": [], "Postfix": []}
    for repeat in range(args.tls_repeat):
        for kind in (["Postfix", "quail"] if repeat % 2 == 0 else ["quail", "Postfix"]):
            step(f"{kind}: P6 accept over TLS, {sessions} sessions, {messages} messages"
                 + (f" (run {repeat + 1} of {args.tls_repeat})" if args.tls_repeat > 1 else ""))
            rate, note, bad = run(kind, lambda peer: accept_case(peer, certs, args), **server_files[kind])
            runs[kind].append((rate, note))
            failed = failed or bad
    results = {kind: summarize(outcomes) for kind, outcomes in runs.items()}
    rows.append((f"P6 accept over TLS, primary down, {sessions} sessions", results["quail"][0],
                 results["Postfix"][0], "msg/s", GOALS["accept"],
                 "; ".join(f"{k}: {results[k][1]}" for k in ["quail", "Postfix"])))

    parent, on_tmpfs = primary_parent(work)
    try:
        messages = args.tls_relay_messages
        client_settings = ["smtp_tls_security_level = may", "smtp_tls_connection_reuse = yes"]
        runs = {"quail": [], "Postfix": []}
        for repeat in range(args.tls_repeat):
            for kind in (["Postfix", "quail"] if repeat % 2 == 0 else ["quail", "Postfix"]):
                step(f"{kind}: P3 relay rate to a TLS primary, smtp-source -s {RELAY_SESSIONS} -m {messages}"
                     + (f" (run {repeat + 1} of {args.tls_repeat})" if args.tls_repeat > 1 else ""))
                rate, note, bad = run(kind, lambda peer: relay_case(peer, parent, certs, messages, args.smtp_size,
                                                                    args.tls_timeout, remarks),
                                      settings=client_settings if kind == "Postfix" else ())
                runs[kind].append((rate, note))
                failed = failed or bad
        results = {kind: summarize(outcomes) for kind, outcomes in runs.items()}
        rows.append((f"P3 relay rate to a TLS primary, -s {RELAY_SESSIONS}", results["quail"][0],
                     results["Postfix"][0], "msg/s", GOALS["relay"],
                     "; ".join(f"{k}: {results[k][1]}" for k in ["quail", "Postfix"])))
        remarks.append(f"P3's primary: a private Postfix on {RELAY_HOST}, STARTTLS with the test certificate, "
                       f"discard: transport, its queue {('on tmpfs, kept in ' + parent) if on_tmpfs and args.keep else 'on tmpfs (/dev/shm)' if on_tmpfs else 'under the run directory'}")
    finally:
        if on_tmpfs and not args.keep:
            shutil.rmtree(parent, ignore_errors=True)
    return rows, remarks, failed


def print_table(rows, remarks):
    print()
    print("TLS (STARTTLS; a test CA made by openssl for this run)")
    print()
    width = max(len(r[0]) for r in rows)
    cell = lambda value: f"{value:8.0f}" if value is not None else f"{'n/a':>8}"
    print(f"| {'case'.ljust(width)} | {'unit':5} | {'quail':>8} | {'Postfix':>8} | {'quail/Postfix':>13} | {'goal':>6} | notes |")
    print(f"|{'-' * (width + 2)}|{'-' * 7}|{'-' * 9}:|{'-' * 9}:|{'-' * 14}:|{'-' * 7}:|-------|")
    for label, quail, postfix, unit, goal, note in rows:
        ratio = f"{quail / postfix:13.2f}" if quail and postfix else f"{'n/a':>13}"
        goal_text = f">= {goal}" if goal else ""
        print(f"| {label.ljust(width)} | {unit:5} | {cell(quail)} | {cell(postfix)} | {ratio} | {goal_text:>6} | {note} |")
    if remarks:
        print()
    for remark in remarks:
        print(remark)
