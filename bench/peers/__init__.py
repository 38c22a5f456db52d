"""diary against MLflow, workload by workload (``make bench-peers``); see ``__main__``."""
