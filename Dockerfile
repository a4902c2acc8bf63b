# syntax=docker/dockerfile:1
# The killswitch runner image: `ksctl run` as an unprivileged user, the package installed from its
# wheel with the runtime dependencies only (no test extras, no build tools in the final stage).
#
#   docker build -t killswitch:0.1.0 \
#     --build-arg VCS_REF="$(git rev-parse HEAD)" --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .
#   docker run --rm -p 8080:8080 -v "$PWD/policies:/etc/killswitch/policies:ro" \
#     -v "$PWD/policies/accounts.yaml:/etc/killswitch/accounts/accounts.yaml:ro" killswitch:0.1.0
#
# Nothing is resolved at build time: every Python package comes from requirements/*.txt with its
# sha256 (pip --require-hashes refuses anything else), the build backend included (no build
# isolation). `make lock` updates those files; Renovate (renovate.json) proposes updates.
#
# The Helm chart (charts/killswitch) sets the command line itself and mounts a read-only root
# filesystem with writable volumes for the state, the lock file and /tmp.

# The base image. Pin it by digest as well as by tag (`python:3.11-slim-bookworm@sha256:<64 hex>`),
# so that a rebuild gets the same bytes until someone decides otherwise. To pin or update it, on a
# machine that reaches the registry:
#   docker buildx imagetools inspect python:3.11-slim-bookworm --format '{{json .Manifest.Digest}}'
# (or `crane digest python:3.11-slim-bookworm`) and write the digest, of the multi-platform index,
# after the tag below; Renovate's pinDigests does the same in a pull request and keeps it current.
# base-image-digest: UNRESOLVED - the registry was unreachable where this line was written (no
# network but the package indexes), so no digest is given here rather than one nobody checked.
# Remove this marker when pinning: tests/chart/test_dockerfile.py then requires a well-formed digest.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the wheel ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY requirements/build.txt ./requirements/
RUN pip install --require-hashes -r requirements/build.txt
COPY pyproject.toml README.md ./
COPY killswitch ./killswitch
COPY adapters ./adapters
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheels .

# --- runtime ------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG VCS_REF=""
ARG CREATED=""
ARG SOURCE=""
# The OCI image annotations (https://github.com/opencontainers/image-spec/blob/main/annotations.md).
# version follows pyproject.toml (a test compares); revision, created and source come from the build.
LABEL org.opencontainers.image.title="killswitch" \
      org.opencontainers.image.description="Declarative kill-switch control plane for algorithmic trading: the runner (ksctl run)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/${PYTHON_IMAGE}"
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

COPY requirements/runtime.txt /tmp/requirements/runtime.txt
COPY --from=build /wheels /tmp/wheels
# The runtime dependencies from the lock (hashes checked), then the wheel alone (--no-deps): pip
# resolves nothing. `pip check` fails the build when the lock lacks what the wheel requires.
RUN python -m venv /opt/killswitch \
 && /opt/killswitch/bin/pip install --require-hashes -r /tmp/requirements/runtime.txt \
 && /opt/killswitch/bin/pip install --no-deps /tmp/wheels/*.whl \
 && /opt/killswitch/bin/pip check \
 && rm -rf /tmp/wheels /tmp/requirements \
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
