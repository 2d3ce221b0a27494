# authsite: Django + Channels under daphne.
# Build:  docker build -t authsite .
# Run:    see compose.yaml (PostgreSQL + Redis + the app) and the README.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, from the project's own metadata (this layer is reused while
# only templates and static files change). The app runs from /app: daphne and
# manage.py put the working directory first on sys.path.
COPY pyproject.toml ./
COPY authsite/ authsite/
COPY sessions_core/ sessions_core/
COPY realtime/ realtime/
COPY signin/ signin/
COPY ops/ ops/
RUN pip install .

COPY manage.py ./
COPY templates/ templates/
COPY static/ static/

# Static files are collected at build time (the ASGI app serves them); the
# settings need no secrets or services to do that.
RUN python manage.py collectstatic --noinput \
    && groupadd --system --gid 10001 authsite \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin authsite

# Never run as root.
USER 10001:10001

EXPOSE 8000

# Liveness: /healthz answers without touching Redis or the database. The Host
# header must be one of ALLOWED_HOSTS, so take the first (".example.com" -> "example.com").
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as u; h = os.environ.get('ALLOWED_HOSTS', 'localhost').split(',')[0].strip().lstrip('.*') or 'localhost'; r = u.urlopen(u.Request('http://127.0.0.1:8000/healthz', headers={'Host': h}), timeout=4); sys.exit(0 if r.status == 200 else 1)"]

# Behind a trusted reverse proxy add --proxy-headers (client IPs for rate limits).
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "authsite.asgi:application"]
