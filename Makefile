# canonid — see README.md. Two commands to start: `make run` and `make test`.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# -race needs cgo (a C compiler); without one the suite still runs, unraced.
RACE    := $(if $(filter 1,$(shell $(GO) env CGO_ENABLED)),-race,)

.PHONY: build run test fuzz lint bench

## build: compile bin/canonid
build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/canonid ./cmd/canonid

## run: serve the demo on embedded SQLite (./data), nothing else needed
run: build
	./bin/canonid serve --demo

## test: the whole suite (integration parts run when their services are there):
## everything under the race detector with -short (the randomized merge test
## runs 1,000 operations there), then that test at full size (10,000) without it,
## then propagation with a target down during 10,000 changes, then the file
## reader's fuzz test for a short time and every other fuzz target for 3s
## (make fuzz runs them longer)
test:
	$(GO) test $(RACE) -short -count=1 -timeout 14m ./...
	$(GO) test -count=1 -timeout 14m -run '^TestRandomOperations$$' ./accounts/
	$(GO) test -count=1 -timeout 5m -run '^TestTargetDownThenBack$$' ./propagate/
	$(GO) test -run '^$$' -fuzz FuzzRead -fuzztime 15s -fuzzminimizetime 2s ./connectors/csvimport/
	$(GO) test -run '^$$' -fuzz '^FuzzFilter$$' -fuzztime 3s -fuzzminimizetime 2s ./scim/
	$(GO) test -run '^$$' -fuzz '^FuzzListFilter$$' -fuzztime 3s -fuzzminimizetime 2s ./scim/
	$(GO) test -run '^$$' -fuzz '^FuzzUsersPatch$$' -fuzztime 3s -fuzzminimizetime 2s ./scim/
	$(GO) test -run '^$$' -fuzz '^FuzzUsersPost$$' -fuzztime 3s -fuzzminimizetime 2s ./scim/
	$(GO) test -run '^$$' -fuzz '^FuzzMapping$$' -fuzztime 3s -fuzzminimizetime 2s ./mapping/
	$(GO) test -run '^$$' -fuzz '^FuzzTransform$$' -fuzztime 3s -fuzzminimizetime 2s ./mapping/
	$(GO) test -run '^$$' -fuzz '^FuzzLogin$$' -fuzztime 3s -fuzzminimizetime 2s ./web/
	$(GO) test -run '^$$' -fuzz '^FuzzConfirmPage$$' -fuzztime 3s -fuzzminimizetime 2s ./flows/emailmerge/
	$(GO) test -run '^$$' -fuzz '^FuzzMergePage$$' -fuzztime 3s -fuzzminimizetime 2s ./flows/mergekey/
	$(GO) test -run '^$$' -fuzz '^FuzzLinkPages$$' -fuzztime 3s -fuzzminimizetime 2s ./flows/activation/
	$(GO) test -run '^$$' -fuzz '^FuzzConfirmPage$$' -fuzztime 3s -fuzzminimizetime 2s ./flows/registration/
	$(GO) test -run '^$$' -fuzz '^FuzzFlatJSON$$' -fuzztime 3s -fuzzminimizetime 2s ./store/sqlstore/
	$(GO) test -run '^$$' -fuzz '^FuzzTuples$$' -fuzztime 3s -fuzzminimizetime 2s ./store/sqlstore/

## fuzz: every fuzz target for FUZZTIME each, one after the other (go test
## -fuzz takes one target per run; no test timeout): make fuzz FUZZTIME=30m
FUZZTIME ?= 2m
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) -timeout 0 ./connectors/csvimport/
	$(GO) test -run '^$$' -fuzz '^FuzzFilter$$' -fuzztime $(FUZZTIME) -timeout 0 ./scim/
	$(GO) test -run '^$$' -fuzz '^FuzzListFilter$$' -fuzztime $(FUZZTIME) -timeout 0 ./scim/
	$(GO) test -run '^$$' -fuzz '^FuzzUsersPatch$$' -fuzztime $(FUZZTIME) -timeout 0 ./scim/
	$(GO) test -run '^$$' -fuzz '^FuzzUsersPost$$' -fuzztime $(FUZZTIME) -timeout 0 ./scim/
	$(GO) test -run '^$$' -fuzz '^FuzzMapping$$' -fuzztime $(FUZZTIME) -timeout 0 ./mapping/
	$(GO) test -run '^$$' -fuzz '^FuzzTransform$$' -fuzztime $(FUZZTIME) -timeout 0 ./mapping/
	$(GO) test -run '^$$' -fuzz '^FuzzLogin$$' -fuzztime $(FUZZTIME) -timeout 0 ./web/
	$(GO) test -run '^$$' -fuzz '^FuzzConfirmPage$$' -fuzztime $(FUZZTIME) -timeout 0 ./flows/emailmerge/
	$(GO) test -run '^$$' -fuzz '^FuzzMergePage$$' -fuzztime $(FUZZTIME) -timeout 0 ./flows/mergekey/
	$(GO) test -run '^$$' -fuzz '^FuzzLinkPages$$' -fuzztime $(FUZZTIME) -timeout 0 ./flows/activation/
	$(GO) test -run '^$$' -fuzz '^FuzzConfirmPage$$' -fuzztime $(FUZZTIME) -timeout 0 ./flows/registration/
	$(GO) test -run '^$$' -fuzz '^FuzzFlatJSON$$' -fuzztime $(FUZZTIME) -timeout 0 ./store/sqlstore/
	$(GO) test -run '^$$' -fuzz '^FuzzTuples$$' -fuzztime $(FUZZTIME) -timeout 0 ./store/sqlstore/

## lint: formatting and vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## bench: Go benchmarks, then the store insert harness on SQLite (see docs/benchmarks.md)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./bench/storeinsert -driver sqlite -n 100000
