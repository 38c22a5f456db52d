"""Work the benchmarks run in a fresh process: ``python -m bench.child COMMAND ARGS``.

* ``first-use DB``: open a new diary file, create a project and an experiment; prints JSON
  with the import time and the first-use time, both measured in this process.
* ``log DB ITERATION N``: import and open, print ``ready``, wait for a line on stdin, log N
  buffered points of ``loss`` to the iteration, close, print ``done``.
* ``export DB OUT``: export every project of a buildlog database; prints JSON with the time
  and this process's peak RSS.
* ``moto``: run a moto S3 server on 127.0.0.1 (a free port), print its URL, serve until stdin
  closes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def first_use(db: str) -> None:
    started = time.perf_counter()
    import diary

    imported = time.perf_counter()
    store = diary.open(db)
    project = store.create_project("first")
    store.create_experiment(project.id, "first")
    done = time.perf_counter()
    store.close()
    print(json.dumps({"import_s": imported - started, "first_use_s": done - imported}))


def log(db: str, iteration: str, count: int) -> None:
    import diary

    store = diary.open(db)
    print("ready", flush=True)
    sys.stdin.readline()
    log_metric = store.log_metric
    for step in range(count):
        log_metric(iteration, "loss", step * 0.001, step)
    store.close()
    print("done", flush=True)


def export(db: str, out: str) -> None:
    from buildlog.db import open_engine
    from buildlog.export import export_bundle
    from buildlog.paths import database_location

    started = time.perf_counter()
    engine, _status = open_engine(database_location(db))
    try:
        result = export_bundle(engine, Path(out), project_id=None)
    finally:
        engine.dispose()
    elapsed = time.perf_counter() - started
    rows = sum(result.manifest["tables"].values())
    print(json.dumps({"seconds": elapsed, "peak_rss_mib": peak_rss_mib(), "rows": rows}))


def moto() -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"http://{host}:{port}", flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin
    finally:
        server.stop()


def peak_rss_mib() -> float:
    """This process's peak RSS.

    ``VmHWM`` of /proc rather than ``ru_maxrss``: Linux carries a parent's high-water mark
    into ``ru_maxrss`` across fork and exec, so a child of a big benchmark process would
    report the parent's size.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> None:
    command, *args = argv
    if command == "first-use":
        first_use(args[0])
    elif command == "log":
        log(args[0], args[1], int(args[2]))
    elif command == "export":
        export(args[0], args[1])
    elif command == "moto":
        moto()
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
