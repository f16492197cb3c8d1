# The services' image, compiled from source in golang:1.26. Build from the repository root:
#
#   docker build -f deploy/source.Dockerfile --build-arg SERVICE=authserver --build-arg PORT=44364 -t tokenbearer/authserver .
#   docker build -f deploy/source.Dockerfile --build-arg SERVICE=valuesapi  --build-arg PORT=44324 -t tokenbearer/valuesapi .
#
# deploy/prebuilt.Dockerfile gives the same runtime from host-built binaries, with no registry at all.
#
# Only instructions the classic builder knows, so that docker-compose v1 and `DOCKER_BUILDKIT=0 docker build` work
# as well as BuildKit: no `RUN --mount` cache (the go.mod layer caches the downloads instead), no
# `--platform=$BUILDPLATFORM` (the classic builder leaves it empty), and no second target in this file (the classic
# builder builds every stage, so a stage that needs bin/linux/ would break a plain source build). No `# syntax=`
# line either: it would make BuildKit pull a frontend image.
#
# The runtime: scratch, a passwd entry for the non-root user 65532, /data owned by that user (the authserver keeps
# its signing key there on a named volume), and a HEALTHCHECK that runs the binary's own `healthcheck` subcommand
# (GET its /readyz), since scratch has no shell and no curl. Keep it equal to prebuilt.Dockerfile's.

ARG SERVICE=authserver
ARG PORT=44364

FROM golang:1.26 AS build
ARG SERVICE
# Set by BuildKit for cross builds; empty under the classic builder, where go builds for the engine's platform.
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src/${SERVICE}
# Each service is its own module and builds without the workspace (GOWORK=off), so the e2e module's dependencies
# never enter the image build; its one sibling, httpserver, comes in through the replace line in its go.mod.
ENV GOWORK=off CGO_ENABLED=0
COPY httpserver/ /src/httpserver/
COPY ${SERVICE}/go.mod ${SERVICE}/go.sum ./
RUN go mod download
COPY ${SERVICE}/ ./
RUN GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o /out/service .

FROM scratch
ARG SERVICE
ARG PORT
COPY deploy/passwd /etc/passwd
COPY deploy/group /etc/group
COPY --chown=65532:65532 deploy/data/ /data/
LABEL org.opencontainers.image.title=${SERVICE}
USER 65532:65532
WORKDIR /data
EXPOSE ${PORT}
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["/service", "healthcheck"]
ENTRYPOINT ["/service"]
COPY --from=build /out/service /service
