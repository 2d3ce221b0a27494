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
COPY signin/ signin/
COPY ops/ ops/
COPY realtime/ realtime/
COPY signin/ signin/
COPY ops/ ops/
RUN pip install .

COPY manage.py ./
COPY templates/ templates/
COPY static/ static/

# Static files are collected at build time (the ASGI app serves them). With DEBUG
# off the settings refuse to load without a strong SECRET_KEY, so this step gets a
# throwaway one; the running container must be given its own (compose.yaml).
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" python manage.py collectstatic --noinput \
    && groupadd --system --gid 10001 authsite \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin authsite

# Never run as root.
USER 10001:10001

EXPOSE 8000

# Liveness: /healthz answers without touching Redis or the database. The Host
# header must be one of ALLOWED_HOSTS, so take the first (".example.com" -> "example.com").
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as u; h = os.environ.get('ALLOWED_HOSTS', 'localhost').split(',')[0].strip().lstrip('.*') or 'localhost'; r = u.urlopen(u.Request('http://127.0.0.1:8000/healthz', headers={'Host': h}), timeout=4); sys.exit(0 if r.status == 200 else 1)"]

# ops.serve is daphne with an access log that redacts OAuth codes and tokens in URLs.
# Behind reverse proxies set TRUSTED_PROXY_HOPS (README, "Security"); never daphne's
# --proxy-headers, which trusts the client-controlled leftmost X-Forwarded-For entry.
CMD ["python", "-m", "ops.serve", "-b", "0.0.0.0", "-p", "8000", "authsite.asgi:application"]
