"""The pure domain core: no Celery, no SQLAlchemy, no I/O.

Everything here is plain Python and pydantic, so it can be unit tested without a database or a broker and reused
unchanged by every entry point (HTTP intake, Celery tasks, CLI).
"""
