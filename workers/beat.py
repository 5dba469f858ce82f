"""Celery beat: the periodic "find what is due and enqueue it" jobs (tracking, inspections, reconciler, relay).

Run exactly one per deployment."""

import os

from rma.worker.launch import run_beat

if __name__ == "__main__":
    run_beat(os.environ.get("RMA_BEAT_SCHEDULE_FILE", "celerybeat-schedule"))
