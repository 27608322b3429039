"""Split a SQL script into statements, so migrations can run them one by one.

asyncpg prepares every statement, and a prepared statement holds exactly one command. The
split respects `$$`-quoted function bodies and `--` comments; that covers our own scripts.
"""

from __future__ import annotations


def split_statements(script: str) -> list[str]:
    statements: list[str] = []
    current: list[str] = []
    in_dollar = False
    i = 0
    while i < len(script):
        if not in_dollar and script.startswith("--", i):
            end = script.find("\n", i)
            i = len(script) if end == -1 else end + 1
            current.append("\n")
            continue
        if script.startswith("$$", i):
            in_dollar = not in_dollar
            current.append("$$")
            i += 2
            continue
        ch = script[i]
        if ch == ";" and not in_dollar:
            stmt = "".join(current).strip()
            if stmt:
                statements.append(stmt)
            current = []
        else:
            current.append(ch)
        i += 1
    tail = "".join(current).strip()
    if tail:
        statements.append(tail)
    return statements
