"""``POST /devices/bulk``: many devices created by a job that runs in the service's event loop.

A job's status lives in memory only: a restart loses the status of jobs in flight (the devices
they created stay created). Finished jobs are kept for ``KEEP_SECONDS``, at most ``MAX_JOBS``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from lorafox.auth import rbac
from lorafox.devices.devices import DeviceLine, Devices, LineError
from lorafox.domain import Principal
from lorafox.errors import NotFound

__all__ = ["BulkJob", "BulkJobs"]

log = logging.getLogger(__name__)

KEEP_SECONDS = 24 * 3600
MAX_JOBS = 1000


@dataclass(slots=True)
class BulkJob:
    id: str
    group_path: str  # who may read the status: those who see the device type's group
    total: int
    created_at: float
    done: bool = False
    success: int = 0
    failed: int = 0
    errors: list[LineError] = field(default_factory=list)
    refused: list[LineError] = field(default_factory=list)
    """Lines refused before the job started (not even a device's line)."""

    @property
    def progress(self) -> int:
        """Lines handled, created or refused, in percent."""
        return (
            100 if self.done or not self.total else (self.success + self.failed) * 100 // self.total
        )


class BulkJobs:
    """Starts bulk creations as asyncio tasks and keeps their status."""

    def __init__(self, devices: Devices) -> None:
        self._devices = devices
        self._jobs: dict[str, BulkJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(
        self,
        principal: Principal,
        device_type_id: str,
        lines: Sequence[DeviceLine],
        refused: Sequence[LineError] = (),
    ) -> BulkJob:
        """Check the device type now (404/403 at once), create the devices in the background.
        ``refused``: lines of the same request already refused (a CSV line that is not one),
        counted as failed and reported with the others."""
        device_type = await self._devices.types.get(principal, device_type_id, rbac.OPERATE)
        group = await self._devices.group_of(device_type)
        self._forget_old()
        total = len(lines) + len(refused)
        job = BulkJob(secrets.token_hex(12), group.path, total, time.time(), refused=list(refused))
        job.failed = len(refused)
        self._jobs[job.id] = job
        task = asyncio.create_task(self._run(principal, job, lines), name=f"bulk {job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def get(self, principal: Principal, job_id: str) -> BulkJob:
        job = self._jobs.get(job_id)
        if job is None or not rbac.visible(principal, job.group_path):
            raise NotFound("job not found")
        return job

    async def _run(self, principal: Principal, job: BulkJob, lines: Sequence[DeviceLine]) -> None:
        def progress(created: int, failed: int) -> None:
            job.success, job.failed = created, failed + len(job.refused)

        job.errors = list(job.refused)
        try:
            found = await self._devices.create_many(principal, lines, progress)
            job.errors = sorted([*job.refused, *found], key=lambda e: e.line)
        except asyncio.CancelledError:
            job.errors.append(LineError(0, "", "the job was stopped: lorafox shut down"))
            job.failed = job.total - job.success
            raise
        except Exception as exc:  # the store failed: report it on every line not created
            log.exception("bulk job %s failed", job.id)
            job.errors.append(LineError(0, "", f"the job stopped: {exc}"))
            job.failed = job.total - job.success
        else:
            job.failed = len(job.errors)
        finally:
            job.done = True

    def _forget_old(self) -> None:
        limit = time.time() - KEEP_SECONDS
        for job_id, job in list(self._jobs.items()):
            if job.done and (job.created_at < limit or len(self._jobs) >= MAX_JOBS):
                del self._jobs[job_id]

    async def stop(self) -> None:
        """Cancel the jobs still running (shutdown): what they created stays created."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
