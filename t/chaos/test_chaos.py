"""Chaos: real parts failing under load.  Real tuneslotd polls two real
Icecast servers (ffmpeg sources) into real Redis; nginx with the module
and Apache (event) with mod_tune answer tune-ins from it, both at once,
under a few keep-alive clients each (t/chaos/conftest.py).  Then Redis is
killed, restarted empty, blackholed or slowed; an Icecast is killed under
its listeners; the leading tuneslotd is killed; nginx is reloaded and
Apache restarted gracefully.

Every tune-in of a run is counted as exactly one of:

- failed: no answer (an error, a reset, 5 s without one), or not the
  answer of a working tune-in: in redirect mode anything but a 302 to one
  of the two backends, in proxy mode anything but a 200 streamed from one
  of them.
- stale: answered as it should be, but from a snapshot that no longer
  described the world when the answer came, which is one of
  (a) a snapshot the front-end had held for more than STALE_AFTER, two
      of tuneslotd's poll intervals: tuneslotd writes a round every
      interval and a front-end that gets them installs each within its
      refresh, so a snapshot held longer means at least one round did
      not reach it (Redis away, silent, slow, or no writer).  What a
      front-end held, and since when, is read from its tune-status page
      every 50 ms during the run: both modules report the `generation`
      they hold and its `age_ms`, the time since they installed it
      (harness/chaos.py, SnapshotWatch).  A status sample sent after an
      answer arrived settles what that answer came from when the
      generation it shows was installed before the answer (generations
      only grow); the answer's age is then the time from that
      installation (at the latest) to its arrival, on the test's clock.
      An answer no sample settles (a status request held up while
      generations changed) is not counted stale: the count is a lower
      bound.
  (b) an answer that came after an Icecast was killed and sent the
      listener to it (redirect: the 302's Location), or tried it first
      (proxy: streamed from the other one, $tune_outcome / TUNE_OUTCOME
      "proxy-retry").
- ok: every other answer.

Each scenario prints one line per front-end and appends it to
$TUNESLOT_CHAOS_REPORT (default $TUNESLOT_BUILD/chaos.txt):

    chaos redis-killed nginx: requests 5210, ok 3904, stale 1306, failed 0, worst 21.4 ms; ...

worst is the slowest answer; what follows the semicolon is the scenario's
own figures (recovery time, round gaps, how soon a dead backend was no
longer offered).  t/README.md, "The chaos suite", explains them.
"""

import re
import signal
import time

import pytest

from harness.chaos import BACKENDS, FRONTS, INTERVAL, REFRESH, report

STALE_AFTER = 2 * INTERVAL
#: no redirect may take this long (a request that waited for Redis, a stuck worker)
NO_STALL = 1.0
#: a proxied tune-in's answer is the backend's head, through the front-end: measured, with 8
#: tune-ins at once on the one Icecast left, some took 1.1 s through nginx and Apache alike
NO_STALL_PROXY = 3.0
#: Apache alone holds a request up to about 2 s while it restarts gracefully under the event
#: MPM (t/test_apache_failures.py measured it with a plain Redirect): a bound on stalls there
NO_STALL_GRACEFUL = 5.0
WARMUP = 1.0                # load before the fault
FAULT = 3.0                 # how long Redis stays killed, blackholed or slowed
SLOW = 0.2                  # the delay of every Redis reply while slowed
#: the front-ends reconnect with a backoff that doubles up to 5 s, plus a 1 s timeout
RECOVERY = 10.0
#: what this machine's scheduling may add to a deadline (two cores, shared): stated, not tuned
SCHEDULING = 0.3
#: a proxied listener of a killed backend is closed by the front-end within this
CLOSE_BOUND = 5.0


def judge(stack, run, front, killed: dict[str, float] | None = None):
    """The Tally of a front-end's load, stale by the module docstring's rule."""
    watch = run.watches[front]
    killed = killed or {}

    def stale(a) -> bool:
        first = stack.first_try(a)
        if first in killed and a.ended > killed[first]:
            return True
        age = watch.age_at(a.ended)
        return age is not None and age > STALE_AFTER
    return run.loads[front].tally(stack.answered_right, stale)


def bad_log_lines(front) -> list[str]:
    """[error] and [crit] lines of the tune module (nginx: "tune:", Apache: [tune:...])."""
    return [line for line in front.log_lines("error", "crit")
            if re.search(r"\btune: |\[tune:", line)]


