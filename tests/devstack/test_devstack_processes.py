"""The local stack's process handling: nothing it starts outlives the process that started it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from devstack.processes import wait_for

_OWNER = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from devstack.processes import ManagedProcess
    proc = ManagedProcess("sleeper", ["sleep", "600"], dict(os.environ), Path(sys.argv[1]))
    proc.start()
    print(proc.pid, flush=True)
    os._exit(0)  # dies without stopping its child, as a killed test run would
""")


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_started_process_group_ends_when_its_owner_dies_without_stopping_it(tmp_path):
    owner = subprocess.run([sys.executable, "-c", _OWNER, str(tmp_path / "sleeper.log")], capture_output=True,
                           text=True, check=True, cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.getcwd()})
    group = int(owner.stdout.strip())
    assert group > 0
    wait_for(lambda: not _group_alive(group), timeout=60, what=f"process group {group} to end after its owner died")


def test_stop_ends_the_whole_group(tmp_path):
    from devstack.processes import ManagedProcess

    proc = ManagedProcess("sleeper", ["sh", "-c", "sleep 600 & sleep 600"], dict(os.environ), tmp_path / "log")
    proc.start()
    wait_for(lambda: proc.running(), timeout=30, what="the sleeper to start")
    proc.stop()
    wait_for(lambda: not _group_alive(proc.pid), timeout=30, what="the sleeper's group to end")
