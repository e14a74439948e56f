"""Memory and CPU of a server's whole process tree (master and children),
read from /proc, as BASELINES.md measures them.

Memory is Pss_Anon + Pss_Shmem from /proc/PID/smaps_rollup: pages a forked
child still shares with its parent are split between them, so the sum over
the tree counts each page once (RSS would count it in every child).
CPU is utime + stime (and cutime + cstime: children reaped during a window
hand their time to their parent) from /proc/PID/stat.
"""

import os
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (field 3 first)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree_pids(root: int) -> list[int]:
    """root and all its descendants alive now (parents found through
    /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry.name))[1])
        except (OSError, IndexError, ValueError):
            continue            # gone meanwhile
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


@dataclass
class TreeMemory:
    processes: int
    pss_anon_kib: int
    pss_shmem_kib: int
    rss_kib: int

    @property
    def kib(self) -> int:
        """Pss_Anon + Pss_Shmem, the figure benchmarks compare."""
        return self.pss_anon_kib + self.pss_shmem_kib


def tree_memory(root: int) -> TreeMemory:
    """The summed smaps_rollup figures of root's tree."""
    return pids_memory(tree_pids(root))


def pids_memory(pids: list[int]) -> TreeMemory:
    """The summed smaps_rollup figures of these processes (those that
    exited meanwhile are left out, and not counted in processes)."""
    anon = shmem = rss = n = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue            # exited meanwhile
        n += 1
        for line in text.splitlines():
            key, _, rest = line.partition(":")
            if key == "Pss_Anon":
                anon += int(rest.split()[0])
            elif key == "Pss_Shmem":
                shmem += int(rest.split()[0])
            elif key == "Rss":
                rss += int(rest.split()[0])
    return TreeMemory(n, anon, shmem, rss)


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system, reaped children included) used so far by
    root's tree."""
    ticks = 0
    for pid in tree_pids(root):
        try:
            f = _stat_fields(pid)
        except OSError:
            continue
        # fields 14-17 of stat: utime stime cutime cstime (index 11-14 here)
        ticks += sum(int(x) for x in f[11:15])
    return ticks / CLK_TCK
