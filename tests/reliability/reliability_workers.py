"""Traffic generators that run in child processes: one Gateway per process, demo mode.

``log_writer_process`` is a ``multiprocessing`` (spawn) target for the shared-database
test. Run as a script (``python reliability_workers.py crash DB THREADS``) it becomes
the crash-test child: it sends requests until it is killed and prints one line per
completed request, ``done <requests> <attempts>``, so the parent knows how many rows
the gateway had been asked to log when the kill landed.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
for extra in (HERE, HERE.parent):  # gateway_fixtures lives one level up
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from gateway_fixtures import demo_env  # noqa: E402

from gateway_core import GatewayError, GenerateRequest  # noqa: E402
from gateway_core.gateway import Gateway  # noqa: E402

PRIORITIES = ("low_cost", "low_latency", "balanced")


def _request(i: int, tag: str) -> GenerateRequest:
    return GenerateRequest(
        prompt=f"{tag} request {i}: summarise the routing rules", task="chat", priority=PRIORITIES[i % 3], user=f"{tag}-user"
    )


def log_writer_process(db_path: str, tag: str, n: int, results) -> None:
    """Send ``n`` requests (every third one streamed) and report (tag, requests, attempts, errors)."""
    gw = Gateway.from_env(demo_env(Path(db_path)), dotenv_path=None)
    attempts = errors = 0
    try:
        for i in range(n):
            try:
                if i % 3 == 2:
                    s = gw.stream(_request(i, tag))
                    for _ in s:
                        pass
                    attempts += len(s.result.attempts)
                else:
                    attempts += len(gw.generate(_request(i, tag)).attempts)
            except GatewayError as e:
                errors += 1
                attempts += len(getattr(e, "attempts", ()) or ())
    finally:
        gw.close()
    results.put((tag, n, attempts, errors))


def crash_child(db_path: str, threads: int) -> None:
    """Generate traffic forever from ``threads`` threads; the parent kill -9s this process."""
    gw = Gateway.from_env(demo_env(Path(db_path)), dotenv_path=None)
    lock = threading.Lock()
    counts = {"requests": 0, "attempts": 0}
    print("ready", flush=True)

    def loop(t: int) -> None:
        i = 0
        while True:
            i += 1
            r = gw.generate(_request(i, f"crash{t}"))
            with lock:
                counts["requests"] += 1
                counts["attempts"] += len(r.attempts)
                # Printed after generate returned, i.e. after its rows were queued.
                print(f"done {counts['requests']} {counts['attempts']}", flush=True)

    workers = [threading.Thread(target=loop, args=(t,), daemon=True) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "crash":
        crash_child(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: reliability_workers.py crash DB THREADS")
