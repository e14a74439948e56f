"""Self-tests of the harness: its teardown check and its snapshot decoder
must catch what they are there to catch."""

import signal
import time
import urllib.request

import pytest

from harness import Process, decode_snapshot, toml_text

# The example of redis/SCHEMA.md, tabs restored.
SCHEMA_EXAMPLE = "".join(line.replace("|", "\t") + "\n" for line in [
    "tuneslot-snapshot|1",
    "written_ms|1763712000123",
    "interval_ms|1000",
    "backend|ice-a|up|1763712000101",
    "backend|ice-b|down|1763712000099|connect: Connection refused",
    "slot|demo|ice-a|up|3|100|97|100|eu|1763712000101|http://a.example.net:8000/demo",
    "slot|demo|ice-b|down|0|0|0|100|eu|1763712000099|http://b.example.net:8000/demo",
    "end",
])


def run_shell(run_dir, script):
    p = Process(run_dir, "sh")
    p.start(["sh", "-c", script])
    p.wait(timeout=10)
    return p


@pytest.mark.parametrize("line", [
    "2026-01-01T00:00:00.000Z [alert] something broke",
    "nginx: [emerg] bad directive",
    "==1==ERROR: AddressSanitizer: heap-use-after-free",
    "src/x.cpp:10:5: runtime error: signed integer overflow",
])
def test_teardown_check_catches_bad_log_lines(run_dir, line):
    """A log line of alert, emerg, ASan or UBSan makes the teardown check fail."""
    p = run_shell(run_dir, f"echo '{line}'")
    assert len(p.problems()) == 1
    p.allow(r".")
    assert p.problems() == []


def test_teardown_check_catches_a_crash(run_dir):
    """A process ended by SIGSEGV counts as a crash even with a clean log."""
    p = run_shell(run_dir, "kill -SEGV $$")
    assert p.returncode == -signal.SIGSEGV
    assert any("crashed with SIGSEGV" in x for x in p.problems())


def test_stop_escalates_to_sigkill(run_dir):
    """stop() kills a process that ignores SIGTERM, and the check reports it."""
    p = Process(run_dir, "stubborn")
    p.stop_timeout = 0.5
    p.start(["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"])
    p.wait_for_log("ready", timeout=5)
    assert p.stop() == -signal.SIGKILL
    assert any("killed" in x for x in p.problems())


def test_decoder_accepts_the_schema_example():
    """The decoder reads SCHEMA.md's own example, with or without the end line's newline."""
    assert decode_snapshot(SCHEMA_EXAMPLE.rstrip("\n")) == decode_snapshot(SCHEMA_EXAMPLE)
    snap = decode_snapshot(SCHEMA_EXAMPLE)
    assert snap.written_ms == 1763712000123 and snap.interval_ms == 1000
    assert snap.backends["ice-b"].reason == "connect: Connection refused"
    assert snap.backends["ice-a"].reason == ""
    s = snap.slot("demo", "ice-a")
    assert (s.listeners, s.capacity, s.free, s.weight, s.region) == (3, 100, 97, 100, "eu")


@pytest.mark.parametrize("broken", [
    SCHEMA_EXAMPLE.replace("\t3\t100\t97", "\t03\t100\t97"),            # leading zero
    SCHEMA_EXAMPLE.replace("\t3\t100\t97", "\t-3\t100\t97"),            # sign
    SCHEMA_EXAMPLE.replace("\t3\t100\t97", "\tunlimited\t100\t97"),     # listeners never unlimited
    SCHEMA_EXAMPLE.replace("demo\tice-a", "de/mo\tice-a"),              # bad name
    SCHEMA_EXAMPLE.replace("tuneslot-snapshot\t1", "tuneslot-snapshot\t2"),
    SCHEMA_EXAMPLE.replace("interval_ms\t1000\n", "interval_ms\t1000\n\n"),  # empty line
    SCHEMA_EXAMPLE.replace("end\n", ""),                               # no end line: cut short
    SCHEMA_EXAMPLE[:-30],                                              # cut inside a url
    SCHEMA_EXAMPLE + "backend|ice-c|up|1\n".replace("|", "\t"),        # line after end
    SCHEMA_EXAMPLE.replace("end\n", "end\tx\n"),                      # end with a field
    SCHEMA_EXAMPLE.replace("http://a.example.net:8000/demo", "http://a.example.net/de mo"),
])
def test_decoder_rejects_schema_violations(broken):
    """The decoder refuses text that breaks SCHEMA.md, so tests cannot pass on bad output."""
    with pytest.raises(ValueError):
        decode_snapshot(broken)


def test_toml_text_writes_tables_after_scalars():
    """toml_text puts scalars first and each list of dicts as [[tables]], in order."""
    text = toml_text({"redis": "127.0.0.1:1", "backend": [{"name": "a", "weight": 5}], "interval": "1s"})
    assert text == 'redis = "127.0.0.1:1"\ninterval = "1s"\n\n[[backend]]\nname = "a"\nweight = 5\n'


def test_status_server_trickle_sends_one_byte_per_delay(status_server):
    """StatusServer.trickle really spreads the body over time, so a timeout test built on it can fail."""
    url = status_server.trickle("/slow", b"0123456789", delay=0.05)
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=5) as r:
        first = r.read(1)
        assert time.monotonic() - started < 0.4
        rest = r.read()
    assert first + rest == b"0123456789"
    assert time.monotonic() - started >= 0.45
