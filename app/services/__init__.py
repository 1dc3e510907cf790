"""Business logic: takes explicit arguments (session, handles, ``now``), never touches ``request``.

Grouped by concept; each package's ``__init__`` says what it owns:

- ``scheduling`` — job management (definitions, validation, previews, catalogue, audit).
- ``ledger`` — the engine's ledger: slots, firing, overlap, runs, reconcile, leadership.
- ``failures`` — retries of failed runs and the retry queue.
- ``events`` — webhooks and their deliveries.
- ``users`` — accounts and API tokens.

Shared by all: ``access`` (who may see and change what), ``errors``, ``limits``,
``effects`` (commit, then signal Redis), ``paging``/``keyset`` (paged reads),
``batches`` and ``status``.
"""
