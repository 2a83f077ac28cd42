# syntax=docker/dockerfile:1
# Multi-stage: build a virtualenv from the lock file, then copy it into a slim runtime image.
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir "uv==0.13.9"
COPY requirements.lock pyproject.toml README.md ./
# Runtime dependencies only: the lock file pins everything with hashes; dev tools are skipped.
RUN /opt/venv/bin/uv pip sync --python /opt/venv/bin/python --no-cache requirements.lock
COPY app ./app
COPY collectors ./collectors
COPY scoring ./scoring
COPY simulator ./simulator
COPY migrations ./migrations
COPY alembic.ini ./
RUN /opt/venv/bin/uv pip install --python /opt/venv/bin/python --no-cache --no-deps .

FROM python:3.11-slim AS runtime
RUN groupadd --system bie && useradd --system --gid bie --home-dir /srv/bie --create-home bie
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/migrations /srv/bie/migrations
COPY --from=build /src/alembic.ini /srv/bie/alembic.ini
WORKDIR /srv/bie
ENV PATH="/opt/venv/bin:$PATH" PYTHONUNBUFFERED=1 BIE_HOST=0.0.0.0 BIE_PORT=8000 BIE_LOG_JSON=true
USER bie
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["bie", "api"]
