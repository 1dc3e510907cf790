"""The jobs list's counts: right over the filtered set, and counted in one scan of the jobs."""

from __future__ import annotations

from sqlalchemy import inspect

from app.extensions import db
from app.models import utcnow
from app.services.scheduling import jobs
from app.services.scheduling.jobs import JobFilters
from tests.conftest import counted_statements


def test_counts_cover_the_filtered_live_jobs_only(admin, editor, make_job):
    make_job(editor, name="nightly backup")
    make_job(editor, name="weekly backup", is_enabled=False)
    make_job(editor, name="backup sleeper", task_function="sleep", task_args={"seconds": 1})
    gone = make_job(editor, name="old backup")
    make_job(editor, name="report")
    jobs.delete_job(db.session, editor.user, gone, utcnow())
    page = jobs.list_jobs(db.session, admin.user, JobFilters(q="backup", per_page=1))
    assert (page.total, page.enabled_count, page.disabled_count) == (3, 2, 1)
    assert len(page.jobs) == 1
    joined = JobFilters(q="backup", task_function="sleep")
    assert jobs.list_jobs(db.session, admin.user, joined).total == 1
    mine = jobs.list_jobs(db.session, editor.user, JobFilters(q="weekly"))
    assert (mine.total, mine.disabled_count, mine.jobs[0].name) == (1, 1, "weekly backup")


def test_totals_read_the_jobs_once_not_joined_with_themselves(admin, editor, make_job):
    make_job(editor, name="a job")
    with counted_statements() as statements:
        jobs.list_jobs(db.session, admin.user, JobFilters())
    (totals,) = [s for s in statements if "FILTER (WHERE" in s]
    assert totals.count("FROM scheduled_jobs") == 1


def test_jobs_have_an_index_for_the_default_order(app):
    indexes = {
        ix["name"]: ix["column_names"] for ix in inspect(db.engine).get_indexes("scheduled_jobs")
    }
    assert indexes["ix_scheduled_jobs_name_id"] == ["name", "id"]
