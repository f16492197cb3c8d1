# The services' image from the static binary that `make linux` leaves in bin/linux/: no registry, no compiler, no
# BuildKit needed (BUILD_TARGET=prebuilt in the Makefile and docker-compose.yml). Build from the repository root:
#
#   make linux
#   docker build -f deploy/prebuilt.Dockerfile --build-arg SERVICE=authserver --build-arg PORT=44364 -t tokenbearer/authserver .
#
# The runtime is source.Dockerfile's (see there why the two are separate files); keep the two equal.

ARG SERVICE=authserver
ARG PORT=44364

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
COPY bin/linux/${SERVICE} /service
