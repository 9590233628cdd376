# Image for javascript runs, for operators whose Docker reaches a registry. build-offline.sh builds the
# same image without one (debootstrap + docker import); both read PACKAGES from this file.
# Build: docker build -f Dockerfile.javascript -t opencode-classroom-javascript:latest .
FROM debian:bookworm-slim
ARG PACKAGES="nodejs python3"
RUN apt-get update \
 && apt-get install -y --no-install-recommends $PACKAGES \
 && rm -rf /var/lib/apt/lists/* /usr/share/doc /usr/share/man \
 && groupadd -g 10001 runner && useradd -u 10001 -g 10001 -d /work -s /usr/sbin/nologin runner \
 && mkdir -m 0755 /work
ENV LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin HOME=/work
WORKDIR /work
USER 10001:10001
LABEL opencode-classroom.language="javascript"
CMD ["sleep", "infinity"]
