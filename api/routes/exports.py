"""GET /api/v1/cases/{case_no}/export: the case's evidence as a BagIt bag in a zip
(api/case_export.py), for reviewer+ of the case's unit, holding the case's media the caller
may see. The zip is written to a temporary file, which is unlinked before the answer starts
(the open file is sent, so nothing is left behind however the client hangs up); the
request is in the audit trail and each exported medium's custody records the export."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import HTTPException, Request, status
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from api.case_export import ExportError, ZipSink, record_export, write_bag
from api.custody_log import caller
from api.deps import REVIEWERS, CurrentToken, SessionDep, StoreDep, roles, secured_router
from api.object_responses import content_disposition
from api.scope import may_see_case, media_scope
from storage.catalogue import case_repo
from storage.catalogue.models import utc_now
from storage.durable import DescriptorRange

router = secured_router("/api/v1/cases", ["cases"])


@router.get(
    "/{case_no}/export",
    response_class=StreamingResponse,
    responses={
        200: {"description": "the bag, zipped", "content": {"application/zip": {}}},
        403: {"description": "a case of another unit"},
        404: {"description": "no such case"},
        409: {"description": "a stored original does not match its SHA-256"},
    },
    **roles(*REVIEWERS),
)
def export_case(
    case_no: Annotated[str, PathParam(min_length=1, max_length=64)],
    request: Request,
    session: SessionDep,
    store: StoreDep,
    token: CurrentToken,
) -> StreamingResponse:
    """The case's originals, browser copies, signed custody reports and dock receipts as a
    BagIt bag (RFC 8493: manifest-sha256.txt, tagmanifest-sha256.txt, bag-info.txt), signed
    by the api (signature.json), zipped without compression."""
    case = case_repo.get_case(session, case_no)
    if case is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no case {case_no!r}")
    if not may_see_case(token, case):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"case {case_no!r} is not yours")
    name = f"bag-{_file_safe(case_no)}"
    work = Path(tempfile.mkdtemp(prefix="case-export-"))
    try:
        archive = work / f"{name}.zip"
        sink = ZipSink(archive, name)
        who, now = caller(request, token), utc_now()
        try:
            made = write_bag(
                session, store, request.app.state.signing_key, case_no, sink,
                exporter=who, now=now, scope=media_scope(token),
            )  # fmt: skip
        except BaseException:
            sink.close()
            raise
        record_export(session, made.media_ids, case_no, who, now=now)
        case_repo.commit(session, "the export's custody events")
        opened = DescriptorRange(os.open(archive, os.O_RDONLY | os.O_CLOEXEC), what="the export")
        size = archive.stat().st_size
    except ExportError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the open file holds the bytes until sent
    return StreamingResponse(
        opened,
        media_type="application/zip",
        headers={
            "Content-Disposition": content_disposition(f"{name}.zip"),
            "Content-Length": str(size),
        },
    )


def _file_safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
