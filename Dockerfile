# Tidings container image.
#
# NOTE: the build flags below must stay identical to the Makefile's
# `build-static` target (CGO_ENABLED=0 go build -trimpath -ldflags="-s -w"),
# which CI also runs, so the image ships the same binary CI has built.
# cmd/tidings/dockerfile_test.go fails when the two drift apart.
#
#   docker build -t tidings .
#   docker run --rm -e TIDINGS_DATABASE_URL=... tidings <command>
#
# docker-compose.yml runs the whole system from this image.

# Must be at least the go line of go.mod (the test checks the major.minor).
ARG GO_VERSION=1.26

# ---- build -------------------------------------------------------------------
FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src

# Dependencies first: this layer is only rebuilt when go.mod/go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/tidings ./cmd/tidings

# The final image has no shell to mkdir with: make the folder a volume mounts
# on here, so a fresh named volume starts owned by nonroot (uid 65532).
RUN mkdir -p /out/data/outbox

# ---- run ---------------------------------------------------------------------
# distroless/static: no shell, no package manager; has CA certificates and
# /usr/share/zoneinfo, and runs as the non-root user nonroot (uid 65532).
# The binary also embeds Go's tzdata (time/tzdata), so time zones work even
# without the system zoneinfo.
FROM gcr.io/distroless/static-debian12:nonroot

COPY --from=build /out/tidings /usr/local/bin/tidings
COPY --from=build --chown=65532:65532 /out/data /data
COPY configs/ /app/configs/
COPY templates/ /app/templates/

WORKDIR /app
USER nonroot:nonroot

# No configuration or secrets are baked into the image: TIDINGS_DATABASE_URL
# and the other TIDINGS_* settings come from the environment at run time.
#
# `web --listen :8080` serves the dashboard; `worker --listen :9090` and
# `scheduler --listen :9090` serve /metrics, /healthz and /readyz. Health
# checks exec the binary, as there is no curl:
#   tidings healthcheck --url http://127.0.0.1:9090/readyz
EXPOSE 8080 9090

ENTRYPOINT ["/usr/local/bin/tidings"]
CMD ["--help"]
