# One Dockerfile for both services. Build from the repository root:
#
#   docker build -f deploy/Dockerfile --build-arg SERVICE=authserver --build-arg PORT=44364 -t tokenbearer/authserver .
#   docker build -f deploy/Dockerfile --build-arg SERVICE=valuesapi  --build-arg PORT=44324 -t tokenbearer/valuesapi .
#
# The default (last) target compiles from source in golang:1.26. The `prebuilt` target needs no registry at all:
# it packs the static binary that `make linux` leaves in bin/linux/ into a scratch image. It and the `runtime`
# stage it starts from come before the golang stage, so that the classic builder, which stops at --target, never
# reaches it.
#
# No `# syntax=` line on purpose: it would make BuildKit pull a frontend image, and the prebuilt target must build
# offline; the built-in frontend already knows RUN --mount.
#
# Both targets start from the `runtime` stage, so they give the same runtime: scratch, a passwd entry for the
# non-root user 65532, /data owned by that user (the authserver keeps its signing key there on a named volume), and
# a HEALTHCHECK that runs the binary's own `healthcheck` subcommand (GET its /readyz), since scratch has no shell
# and no curl. They differ only in where /service comes from.

ARG SERVICE=authserver
ARG PORT=44364

FROM scratch AS runtime
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

FROM runtime AS prebuilt
ARG SERVICE
COPY bin/linux/${SERVICE} /service

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG SERVICE
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src/${SERVICE}
# Each service is its own module and builds without the workspace (GOWORK=off), so the e2e module's dependencies
# never enter the image build; its one sibling, httpserver, comes in through the replace line in its go.mod.
ENV GOWORK=off CGO_ENABLED=0
COPY httpserver/ /src/httpserver/
COPY ${SERVICE}/go.mod ${SERVICE}/go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY ${SERVICE}/ ./
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o /out/service .

FROM runtime
COPY --from=build /out/service /service
