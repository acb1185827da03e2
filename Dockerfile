# asnd container: build with the same command CI runs, ship a small image that runs as non-root.
# Configure it with a mounted file (/etc/asnd/asnd.toml, e.g. one from config/) and/or ASND_*
# variables.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# config/dev.toml is built in (`serve --dev` writes it).
COPY config ./config
COPY migrations ./migrations
COPY benches ./benches
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/asnd --create-home asnd
COPY --from=build /src/target/release/asnd /usr/local/bin/asnd
# Metrics and health for operators (plain HTTP); publish it only on a private network.
ENV ASND_ADMIN__LISTEN=0.0.0.0:9898 \
    ASND_LOG__FORMAT=json
USER asnd
WORKDIR /var/lib/asnd
# The default SQLite database (sqlite://asnd.db) lives here: mount a volume to keep it.
VOLUME /var/lib/asnd
# 8443: notifications (TLS, or PROXY protocol + TLS from a trusted balancer); 9898: admin.
EXPOSE 8443 9898
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD curl -fsS http://127.0.0.1:9898/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/asnd"]
CMD ["serve", "--config", "/etc/asnd/asnd.toml"]
