"""What scripts/bench's parts share: quail's queue layout and reading a log that may not exist yet."""

import os
import signal
import subprocess

SPLIT = 23  # QueueLayout.split


def make_queue(queue):
    """An empty queue as QueueLayout.create() lays it out: tmp, todo, lock with its FIFOs, mess/H and state/H."""
    for d in ["", "tmp", "todo", "lock", "mess", "state"]:
        os.makedirs(os.path.join(queue, d), mode=0o700, exist_ok=True)
    for bucket in range(SPLIT):
        os.makedirs(os.path.join(queue, "mess", str(bucket)), mode=0o700)
        os.makedirs(os.path.join(queue, "state", str(bucket)), mode=0o700)
    for fifo in ["trigger", "control"]:
        os.mkfifo(os.path.join(queue, "lock", fifo), 0o600)


def read_text(path):
    """The file's text ("" when it cannot be read), undecodable bytes replaced."""
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def stop(process, grace=45):
    """SIGTERM, then SIGKILL after `grace` seconds; None, or what went wrong."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return f"did not exit within {grace} s of SIGTERM (killed)"
    return None
