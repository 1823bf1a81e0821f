# syntax=docker/dockerfile:1

FROM rust:1.95-bookworm AS builder
WORKDIR /app
# CharLS (JPEG-LS decoding) is C++ built with cmake.
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake \
    && rm -rf /var/lib/apt/lists/*
# Every workspace member's manifest must be present, even those the binary does not use.
COPY Cargo.toml Cargo.lock ./
COPY .cargo/ .cargo/
COPY domain/ domain/
COPY migrations/ migrations/
COPY inference/ inference/
COPY actors/ actors/
COPY gateway/ gateway/
COPY tests/ tests/
COPY config/ config/
# target/ is a cache mount that is not part of the layer, so the binary is copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/app/target \
    cargo build --release --locked --bin medrt \
    && cp target/release/medrt /usr/local/bin/medrt

# The models and ONNX Runtime's library, built as `make models` builds them locally.
FROM python:3.11-slim-bookworm AS models
WORKDIR /app
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
COPY Makefile ./
COPY models/ models/
RUN make models

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --user-group --uid 10001 --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin medrt
WORKDIR /app
COPY --from=builder /usr/local/bin/medrt /usr/local/bin/medrt
COPY config/ /app/config/
COPY --from=models /app/models/build/ /app/models/build/
# The storage mount point must exist here: a fresh named volume takes its ownership from it.
RUN mkdir -p /app/data/storage && chown -R medrt:medrt /app/data
USER medrt
ENV MEDRT_ENV=production \
    MEDRT_CONFIG_DIR=/app/config
EXPOSE 8080
# bash's /dev/tcp avoids shipping curl just for the probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q '200 OK' <&3"]
ENTRYPOINT ["medrt"]
CMD ["serve"]
