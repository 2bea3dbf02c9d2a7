"""Gunicorn settings for the Heyon web process: ``gunicorn -c heyon_site/gunicorn.conf.py``.

Everything a deployment tunes comes from the environment (see docs/DEPLOY.md):

- ``GUNICORN_BIND`` (default ``127.0.0.1:8000``; ``PORT`` alone gives ``0.0.0.0:$PORT``
  as on a Procfile platform), comma-separated for several addresses;
- ``GUNICORN_WORKERS`` (default 2 × cores + 1), ``GUNICORN_THREADS`` (default 1);
- ``GUNICORN_TIMEOUT`` (default 30 s), ``GUNICORN_GRACEFUL_TIMEOUT`` (default 30 s),
  ``GUNICORN_KEEPALIVE`` (default 5 s, above nothing but below the load balancer's idle timeout);
- ``FORWARDED_ALLOW_IPS`` (default ``127.0.0.1,::1``): the load balancers whose
  ``X-Forwarded-*`` headers gunicorn believes;
- ``GUNICORN_MAX_REQUESTS`` (default 5000, 0 = never) before a worker is replaced;
- ``GUNICORN_ACCESS_LOG`` (default ``-``, stdout), ``GUNICORN_LOG_LEVEL`` (default ``info``),
  ``GUNICORN_CONTROL_SOCKET`` (default none).
"""

import os

_port = os.environ.get("PORT")
bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{_port}" if _port else "127.0.0.1:8000").split(",")

# Synchronous workers: every request is short (the heavy work, photo checks aside, runs in
# background workers), and one process per request keeps Django's connection handling simple.
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
worker_class = "gthread" if threads > 1 else "sync"

# A photo upload runs the quality checks in the request (docs/PERFORMANCE.md has the
# current figures); 30 s is far above them and still frees a stuck worker before the
# load balancer gives up on it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 5))
# Recycle workers now and then so that a slow leak in a C library never grows unbounded.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 5000))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", 500))

# Import Django once in the master: workers fork with the code already loaded (faster
# start, shared memory pages) and a broken settings module fails before any worker starts.
# Database connections are opened per worker on their first request, never before the fork.
preload_app = True

# The workers' heartbeat files (made with mkstemp and unlinked at once) live in memory, not on
# a disk that may stall a worker's heartbeat (a container's /tmp is often an overlay filesystem).
_shm = "/dev/shm"  # noqa: S108
worker_tmp_dir = _shm if os.path.isdir(_shm) else None

# The control socket (``gunicornc``) only where asked for, with GUNICORN_CONTROL_SOCKET: by
# default every instance on a host would try the same path in the home directory.
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]

# Behind the load balancer: believe X-Forwarded-Proto/For only from it.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Logs to stdout/stderr, for systemd's journal or the platform's collector.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The request id the app sets (X-Request-ID) ties an access line to the app's own log lines.
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s "%(a)s"'
