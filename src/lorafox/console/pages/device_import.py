"""``/console/devices/import``: devices created from a CSV file, with a progress bar.

A DEVICE_MANAGER uploads the file (``devices/csv_lines.read_csv``: id, pac, name, lat, lng, at
most ``MAX_LINES`` lines, checked before it is read) and chooses the device type; the devices
are created by a bulk job (``BulkJobs``, as ``POST /api/v2/devices/bulk``) and the page polls
``/console/devices/import/{job}`` until it is done, then lists the lines refused. A job's
progress is kept by the instance running it (see docs/console.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from starlette.responses import Response

from lorafox.console.context import Cx, Session, page_router
from lorafox.console.errors import is_htmx
from lorafox.console.forms import Form
from lorafox.devices.bulk import BulkJob
from lorafox.devices.csv_lines import read_csv
from lorafox.errors import InvalidInput

__all__ = ["POLL_MS", "router"]

POLL_MS = 500
"""How often the page asks how the job goes."""

router = page_router()

JobId = Annotated[str, Path(max_length=64)]


def _render(request: Request, cx: Cx, job: BulkJob | None, error: str = "") -> Response:
    values = {"job": job, "error": error, "poll_ms": POLL_MS}
    status = 400 if error else 200
    if is_htmx(request):
        return cx.templates.render(request, "devices/_import.html", values, status=status)
    return cx.templates.render(request, "devices/import.html", values, status=status)


@router.post("/console/devices/import")
async def start_import(request: Request, cx: Cx, session: Session, form: Form) -> Response:
    data = form.files.get("file")
    type_id = form.get("deviceTypeId")
    if data is None or not data.strip():
        return _render(request, cx, None, "choose the CSV file of the devices")
    if not type_id:
        return _render(request, cx, None, "choose the device type of the devices")
    try:
        lines, refused = read_csv(data, type_id)
    except InvalidInput as exc:
        return _render(request, cx, None, exc.message)
    job = await cx.api.devices.bulk.start(session.principal, type_id, lines, refused)
    return _render(request, cx, job)


@router.get("/console/devices/import/{job_id}")
async def import_progress(request: Request, cx: Cx, session: Session, job_id: JobId) -> Response:
    return _render(request, cx, cx.api.devices.bulk.get(session.principal, job_id))
