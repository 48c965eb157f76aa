"""The local backend: each attempt's script runs as a process in its own process group.

Exits are noticed through Linux pidfds on one selector (no thread per job, no
sleep-polling). The job id is the attempt's execution directory, so that after
a restart the job is found on disk: ``rc`` there means finished; ``pid`` there
and a live process running that script means re-attach.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ironside.backends.base import Backend, JobRequest, JobState, JobStatus
from ironside.errors import BadConfig

_DEVNULL = subprocess.DEVNULL


def docker_available() -> bool:
    """Whether a Docker daemon looks reachable (a client and a socket or DOCKER_HOST)."""
    if not shutil.which("docker"):
        return False
    return bool(os.environ.get("DOCKER_HOST")) or os.path.exists("/var/run/docker.sock")


def process_start_ticks(pid: int) -> int | None:
    """The process's start time (clock ticks since boot), to tell a pid's reuse apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    return int(stat.rsplit(b")", 1)[1].split()[19])


def read_rc(execution_dir: str) -> int | None:
    """The integer in ``<execution_dir>/rc``, or ``None`` when absent or incomplete."""
    try:
        with open(os.path.join(execution_dir, "rc"), "rb") as fh:
            text = fh.read().strip()
    except OSError:
        return None
    try:
        return int(text)
    except ValueError:
        return None


@dataclass(slots=True)
class _Proc:
    pid: int
    popen: subprocess.Popen[bytes] | None  # None when re-attached after a restart
    fd: int
    exited: bool = False
    status: int | None = None  # wait status of our own children
    container: str | None = None
    spawning: bool = False
    cancelled: bool = False
    error: str | None = None


