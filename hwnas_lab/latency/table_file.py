"""Latency-table files: the JSON format, reading that checks every field, saving that merges.

A table file is JSON (``FORMAT``)::

    {"format": "hwnas-lut/1", "target": "torch-1thread", "space": SearchSpace.to_dict(),
     "meta": {"protocol": {"repeats": 15, "warmup": 5, "batch": 1, "threads": 1, ...},
              "machine": {"cpu": ..., "torch": ..., "date": ...}, "build_s": 12.3},
     "entries": {"mbconv-cin24-cout40-k5-e4-s2-in16": {"median_ms": 0.41, "iqr_ms": 0.02}}}

One file, one protocol: ``meta.protocol`` says how every entry in it was measured (the
protocol of Cai et al.'s tables, ProxylessNAS, ICLR 2019: one median per operator, here
with its IQR). A re-measurement with another protocol is built in a file beside it and
replaces it only when complete (``hwnas_lab.latency.lut.get_lut``).

Reading (``read_table``) checks what a hand edit can break (a latency that is NaN,
negative or not a number, a missing or malformed space, ``meta`` fields of the wrong
type); each ``ValueError`` names the file, the key and the fix.

Saving (``save_merged``) never loses an entry: under a lock beside the file
(``config.file_lock``) it re-reads the file, takes in every entry of the same table
(space, target and protocol) that this process lacks, and replaces the file atomically
(``config.atomic_path``). Two builds of one table (a terminal beside notebook 01) end
with the union of what both measured, whichever saves last.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import atomic_path, check_int, file_lock
from ..space import SearchSpace

FORMAT = "hwnas-lut/1"
DEFAULT_PROTOCOL = {"repeats": 15, "warmup": 5, "batch": 1}  # of a new table unless asked
PROTOCOL_MINIMUM = {"repeats": 1, "warmup": 0, "batch": 1}  # the smallest sensible value of each
BUILD = "python -m hwnas_lab lut build"


def write_json(path: Path, data: dict) -> None:
    """JSON to ``path``, atomically (``config.atomic_path``) and flushed to disk first."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())


