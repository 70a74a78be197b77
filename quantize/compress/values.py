"""Value parsers shared by compress's options and a recipe's inputs: each takes what the command line gives (a string,
or a list of strings for options that take several) or what a recipe file gives (TOML's own types), and returns the
typed value or raises ``EdgeOCRError`` naming the option."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from edge_ocr.errors import EdgeOCRError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _bad(option: str, value: Any, why: str) -> EdgeOCRError:
    return EdgeOCRError(f"{option}: {value!r} {why}")


def text(choices: tuple[str, ...] | None = None) -> Callable[[str, Any], str]:
    def parse(option: str, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise _bad(option, value, "is not a non-empty string")
        if choices and value not in choices:
            raise _bad(option, value, f"is not one of {', '.join(choices)}")
        return value
    parse.choices = choices  # type: ignore[attr-defined]  # shown in --help
    return parse


def integer(low: int | None = 1) -> Callable[[str, Any], int]:
    def parse(option: str, value: Any) -> int:
        if isinstance(value, bool):
            raise _bad(option, value, "is not an integer")
        try:
            number = int(value) if isinstance(value, (int, str)) else None
        except ValueError:
            number = None
        if number is None:
            raise _bad(option, value, "is not an integer")
        if low is not None and number < low:
            raise _bad(option, value, f"must be at least {low}")
        return number
    return parse


def number(low: float | None = None, high: float | None = None, high_open: bool = False) -> Callable[[str, Any], float]:
    def parse(option: str, value: Any) -> float:
        if isinstance(value, bool):
            raise _bad(option, value, "is not a number")
        try:
            result = float(value)
        except (TypeError, ValueError):
            raise _bad(option, value, "is not a number") from None
        if result != result or result in (float("inf"), float("-inf")):
            raise _bad(option, value, "is not a finite number")
        if low is not None and result < low:
            raise _bad(option, value, f"must be at least {low}")
        if high is not None and (result >= high if high_open else result > high):
            raise _bad(option, value, f"must be {'below' if high_open else 'at most'} {high}")
        return result
    return parse


def flag(option: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _bad(option, value, "is not true or false")


def strings(item: Callable[[str, Any], Any] = text()) -> Callable[[str, Any], list]:
    """A list; on the command line also comma-separated items (``--calib-det a.txt,b.txt``)."""
    def parse(option: str, value: Any) -> list:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list):
            raise _bad(option, value, "is not a list")
        return [item(option, part) for entry in values for part in
                (entry.split(",") if isinstance(entry, str) and option in ("--calib-det", "--calib-rec") else [entry])
                if part != ""]
    return parse


def role_map(roles: tuple[str, ...], item: Callable[[str, Any], Any]) -> Callable[[str, Any], dict]:
    """``ROLE=VALUE`` items (command line) or a table ``{ROLE = VALUE}`` (recipe)."""
    def parse(option: str, value: Any) -> dict:
        if isinstance(value, dict):
            pairs = list(value.items())
        else:
            pairs = []
            for entry in [value] if isinstance(value, str) else value:
                role, sep, rest = str(entry).partition("=")
                if not sep or not rest:
                    raise _bad(option, entry, f"is not ROLE=VALUE with ROLE {' or '.join(roles)}")
                pairs.append((role, rest))
        result = {}
        for role, raw in pairs:
            if role not in roles:
                raise _bad(option, f"{role}={raw}", f"names no role: ROLE is {' or '.join(roles)}")
            result[role] = item(f"{option} {role}", raw)
        return result
    return parse


def optional(parse: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    return lambda option, value: None if value is None or value == "" else parse(option, value)
