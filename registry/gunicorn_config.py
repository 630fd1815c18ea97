"""gunicorn settings shared by the Procfile, the image and the benchmark.

The access log leaves out query strings and referrers: a staff lookup carries an email
address in its query (``/api/v1/staff/speakers/?email=``) and logs hold no PII."""

access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s "%(a)s"'
