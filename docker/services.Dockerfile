# The services next to the app in docker/compose.yaml, each from Debian bookworm's packages on
# the same base as the app (no image registry is needed). docker/build.sh builds each target.
# Debian packages come over plain http with apt's own signature checks; only the s3 target
# downloads from PyPI, with the CA bundle mounted as the BuildKit secret "ca".
ARG BASE_IMAGE=collab-base:bookworm

# ---------------------------------------------------------------------------------------------
# PostgreSQL 15. The data folder is a volume; the first start initialises it from the
# POSTGRES_* variables (docker/postgres-entrypoint.sh).
FROM ${BASE_IMAGE} AS postgres
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /run/postgresql
COPY docker/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
HEALTHCHECK --interval=5s --timeout=3s --retries=20 CMD ["pg_isready", "-h", "127.0.0.1", "-q"]
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]

# ---------------------------------------------------------------------------------------------
# Redis 7: fan-out streams, the job queue and rate limits. Append-only file on the volume.
FROM ${BASE_IMAGE} AS redis
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
USER redis
WORKDIR /data
EXPOSE 6379
HEALTHCHECK --interval=5s --timeout=3s --retries=20 CMD ["redis-cli", "ping"]
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data", \
     "--appendonly", "yes", "--save", "60", "1000"]

# ---------------------------------------------------------------------------------------------
# An S3-compatible object store for one machine: moto's server mode (moto is already the
# project's S3 test double). Debian has no MinIO or other S3 server package. moto keeps
# objects in memory: a restart of this container loses them. Production points STORAGE_URL /
# S3_ENDPOINT_URL at a real S3 service (docs/deploy.md, "Object storage").
FROM ${BASE_IMAGE} AS s3
ARG MOTO_VERSION=5.2.5
RUN --mount=type=secret,id=ca --mount=type=cache,target=/root/.cache/pip \
    export PIP_CERT=$( [ -f /run/secrets/ca ] && echo /run/secrets/ca || echo /etc/ssl/certs/ca-certificates.crt ) \
 && python3 -m venv /opt/moto \
 && /opt/moto/bin/pip install "moto[server]==$MOTO_VERSION" \
 && useradd --uid 10002 --home-dir /nonexistent --shell /usr/sbin/nologin moto
USER moto
EXPOSE 9000
HEALTHCHECK --interval=5s --timeout=3s --retries=20 \
    CMD ["/opt/moto/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9000/moto-api/', timeout=2)"]
CMD ["/opt/moto/bin/moto_server", "--host", "0.0.0.0", "--port", "9000"]

# ---------------------------------------------------------------------------------------------
# nginx: the one public entry (docker/nginx.conf).
FROM ${BASE_IMAGE} AS nginx
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light \
 && rm -rf /var/lib/apt/lists/* \
 && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log \
 && rm -f /etc/nginx/sites-enabled/default
COPY docker/nginx.conf /etc/nginx/conf.d/collab.conf
EXPOSE 80
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --timeout=3s --retries=20 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1/nginx-health', timeout=2)"]
CMD ["nginx", "-g", "daemon off;"]
