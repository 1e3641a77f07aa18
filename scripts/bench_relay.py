"""scripts/bench's relay part: quail and Postfix, each a backup MX for partner.test, handing mail
to its primary, Postfix's smtp-sink on 127.0.0.2 (which counts what it receives and keeps nothing).

Two figures for quail and Postfix in the same run, each run in a fresh instance
(the same QuailPeer and PostfixPeer as the SMTP part, bench_smtp.py):

  relay rate (primary up): smtp-sink listens; `smtp-source -s 20 -m N -l 4096` into the
      backup; timed from smtp-source's start until smtp-sink has received all N.
      --relay-repeat runs each (default 3), the order swapped each time; the median is shown.
  drain (primary returns): nothing listens on the primary's port; the same load is
      queued; the primary stays down for OUTAGE more seconds, so every message has
      failed or been held back; then smtp-sink starts, and the time from that instant
      until it has received all N is the drain time. No flush, no signal, no new mail:
      what each MTA does by itself. Stopped at LIMIT seconds (default 600, the
      issue's "what Postfix does within 10 minutes"), with the count received so far.
      quail runs it twice: with its defaults (probeinterval 30), and with probeinterval 10.

smtp-sink's -c counters (`mesg=N` once per "."), read from its output, say what arrived.
Loopback only; every wait is bounded; everything started is stopped.
"""

import os
import re
import subprocess
import time

import postfix_peer
from bench_smtp import (CONCURRENCY, RELAY_HOST, SMTP_SINK, kill_group, last_lines, peer_runner, read_text,
                        run_smtp_source, settled_count, summarize)
from postfix_peer import PeerError, wait_for_greeting

SESSIONS = 20
TUNED_PROBE = 10  # the drain's second quail row: control/probeinterval


class Sink:
    """smtp-sink on RELAY_HOST:port, counting delivered messages."""

    def __init__(self, work, port):
        self.port = port
        self.log = os.path.join(work, f"smtp-sink-{port}.out")
        self.process = None

    def start(self, timeout=10):
        with open(self.log, "wb") as f:
            self.process = subprocess.Popen([SMTP_SINK, "-c", "-u", "nobody", f"{RELAY_HOST}:{self.port}",
                                             str(CONCURRENCY)],
                                            stdin=subprocess.DEVNULL, stdout=f, stderr=f, start_new_session=True)
        greeting = wait_for_greeting(RELAY_HOST, self.port, timeout)
        if not greeting.startswith("220"):
            raise PeerError(f"smtp-sink did not greet on {RELAY_HOST}:{self.port} ({greeting}; "
                            f"{last_lines(read_text(self.log))})")

    def received(self):
        """Messages received so far ("." seen), less the greeting probe's none."""
        counts = re.findall(r"mesg=(\d+)", read_text(self.log))
        return int(counts[-1]) if counts else 0

    def wait_for(self, count, limit, start):
        """Polls until `count` arrived or `limit` seconds after `start` passed; (seconds, received).
        `self.first` is then the seconds from `start` to the first arrival, or None."""
        self.first = None
        while True:
            received = self.received()
            now = time.monotonic()
            if received and self.first is None:
                self.first = now - start
            if received >= count or now - start > limit:
                return now - start, received
            time.sleep(0.05)

    def stop(self):
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        kill_group(self.process.pid)
        self.process.wait()
        self.process = None


def relay_rate_case(peer, work, messages, size, limit):
    """Primary up: (rate or None, note, failed)."""
    sink = Sink(work, peer.relay_port)
    try:
        sink.start()
        peer.start()
        start = time.monotonic()
        _, status, output = run_smtp_source(SESSIONS, messages, size, peer.port, limit)
        if status != 0 or output.strip():
            return None, f"smtp-source exited {status}: {last_lines(output)}; {peer.log_tail()}", True
        elapsed, received = sink.wait_for(messages, limit, start)
        if received < messages:
            return None, f"{received} of {messages} at the primary after {elapsed:.0f} s; {peer.log_tail()}", True
        return messages / elapsed, f"{messages} at the primary in {elapsed:.2f} s", False
    except PeerError as error:
        return None, f"did not start: {error}", True
    finally:
        sink.stop()


def drain_case(peer, work, messages, size, outage, limit, queue_timeout):
    """Primary down while the load is queued and for `outage` s more; then up: (seconds or None, note, failed).
    Seconds are negative (-limit) when not everything arrived within the limit."""
    sink = Sink(work, peer.relay_port)
    try:
        peer.start()
        elapsed, status, output = run_smtp_source(SESSIONS, messages, size, peer.port, queue_timeout)
        if status != 0 or output.strip():
            return None, f"smtp-source exited {status}: {last_lines(output)}; {peer.log_tail()}", True
        queued, detail = settled_count(peer, messages)
        if queued != messages:
            return None, f"{queued} of {messages} queued ({detail})", True
        time.sleep(outage)  # the outage itself is the scenario, not a wait for a condition
        queued, detail = peer.queued()
        if queued != messages:
            return None, f"{queued} of {messages} still queued after the outage ({detail}): mail went elsewhere", True
        sink.start()
        returned = time.monotonic()
        seconds, received = sink.wait_for(messages, limit, returned)
        note = f"queued in {elapsed:.1f} s, primary down {outage:.0f} s more"
        if sink.first is not None:
            note += f"; first message at the primary after {sink.first:.1f} s"
        if received < messages:
            # Unfinished at the limit: the limit is a lower bound on the drain time, shown as "> LIMIT".
            return -limit, f"{note}; only {received} of {messages} at the primary {limit:.0f} s after its return", False
        return seconds, f"{note}; all {messages} at the primary {seconds:.1f} s after its return", False
    except PeerError as error:
        return None, f"did not start: {error}", True
    finally:
        sink.stop()


