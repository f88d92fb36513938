"""One row per /v1 request, rejected ones included."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow
from ..types import BigId


# request_logs.surface: the API shape a /v1 request came in on, by the name its vendor gives it.
API_SURFACES = {"chat_completions": "Chat Completions", "messages": "Messages", "responses": "Responses"}


class RequestLog(db.Model):
    __tablename__ = "request_logs"
    __table_args__ = (
        Index("ix_request_logs_workspace_created", "workspace_id", "created_at"),
        Index("ix_request_logs_key_created", "api_key_id", "created_at"),
        Index("ix_request_logs_model_created", "model_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(128), index=True)
    workspace_id: Mapped[int | None] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(255))
    surface: Mapped[str | None] = mapped_column(String(24))  # chat_completions, messages, responses
    model_id: Mapped[str | None] = mapped_column(String(128))
    provider: Mapped[str | None] = mapped_column(String(32))
    upstream_model: Mapped[str | None] = mapped_column(String(128))
    upstream_request_id: Mapped[str | None] = mapped_column(String(128))
    stream: Mapped[bool] = mapped_column(default=False)
    status_code: Mapped[int]
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    cached_tokens: Mapped[int] = mapped_column(default=0)
    reasoning_tokens: Mapped[int] = mapped_column(default=0)
    cost_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    estimated: Mapped[bool] = mapped_column(default=False)
    cancelled: Mapped[bool] = mapped_column(default=False)
    latency_ms: Mapped[int | None]
    ttft_ms: Mapped[int | None]
    attempts: Mapped[list | None] = mapped_column(db.JSON)
    hold_id: Mapped[int | None] = mapped_column(BigInteger)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)  # read through the composite indexes above
