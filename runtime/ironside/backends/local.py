"""The local backend: each attempt's script runs as a process in its own process group.

Each of ``slots`` worker threads starts a script (directory, script file,
fork/exec) and blocks in ``waitpid`` until it exits, then takes the next queued
job at once: like a plain thread pool, slots refill without waiting for the
scheduler, which meanwhile evaluates and queues the next calls. Exits reach the
scheduler through one pipe; processes re-attached after a restart are watched
through Linux pidfds on the same selector.

The job id is the attempt's execution directory, so that after a restart the
job is found on disk: ``rc`` there means finished; ``pid`` there and a live
process running that script means re-attach.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from queue import SimpleQueue

from ironside.backends.base import Backend, InputEnv, JobRequest, JobState, JobStatus
from ironside.backends.task_env import task_environment
from ironside.errors import BadConfig
from ironside.filesystems.dispatch import FileSystems
from ironside.tasks import FileTransfer
from ironside.tasks.s3_localizer import download_inputs

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
    taken: bool = False  # a worker has dequeued it
    cancelled: bool = False
    error: str | None = None
    lost: bool = False  # found dead after a restart, or re-attached and gone without an rc
    rc: int | None = None  # read by the worker that saw the process exit


class LocalBackend(Backend):
    """Runs task scripts as local processes (in Docker when configured and reachable)."""

    name = "Local"

    def __init__(
        self,
        run_in_container: str = "auto",
        name: str = "Local",
        slots: int = 0,
        spawners: int | None = None,
        files: FileSystems | None = None,
    ) -> None:
        """``slots``: processes run at once (0: as many as the engine submits).

        ``spawners`` is the former name of ``slots``; ``files`` serves ``s3://`` inputs.
        """
        self.name = name
        self.files = files or FileSystems()
        self.run_in_container = run_in_container
        self._docker: bool | None = None
        self._procs: dict[str, _Proc] = {}
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        # reaped outside wait() (abort, recover): reported by the next wait()
        self._ended: list[str] = []
        self._done: deque[str] = deque()  # exits seen by the workers
        self._pids: dict[str, int] = {}  # job id -> pid, until the engine has asked
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._slots = max(0, spawners if spawners is not None else slots)
        self._jobs: SimpleQueue[tuple[JobRequest, str, _Proc, tuple[list[str], str | None]] | None]
        self._jobs = SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._outstanding = 0
        self._task_env: dict[bool, dict[str, str]] = {}

    def use_docker(self, image: str | None) -> bool:
        """Whether a task with this ``docker`` attribute runs in a container."""
        if not image or self.run_in_container == "never":
            return False
        if self._docker is None:
            self._docker = docker_available()
        if self.run_in_container == "always" and not self._docker:
            raise BadConfig("run-in-container = always, but no Docker daemon is reachable")
        return self._docker

    def stage_inputs(self, env: InputEnv, call_root: str) -> tuple[InputEnv, list[FileTransfer]]:
        """``s3://`` and ``http(s)://`` inputs downloaded under ``<call_root>/inputs``; other
        files used in place."""
        staged = download_inputs(env, os.path.join(call_root, "inputs"), self.files.fetch)
        return super().stage_inputs(staged, call_root)

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
        """Queue the script for a slot; it is written to ``<call_root>/execution/`` and run."""
        ex = os.path.join(request.call_root, "execution")
        argv_container = self._argv(request, os.path.join(ex, "script"))
        proc = _Proc(-1, None, -1, spawning=True)
        self._procs[ex] = proc
        with self._lock:
            self._outstanding += 1
            want = self._outstanding if not self._slots else min(self._slots, self._outstanding)
            grow = len(self._workers) < want
            if grow:
                worker = threading.Thread(
                    target=self._worker, name=f"ironside-slot-{len(self._workers)}", daemon=True
                )
                self._workers.append(worker)
        if grow:
            worker.start()
        self._jobs.put((request, ex, proc, argv_container))
        return ex

    def _worker(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            request, ex, proc, argv_container = item
            with self._lock:
                proc.taken = True
            try:
                self._start(request, ex, proc, argv_container)
                assert proc.popen is not None
                status: int | None = proc.popen.wait()
                rc = read_rc(ex)  # here, not on the scheduler's thread
            except Exception as exc:  # reported through poll()
                proc.error = f"cannot start task script: {exc}"
                status = rc = None
            with self._lock:
                proc.status, proc.rc = status, rc
                proc.spawning = False
                proc.exited = True
                self._outstanding -= 1
            self._done.append(ex)
            self._wake()

    def _start(
        self,
        request: JobRequest,
        ex: str,
        proc: _Proc,
        argv_container: tuple[list[str], str | None],
    ) -> None:
        with self._lock:
            if proc.cancelled:
                raise RuntimeError("aborted before it started")
        fresh = _make_dir(ex)
        script = os.path.join(ex, "script")
        with open(script, "w") as fh:
            fh.write(request.script)
        for stale in () if fresh else ("rc", "pid"):
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
            env=self._environment(container is not None),  # never the server's secrets
        )
        with self._lock:
            proc.popen, proc.container, proc.pid = popen, container, popen.pid
            self._pids[ex] = popen.pid
            proc.spawning = False

    def _environment(self, docker_cli: bool) -> dict[str, str]:
        """The task processes' environment, made once (this process's does not change)."""
        env = self._task_env.get(docker_cli)
        if env is None:
            env = self._task_env[docker_cli] = task_environment(docker_cli=docker_cli)
        return env

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:  # closed: the engine has stopped
            pass

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
        done, self._ended = self._ended, []
        if done or self._done:
            timeout = 0
        for key, _ in self._selector.select(timeout):
            job_id = key.data
            if job_id is None:  # a worker saw an exit
                try:
                    while os.read(self._wake_r, 65536):
                        pass
                except BlockingIOError:
                    pass
                continue
            self._reap(job_id)
            done.append(job_id)
        while self._done:
            done.append(self._done.popleft())
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
        rc = proc.rc if proc.rc is not None else read_rc(job_id)
        if rc is not None:
            return JobState(job_id, JobStatus.SUCCEEDED, return_code=rc)
        if proc.lost or proc.popen is None:
            reason = "the task's process ended without writing rc (engine or host restarted)"
            return JobState(job_id, JobStatus.FAILED, reason=reason, lost=True)
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
        with self._lock:
            proc.cancelled = True
            if proc.spawning and not proc.taken:
                return  # still queued: its worker drops it and reports it
        deadline = time.monotonic() + 5.0
        while proc.spawning and not proc.exited and time.monotonic() < deadline:
            time.sleep(0.01)  # being started: wait for the pid
        if proc.exited or proc.pid < 0:
            return
        if proc.container:
            subprocess.run(["docker", "rm", "-f", proc.container], stdout=_DEVNULL, stderr=_DEVNULL)
        for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and not self._gone(proc):
                time.sleep(0.02)
            if self._gone(proc):
                break
        if proc.popen is None:  # re-attached: no worker reports it
            self._reap(job_id)
            self._ended.append(job_id)

    @staticmethod
    def _gone(proc: _Proc) -> bool:
        if proc.popen is not None:
            return proc.exited
        return not os.path.exists(f"/proc/{proc.pid}")

    def recover(self, request: JobRequest, job_id: str | None) -> str | None:
        """Find the attempt on disk: finished (``rc``), running (``pid``), or never started."""
        ex = os.path.join(request.call_root, "execution")
        if read_rc(ex) is not None:
            self._procs[ex] = _Proc(-1, None, -1, exited=True)
            self._ended.append(ex)
            return ex
        pid = _read_pid(ex)
        if pid is None:
            # the script writes its pid first: without one it never started (it may
            # have waited in this backend's queue), whatever job id was stored
            return None
        if _runs_script(pid, os.path.join(ex, "script")):
            proc = _Proc(pid, None, -1)
            self._procs[ex] = proc
            self._watch(ex, pid, proc)
            return ex
        return self._lost(ex)

    def _lost(self, ex: str) -> str:
        # started, but died without an rc: report it as a failed job
        self._procs[ex] = _Proc(-1, None, -1, exited=True, lost=True)
        self._ended.append(ex)
        return ex

    def running(self) -> int:
        """How many processes are being watched."""
        return sum(1 for p in self._procs.values() if not p.exited)

    def close(self) -> None:
        """Stop the workers and watching (running processes are left alone)."""
        for _ in self._workers:
            self._jobs.put(None)
        for proc in self._procs.values():
            if proc.fd >= 0:
                self._selector.unregister(proc.fd)
                os.close(proc.fd)
                proc.fd = -1
        self._selector.close()
        if not self._outstanding:  # no worker can write to the pipe any more
            os.close(self._wake_r)
            os.close(self._wake_w)


def _make_dir(ex: str) -> bool:
    """Make ``ex`` (and its parents); True when it was made now, so nothing stale is in it."""
    try:
        os.mkdir(ex)
        return True
    except FileExistsError:
        return False
    except FileNotFoundError:
        os.makedirs(os.path.dirname(ex), exist_ok=True)
    try:
        os.mkdir(ex)
        return True
    except FileExistsError:
        return False


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
