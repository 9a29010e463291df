"""The local mail sink's store: listing filters and what survives a restart."""

import asyncio
from pathlib import Path

from devstack.mailbox import MailStore


def _raw(message_id: str, to: str) -> bytes:
    return f"Message-ID: {message_id}\r\nTo: {to}\r\nSubject: hi\r\n\r\nbody\r\n".encode()


async def test_lists_newest_first_filtered_by_recipient_and_message_id(tmp_path: Path) -> None:
    store = MailStore(tmp_path)
    await store.add(_raw("<1@x>", "ann@x"), "s@x", ["ann@x"])
    await store.add(_raw("<2@x>", "bob@x"), "s@x", ["Bob@x"])
    await store.add(_raw("<3@x>", "ann@x"), "s@x", ["ann@x"])
    assert [e["message_id"] for e in store.entries()] == ["<3@x>", "<2@x>", "<1@x>"]
    assert [e["message_id"] for e in store.entries(to="bob@x")] == ["<2@x>"]
    assert [e["message_id"] for e in store.entries(message_id="<1@x>")] == ["<1@x>"]
    assert store.entries(to="bob@x", message_id="<1@x>") == []


async def test_a_restart_keeps_stored_messages_and_skips_a_torn_line(tmp_path: Path) -> None:
    store = MailStore(tmp_path)
    entry = await store.add(_raw("<1@x>", "ann@x"), "s@x", ["ann@x"])
    with store.index.open("a", encoding="utf-8") as fh:
        fh.write('{"id": "torn')
    again = MailStore(tmp_path)
    assert again.entries() == [entry]
    assert (await again.clear(), again.entries(), MailStore(tmp_path).entries()) == (1, [], [])


async def test_a_cancelled_add_still_lists_what_it_wrote(tmp_path: Path) -> None:
    """A sender hanging up mid-store cancels the handler, never the listing of the message."""
    store = MailStore(tmp_path)
    task = asyncio.create_task(store.add(_raw("<1@x>", "ann@x"), "s@x", ["ann@x"]))
    await asyncio.sleep(0)  # the write has started in its thread
    task.cancel()
    for _ in range(600):  # the thread finishes by itself; a busy disk gets up to 30 s
        if store.count():
            break
        await asyncio.sleep(0.05)
    assert [e["message_id"] for e in store.entries(message_id="<1@x>")] == ["<1@x>"]
    assert MailStore(tmp_path).entries() == store.entries()
