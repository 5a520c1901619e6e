# voicectl — see README.md. `make run` starts a dev server; `make test` runs every test.
GO       ?= go
BIN      := bin/voicectl
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/voicectl/voicectl/cmd/internal/root.Version=$(VERSION)
SHELLS   := bash zsh fish powershell

.PHONY: all build run test test-deps test-race test-e2e race-build image-bin e2e-run test-setup static-build plain-build vet-idle unit vet fmt-check sdk-check sdk completions clean bench cluster image fuzz soak

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/voicectl

## run: build and start `voicectl serve --dev`; it prints the URL to open.
run: build
	./$(BIN) serve --dev --turn

## cluster: RabbitMQ, `voicectl api` and three servers on 127.0.0.11-13; Ctrl-C stops all.
cluster: test-deps build
	scripts/cluster.sh

## test: install what the tests need, then run every test in loopback-only network
## namespaces: test-race beside test-e2e, with vet, the gofmt check and the JavaScript
## client's (sdk-check).
# What the tests run is compiled before them (the image's binary, the raced
# packages): on a cold build cache, compiling beside e2e starved its workers on
# two cores (3.6 % loss in the relay tests); on a warm one it is mostly cache
# look-ups. The two builds, which need only Go, run beside the packages'
# installation (apt waits on the network and dpkg, the compiler on the CPU).
# gofmt and the JavaScript client's checks follow the installation (which
# brings node) beside the builds. vet runs beside the tests at the lowest CPU
# priority: the tests leave a quarter of two cores idle (waiting on brokers,
# heartbeats, audio windows), which on a cold build cache is most of vet's
# two CPU-minutes; at nice 19 a test that wakes takes the core back at once
# (vet has no deadlines; sdk-check's unit tests have, so it is not niced).
test:
	$(MAKE) --no-print-directory -j3 test-setup race-build static-build
	$(MAKE) --no-print-directory image
	$(MAKE) --no-print-directory -j3 test-race e2e-run vet-idle

# test-setup: make test's packages, then the checks that need no Go build.
test-setup: test-deps
	$(MAKE) --no-print-directory fmt-check sdk-check

# vet-idle: for make test, at nice 19: PLAIN_PKGS' tests compiled (they run
# after the raced packages, minutes later), then vet, which finds every
# dependency compiled instead of compiling it at the same time as go test.
vet-idle:
	nice -n 19 $(MAKE) --no-print-directory plain-build
	nice -n 19 $(MAKE) --no-print-directory vet

# race-build: compile every raced package once, before any test runs.
race-build:
	$(GO) build -race $(RACE_PKGS)

# static-build: what e2e needs in the static configuration, in one go command
# so that it keeps both cores busy once race-build is done: e2e's tests and
# the image's packages compiled without linking (go list -export compiles
# what go test and go build would, to the same cache entries), then the
# image's binary (a link).
static-build:
	$(STATIC) $(GO) list $(STATIC_FLAGS) -test -export ./e2e ./cmd/voicectl >/dev/null
	$(MAKE) --no-print-directory image-bin

# plain-build: PLAIN_PKGS' tests compiled, not linked (kustomize and the
# Kubernetes API types that deploy's tests decode with are ~45 CPU-s cold).
plain-build:
	$(STATIC) $(GO) list $(STATIC_FLAGS) -test -export $(PLAIN_PKGS) >/dev/null

# STATIC is the one build configuration of everything that is not raced: vet,
# the image's binary, the e2e test binary and the voicectl it runs. Sharing it,
# make test compiles the tree twice (this and -race), not three times.
STATIC       := CGO_ENABLED=0
STATIC_FLAGS := -trimpath
# RACE_PKGS: the packages with concurrency, raced. Not e2e (its tests exec the
# voicectl binary, never raced, and the packages they use in-process, client and
# loadgen, race in their own tests here), nor cmd/ and deploy (flag parsing,
# output formatting and file checks: no goroutines of their own), nor
# api/directory/sqldir (SQL over database/sql; the API's orchestration races
# in api/service over directorytest's in-memory directory) and
# loadgen/soakplot (a PNG drawn from samples) — these run without the detector
# in the static configuration the image already compiled, so cobra, viper,
# the CLI's tree, the SQL drivers (SQLite in Go is ~40 CPU-s to compile for
# -race) and the plotting library (~10) are never compiled for -race.
# The longest packages first: go test starts test binaries in the order it is
# given them, two at a time, and server/control alone runs ~3 minutes (from a
# cold build cache it started last and ended the run after e2e).
PLAIN_PKGS   := ./cmd/... ./deploy ./api/directory/sqldir ./loadgen/soakplot
RACE_FIRST   := ./server/control ./server/bus/amqp ./server/worker
# The rest: every package but e2e, PLAIN_PKGS and RACE_FIRST, read off go list
# so that a package added to PLAIN_PKGS leaves the race run by that alone.
RACE_PKGS    := $(RACE_FIRST) $$($(GO) list ./... | grep -vxF "$$($(GO) list ./e2e $(PLAIN_PKGS) $(RACE_FIRST))")
# TEST_FLAGS: go test's own vet is off, as `make vet` runs every analyzer on
# every package (its test files too) once; go test would run its subset again
# for each build configuration, with the analysis facts of every dependency
# and the standard library (~120 CPU-s on a cold build cache, half a minute of
# a fresh machine's run). Test binaries are linked on every run (-count=1):
# without DWARF (-w; stack traces need none) a link costs a quarter less.
TEST_FLAGS   := -vet=off -ldflags=-w
# NETNS runs each test binary (go test -exec) in a network namespace of its
# own with only loopback: packages that go test runs side by side neither
# share ports nor see each other's changes to lo (server/control's ICE
# restart tests add 127.0.0.2, and a worker test beside them gathered a
# candidate on it).
NETNS        := $(CURDIR)/scripts/in-netns.sh
# E2E_PARALLEL: e2e tests at once. They mostly wait (RabbitMQ, heartbeats,
# drains, audio windows), and each server's workers get UDP ports of their own;
# their browsers are most of the suite's CPU, so at most two browser tests run
# at once whatever this says (browserSlots in e2e/browser_test.go). With one
# Chromium for the package and no omnibox WebUI in it, the browsers take half
# the CPU they did, and four at once keep two cores ~77 % busy (two at once
# left them ~69 % busy and took 7 min).
E2E_PARALLEL ?= 4

