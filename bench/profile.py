"""Sample a server process with py-spy during a benchmark's window and summarise where its time
went, so a figure that misses its goal comes with the functions that cost it.

`record` runs py-spy in the background for the window (raw "collapsed stacks" output, idle threads
left out); `summary` prints the frames with the largest inclusive share of the samples.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("--profile needs py-spy (pip install -e '.[dev]')")
    return found


def record(pid: int, seconds: float, out: Path, rate: int = 200) -> subprocess.Popen[bytes]:
    """Start sampling `pid` for `seconds`; wait on the returned process before reading `out`."""
    # --nonblocking: sampling must not pause the app, or the latencies measured meanwhile suffer.
    command = [py_spy(), "record", "--nonblocking", "-p", str(pid), "-r", str(rate)]
    command += ["-d", str(max(1, round(seconds)))]
    command += ["--format", "raw", "-o", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summary(path: Path, top: int = 25) -> list[str]:
    """The `top` frames by inclusive share (a frame counted once per sample); frames in nearly
    every sample (the entry point, the event loop) say nothing and are left out."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "_worker (concurrent/futures/thread.py" in stack:  # an idle pool thread, not work
            continue
        samples = int(count)
        total += samples
        for frame in set(stack.split(";")):
            inclusive[frame] += samples
    lines = [f"  profile: {total} samples in {path}; largest inclusive shares:"]
    telling = [(f, n) for f, n in inclusive.most_common() if n < 0.9 * total]
    for frame, samples in telling[:top]:
        lines.append(f"    {samples / max(1, total):6.1%} {frame[:120]}")
    return lines
