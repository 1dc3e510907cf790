"""Execution history."""

from __future__ import annotations

import uuid
from typing import Any

from app.api import serializers, spec
from app.api.common import api_user, parse_query, respond
from app.api.schemas import ExecutionDetail, ExecutionList, HistoryQuery
from app.api.spec import links_to
from app.extensions import db
from app.models import User
from app.services.ledger import executions


def history_page(user: User, query: HistoryQuery, **overrides: Any) -> Any:
    """Render a page of history for the given filters."""
    filters = executions.HistoryFilters(**(query.model_dump(exclude_none=True) | overrides))
    page = executions.list_executions(db.session, user, filters)
    return respond(
        ExecutionList(
            executions=[serializers.execution(row) for row in page.items],
            total=page.total,
            page=query.page,
            per_page=query.per_page,
        )
    )


@spec.route(
    "/history",
    "GET",
    summary="All executions",
    tag="history",
    query=HistoryQuery,
    response=ExecutionList,
    links=links_to("get_execution", execution_id="$response.body#/executions/0/id"),
)
def all_history() -> Any:
    """A page of executions of every job the caller may see."""
    return history_page(api_user(), parse_query(HistoryQuery))


@spec.route(
    "/executions/<uuid:execution_id>",
    "GET",
    summary="One execution",
    tag="history",
    response=ExecutionDetail,
    links=links_to("get_job", "job_history", job_id="$response.body#/jobId"),
)
def get_execution(execution_id: uuid.UUID) -> Any:
    """One execution with its result, log and traceback."""
    row = executions.get_execution(db.session, api_user(), execution_id)
    return respond(serializers.execution_detail(row))