# test-race: the race detector on RACE_PKGS, PLAIN_PKGS without it; then the worker's
# allocation tests once more without it (it makes sync.Pool drop items, so
# exact allocation bounds hold only without it). server/control's tests run
# one at a time: in parallel they halved its time, but the race run is not
# the longer of the two, and beside e2e's browsers they starved timing-bound
# tests (TURN/TLS, ICE restart, loudest-N) of CPU.
test-race:
	$(GO) test -exec $(NETNS) $(TEST_FLAGS) -count=1 -race -timeout 15m $(RACE_PKGS)
	$(STATIC) $(GO) test -exec $(NETNS) $(STATIC_FLAGS) $(TEST_FLAGS) -count=1 $(PLAIN_PKGS)
	$(STATIC) $(GO) test -exec $(NETNS) $(STATIC_FLAGS) $(TEST_FLAGS) -count=1 -run 'Allocates?Nothing' ./server/worker

# test-e2e: e2e against the binary the image ships (-voicectl), so nothing is
# compiled or linked twice for it.
test-e2e: image
	$(MAKE) --no-print-directory e2e-run

# e2e-run: test-e2e without building the image (make test built it already).
e2e-run:
	$(STATIC) $(GO) test -exec $(NETNS) $(STATIC_FLAGS) $(TEST_FLAGS) -count=1 -timeout 15m -parallel $(E2E_PARALLEL) \
		./e2e/ -voicectl $(CURDIR)/bin/image/voicectl

test-deps:
	scripts/test-deps.sh
	$(GO) mod download

## unit: tests that open no sockets (the rest skip outside the namespace).
unit:
	$(GO) test -race -count=1 ./...

vet:
	$(STATIC) $(GO) vet $(STATIC_FLAGS) ./...

## sdk-check: the JavaScript client (sdk/js): type-check, unit tests, and the page's
## committed bundle rebuilt and compared (scripts/sdk-check.sh). Needs the npm registry.
sdk-check:
	scripts/sdk-check.sh

## sdk: rebuild the JavaScript client and the page's bundle after changing sdk/js.
sdk:
	cd sdk/js && npm ci --no-audit --no-fund && npm run build

fmt-check:
	@out=$$(find . -name '*.go' -not -path './bin/*' | xargs gofmt -l); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## completions: regenerate the committed shell completion scripts.
completions: build
	./$(BIN) completion bash > completions/voicectl.bash
	./$(BIN) completion zsh > completions/_voicectl
	./$(BIN) completion fish > completions/voicectl.fish
	./$(BIN) completion powershell > completions/voicectl.ps1

## bench: forwarding-path Go benchmarks, then the end-to-end loopback runs, each ending
## with one key=value summary line (in a loopback-only network namespace): a plain
## Opus room (room=opus, the line to compare across changes), then an all-RED room.
bench: test-deps build
	$(GO) test -c -o bin/worker.test ./server/worker
	scripts/in-netns.sh sh -c 'cd server/worker && ../../bin/worker.test -test.run "^$$" -test.bench . -test.benchtime 2s'
	scripts/in-netns.sh ./$(BIN) loadgen bench $(BENCH_FLAGS)
	scripts/in-netns.sh ./$(BIN) loadgen bench --red --rounds 1 --skip-calibrate $(BENCH_FLAGS)

## fuzz: every fuzz target for FUZZTIME each (make test runs their seeds).
FUZZTIME ?= 60s
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

## soak: peers in churn for SOAK (1h), a worker SIGKILLed every 10 minutes, the
## processes sampled every 10 s into bin/soak/soak.csv and soak.png; fails on growth or loss.
SOAK ?= 1h
soak: test-deps build
	scripts/in-netns.sh scripts/soak.sh $(SOAK) $(SOAK_FLAGS)

## image: the container image (Containerfile): a static binary on scratch, built with podman.
image: image-bin
	echo 'voicectl:x:65532:65532:voicectl:/data:/voicectl' > bin/image/passwd
	podman build -q --build-arg VERSION=$(VERSION) -t localhost/voicectl:$(VERSION) -t localhost/voicectl:latest -f Containerfile .

# image-bin: the image's static binary, which e2e runs too.
image-bin:
	mkdir -p bin/image/data
	$(STATIC) $(GO) build $(STATIC_FLAGS) -ldflags "$(LDFLAGS) -s -w" -o bin/image/voicectl ./cmd/voicectl

clean:
	rm -rf bin
