"""Run one command and measure its whole process tree: wall time, CPU (user + system) of every
descendant, peak resident memory of the tree and of its largest process.

    python bench/measure.py --out result.json [--tty] [--profile stacks.txt] -- CMD ...

The launcher makes itself the child subreaper (prctl PR_SET_CHILD_SUBREAPER), so a descendant
orphaned by its parent (a multiprocessing forkserver, say) is re-parented here and reaped here;
``getrusage(RUSAGE_CHILDREN)`` after the last one is reaped is then the CPU of the whole tree.
/proc is polled every 0.1 s for the tree's resident memory and a per-process CPU breakdown.
With --tty the command's stdout and stderr are a pseudo-terminal (so rich draws its live
display, as a user sees it); the output is drained and thrown away.
With --profile, py-spy samples the main process (not its children) into raw collapsed stacks.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import json
import os
import pty
import resource
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")
PR_SET_CHILD_SUBREAPER = 36


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(ppid, CPU seconds, RSS bytes) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    ppid = int(fields[1])
    cpu = (int(fields[11]) + int(fields[12])) / TICK
    rss = int(fields[21]) * PAGE
    return ppid, cpu, rss


def _name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            parts = f.read().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(p.decode(errors="replace") for p in parts if p)
    if "forkserver" in text:
        return "forkserver"
    if "resource_tracker" in text:
        return "resource_tracker"
    if "py-spy" in text:
        return "py-spy"
    return text[:80]


def _descendants(root: int) -> dict[int, tuple[int, float, int]]:
    stats: dict[int, tuple[int, float, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            s = _stat(int(entry))
            if s is not None:
                stats[int(entry)] = s
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    found: dict[int, tuple[int, float, int]] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found[pid] = stats[pid]
        todo += children.get(pid, [])
    return found


def _hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tty", action="store_true")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--profile-rate", type=int, default=97)
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    me = os.getpid()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)

    master = None
    if args.tty:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
        stdout = stderr = slave
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "140"}
        env.pop("NO_COLOR", None)
    else:
        log = open(args.out.with_suffix(".log"), "wb")
        stdout, stderr, env = log, subprocess.STDOUT, dict(os.environ)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, env=env,
                            start_new_session=False)
    tail = bytearray()
    if master is not None:
        os.close(slave)

        def drain() -> None:
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    return
                if not data:
                    return
                tail.extend(data)
                del tail[:-4000]

        threading.Thread(target=drain, daemon=True).start()
    spy = None
    if args.profile is not None:
        spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--nonblocking", "-r",
                                str(args.profile_rate), "-f", "raw", "--full-filenames", "-o", str(args.profile), "--pid", str(proc.pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    peak_tree = 0
    peak_main_hwm = 0
    last_cpu: dict[int, tuple[str, float]] = {}
    timeline: list[tuple[float, int, int]] = []  # (seconds since launch, main RSS MB, tree RSS MB), every 0.5 s
    last_point = -1.0
    rc = None
    deadline = started + args.timeout
    while rc is None:
        tree = _descendants(me)
        if spy is not None:
            tree.pop(spy.pid, None)  # the profiler's memory and CPU are not the command's
        tree_rss = sum(rss for _, _, rss in tree.values())
        peak_tree = max(peak_tree, tree_rss)
        now = time.perf_counter() - started
        if now - last_point >= 0.5 and len(timeline) < 4000:
            main_rss = tree.get(proc.pid, (0, 0.0, 0))[2]
            timeline.append((round(now, 1), round(main_rss / 2**20), round(tree_rss / 2**20)))
            last_point = now
        peak_main_hwm = max(peak_main_hwm, _hwm(proc.pid))
        for pid, (_, cpu, _) in tree.items():
            if pid not in last_cpu:
                last_cpu[pid] = (_name(pid), cpu)
            else:
                last_cpu[pid] = (last_cpu[pid][0], cpu)
        rc = proc.poll()
        if rc is None:
            if time.perf_counter() > deadline:
                proc.kill()
            time.sleep(0.1)
    wall = time.perf_counter() - started
    spy_cpu = 0.0
    if spy is not None:  # reaped here with its own rusage, to take py-spy's CPU out of the tree's
        end = time.monotonic() + 30
        while True:
            pid, _, usage = os.wait4(spy.pid, os.WNOHANG)
            if pid:
                spy_cpu = usage.ru_utime + usage.ru_stime
                spy.returncode = 0
                break
            if time.monotonic() > end:
                spy.kill()
                _, _, usage = os.wait4(spy.pid, 0)
                spy_cpu = usage.ru_utime + usage.ru_stime
                spy.returncode = -9
                break
            time.sleep(0.05)
    # Reap every orphan re-parented to us (forkserver, its workers, the resource tracker).
    settle = time.monotonic() + 15
    while time.monotonic() < settle:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.05)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    by_name: dict[str, float] = {}
    for pid, (name, cpu) in last_cpu.items():
        key = "main" if pid == proc.pid else name
        by_name[key] = by_name.get(key, 0.0) + cpu
    result = {
        "returncode": rc,
        "wall_s": wall,
        "cpu_user_s": after.ru_utime - before.ru_utime,
        "cpu_sys_s": after.ru_stime - before.ru_stime,
        "profiler_cpu_s": spy_cpu,
        "cpu_s": after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime - spy_cpu,
        "maxrss_largest_process_mb": after.ru_maxrss / 1024,
        "peak_main_rss_mb": peak_main_hwm / 2**20,
        "peak_tree_rss_mb": peak_tree / 2**20,
        "cpu_by_process_polled": {k: round(v, 3) for k, v in by_name.items()},
        "rss_timeline": timeline,
        "tty_tail": tail.decode(errors="replace")[-1500:] if master is not None else None,
    }
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
