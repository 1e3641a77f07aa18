"""The crash suite's primary MX (scripts/torture): a small SMTP server that stores every message it accepts.

    python3 torture_primary.py HOST PORT DIRECTORY

Prints "ready" once it listens. For each DATA it reads to the final CRLF "." CRLF, it writes
DIRECTORY/PID-N.msg: one JSON line (envelope sender, recipients, whether any line of the DATA
ended in a bare LF or had a bare CR) followed by the DATA bytes exactly as received, dot-unstuffed,
CRLFs kept. The file is written under a temporary name and renamed into place before the 250 goes
out, so a stored file is always whole and a message this server acknowledged is always stored. A
connection that ends before the final "." stores nothing. The torture kills this process with SIGKILL
to take the primary down (open sessions die with it) and starts a new one to bring it back.
"""

import asyncio
import itertools
import json
import os
import sys

HOST, PORT, DIRECTORY = sys.argv[1], int(sys.argv[2]), sys.argv[3]
NAME = "primary.torture.test"
counter = itertools.count(1)


def store(sender, recipients, data, bad_line_ends):
    stem = os.path.join(DIRECTORY, f"{os.getpid()}-{next(counter)}")
    head = json.dumps({"from": sender, "to": recipients, "bad_line_ends": bad_line_ends}).encode() + b"\n"
    with open(stem + ".tmp", "wb") as f:
        f.write(head + data)
    os.rename(stem + ".tmp", stem + ".msg")


def path_of(argument):
    """The address inside <...> of a MAIL FROM / RCPT TO argument."""
    start, end = argument.find("<"), argument.find(">")
    return argument[start + 1:end] if 0 <= start < end else argument.strip()


async def session(reader, writer):
    async def reply(text):
        writer.write(text.encode() + b"\r\n")
        await writer.drain()

    sender, recipients = None, []
    try:
        await reply(f"220 {NAME} ESMTP torture primary")
        while True:
            line = await reader.readline()
            if not line:
                return
            command = line.decode("latin-1").rstrip("\r\n")
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                sender, recipients = None, []
                await reply(f"250-{NAME}\r\n250 8BITMIME" if verb == "EHLO" else f"250 {NAME}")
            elif verb == "MAIL":
                sender, recipients = path_of(command[10:]), []
                await reply("250 2.1.0 ok")
            elif verb == "RCPT":
                if sender is None:
                    await reply("503 5.5.1 MAIL first")
                    continue
                recipients.append(path_of(command[8:]))
                await reply("250 2.1.5 ok")
            elif verb == "DATA":
                if not recipients:
                    await reply("503 5.5.1 RCPT first")
                    continue
                await reply("354 go ahead")
                chunks, bad = [], False
                while True:
                    data_line = await reader.readline()
                    if not data_line:
                        return  # the sender went away in DATA: nothing is stored
                    if data_line == b".\r\n":
                        break
                    if not data_line.endswith(b"\r\n") or b"\r" in data_line[:-2]:
                        bad = True
                    chunks.append(data_line[1:] if data_line.startswith(b".") else data_line)
                store(sender, recipients, b"".join(chunks), bad)
                sender, recipients = None, []
                await reply("250 2.0.0 stored")
            elif verb == "RSET":
                sender, recipients = None, []
                await reply("250 2.0.0 ok")
            elif verb == "NOOP":
                await reply("250 2.0.0 ok")
            elif verb == "QUIT":
                await reply("221 2.0.0 bye")
                return
            else:
                await reply("502 5.5.2 not implemented")
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        return
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(session, HOST, PORT, reuse_address=True, limit=1 << 20)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
