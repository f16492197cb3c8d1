# Every target runs from the repository root; the Go workspace (go.work) ties the three modules together.
SHELL := /bin/bash
GO ?= go
MODULES := authserver valuesapi e2e
BIN := bin
STATICCHECK_VERSION ?= v0.8.2
FUZZTIME ?= 30s

AUTHSERVER_URL ?= http://localhost:44364
VALUESAPI_URL ?= http://localhost:44324

.PHONY: build run demo test lint fmt

## build: both service binaries and the walkthrough client into bin/
build:
	$(GO) build -o $(BIN)/authserver ./authserver
	$(GO) build -o $(BIN)/valuesapi ./valuesapi
	$(GO) build -o $(BIN)/walkthrough ./e2e/cmd/walkthrough

## run: both services in the foreground; Ctrl-C stops both
run: build
	@$(BIN)/authserver & a=$$!; \
	$(BIN)/valuesapi & v=$$!; \
	trap 'kill $$a $$v 2>/dev/null' INT TERM EXIT; \
	wait $$a $$v

## demo: start both services, run the narrated walkthrough against them, stop them, exit with its status
# Service logs go to bin/*.log so the narration stays readable.
demo: build
	@set -u; \
	$(BIN)/authserver >$(BIN)/authserver.log 2>&1 & a=$$!; \
	$(BIN)/valuesapi >$(BIN)/valuesapi.log 2>&1 & v=$$!; \
	trap 'kill $$a $$v 2>/dev/null; wait $$a $$v 2>/dev/null' EXIT; \
	$(BIN)/walkthrough --authority $(AUTHSERVER_URL) --api $(VALUESAPI_URL) --wait 30s

## test: every module's tests, the end-to-end tests included
test:
	@$(GO) test -count=1 $(addprefix ./,$(addsuffix /...,$(MODULES)))

## lint: gofmt check, go vet, staticcheck
lint:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(addprefix ./,$(addsuffix /...,$(MODULES)))
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(addprefix ./,$(addsuffix /...,$(MODULES)))

fmt:
	gofmt -w $(MODULES)
