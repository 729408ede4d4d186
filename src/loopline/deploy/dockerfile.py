"""The serving image: a multi-stage Dockerfile (pinned Python base, non-root user, the ``serve``
and ``ml`` extras, a health check) and its ``.dockerignore``."""

from __future__ import annotations

__all__ = ["DOCKERIGNORE", "dockerfile"]

PYTHON_BASE = "python:3.11.11-slim-bookworm"
# The health check needs no curl in the image: Python asks the live endpoint.
_PROBE = (
    "import sys, urllib.request; "
    "sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/v2/health/live', timeout=2).status"
    " != 200)"
)

DOCKERIGNORE = """\
# Keep data, caches and local state out of the build context.
.git
.venv
.loopline/cache
.loopline/tmp
.loopline/store.db*
.loopline/serving
**/__pycache__
*.pyc
data/
bench/.venvs
bench/.work
"""


def dockerfile(extras: str = "serve,ml,postgres,s3") -> str:
    return f"""\
# syntax=docker/dockerfile:1
# Loopline model server / tracking server / controller image.
# Build: docker build -t REGISTRY/loopline:TAG .

# -- build stage: a wheel of this project and its dependencies --------------------------------
FROM {PYTHON_BASE} AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/loopline \\
    && /opt/loopline/bin/pip install --no-compile ".[{extras}]" \\
    && /opt/loopline/bin/python -m compileall -q /opt/loopline/lib

# -- runtime stage: the virtualenv only, run as an unprivileged user ---------------------------
FROM {PYTHON_BASE}
RUN groupadd --gid 10001 loopline \\
    && useradd --uid 10001 --gid loopline --no-create-home --shell /usr/sbin/nologin loopline
COPY --from=build /opt/loopline /opt/loopline
ENV PATH=/opt/loopline/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /home/loopline
USER 10001:10001
EXPOSE 8080 5000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \\
    CMD ["python", "-c", "{_PROBE}"]
ENTRYPOINT ["loopline"]
CMD ["--help"]
"""
