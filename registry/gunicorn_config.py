"""gunicorn settings shared by the Procfile, the image and the benchmark.

- Threaded workers: a manifest of millions of tracks streams for minutes; a sync worker
  would be killed by the arbiter's 30 s timeout mid-stream (its heartbeat waits for the
  request), a threaded one keeps beating while a thread streams.
- The access log leaves out query strings and referrers: a staff lookup carries an
  email address in its query (``/api/v1/staff/speakers/?email=``) and logs hold no PII.
"""

import os

worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s "%(a)s"'