def relay_part(args, work, step):
    """Runs the relay rate and the drain for quail and Postfix; (rows, remarks, failed).
    A row: (label, quail, Postfix, unit, note); the ratio column is quail/Postfix for a
    rate and Postfix/quail for a time, so that > 1 means quail is better in both."""
    rows, remarks, failed = [], [], False
    os.chmod(work, 0o711)  # the postfix user must reach the Postfix instance below it
    reason = postfix_peer.postfix_installed()
    if reason:
        return [("relay", None, None, "", f"n/a: {reason}")], remarks, False
    run = peer_runner(args, work, remarks, "relay")

    messages, size = args.relay_messages, args.smtp_size
    runs = {"quail": [], "Postfix": []}
    # Each case removes the messages it delivered, and on ext4 without a journal every file created in the next
    # minutes pays for those removals (docs/BENCHMARKS.md), so every case but the very first is taxed by the one
    # before it. Postfix takes that first place; after it the order swaps each run (P Q, Q P, P Q), so that a
    # change in the machine's load falls on both, and the median is a taxed run for each.
    for repeat in range(args.relay_repeat):
        order = ["Postfix", "quail"] if repeat % 2 == 0 else ["quail", "Postfix"]
        for kind in order:
            step(f"{kind}: relay rate, primary up, smtp-source -s {SESSIONS} -m {messages} -l {size}"
                 + (f" (run {repeat + 1} of {args.relay_repeat})" if args.relay_repeat > 1 else ""))
            rate, note, bad = run(kind, lambda peer: relay_rate_case(peer, work, messages, size, args.relay_limit))
            runs[kind].append((rate, note))
            failed = failed or bad
    results = {kind: summarize(outcomes) for kind, outcomes in runs.items()}
    rows.append((f"relay rate, primary up, -s {SESSIONS}", results["quail"][0], results["Postfix"][0], "msg/s",
                 "; ".join(f"{k}: {results[k][1]}" for k in ["quail", "Postfix"])))

    results = {}
    for kind in ["quail", "Postfix"]:
        step(f"{kind}: drain of {messages} held messages after the primary returns "
             f"(outage {args.outage:.0f} s after queueing, limit {args.drain_limit:.0f} s)")
        seconds, note, bad = run(kind, lambda peer: drain_case(peer, work, messages, size, args.outage,
                                                               args.drain_limit, args.smtp_timeout))
        results[kind] = (seconds, note)
        failed = failed or bad
    rows.append(("drain after the primary returns", results["quail"][0], results["Postfix"][0], "s",
                 "; ".join(f"{k}: {v[1]}" for k, v in results.items())))
    # The default probeinterval (30 s) bounds how long quail takes to notice the primary is back; an admin who
    # wants it sooner sets a shorter one. Postfix's figure above is its default too.
    step(f"quail, probeinterval {TUNED_PROBE}: drain of {messages} held messages after the primary returns")
    seconds, note, bad = run("quail", lambda peer: drain_case(peer, work, messages, size, args.outage,
                                                             args.drain_limit, args.smtp_timeout),
                             {"probeinterval": str(TUNED_PROBE)})
    failed = failed or bad
    rows.append((f"drain, quail with probeinterval {TUNED_PROBE}", seconds, results["Postfix"][0], "s",
                 f"quail: {note}; Postfix: as above"))
    return rows, remarks, failed


def print_table(rows, remarks):
    print()
    print("Relay to the primary (smtp-sink on 127.0.0.2)")
    print()
    width = max(len(r[0]) for r in rows)

    def cell(value):
        if value is None:
            return f"{'n/a':>8}"
        return f"{value:8.1f}" if value >= 0 else f"{'> ' + format(-value, '.0f'):>8}"

    print(f"| {'case'.ljust(width)} | {'unit':5} | {'quail':>8} | {'Postfix':>8} | {'quail better by':>15} | notes |")
    print(f"|{'-' * (width + 2)}|{'-' * 7}|{'-' * 9}:|{'-' * 9}:|{'-' * 16}:|-------|")
    for label, quail, postfix, unit, note in rows:
        if quail and postfix and quail > 0:
            better = quail / postfix if unit != "s" else abs(postfix) / quail
            ratio = f"{'> ' if postfix < 0 else ''}{better:.2f}x".rjust(15)
        else:
            ratio = f"{'n/a':>15}"
        print(f"| {label.ljust(width)} | {unit:5} | {cell(quail)} | {cell(postfix)} | {ratio} | {note} |")
    if remarks:
        print()
    for remark in remarks:
        print(remark)