# ---- 1. Redis -------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", ["killed", "restarted-empty", "blackholed", "slowed"])
def test_redis_fault_under_load(make_chaos, fault):
    """Redis killed (SIGKILL) and started again empty after 3 s, restarted empty at once,
    blackholed for 3 s (TCP accepted, nothing answered) or slowed for 3 s (200 ms per reply),
    for tuneslotd and both front-ends: no tune-in fails, none stalls (< 1 s), the snapshot
    held is served meanwhile, and both front-ends install tuneslotd's next round after it."""
    stack = make_chaos(relay=fault in ("blackholed", "slowed"))
    with stack.running() as run:
        time.sleep(WARMUP)
        began, began_ms = time.monotonic(), time.time() * 1000
        if fault == "killed":
            stack.redis.kill()
            time.sleep(FAULT)
            stack.redis.start_again()
        elif fault == "restarted-empty":
            stack.redis.restart()
        elif fault == "blackholed":
            stack.relay.blackhole()
            time.sleep(FAULT)
            stack.relay.relay()
        else:
            stack.relay.slow(SLOW)
            time.sleep(FAULT)
            stack.relay.slow(0)
        ended = time.monotonic()
        back = {f: run.watches[f].wait_for_generation_after(ended, RECOVERY) - ended
                for f in FRONTS}
        time.sleep(0.5)

    failures = []
    for f in FRONTS:
        t = judge(stack, run, f)
        # rounds written after the fault began that reached the front-end before it ended
        during = run.watches[f].written_during(began_ms, ended)
        installed = len(during)
        report(t.line(f"redis-{fault}", f,
                      f"fault {ended - began:.1f} s, {installed} rounds written and installed during it, "
                      f"a round after it installed in {back[f]:.2f} s, "
                      f"{run.watches[f].failed}/{run.watches[f].samples} status samples unanswered"))
        if t.worst >= NO_STALL or bad_log_lines(stack.fronts[f]):
            failures.append((f, t, bad_log_lines(stack.fronts[f])[:5]))
        if t.failed:
            failures.append((f, t, run.loads[f].failures[:5]))
        if fault in ("killed", "blackholed"):
            # 3 s without a round: the rule of stale cannot have missed it
            assert t.stale > 0, (f, t)
            assert installed == 0, (f, during, run.watches[f].installs())
        if fault == "slowed":
            # a slow Redis is still a Redis: rounds written during the fault
            # reach the front-ends before it ends (each Redis call is 200 ms
            # late, tuneslotd's and the front-end's alike: two or three do
            # in 3 s; the one written last may come only after the end)
            assert installed >= 1, (f, during, run.watches[f].installs())
    assert not failures, failures


# ---- 2. an Icecast killed under its listeners --------------------------------------------------

@pytest.mark.parametrize("mode", ["redirect", "proxy"])
def test_backend_killed_under_listeners(make_chaos, mode):
    """ice-a killed (SIGKILL) with listeners on it: within two poll intervals and a refresh it is
    offered no more (tune-ins meanwhile go to ice-b without a failure); a listener it had,
    proxied or not, is closed (EOF or reset) within 5 s, never left hanging; ice-b's keep
    playing."""
    stack = make_chaos(mode=mode)
    listeners = {f: {b: [] for b in BACKENDS} for f in FRONTS}
    for f in FRONTS:
        for _ in range(60):
            if all(len(v) >= 2 for v in listeners[f].values()):
                break
            backend, lst = stack.listener(f)
            if len(listeners[f][backend]) < 2:
                listeners[f][backend].append(lst)
            else:
                lst.close()
        assert all(len(v) == 2 for v in listeners[f].values()), (f, listeners[f])
    try:
        for lst in [x for per in listeners.values() for v in per.values() for x in v]:
            deadline = time.monotonic() + 10
            while lst.received < 16384:
                assert time.monotonic() < deadline and lst.ended_at is None, \
                    (lst.mount, lst.received, lst.end)
                time.sleep(0.05)

        bound = 2 * INTERVAL + REFRESH
        with stack.running() as run:
            time.sleep(WARMUP)
            killed = time.monotonic()
            stack.ice["ice-a"].kill()
            time.sleep(bound + SCHEDULING + 1.0)
            marks = {f: [x.received for x in listeners[f]["ice-b"]] for f in FRONTS}
            time.sleep(1.0)

        failures = []
        for f in FRONTS:
            t = judge(stack, run, f, killed={"ice-a": killed})
            answers = run.loads[f].answers
            # a tune-in goes to a slot when its request comes in: when it was sent
            to_a = [a.started - killed for a in answers
                    if stack.first_try(a) == "ice-a" and a.ended > killed]
            last_a = max(to_a, default=0.0)
            after = [a for a in answers if a.started > killed + bound + SCHEDULING]
            closed = [x.ended_at - killed if x.ended_at is not None else None
                      for x in listeners[f]["ice-a"]]
            report(t.line(f"backend-killed-{mode}", f,
                          f"last tune-in to ice-a {last_a:.2f} s after the kill (bound "
                          f"{bound:.2f} s + {SCHEDULING} s), {len(to_a)} sent there after it; "
                          f"its listeners closed after "
                          + ", ".join("never" if c is None else f"{c:.2f} s" for c in closed)
                          + f" ({', '.join(x.end for x in listeners[f]['ice-a'])})"))
            stall = NO_STALL if mode == "redirect" else NO_STALL_PROXY
            if t.failed or t.worst >= stall or bad_log_lines(stack.fronts[f]):
                failures.append((f, t, run.loads[f].failures[:5], bad_log_lines(stack.fronts[f])))
            assert last_a <= bound + SCHEDULING, (f, last_a)
            assert after and all(stack.backend(a) == "ice-b" for a in after), f
            assert all(c is not None and c < CLOSE_BOUND for c in closed), (f, closed)
            grew = [x.received > m for x, m in zip(listeners[f]["ice-b"], marks[f])]
            assert all(grew) and all(x.ended_at is None for x in listeners[f]["ice-b"]), \
                (f, grew, [x.end for x in listeners[f]["ice-b"]])
        assert not failures, failures
    finally:
        for per in listeners.values():
            for v in per.values():
                for lst in v:
                    lst.close()