class LocalBackend(Backend):
    """Runs task scripts as local processes (in Docker when configured and reachable)."""

    name = "Local"

    def __init__(
        self, run_in_container: str = "auto", name: str = "Local", spawners: int = 4
    ) -> None:
        self.name = name
        self.run_in_container = run_in_container
        self._docker: bool | None = None
        self._procs: dict[str, _Proc] = {}
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        # reaped outside wait() (abort, recover): reported by the next wait()
        self._ended: list[str] = []
        self._pids: dict[str, int] = {}  # job id -> pid, until the engine has asked
        # directories, script files and fork/exec happen on a few threads (they release
        # the GIL), so that the scheduler keeps evaluating while processes start
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._inline = spawners == 0
        self._pool = ThreadPoolExecutor(max(1, spawners), thread_name_prefix="ironside-spawn")

    def use_docker(self, image: str | None) -> bool:
        """Whether a task with this ``docker`` attribute runs in a container."""
        if not image or self.run_in_container == "never":
            return False
        if self._docker is None:
            self._docker = docker_available()
        if self.run_in_container == "always" and not self._docker:
            raise BadConfig("run-in-container = always, but no Docker daemon is reachable")
        return self._docker

    def _argv(self, request: JobRequest, script: str) -> tuple[list[str], str | None]:
        image = request.runtime.get("docker")
        if isinstance(image, list):
            image = image[0] if image else None
        if not self.use_docker(image if isinstance(image, str) else None):
            return ["/bin/bash", script], None
        cname = (
            "ironside-"
            + os.path.basename(os.path.dirname(request.call_root))
            + str(time.monotonic_ns())
        )
        root = request.call_root
        argv = ["docker", "run", "--rm", "--name", cname, "-v", f"{root}:{root}"]
        argv += ["--entrypoint", "/bin/bash", str(image), script]
        return argv, cname

    def submit(self, request: JobRequest) -> str:
        """Write the script into ``<call_root>/execution/`` and start it (on a spawner thread)."""
        ex = os.path.join(request.call_root, "execution")
        argv_container = self._argv(request, os.path.join(ex, "script"))
        proc = _Proc(-1, None, -1, spawning=True)
        self._procs[ex] = proc
        if self._inline:
            self._spawn(request, ex, proc, argv_container)
        else:
            self._pool.submit(self._spawn, request, ex, proc, argv_container)
        return ex

    def _spawn(
        self,
        request: JobRequest,
        ex: str,
        proc: _Proc,
        argv_container: tuple[list[str], str | None],
    ) -> None:
        try:
            self._start(request, ex, proc, argv_container)
        except Exception as exc:  # reported through poll()
            with self._lock:
                proc.error = f"cannot start task script: {exc}"
                proc.exited = True
                proc.spawning = False
            self._wake()

    def _start(
        self,
        request: JobRequest,
        ex: str,
        proc: _Proc,
        argv_container: tuple[list[str], str | None],
    ) -> None:
        if proc.cancelled:
            raise RuntimeError("aborted before it started")
        os.makedirs(ex, exist_ok=True)
        script = os.path.join(ex, "script")
        with open(script, "w") as fh:
            fh.write(request.script)
        for stale in ("rc", "pid"):
            if os.path.lexists(os.path.join(ex, stale)):
                os.unlink(os.path.join(ex, stale))
        argv, container = argv_container
        popen = subprocess.Popen(
            argv,
            cwd=ex,
            stdin=_DEVNULL,
            stdout=_DEVNULL,
            stderr=_DEVNULL,
            process_group=0,
        )
        proc.popen, proc.container = popen, container
        self._watch(ex, popen.pid, proc)

    def _wake(self) -> None:
        os.write(self._wake_w, b"x")

    def _watch(self, job_id: str, pid: int, proc: _Proc) -> None:
        with self._lock:
            proc.pid = pid
            self._pids[job_id] = pid
            proc.spawning = False
            try:
                proc.fd = os.pidfd_open(pid)
            except ProcessLookupError:
                proc.exited = True
            else:
                self._selector.register(proc.fd, selectors.EVENT_READ, job_id)
        if proc.exited:
            self._wake()

    def pid(self, job_id: str) -> int | None:
        """The process id of a job this backend watches."""
        pid = self._pids.get(job_id)
        if pid is None:
            return -1 if job_id in self._procs else None
        if job_id not in self._procs:
            del self._pids[job_id]  # finished: asked once more, then forgotten
        return pid

    def wait(self, timeout: float) -> Sequence[str] | None:
        """Wait for process exits; return the jobs whose process exited."""
        if not self._procs:
            time.sleep(min(timeout, 0.05))
            done, self._ended = self._ended, []
            return done
        done, self._ended = self._ended, []
        if done:
            timeout = 0
        for key, _ in self._selector.select(timeout):
            job_id = key.data
            if job_id is None:  # a spawner reported a failure
                try:
                    os.read(self._wake_r, 4096)
                except BlockingIOError:
                    pass
                done += [j for j, p in list(self._procs.items()) if p.exited]
                continue
            self._reap(job_id)
            done.append(job_id)
        return done

    def _reap(self, job_id: str) -> None:
        proc = self._procs[job_id]
        with self._lock:
            if proc.popen is not None and proc.status is None:
                proc.status = proc.popen.wait()
            proc.exited = True
            if proc.fd >= 0:
                self._selector.unregister(proc.fd)
                os.close(proc.fd)
                proc.fd = -1

    def poll(self, job_ids: Sequence[str]) -> Mapping[str, JobState]:
        """Finished: ``SUCCEEDED`` with the task's rc when the script wrote one, else ``FAILED``."""
        states = {}
        for job_id in job_ids:
            proc = self._procs.get(job_id)
            if proc is None:
                states[job_id] = JobState(job_id, JobStatus.FAILED, reason="unknown job")
            elif not proc.exited:
                states[job_id] = JobState(job_id, JobStatus.RUNNING)
            else:
                states[job_id] = self._finished(job_id, proc)
        return states

    def _finished(self, job_id: str, proc: _Proc) -> JobState:
        self._procs.pop(job_id, None)
        if proc.error:
            return JobState(job_id, JobStatus.FAILED, reason=proc.error)
        rc = read_rc(job_id)
        if rc is not None:
            return JobState(job_id, JobStatus.SUCCEEDED, return_code=rc)
        if proc.status is not None and proc.status < 0:
            sig = signal.Signals(-proc.status).name
            if proc.status in (-signal.SIGTERM, -signal.SIGKILL):
                return JobState(job_id, JobStatus.ABORTED, reason=f"killed by {sig}")
            return JobState(job_id, JobStatus.FAILED, reason=f"task script killed by {sig}")
        return JobState(
            job_id,
            JobStatus.FAILED,
            reason=f"task script exited (status {proc.status}) without writing {job_id}/rc",
        )

    def abort(self, job_id: str) -> None:
        """SIGTERM the job's process group, SIGKILL it after a grace period of 2 s."""
        proc = self._procs.get(job_id)
        if proc is None or proc.exited:
            return
        proc.cancelled = True
        if proc.spawning:
            deadline = time.monotonic() + 5.0
            while proc.spawning and time.monotonic() < deadline:
                time.sleep(0.01)
            if proc.pid < 0:
                return
        if proc.container:
            subprocess.run(["docker", "rm", "-f", proc.container], stdout=_DEVNULL, stderr=_DEVNULL)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + (2.0 if sig == signal.SIGTERM else 5.0)
            while time.monotonic() < deadline:
                if proc.popen is not None and proc.popen.poll() is not None:
                    break
                if proc.popen is None and not os.path.exists(f"/proc/{proc.pid}"):
                    break
                time.sleep(0.02)
            else:
                continue
            break
        self._reap(job_id)
        self._ended.append(job_id)

    def recover(self, request: JobRequest, job_id: str | None) -> str | None:
        """Find the attempt on disk: finished (``rc``), running (``pid``), or never started."""
        ex = os.path.join(request.call_root, "execution")
        if read_rc(ex) is not None:
            self._procs[ex] = _Proc(-1, None, -1, exited=True)
            self._ended.append(ex)
            return ex
        pid = _read_pid(ex)
        if pid is None:
            return None if job_id is None else self._lost(ex)
        if _runs_script(pid, os.path.join(ex, "script")):
            proc = _Proc(pid, None, -1)
            self._procs[ex] = proc
            self._watch(ex, pid, proc)
            return ex
        return self._lost(ex)

    def _lost(self, ex: str) -> str:
        # started, but died without an rc: report it as a failed job
        self._procs[ex] = _Proc(-1, None, -1, exited=True)
        self._ended.append(ex)
        return ex

    def running(self) -> int:
        """How many processes are being watched."""
        return sum(1 for p in self._procs.values() if not p.exited)

    def close(self) -> None:
        """Stop watching (running processes are left alone: a restart re-attaches)."""
        self._pool.shutdown(wait=True)
        for proc in self._procs.values():
            if proc.fd >= 0:
                self._selector.unregister(proc.fd)
                os.close(proc.fd)
                proc.fd = -1
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)


def _read_pid(ex: str) -> int | None:
    try:
        with open(os.path.join(ex, "pid")) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def _runs_script(pid: int, script: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
    except OSError:
        return False
    return script.encode() in argv
