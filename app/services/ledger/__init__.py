"""The engine's ledger: one Execution row per slot. Arming and firing slots (firing, misfire,
slots), the overlap rule, claiming and recording runs (runs), reconciling Redis with the
database (reconcile), leadership and process heartbeats, every rq-scheduler call (recurrence),
reading history (executions) and retention.
"""
