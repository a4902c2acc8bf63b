# syntax=docker/dockerfile:1
# The killswitch runner image: `ksctl run` as an unprivileged user, the package installed from its
# wheel with the runtime dependencies only (no test extras, no build tools in the final stage).
#
#   docker build -t killswitch:0.1.0 .
#   docker run --rm -p 8080:8080 -v "$PWD/policies:/etc/killswitch/policies:ro" \
#     -v "$PWD/policies/accounts.yaml:/etc/killswitch/accounts/accounts.yaml:ro" killswitch:0.1.0
#
# The Helm chart (charts/killswitch) sets the command line itself and mounts a read-only root
# filesystem with writable volumes for the state, the lock file and /tmp.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the wheel ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY killswitch ./killswitch
COPY adapters ./adapters
RUN pip wheel --no-deps --wheel-dir /wheels .

# --- runtime ------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/killswitch/bin:$PATH

# A numeric UID/GID so that Kubernetes can verify runAsNonRoot without reading /etc/passwd.
RUN groupadd --system --gid 10001 killswitch \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin killswitch \
 && mkdir -p /etc/killswitch/policies /etc/killswitch/accounts /var/lib/killswitch /run/killswitch \
 && chown 10001:10001 /var/lib/killswitch /run/killswitch

COPY --from=build /wheels /tmp/wheels
RUN python -m venv /opt/killswitch \
 && /opt/killswitch/bin/pip install /tmp/wheels/*.whl \
 && rm -rf /tmp/wheels \
 && ksctl --version

USER 10001:10001
WORKDIR /var/lib/killswitch
EXPOSE 8080

# /healthz answers while the process is alive; python is in the image, curl is not needed.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=3)"]

ENTRYPOINT ["ksctl", "run"]
CMD ["--policies", "/etc/killswitch/policies", \
     "--accounts", "/etc/killswitch/accounts/accounts.yaml", \
     "--state", "sqlite:///var/lib/killswitch/state.db", \
     "--lock-file", "/run/killswitch/lock.json", \
     "--api-host", "0.0.0.0", "--api-port", "8080"]
