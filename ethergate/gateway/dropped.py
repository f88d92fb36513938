"""The names of request fields a surface deliberately did not send upstream, reported back to the client.

They end up in a response header (X-Dropped-Params), and some come from the client's own JSON keys, so each
name is reduced to a safe, short token: a key holding a comma or a newline must not split or forge headers.
"""
from __future__ import annotations

import re

UNSAFE = re.compile(r"[^A-Za-z0-9_.:\-]")
MAX_NAME = 80


class Dropped(list):
    """Each name once, in the order first dropped."""

    def add(self, name: str) -> None:
        name = UNSAFE.sub("_", str(name))[:MAX_NAME]
        if name not in self:
            self.append(name)
