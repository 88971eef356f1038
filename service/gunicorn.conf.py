"""gunicorn settings for Cloud Run (and the local stack): `gunicorn -c service/gunicorn.conf.py 'service.app:create_app()'`.

Cloud Run gives an instance 1 vCPU by default and routes up to 80 concurrent requests to it. The
answers are precomputed bytes (well under a millisecond each), so one process with a few threads
saturates the CPU; more workers would only multiply memory (each loads the champion and its storage
client) — scale out with instances instead. Both numbers can be raised per deployment:

- `WEB_CONCURRENCY` — worker processes (default 1; set it to the vCPU count for instances with more).
- `GUNICORN_THREADS` — threads per worker (default 8): enough to overlap slow clients.
"""

import gc
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Load the app in each worker, after the fork: the champion cache holds threads and HTTP sessions,
# which do not survive a fork.
preload_app = False
# Cloud Run sends SIGTERM and waits 10 s before SIGKILL.
graceful_timeout = 8
timeout = 30
keepalive = 5
# Cloud Run records every request itself; the app logs JSON lines for the events that matter.
accesslog = None
errorlog = "-"
loglevel = "info"
# The heartbeat file on tmpfs: a container's disk may be slow or read-only.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No control socket: nothing manages the server at run time, and a shared default path
# (~/.gunicorn/gunicorn.ctl) would make two servers on one machine (demo and tests) collide.
control_socket_disable = True


def post_worker_init(worker: object) -> None:
    """Once the worker has loaded the app, freeze what start-up allocated (Flask, the clients, the
    champion's view: some 77,000 tracked objects) out of the cyclic garbage collector. Otherwise
    every full collection, one every few seconds under load, walks them all with the GIL held: a
    30-70 ms pause (measured under load; 0.2 ms once frozen) in the p99 of every endpoint."""
    gc.freeze()
