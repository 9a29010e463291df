"""SMTP sink storing every message durably as .eml, with a small web view (FastAPI)."""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import uvicorn
from aiosmtpd.smtp import SMTP
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, Response

from shared.docs import add_docs
from shared.http import server_config

from . import paths
from .ports import HOST, port

ID_RE = re.compile(r"^[0-9]{20}-[0-9a-f]{8}$")
INDEX_NAME = "index.jsonl"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def _part_text(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else None
    return content if isinstance(content, str) else None


class MailStore:
    """Messages on disk: ``<id>.eml`` files plus a JSON-lines index, written durably."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.index = folder / INDEX_NAME
        # Held by the worker thread that writes, not by the handler awaiting it: a sender that
        # hangs up cancels its handler, never the write nor the in-memory entry that goes with it.
        self._lock = threading.Lock()
        self._entries = self._load()  # oldest first; the listing never rereads the disk

    def _load(self) -> list[dict[str, Any]]:
        """The index entries whose message is on disk (a torn last line is skipped)."""
        try:
            lines = self.index.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        stored = {eml.stem for eml in self.folder.glob("*.eml")}
        entries: list[dict[str, Any]] = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a torn last line after a crash
            if isinstance(entry, dict) and entry.get("id") in stored:
                entries.append(entry)
        return entries

    def _store(self, raw: bytes, entry: dict[str, Any]) -> None:
        """Write the message and its index line, then list it: one step, in one thread."""
        with self._lock:
            self._write(entry["id"], raw, entry)
            self._entries.append(entry)

    def _write(self, message_id: str, raw: bytes, entry: dict[str, Any]) -> None:
        target = self.folder / f"{message_id}.eml"
        tmp = self.folder / f".{message_id}.eml.tmp"
        with tmp.open("wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(target)
        _fsync_dir(self.folder)
        with self.index.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    async def add(self, raw: bytes, mail_from: str, rcpt_tos: Sequence[str]) -> dict[str, Any]:
        """Store one message; returns its index entry once it is on disk (fsynced) and listed.

        A cancelled caller (the sender hung up after its end of data) does not stop the
        store: the shielded thread step still runs and does both the write and the listing,
        so a lookup by Message-ID finds every message that reached the disk.
        """
        headers = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
        entry: dict[str, Any] = {
            "id": f"{time.time_ns():020d}-{secrets.token_hex(4)}",
            "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "mail_from": mail_from,
            "rcpt_tos": list(rcpt_tos),
            "subject": str(headers.get("subject", "")).strip(),
            "message_id": str(headers.get("message-id", "")),
        }
        await asyncio.shield(asyncio.to_thread(self._store, raw, entry))
        return entry

    def count(self) -> int:
        """How many messages are stored."""
        return len(self._entries)

    def entries(self, to: str | None = None, message_id: str | None = None) -> list[dict[str, Any]]:
        """Index entries, newest first, optionally only those addressed to ``to`` and only
        those whose Message-ID header is ``message_id`` (what a sender asks to learn whether
        a mail it may have sent before was stored)."""
        wanted = to.strip().lower() if to else None
        result = [
            entry
            for entry in self._entries
            if (not wanted or wanted in [r.lower() for r in entry.get("rcpt_tos", [])])
            and (not message_id or entry.get("message_id") == message_id.strip())
        ]
        result.reverse()
        return result

    def raw(self, message_id: str) -> bytes:
        """The message exactly as received; HTTP 404 if unknown."""
        if not ID_RE.match(message_id):
            raise HTTPException(status_code=404, detail="no such message")
        try:
            return (self.folder / f"{message_id}.eml").read_bytes()
        except FileNotFoundError:
            raise HTTPException(status_code=404, detail="no such message") from None

    def detail(self, message_id: str) -> dict[str, Any]:
        """Index entry plus headers, text and html parts and the raw source."""
        raw = self.raw(message_id)
        message = _parse(raw)
        entry = next((e for e in self.entries() if e.get("id") == message_id), {})
        attachments = [
            {
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "size": len(part.get_payload(decode=True) or b""),
            }
            for part in message.iter_attachments()
        ]
        return {
            **entry,
            "id": message_id,
            "headers": [{"name": k, "value": str(v)} for k, v in message.items()],
            "subject": str(message.get("subject", "")).strip(),
            "from": str(message.get("from", "")),
            "to": str(message.get("to", "")),
            "date": str(message.get("date", "")),
            "text": _part_text(message, "plain"),
            "html": _part_text(message, "html"),
            "attachments": attachments,
            "raw": raw.decode("utf-8", errors="replace"),
        }

    async def clear(self) -> int:
        """Delete every message; returns how many were removed."""
        return await asyncio.to_thread(self._clear)

    def _clear(self) -> int:
        with self._lock:
            self._entries = []
            return self._remove_all()

    def _remove_all(self) -> int:
        with self.index.open("w", encoding="utf-8") as fh:
            fh.flush()
            os.fsync(fh.fileno())
        removed = 0
        for eml in self.folder.glob("*.eml"):
            eml.unlink(missing_ok=True)
            removed += 1
        _fsync_dir(self.folder)
        return removed


class SinkHandler:
    """aiosmtpd handler: accept any recipient, persist DATA before replying 250."""

    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="surrogateescape")
        try:
            entry = await self.store.add(raw, envelope.mail_from or "", envelope.rcpt_tos)
        except OSError as exc:
            return f"451 Requested action aborted: could not store message ({exc})"
        return f"250 Message accepted for delivery (id {entry['id']})"


PAGE_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
    "table{border-collapse:collapse;width:100%}"
    "td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}"
    "pre{white-space:pre-wrap;background:#f6f6f6;padding:1rem}"
)


def _page(title: str, body: str) -> HTMLResponse:
    document = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    return HTMLResponse(document)


def create_app(store: MailStore, smtp_port: int) -> FastAPI:
    """The mailbox web view and JSON API."""
    app = FastAPI(title="devstack mailbox", version="1.0.0")
    add_docs(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "smtp_port": smtp_port, "messages": store.count()}

    @app.get("/api/messages")
    async def list_messages(
        to: str | None = Query(default=None), message_id: str | None = Query(default=None)
    ) -> list[dict[str, Any]]:
        return store.entries(to, message_id)

    @app.delete("/api/messages")
    async def clear_messages() -> dict[str, int]:
        return {"deleted": await store.clear()}

    @app.get("/api/messages/{message_id}")
    async def get_message(message_id: str) -> dict[str, Any]:
        return store.detail(message_id)

    @app.get("/api/messages/{message_id}/raw")
    async def get_raw(message_id: str) -> Response:
        return Response(store.raw(message_id), media_type="message/rfc822")

    @app.get("/", response_class=HTMLResponse)
    async def index(to: str | None = Query(default=None)) -> HTMLResponse:
        entries = store.entries(to)
        rows = "".join(
            "<tr>"
            f"<td>{html.escape(str(e.get('received_at', '')))}</td>"
            f"<td>{html.escape(str(e.get('mail_from', '')))}</td>"
            f"<td>{html.escape(', '.join(e.get('rcpt_tos', [])))}</td>"
            f"<td><a href='/messages/{html.escape(str(e.get('id', '')), quote=True)}'>"
            f"{html.escape(str(e.get('subject') or '(no subject)'))}</a></td>"
            "</tr>"
            for e in entries
        )
        body = (
            f"<h1>Mailbox</h1><p>{len(entries)} message(s) received on SMTP port "
            f"{smtp_port}. JSON: <a href='/api/messages'>/api/messages</a></p>"
            "<table><thead><tr><th>Received</th><th>From</th><th>To</th><th>Subject</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
        return _page("Mailbox", body)

    @app.get("/messages/{message_id}", response_class=HTMLResponse)
    async def message_page(message_id: str) -> HTMLResponse:
        d = store.detail(message_id)
        esc_id = html.escape(message_id, quote=True)
        headers = "".join(
            f"<tr><th>{html.escape(h['name'])}</th><td>{html.escape(h['value'])}</td></tr>"
            for h in d["headers"]
        )
        text = html.escape(d["text"]) if d["text"] is not None else "(no text part)"
        html_src = html.escape(d["html"]) if d["html"] is not None else "(no html part)"
        body = (
            f"<p><a href='/'>&larr; all messages</a> | <a href='/api/messages/{esc_id}'>json</a>"
            f" | <a href='/api/messages/{esc_id}/raw'>raw</a></p>"
            f"<h1>{html.escape(d['subject'] or '(no subject)')}</h1>"
            f"<table>{headers}</table><h2>Text</h2><pre>{text}</pre>"
            f"<h2>HTML source</h2><pre>{html_src}</pre>"
        )
        return _page(d["subject"] or message_id, body)

    return app


async def serve(host: str, smtp_port: int, http_port: int, folder: Path) -> None:
    """Run the SMTP sink and the web view in one event loop until SIGTERM/SIGINT."""
    store = MailStore(folder)
    handler = SinkHandler(store)
    loop = asyncio.get_running_loop()
    smtp_server = await loop.create_server(
        lambda: SMTP(handler, hostname="devstack-mailbox", ident="devstack mailbox"),
        host=host,
        port=smtp_port,
    )
    config = server_config(  # the services' headers and request limits
        create_app(store, smtp_port),
        host=host,
        port=http_port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    web = uvicorn.Server(config)
    print(
        f"mailbox: SMTP on {host}:{smtp_port}, web on http://{host}:{http_port}/, "
        f"storing in {folder}",
        flush=True,
    )
    try:
        await web.serve()  # returns on SIGTERM / SIGINT
    finally:
        smtp_server.close()
        await smtp_server.wait_closed()
    if not web.started:
        raise SystemExit(f"mailbox: could not serve HTTP on {host}:{http_port}")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m devstack.mailbox``."""
    parser = argparse.ArgumentParser(prog="python -m devstack.mailbox", description=__doc__)
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--smtp-port", type=int, default=port("SMTP_PORT"))
    parser.add_argument("--http-port", type=int, default=port("MAILBOX_PORT"))
    parser.add_argument("--data-dir", type=Path, default=paths.data_dir("mail"))
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.smtp_port, args.http_port, args.data_dir))


if __name__ == "__main__":
    main()
