# Every target runs from the repository root; the Go workspace (go.work) ties the three modules together.
SHELL := /bin/bash
GO ?= go
MODULES := authserver valuesapi httpserver e2e deploy/k8s
BIN := bin
FUZZTIME ?= 30s

AUTHSERVER_URL ?= http://localhost:44364
VALUESAPI_URL ?= http://localhost:44324

.PHONY: build run demo demo-https test lint fmt fuzz load

## build: both service binaries and the walkthrough client into bin/
build:
	$(GO) build -o $(BIN)/authserver ./authserver
	$(GO) build -o $(BIN)/valuesapi ./valuesapi
	$(GO) build -o $(BIN)/walkthrough ./e2e/cmd/walkthrough

## run: both services in the foreground, authserver first (valuesapi starts once it is ready); Ctrl-C stops both
run: build
	@BIN=$(BIN) scripts/demo.sh run

## demo: start both services, run the narrated walkthrough against them, stop them, exit with its status
# Service logs go to bin/authserver.log and bin/valuesapi.log so the narration stays readable; a service that cannot
# start (its port already taken, say by `make run`) fails the demo with its reason.
demo: build
	@BIN=$(BIN) WALKTHROUGH_AUTHORITY=$(AUTHSERVER_URL) WALKTHROUGH_API=$(VALUESAPI_URL) scripts/demo.sh demo

## demo-https: the demo on the article's URLs, https://localhost:44364 and https://localhost:44324, with a
## development CA and certificate made by `authserver dev-cert` in bin/dev-certs (reused on the next run)
DEV_CERTS := $(BIN)/dev-certs
demo-https: build
	@$(BIN)/authserver dev-cert --out $(DEV_CERTS)
	@echo
	@BIN=$(BIN) \
		AUTHSERVER_ISSUER=https://localhost:44364 \
		AUTHSERVER_TLS_CERT=$(DEV_CERTS)/tls.crt AUTHSERVER_TLS_KEY=$(DEV_CERTS)/tls.key \
		VALUESAPI_AUTHORITY=https://localhost:44364 VALUESAPI_AUTHORITY_CA=$(DEV_CERTS)/ca.crt \
		VALUESAPI_TLS_CERT=$(DEV_CERTS)/tls.crt VALUESAPI_TLS_KEY=$(DEV_CERTS)/tls.key \
		WALKTHROUGH_AUTHORITY=https://localhost:44364 WALKTHROUGH_API=https://localhost:44324 \
		WALKTHROUGH_CA=$(DEV_CERTS)/ca.crt \
		scripts/demo.sh demo

## test: every module's tests, the end-to-end tests included; gotestsum prints the summary with what was skipped
# gotestsum and staticcheck are pinned as tool directives in tools/go.mod: a module cache is all they need.
test:
	@$(GO) tool gotestsum --format pkgname-and-test-fails -- \
		-count=1 -timeout 30m $(addprefix ./,$(addsuffix /...,$(MODULES)))

## lint: gofmt check, go vet, staticcheck
lint:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(addprefix ./,$(addsuffix /...,$(MODULES)))
	$(GO) tool staticcheck $(addprefix ./,$(addsuffix /...,$(MODULES)))

fmt:
	gofmt -w $(MODULES)

## fuzz: each native fuzz target for FUZZTIME (default 30s); CI runs a 10s smoke of each
# scripts/fuzz.sh fails on any failing input; it does not count Go 1.26's own -fuzztime deadline race (golang/go#75804).
FUZZ_TARGETS := authserver:FuzzTokenRequest authserver:FuzzClientAuthentication \
	valuesapi/bearer:FuzzBearerHeader valuesapi/bearer:FuzzValidateToken
fuzz:
	@GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh $(FUZZ_TARGETS)

## load: the load tests, verbose: 60 s of valid traffic while authserver restarts (with its memory report), and 64
## concurrent token requests of one client; both require zero non-2xx answers
load:
	$(GO) test -count=1 -v -run '^(TestLoadThroughAuthserverRestart|TestLoadConcurrentTokenRequests)$$' ./e2e

## bench: on loopback, signing cost, server CPU per request, open-loop latency and memory beside the targets
# Exits non-zero when a target is missed. A manual check of a few minutes, never part of test or CI; its flags are
# BENCH_* variables (bin/bench --help); docs/benchmarks.md has a run and what bounds each number.
.PHONY: bench
bench: build
	$(GO) build -o $(BIN)/bench ./e2e/cmd/bench
	$(BIN)/bench --bin $(BIN)

## ---- containers: deploy/*.Dockerfile and docker-compose.yml ----
# BUILD_TARGET=prebuilt packs the static binaries from bin/linux/ into scratch images (deploy/prebuilt.Dockerfile, no
# registry needed); empty builds from source in golang:1.26 (deploy/source.Dockerfile). Both work with BuildKit and
# with the classic builder of docker-compose v1. `docker compose` (v2) is used when present, else `docker-compose`.
BUILD_TARGET ?=
LINUX_GOARCH ?= $(shell $(GO) env GOARCH)
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
COMPOSE_WAIT ?= 90
# One project name whatever the checkout's folder is called (also understood by the old docker-compose v1).
COMPOSE_PROJECT_NAME ?= tokenbearer
export COMPOSE_PROJECT_NAME

.PHONY: linux images up down down-volumes

## linux: static Linux binaries of both services into bin/linux/ (what deploy/prebuilt.Dockerfile packs)
linux:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(LINUX_GOARCH) $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/linux/authserver ./authserver
	CGO_ENABLED=0 GOOS=linux GOARCH=$(LINUX_GOARCH) $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/linux/valuesapi ./valuesapi

## images: tokenbearer/authserver:dev and tokenbearer/valuesapi:dev through docker compose
images: $(if $(filter prebuilt,$(BUILD_TARGET)),linux)
	@BUILD_TARGET='$(BUILD_TARGET)' $(COMPOSE) build || { \
		echo; echo "make images: the build failed. A source build pulls golang:1.26; without a registry, build offline:"; \
		echo "  BUILD_TARGET=prebuilt make up"; exit 1; }

## up: build the images, start docker-compose.yml in the background, wait until both services are healthy
up: images
	@mkdir -p $(BIN)
	BUILD_TARGET='$(BUILD_TARGET)' $(COMPOSE) up -d
	@for i in $$(seq $(COMPOSE_WAIT)); do \
		s=$$(docker inspect -f '{{.State.Health.Status}}' $$($(COMPOSE) ps -q authserver) $$($(COMPOSE) ps -q valuesapi) 2>/dev/null | sort -u); \
		if [ "$$s" = healthy ]; then \
			docker cp "$$($(COMPOSE) ps -aq certs)":/data/ca.crt $(BIN)/compose-ca.crt || exit 1; \
			echo "authserver: https://127.0.0.1:$${AUTHSERVER_PORT:-44364}  valuesapi: https://127.0.0.1:$${VALUESAPI_PORT:-44324}  (token issuer: https://authserver:44364)"; \
			echo "their development CA: $(BIN)/compose-ca.crt (curl --cacert $(BIN)/compose-ca.crt, walkthrough --ca $(BIN)/compose-ca.crt)"; \
			exit 0; fi; \
		sleep 1; \
	done; \
	echo "services not healthy after $(COMPOSE_WAIT)s"; $(COMPOSE) ps; $(COMPOSE) logs --tail 50; exit 1

## down: stop and remove the containers and network; the signing-key volume stays
down:
	$(COMPOSE) down

## down-volumes: as down, and delete the signing-key volume too (the next start makes a new key and kid)
down-volumes:
	$(COMPOSE) down -v
