"""Decoding a snapshot as redis/SCHEMA.md specifies it, strictly, so the
tests check the writer's output against the schema rather than against the
writer's own code; and writing one, for tests of the readers."""

import re
import time
from dataclasses import dataclass, field

UNLIMITED = "unlimited"

_NAME = re.compile(r"^(?!\.)(?!.*\.\.)[A-Za-z0-9._-]{1,128}$")
_REGION = re.compile(r"^[A-Za-z0-9._-]{0,64}$")
_NUMBER = re.compile(r"^(0|[1-9][0-9]*)$")
_URL = re.compile(r"^(?:https?|rtmps?|rtsps?)://[^\s\"<>\\^`{|}#]+$")
_HEALTH = {"up", "down", "nosource", "draining"}


@dataclass
class SnapshotBackend:
    name: str
    health: str
    polled_ms: int
    reason: str


@dataclass
class SnapshotSlot:
    stream: str
    backend: str
    health: str
    listeners: int
    capacity: int | str      # an int, or "unlimited"
    free: int | str
    weight: int
    region: str
    polled_ms: int
    url: str


@dataclass
class Snapshot:
    written_ms: int
    interval_ms: int
    backends: dict[str, SnapshotBackend] = field(default_factory=dict)
    slots: dict[tuple[str, str], SnapshotSlot] = field(default_factory=dict)   # (stream, backend)

    def slot(self, stream: str, backend: str) -> SnapshotSlot:
        return self.slots[(stream, backend)]

    def streams(self) -> set[str]:
        return {s for s, _ in self.slots}


def _number(text: str, what: str, lineno: int, maximum: int) -> int:
    if not _NUMBER.match(text):
        raise ValueError(f"line {lineno}: {what} {text!r} is not a plain decimal number")
    value = int(text)
    if value > maximum:
        raise ValueError(f"line {lineno}: {what} {value} is out of range")
    return value


def _count(text: str, what: str, lineno: int, unlimited_ok: bool):
    if unlimited_ok and text == UNLIMITED:
        return UNLIMITED
    return _number(text, what, lineno, 4294967294)


def _name(text: str, what: str, lineno: int) -> str:
    if not _NAME.match(text):
        raise ValueError(f"line {lineno}: {what} {text!r} is not a valid name")
    return text


def decode_snapshot(text: str) -> Snapshot:
    """The snapshot, or ValueError naming the line that breaks the schema."""
    body = text[:-1] if text.endswith("\n") else text
    lines = body.split("\n")
    for i, line in enumerate(lines, 1):
        if line == "":
            raise ValueError(f"line {i}: empty line")
        if any(ord(c) < 0x20 and c != "\t" or ord(c) == 0x7f for c in line):
            raise ValueError(f"line {i}: control character")
    ends = [i for i, line in enumerate(lines, 1) if line.split("\t")[0] == "end"]
    if not ends:
        raise ValueError("no end line: snapshot truncated")
    if lines[ends[0] - 1] != "end":
        raise ValueError(f"line {ends[0]}: the end line has fields")
    if ends[0] != len(lines):
        raise ValueError(f"line {ends[0] + 1}: line after end")
    lines = lines[:-1]
    if len(lines) < 3:
        raise ValueError("fewer than three header lines")
    if lines[0] != "tuneslot-snapshot\t1":
        raise ValueError(f"line 1: bad header {lines[0]!r}")
    key, _, value = lines[1].partition("\t")
    if key != "written_ms":
        raise ValueError("line 2: written_ms expected")
    written_ms = _number(value, "written_ms", 2, 2**63 - 1)
    key, _, value = lines[2].partition("\t")
    if key != "interval_ms":
        raise ValueError("line 3: interval_ms expected")
    snap = Snapshot(written_ms=written_ms, interval_ms=_number(value, "interval_ms", 3, 2**32 - 1))

    for i, line in enumerate(lines[3:], 4):
        f = line.split("\t")
        if f[0] == "backend":
            if len(f) not in (4, 5):
                raise ValueError(f"line {i}: backend line with {len(f)} fields")
            reason = f[4] if len(f) == 5 else ""
            if len(reason) > 200:
                raise ValueError(f"line {i}: reason longer than 200 bytes")
            b = SnapshotBackend(name=_name(f[1], "backend", i), health=f[2],
                                polled_ms=_number(f[3], "polled_ms", i, 2**63 - 1), reason=reason)
            if b.health not in _HEALTH:
                raise ValueError(f"line {i}: unknown health {b.health!r}")
            snap.backends[b.name] = b
        elif f[0] == "slot":
            if len(f) != 11:
                raise ValueError(f"line {i}: slot line with {len(f)} fields")
            s = SnapshotSlot(
                stream=_name(f[1], "stream", i), backend=_name(f[2], "backend", i), health=f[3],
                listeners=_count(f[4], "listeners", i, False),
                capacity=_count(f[5], "capacity", i, True), free=_count(f[6], "free", i, True),
                weight=_number(f[7], "weight", i, 1000000), region=f[8],
                polled_ms=_number(f[9], "polled_ms", i, 2**63 - 1), url=f[10])
            if s.health not in _HEALTH:
                raise ValueError(f"line {i}: unknown health {s.health!r}")
            if not _REGION.match(s.region):
                raise ValueError(f"line {i}: bad region {s.region!r}")
            if not _URL.match(s.url) or len(s.url) > 2048:
                raise ValueError(f"line {i}: bad url {s.url!r}")
            snap.slots[(s.stream, s.backend)] = s
        # other record types: ignored, as the schema tells readers to
    return snap


def settled(text: str | None, free: dict[tuple[str, str], int], weight: int = 100) -> bool:
    """Whether a snapshot holds exactly the slots of free ((stream, backend)
    -> free slots), each up at that free count and at full weight (no slow
    start): a round a test may take as "everything running"."""
    if text is None:
        return False
    slots = decode_snapshot(text).slots
    return slots.keys() == free.keys() and all(
        (slots[k].health, slots[k].free, slots[k].weight) == ("up", n, weight) for k, n in free.items())


def now_ms() -> int:
    return int(time.time() * 1000)


def slot(backend: str, url: str, free: int | str = 100, *, stream: str = "demo",
         health: str = "up", listeners: int = 0, weight: int = 100, region: str = "",
         polled_ms: int | None = None) -> dict:
    """One slot of snapshot_text(): capacity is listeners + free (or
    "unlimited"), polled when the snapshot is written unless polled_ms."""
    return dict(stream=stream, backend=backend, url=url, free=free, health=health,
                listeners=listeners, weight=weight, region=region, polled_ms=polled_ms)


def snapshot_text(*slots: dict, written_ms: int | None = None, interval_ms: int = 1000,
                  extra_lines: tuple[str, ...] = ()) -> str:
    """A snapshot as tuneslotd writes one (redis/SCHEMA.md), for readers'
    tests that need data of their own making: written now unless
    written_ms; extra_lines (backend lines, say) go before the end line."""
    written = now_ms() if written_ms is None else written_ms
    lines = ["tuneslot-snapshot\t1", f"written_ms\t{written}", f"interval_ms\t{interval_ms}"]
    for s in slots:
        free = s["free"]
        capacity = UNLIMITED if free == UNLIMITED else s["listeners"] + free
        polled = written if s["polled_ms"] is None else s["polled_ms"]
        lines.append("\t".join(str(x) for x in (
            "slot", s["stream"], s["backend"], s["health"], s["listeners"], capacity, free,
            s["weight"], s["region"], polled, s["url"])))
    lines.extend(extra_lines)
    lines.append("end")
    return "\n".join(lines) + "\n"