# ---- 3. the leading tuneslotd killed ------------------------------------------------------------

def test_leader_killed(make_chaos):
    """Two tuneslotd with the same configuration; the one holding the lease is killed (SIGKILL)
    right after it wrote a round: the other writes within two intervals, so no two rounds reach
    Redis more than two intervals (and SCHEDULING) apart; both front-ends answer every tune-in
    meanwhile.  (Killed just before its next round instead, the gap grows by up to that
    interval: a follower takes over within two intervals of the death, docs/tuneslotd.md.)"""
    stack = make_chaos(schedulers=2)
    leader, others = stack.leader()
    with stack.redis.round_log() as rounds, stack.running() as run:
        time.sleep(WARMUP)
        seen = len(rounds.arrivals)
        deadline = time.monotonic() + 3 * INTERVAL
        while len(rounds.arrivals) == seen and time.monotonic() < deadline:
            time.sleep(0.005)
        killed = time.monotonic()
        leader.kill()
        others[0].wait_for_log(r"leader: this instance \(chaos#[0-9a-f]{16}\) holds the lease",
                               timeout=5)
        time.sleep(2.0)
    assert rounds.error is None, rounds.error
    gaps = rounds.gaps()
    after = [t for t, _ in rounds.arrivals if t > killed]
    longest = max(gaps, default=float("inf"))
    failures = []
    for f in FRONTS:
        t = judge(stack, run, f)
        report(t.line("leader-killed", f,
                      f"{len(rounds.arrivals)} rounds, longest gap between two {longest:.2f} s "
                      f"(bound {2 * INTERVAL:.2f} s + {SCHEDULING} s), first round of the "
                      f"new leader {after[0] - killed if after else float('nan'):.2f} s "
                      "after the kill"))
        if t.failed or t.worst >= NO_STALL or bad_log_lines(stack.fronts[f]):
            failures.append((f, t, run.loads[f].failures[:5], bad_log_lines(stack.fronts[f])))
    assert len(after) >= 3, rounds.arrivals
    assert longest <= 2 * INTERVAL + SCHEDULING, gaps
    assert leader.returncode == -signal.SIGKILL
    assert not failures, failures


# ---- 4. nginx reloads and Apache graceful restarts ------------------------------------------------

def test_reload_and_graceful_under_load(make_chaos):
    """nginx reloaded 3 times and Apache restarted gracefully 3 times, in turns, under load on
    both, herd control on, tuneslotd writing a round every 0.5 s: not one tune-in fails (a
    request on an idle connection a leaving worker closed is sent again once, as real clients
    do)."""
    stack = make_chaos()
    with stack.running() as run:
        time.sleep(WARMUP)
        for _ in range(3):
            stack.nginx.reload()
            time.sleep(0.5)
            stack.apache.graceful()
            time.sleep(0.5)
        time.sleep(0.5)
    failures = []
    for f, what, bound in (("nginx", "reload", NO_STALL), ("apache", "graceful", NO_STALL_GRACEFUL)):
        t = judge(stack, run, f)
        load = run.loads[f]
        report(t.line(what, f, f"3 times; {load.retried} sent again on a new connection"))
        if t.failed or t.worst >= bound or bad_log_lines(stack.fronts[f]):
            failures.append((f, t, load.failures[:5], bad_log_lines(stack.fronts[f])))
        assert t.requests > 300, (f, t)
    assert not failures, failures
