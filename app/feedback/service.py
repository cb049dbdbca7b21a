"""Feedback on a decision's answer: checked against the caller's tenant, then stored."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.errors import NotFound
from app.feedback import repository
from app.store.engine import session_scope
from app.store.lifecycle import Store

MAX_COMMENT_CHARS = 2000
# A rating may arrive before the write-behind writer has stored its decision: flush this long.
FLUSH_WAIT_S = 2.0


class FeedbackRequest(BaseModel):
    """A rating of one decision's answer: `score` 0-10 or `thumbs`, and an optional comment."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"decision_id": "0193f0c2-7d1e-7c3a-9a51-1c2b3d4e5f60", "thumbs": "up",
         "comment": "right answer, well cited"}]})

    decision_id: Annotated[str, Field(min_length=1, max_length=64)]
    score: Annotated[float, Field(ge=0, le=10)] | None = None
    thumbs: Literal["up", "down"] | None = None
    comment: Annotated[str, Field(max_length=MAX_COMMENT_CHARS)] | None = None

    @field_validator("decision_id")
    @classmethod
    def _a_uuid(cls, value: str) -> str:
        return str(uuid.UUID(value))  # ValueError -> 422 naming the field

    @model_validator(mode="after")
    def _one_rating(self) -> FeedbackRequest:
        if (self.score is None) == (self.thumbs is None):
            raise ValueError("give exactly one of `score` (0-10) or `thumbs` (up/down)")
        return self


async def record_feedback(store: Store, body: FeedbackRequest, *, tenant: str | None,
                          restricted: bool) -> dict[str, object]:
    """Store the rating; NotFound when the decision is unknown or (for a tenant key) not its own."""
    found, owner = await _lookup(store, body.decision_id)
    if not found:
        await store.writer.flush(FLUSH_WAIT_S)
        found, owner = await _lookup(store, body.decision_id)
    if not found or (restricted and owner != tenant):
        raise NotFound("no such decision", details={"decision_id": body.decision_id})
    thumbs = None if body.thumbs is None else (1 if body.thumbs == "up" else -1)
    async with session_scope(store.sessions) as session:
        fid = await repository.add_feedback(session, body.decision_id, tenant=owner,
                                            score=body.score, thumbs=thumbs, comment=body.comment)
    return {"feedback_id": fid, "decision_id": body.decision_id, "score": body.score,
            "thumbs": body.thumbs}


async def _lookup(store: Store, decision_id: str) -> tuple[bool, str | None]:
    async with session_scope(store.sessions) as session:
        return await repository.decision_tenant(session, decision_id)
