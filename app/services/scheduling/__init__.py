"""Job management: definitions and their validation (jobs, job_fields), schedules and previews
(schedule), the task catalogue (catalog), a jobs table's figures (summaries), bulk actions
(bulk_jobs), the audit trail (audit), write-only task arguments (sensitive) and demo data
(demo).
"""
