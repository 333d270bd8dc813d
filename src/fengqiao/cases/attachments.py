"""Attachments: stored once by content hash, with size and type checked from the bytes themselves."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy.orm import Session

from fengqiao.auth.service import Principal
from fengqiao.cases.models import Attachment, CaseEvent
from fengqiao.cases.service import load_case
from fengqiao.errors import InvalidInput, NotFound
from fengqiao.settings import Settings

_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
_OOXML = {".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
          ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
_TYPE_NAMES = "JPEG、PNG、WebP 图片，PDF，Word（.docx）或 Excel（.xlsx）"


def sniff(data: bytes, filename: str) -> str | None:
    """The real type from the first bytes; the file name only tells docx from xlsx (both zip)."""
    for magic, kind in _SIGNATURES:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"PK\x03\x04":
        return _OOXML.get(Path(filename).suffix.lower())
    return None


def store(settings: Settings, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    path = settings.attachment_dir / digest[:2] / digest
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)  # atomic: a reader never sees half a file
    return digest


def add_attachment(session: Session, settings: Settings, principal: Principal, case_id: int, filename: str,
                   data: bytes, purpose: str = "report") -> Attachment:
    case = load_case(session, principal, case_id)
    if not data:
        raise InvalidInput("附件为空", "file")
    if len(data) > settings.max_attachment_bytes:
        limit_mb = settings.max_attachment_bytes / 1024 / 1024
        raise InvalidInput(f"附件 {len(data) / 1024 / 1024:.1f} MB 超过上限 {limit_mb:.0f} MB", "file")
    kind = sniff(data, filename)
    if kind is None or kind not in settings.allowed_attachment_types:
        raise InvalidInput(f"不支持的附件类型（{filename}）：只接受 {_TYPE_NAMES}", "file")
    if purpose not in {"report", "evidence", "document"}:
        raise InvalidInput("用途应为 report、evidence 或 document", "purpose")
    digest = store(settings, data)
    row = Attachment(case_id=case.id, filename=Path(filename).name[:200] or "附件", content_type=kind, size=len(data),
                     sha256=digest, purpose=purpose, uploaded_by=principal.user_id)
    session.add(row)
    session.flush()
    session.add(CaseEvent(case_id=case.id, actor_id=principal.user_id, action="attach", from_state=case.state,
                          to_state=case.state, note=row.filename, data={"attachment_id": row.id, "sha256": digest}))
    return row


def open_attachment(session: Session, settings: Settings, principal: Principal, attachment_id: int) -> tuple[Attachment, Path]:
    row = session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound(f"附件 {attachment_id} 不存在", "attachment_id")
    load_case(session, principal, row.case_id)
    return row, settings.attachment_dir / row.sha256[:2] / row.sha256
