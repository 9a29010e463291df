"""The real mailbox process keeps a message whose sender hung up right after its end of data.

Issue 13, item 15: the killed notify's mail was on disk and in index.jsonl, yet the
restarted notify's lookup by Message-ID was told "not held" and sent it again.
"""

import socket
import time
from pathlib import Path
from uuid import uuid4

import httpx

import devstack
from tests.integration.platform.conftest import Process, Start, free_port

SENDS = 8  # on the old code every hang-up that reached the disk was answered "not held"


def _mailbox(start_process: Start, folder: Path) -> tuple[Process, int]:
    smtp_port, http_port = free_port(), free_port()
    args = ["-m", "devstack.mailbox", "--smtp-port", str(smtp_port)]
    args += ["--http-port", str(http_port), "--data-dir", str(folder)]
    return start_process(args, {}, http_port), smtp_port


def _reply(stream: socket.SocketIO) -> bytes:
    """One whole SMTP reply (the last line has a space after the code)."""
    while True:
        line = stream.readline()
        if not line or line[3:4] != b"-":
            return line


def _send_and_hang_up(smtp_port: int, message_id: str, recipient: str) -> None:
    """A sender that writes its end of data and closes before the 250 arrives."""
    sock = socket.create_connection(("127.0.0.1", smtp_port), timeout=10)
    stream = socket.SocketIO(sock, "rb")
    _reply(stream)
    for command in (b"EHLO notify.test", b"MAIL FROM:<support@portal.test>"):
        sock.sendall(command + b"\r\n")
        _reply(stream)
    sock.sendall(f"RCPT TO:<{recipient}>\r\n".encode())
    _reply(stream)
    sock.sendall(b"DATA\r\n")
    assert _reply(stream).startswith(b"354")
    headers = f"Message-ID: {message_id}\r\nTo: {recipient}\r\nSubject: Case received\r\n"
    sock.sendall(headers.encode() + b"\r\nYour case was received.\r\n.\r\n")
    sock.close()  # the end of data is out; the 250 is never read


def _held(mailbox: Process, message_id: str, recipient: str) -> bool:
    """What notify asks before sending an in-doubt mail again: is this Message-ID held?"""
    params = {"message_id": message_id, "to": recipient}
    response = httpx.get(f"{mailbox.url}/api/messages", params=params, timeout=10)
    assert response.status_code == 200
    return len(response.json()) == 1


def _on_disk(folder: Path, message_id: str) -> bool:
    return any(message_id.encode() in eml.read_bytes() for eml in folder.glob("*.eml"))


def _not_held(mailbox: Process, folder: Path, sent: list[str], recipient: str) -> list[str]:
    """Messages on disk but answered "not held", once the disk stopped changing.

    A busy disk gets up to 30 s to finish writes in progress; the new code is done in well
    under a second, the old one never lists them.
    """
    deadline, before = time.monotonic() + 30.0, None
    while True:
        stored = [m for m in sent if _on_disk(folder, m)]
        missing = [m for m in stored if not _held(mailbox, m, recipient)]
        if (not missing and stored == before) or time.monotonic() > deadline:
            assert stored, "the sink stored none of the messages; the test proves nothing"
            return missing
        before = stored
        time.sleep(0.3)


def test_a_sender_hanging_up_after_end_of_data_finds_its_mail_held(
    stack: devstack.StackSettings, start_process: Start, tmp_path: Path
) -> None:
    """Every message that reached the disk is answered "held" to a lookup by Message-ID."""
    folder = tmp_path / "mail"
    mailbox, smtp_port = _mailbox(start_process, folder)
    recipient = f"zack-{uuid4().hex[:8]}@bayside.test"
    sent = [f"<{uuid4().hex}@support-portal.local>" for _ in range(SENDS)]
    for message_id in sent:
        _send_and_hang_up(smtp_port, message_id, recipient)
    assert _not_held(mailbox, folder, sent, recipient) == []
