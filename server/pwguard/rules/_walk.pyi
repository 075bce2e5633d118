from typing import Any

def index(
    root: Any,
) -> (
    tuple[
        list[Any],
        list[str],
        list[tuple[str, ...]],
        list[tuple[str | None, str | None, str | None]],
        list[str],
    ]
    | None
): ...
