"""A task for the raw RQ / rq-scheduler baselines (no Almanac involved)."""


def noop() -> dict[str, bool]:
    """Do nothing."""
    return {"ok": True}
