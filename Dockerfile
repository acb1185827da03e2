# asnd container: a small Debian image that runs asnd as a non-root user.
#
#   docker build -t asnd .                     # builds asnd in a Rust image (CI's cargo command)
#   docker build --target prebuilt -t asnd .   # around target/release/asnd (what CI builds)
#
# Both end in the same runtime stage. Build arguments choose the images: BASE_IMAGE (the runtime
# base, default the official Debian slim image) and RUST_IMAGE (the build stage). Stages that a
# target does not need are skipped by BuildKit, the default builder since Docker 23
# (DOCKER_BUILDKIT=1 on older engines). Configure asnd with a mounted /etc/asnd/asnd.toml (e.g. one
# from config/) and/or ASND_* variables.

ARG BASE_IMAGE=debian:bookworm-slim
ARG RUST_IMAGE=rust:1.95-bookworm

# CA certificates: the App Store Server API and event destinations are reached over TLS. Only
# the bundle asnd reads is copied into the runtime image (openssl and apt's lists stay out).
FROM ${BASE_IMAGE} AS ca-certificates
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates

FROM ${BASE_IMAGE} AS runtime-base
COPY --from=ca-certificates /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
# The user and group share one id, so a mounted key can be made readable by it (chown 10001).
RUN groupadd --gid 10001 asnd \
    && useradd --uid 10001 --gid asnd --no-log-init --home-dir /var/lib/asnd --create-home \
        --shell /usr/sbin/nologin asnd
# The configuration file every subcommand reads (serve, healthcheck); the admin listener (metrics,
# /livez /readyz, health) for operators, plain HTTP: publish it only on a private network.
ENV ASND_CONFIG=/etc/asnd/asnd.toml \
    ASND_ADMIN__LISTEN=0.0.0.0:9898 \
    ASND_LOG__FORMAT=json
USER asnd:asnd
WORKDIR /var/lib/asnd
# The default SQLite database (sqlite://asnd.db) lives here: mount a volume to keep it.
VOLUME /var/lib/asnd
# 8443: notifications (TLS, or PROXY protocol + TLS from a trusted balancer); 9898: admin.
EXPOSE 8443 9898
# `asnd healthcheck` reads the same configuration as serve and asks its admin listener, wherever
# [admin] listen or ASND_ADMIN__LISTEN puts it.
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
    CMD ["/usr/local/bin/asnd", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/asnd"]
CMD ["serve"]

# A binary built beforehand: target/release/asnd, stripped (`strip target/release/asnd`; the
# repository's .dockerignore lets only this file of target/ through).
FROM runtime-base AS prebuilt
COPY target/release/asnd /usr/local/bin/asnd

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# config/dev.toml is built in (`serve --dev` writes it).
COPY config ./config
COPY migrations ./migrations
COPY benches ./benches
RUN cargo build --release --locked && strip target/release/asnd

# The default target.
FROM runtime-base AS runtime
COPY --from=build /src/target/release/asnd /usr/local/bin/asnd
