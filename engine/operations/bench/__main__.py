"""`python -m engine.operations.bench ROLE`: a child process of the launch and conflicts
benches; its spec comes as the first line of input."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from engine.operations.bench.common import Parent
from engine.operations.bench.conflicts import signoff_child
from engine.operations.bench.launch import launch_child

_CHILD_ROLES: dict[str, Callable[[dict[str, Any], Parent], Awaitable[None]]] = {
    "launch": launch_child,
    "signoff": signoff_child,
}


def _child_main(argv: list[str]) -> int:
    """`python -m engine.operations.bench ROLE`: the spec comes as the first line of input."""
    if len(argv) != 1 or argv[0] not in _CHILD_ROLES:
        roles = ",".join(_CHILD_ROLES)
        print(f"usage: python -m engine.operations.bench {{{roles}}}", file=sys.stderr)
        return 2
    parent = Parent()

    async def main() -> int:
        spec = await parent.hear()
        try:
            await _CHILD_ROLES[argv[0]](spec, parent)
        except Exception as exc:
            parent.say({"failed": f"{type(exc).__name__}: {exc}"})
            raise
        return 0

    return asyncio.run(main())

if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
