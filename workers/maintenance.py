"""The maintenance worker: an independent Celery worker consuming only its own queue (see rma.worker.launch.STAGES)."""

from rma.worker.launch import run_worker

if __name__ == "__main__":
    run_worker("maintenance")
