# Tidings — `make help` lists the targets.
GO       ?= go
BIN      ?= bin/tidings
BENCH_DB ?= .tidings/bench-1m.db

.PHONY: help build build-static docker test lint demo bench-audience bench-pipeline clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: ## build bin/tidings
	$(GO) build -o $(BIN) ./cmd/tidings

# The same go build line as the Dockerfile's: cmd/tidings/dockerfile_test.go
# fails when they differ.
build-static: ## build bin/tidings as the Dockerfile does (static, no cgo)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o $(BIN) ./cmd/tidings

docker: ## build the container image tidings:local (the one docker-compose.yml runs)
	docker build -t tidings:local .

# Tests build as the Dockerfile does (CGO_ENABLED=0, -trimpath), so that the
# test binaries, the binary the end-to-end tests run and build-static share
# one build cache. -parallel 4: the end-to-end tests that run in parallel
# mostly wait (for Asynq's lease and retries, a rate, a send window), so
# twice the cores keeps both busy. -timeout is per package: the slowest takes
# under half of it on a loaded 2-core machine (README, "Testing").
test: ## run the whole test suite against real PostgreSQL and Redis (started by scripts/test-services)
	CGO_ENABLED=0 scripts/test-services $(GO) test -trimpath -count=1 -parallel 4 -timeout 10m ./...
	$(MAKE) build-static
	$(BIN) --help >/dev/null
	$(BIN) validate

lint: ## gofmt, go vet and staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

demo: ## the quick start: a demo database and the sample campaigns, on embedded defaults
	$(GO) run ./cmd/tidings demo

bench-audience: build ## time `tidings audience` over 1,000,000 generated customers on SQLite
	@test -f $(BENCH_DB) || TIDINGS_DATABASE_URL=sqlite://$(BENCH_DB) $(BIN) customers generate --count 1000000
	@for s in tier-gold loyal-members chinese-speakers spring-festival birthday-gift new-product; do \
		TIDINGS_DATABASE_URL=sqlite://$(BENCH_DB) $(BIN) audience $$s --sample 0 | grep -E '^(segment|campaign)|evaluated'; \
	done

clean: ## remove build output and the local databases
	rm -rf bin .tidings outbox

# Over SMTP to the in-process sink, after go-mail's ceiling on the same
# connections; BENCH_RECIPIENTS=N for a shorter run.
bench-pipeline: build ## SMTP messages/s end to end for 100,000 recipients against go-mail's ceiling, through real redis-server and PostgreSQL (and SQLite)
	TIDINGS_TEST_PG_DURABLE=1 scripts/test-services sh -c 'TIDINGS_REDIS_URL=$$TIDINGS_TEST_REDIS_URL TIDINGS_DATABASE_URL=$$TIDINGS_TEST_POSTGRES_URL $(BIN) bench --smtp --recipients $(or $(BENCH_RECIPIENTS),100000)'
	scripts/test-services sh -c 'TIDINGS_REDIS_URL=$$TIDINGS_TEST_REDIS_URL $(BIN) bench --smtp --recipients $(or $(BENCH_RECIPIENTS),100000)'