def check_latency(value: object, where: str) -> float:
    """``value`` as a float if it is a finite number of milliseconds > 0, else a ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0 < value < math.inf:
        raise ValueError(f"{where} = {value!r} is not a latency: expected a finite number of "
                         "milliseconds > 0")
    return float(value)


def check_protocol(protocol: dict, where: str = "protocol") -> dict[str, int]:
    """The ``repeats``, ``warmup`` and ``batch`` of ``protocol`` (defaults for absent ones)."""
    return {key: check_int(f"{where}.{key}", protocol.get(key, default), PROTOCOL_MINIMUM[key])
            for key, default in DEFAULT_PROTOCOL.items()}


def protocol_text(protocol: dict) -> str:
    return ", ".join(f"{k}={protocol[k]}" for k in DEFAULT_PROTOCOL)


@dataclass
class TableFile:
    """What a table file holds, checked."""

    space: SearchSpace
    target: str
    entries: dict[str, float] = field(default_factory=dict)  # signature -> median ms
    iqr_ms: dict[str, float] = field(default_factory=dict)  # signature -> IQR ms
    meta: dict = field(default_factory=dict)


def parse_table(data: object, path: Path | str) -> TableFile:
    """Check the decoded JSON of a table file; ``ValueError`` naming ``path`` and the key."""
    def bad(key: str, problem: str, fix: str = "") -> ValueError:
        return ValueError(f"{path} is not a valid latency table: {key} {problem}; "
                          + (fix or f"delete the file and rebuild it with "
                                    f"`{BUILD} --table {path}`"))

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise bad("format", f"is {found!r}, not {FORMAT!r}")
    for key in ("target", "space", "meta", "entries"):
        if key not in data:
            raise bad(f"key {key!r}", "is missing")
    if not isinstance(data["target"], str) or not data["target"]:
        raise bad("'target'", f"= {data['target']!r} is not a target name such as 'torch-1thread'")
    try:
        space = SearchSpace.from_dict(data["space"])
    except ValueError as err:
        raise bad("'space'", f"is not a search space ({err})") from None
    meta = data["meta"]
    if not isinstance(meta, dict):
        raise bad("'meta'", f"= {meta!r:.80} is not an object")
    for key in ("machine", "protocol"):
        if key in meta and not isinstance(meta[key], dict):
            raise bad(f"meta.{key}", f"= {meta[key]!r:.80} is not an object (e.g. "
                      + ('{"cpu": ..., "torch": ...})' if key == "machine" else
                         '{"repeats": 15, "warmup": 5, "batch": 1})'))
    build_s = meta.get("build_s", 0.0)
    if isinstance(build_s, bool) or not isinstance(build_s, (int, float)):
        raise bad("meta.build_s", f"= {meta['build_s']!r:.80} is not a number of seconds")
    rebuild = (f"delete it, or re-measure it with `{BUILD} --space {space.name} --target "
               f"{data['target']} --table {path} --force`")
    try:
        check_protocol(meta.get("protocol", {}), "meta.protocol")
    except ValueError as err:
        raise ValueError(f"{path} records an impossible measurement protocol ({err}); "
                         + rebuild) from None
    if not isinstance(data["entries"], dict):
        raise bad("'entries'", "is not an object {signature: {\"median_ms\": ..., ...}}")
    entries, iqr = {}, {}
    for signature, entry in data["entries"].items():
        where = f"entries[{signature!r}]"
        fix = (f"delete that entry (or the file) and run `{BUILD} --space {space.name} --target "
               f"{data['target']} --table {path}`, which measures only missing operators")
        if not isinstance(entry, dict) or "median_ms" not in entry:
            raise bad(where, f"= {entry!r:.80} is not {{\"median_ms\": ..., \"iqr_ms\": ...}}", fix)
        try:
            entries[signature] = check_latency(entry["median_ms"], f"{where}.median_ms")
            if entry.get("iqr_ms") is not None:
                value = entry["iqr_ms"]
                if isinstance(value, bool) or not isinstance(value, (int, float)) \
                        or not 0 <= value < math.inf:
                    raise ValueError(f"{where}.iqr_ms = {value!r} is not a spread: expected a "
                                     "finite number of milliseconds >= 0 or null")
                iqr[signature] = float(value)
        except ValueError as err:
            raise ValueError(f"{path} is not a valid latency table: {err}; {fix}") from None
    return TableFile(space, data["target"], entries, iqr, dict(meta))


def read_table(path: Path) -> TableFile:
    """The checked content of the table file at ``path`` (``FileNotFoundError`` if absent)."""
    if not path.exists():
        raise FileNotFoundError(f"no latency table at {path}; build one with "
                                f"`{BUILD} --table {path}`")
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a valid latency table (corrupt or truncated: {err}); "
                         f"delete it and rebuild it with `{BUILD} --table {path}`") from None
    return parse_table(data, path)


def same_table(a: TableFile, b: TableFile) -> bool:
    """Entries of ``a`` and ``b`` are interchangeable: same space, target and protocol."""
    return (a.space == b.space and a.target == b.target
            and check_protocol(a.meta.get("protocol", {}))
            == check_protocol(b.meta.get("protocol", {})))


def save_merged(table: TableFile, path: Path, to_dict) -> None:
    """Write ``to_dict()`` of ``table`` to ``path`` after taking in the entries that the file
    holds and ``table`` lacks (another build's); see the module docstring."""
    with file_lock(path):
        try:
            on_disk = read_table(path) if path.exists() else None
        except ValueError:  # corrupted since we read it: ours is the best copy left
            on_disk = None
        if on_disk is not None:
            if not same_table(on_disk, table):
                raise ValueError(
                    f"{path} was replaced by another build while this one ran: it now holds a "
                    f"table of target {on_disk.target!r}, protocol "
                    f"{protocol_text(check_protocol(on_disk.meta.get('protocol', {})))}; this "
                    f"build's ({table.target!r}, "
                    f"{protocol_text(check_protocol(table.meta.get('protocol', {})))}) was not "
                    f"saved over it. Run `{BUILD} --table {path}` again to extend the new table")
            for signature, ms in on_disk.entries.items():
                if signature not in table.entries:
                    table.entries[signature] = ms
                    if signature in on_disk.iqr_ms:
                        table.iqr_ms[signature] = on_disk.iqr_ms[signature]
            table.meta["build_s"] = max(table.meta.get("build_s", 0.0),
                                        on_disk.meta.get("build_s", 0.0))
        write_json(path, to_dict())
