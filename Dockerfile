# The application image: the server (the default command) and the sandbox worker
# (`python -m sandbox.worker`), one image, opencode-classroom-app:latest.
#   docker build -t opencode-classroom-app:latest .
# Without a registry: `sudo deploy/image/build-offline.sh app` runs these same steps on a
# debootstrap base (it reads ARG PACKAGES, RUN, COPY and the metadata lines below; one
# instruction per line, no RUN after USER).
FROM debian:bookworm-slim
ARG PACKAGES="python3 python3-venv ca-certificates tini"
RUN apt-get update && apt-get install -y --no-install-recommends $PACKAGES && rm -rf /var/lib/apt/lists/*
RUN groupadd -g 10002 classroom && useradd -u 10002 -g 10002 -d /data -s /usr/sbin/nologin classroom && mkdir -m 0750 /data && chown classroom:classroom /data
# Exact versions (deploy/image/requirements.lock), wheels only: no compiler in the image.
COPY deploy/image/requirements.lock /app/deploy/image/requirements.lock
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir --no-deps --only-binary=:all: -r /app/deploy/image/requirements.lock
COPY pyproject.toml README.md /app/
COPY migrations /app/migrations
COPY rooms /app/rooms
COPY sandbox /app/sandbox
COPY server /app/server
COPY web/static /app/web/static
COPY web/templates /app/web/templates
# Editable: the server finds web/ next to its package (server/pages.py).
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps -e /app && /opt/venv/bin/python -m compileall -q /app && /opt/venv/bin/pip uninstall -q -y pip
ENV PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 PYTHONUNBUFFERED=1 CLASSROOM_DATA_DIR=/data CLASSROOM_HOST=0.0.0.0
WORKDIR /data
VOLUME /data
USER 10002:10002
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["python", "-m", "server", "--host", "0.0.0.0", "--port", "8000"]
