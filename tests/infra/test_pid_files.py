"""scripts/platform.sh counts a process as its own only when the pid file still names it: after a
reboot a pid file's number may be a thread of another process or another process altogether,
and `make up` once took a thread of ingest for rules ("already running") and waited for it."""

import os
import shutil
import subprocess
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def rules_state(root: Path) -> str:
    status = subprocess.run(
        ["bash", str(root / "scripts" / "platform.sh"), "status"], capture_output=True, text=True, timeout=30
    )
    assert status.returncode == 0, status.stderr
    [line] = [line for line in status.stdout.splitlines() if line.startswith("rules ")]
    return line.split(None, 3)[3]


def a_copy_of_the_script(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "platform.sh", tmp_path / "scripts" / "platform.sh")
    (tmp_path / ".local" / "run").mkdir(parents=True)
    return tmp_path / ".local" / "run"


def own_start_time() -> str:
    return Path("/proc/self/stat").read_text().rsplit(") ", 1)[1].split()[19]


def test_a_live_process_whose_start_time_matches_is_running(tmp_path):
    run = a_copy_of_the_script(tmp_path)
    (run / "rules.pid").write_text(f"{os.getpid()}\n")
    (run / "rules.started").write_text(own_start_time() + "\n")
    assert rules_state(tmp_path) == "running"


def test_a_pid_now_held_by_another_process_is_not_ours(tmp_path):
    run = a_copy_of_the_script(tmp_path)
    (run / "rules.pid").write_text(f"{os.getpid()}\n")
    (run / "rules.started").write_text(f"{int(own_start_time()) - 1}\n")  # an earlier process's
    assert rules_state(tmp_path) != "running"


def test_a_thread_id_is_not_a_process(tmp_path):
    run = a_copy_of_the_script(tmp_path)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert thread.native_id is not None and thread.native_id != os.getpid()
        (run / "rules.pid").write_text(f"{thread.native_id}\n")  # an old pid file, no start time
        assert rules_state(tmp_path) != "running"
    finally:
        stop.set()
        thread.join()
