"""Both servers freeze what is alive when they start serving, so a full garbage collection walks only what
came after: with the whole startup heap in it, each took ~90 ms with the event loop standing still, and
those pauses were the c32 tail."""
from __future__ import annotations

import gc
import re
import weakref
from pathlib import Path

import pytest

from ethergate.serving import freeze_startup_objects
from tests.ops.servers import wait_until

FROZEN = re.compile(r"(\d+) objects alive at start left out of full garbage collections")


def test_freezing_collects_garbage_first_and_leaves_the_rest_out():
    class Cycle:
        pass

    garbage = Cycle()
    garbage.me = garbage  # only a collection can free it
    gone = weakref.ref(garbage)
    del garbage
    try:
        frozen = freeze_startup_objects()
        assert gone() is None, "garbage frozen now would stay for the life of the process"
        assert frozen == gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("kind", ["wsgi.py", "gunicorn"])
def test_each_server_freezes_its_startup_heap_before_serving(kind, gunicorn_factory, live_server_factory):
    server = gunicorn_factory(workers=1) if kind == "gunicorn" else live_server_factory()

    def frozen() -> int:
        found = FROZEN.search(Path(server.log_path).read_text(errors="replace"))
        return int(found.group(1)) if found else 0

    assert wait_until(frozen, timeout=10) > 10_000
