# The two commands: `make run` starts the service, `make test` runs every check CI runs.
# `make help` lists every target. A target's `## ` comment is its line in that list.
.PHONY: help run test pg-check vet staticcheck fmt-check generate generate-check openapi-lint unit fuzz bench browser playground

GO ?= go
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
export TEST_DATABASE_URL

help: ## list the targets
	@awk -F':.*## ' '/^[a-z-]+:.*## / { printf "  make %-15s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

run: ## start the service (embedded SQLite and demo data unless DATABASE_URL is set)
	$(GO) run .

test: pg-check fmt-check vet staticcheck generate-check openapi-lint unit ## every check CI runs, on SQLite and PostgreSQL

# The suite needs PostgreSQL: say so first, not after minutes of vet and staticcheck.
pg-check: ## fail at once when the tests' PostgreSQL is not reachable
	@pg_isready -q -d "$(TEST_DATABASE_URL)" || { echo "PostgreSQL is not reachable at $(TEST_DATABASE_URL): the tests need it (set TEST_DATABASE_URL)"; exit 1; }

fmt-check: ## gofmt would change nothing
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet: ## go vet
	$(GO) vet ./...

staticcheck: ## staticcheck (pinned in go.mod as a tool)
	$(GO) tool staticcheck ./...

generate: ## regenerate graph/ from schema.graphqls and gqlgen.yml
	$(GO) generate ./...

# Regenerates graph/ and fails if that changed anything: generated code must be committed as
# `go generate` writes it.
generate-check: generate ## graph/ is exactly what go generate writes
	@if [ -n "$$(git status --porcelain -- graph)" ]; then \
		echo "graph/ is stale: run 'make generate' and commit the result"; git status --short -- graph; \
		git --no-pager diff --stat -- graph; exit 1; fi

# Lints the REST endpoint's OpenAPI document with Redocly's and Spectral's recommended rules; a
# warning fails like an error (rest/lint/redocly.yaml and .spectral.yaml say which rules). The
# linters are pinned in rest/lint/package.json and package-lock.json, and npm ci installs them
# there whenever those files are newer than the install. Needs Node.js (20.19 or later) and npm.
OPENAPI_LINTERS := rest/lint/node_modules/.package-lock.json

openapi-lint: $(OPENAPI_LINTERS) ## lint rest/openapi.json with Redocly and Spectral (pinned in rest/lint; needs Node.js)
	cd rest/lint && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
		./node_modules/.bin/redocly lint --config redocly.yaml --format=stylish ../openapi.json
	cd rest/lint && ./node_modules/.bin/spectral lint --ruleset .spectral.yaml --fail-severity=warn ../openapi.json

$(OPENAPI_LINTERS): rest/lint/package.json rest/lint/package-lock.json
	cd rest/lint && npm ci --no-audit --no-fund --loglevel=error

# The whole suite runs on each database the service supports.
unit: pg-check browser ## the tests, with -race, once per database
	TEST_DB=sqlite $(GO) test -race -count=1 ./...
	TEST_DB=postgres $(GO) test -race -count=1 ./...

# The playground's browser test drives Debian's headless Chromium: install it when missing. A
# failed install fails the run; the test never skips.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

browser: ## install Debian's chromium for the playground's browser test, when missing
	@command -v chromium >/dev/null || { echo "installing chromium for the playground's browser test"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# Rebuilds the playground's committed assets (playground/dist) from the npm packages pinned in
# playground/package.json and package-lock.json. Needs Node.js and npm; `go build`, `go run .`
# and `make test` do not.
playground: ## rebuild playground/dist from the pinned npm packages (needs Node.js)
	cd playground && npm ci && npm run build

# Fuzzes each parser of client input for FUZZTIME (Go fuzzes one target per run). Not part of
# `test`: its plain `go test` already runs every seed corpus (f.Add and testdata/fuzz) as tests.
FUZZTIME ?= 20s

fuzz: ## fuzz each parser of client input for FUZZTIME
	$(GO) test -run '^$$' -fuzz '^FuzzCursorDecode$$' -fuzztime $(FUZZTIME) ./models/
	$(GO) test -run '^$$' -fuzz '^FuzzCursorRoundTrip$$' -fuzztime $(FUZZTIME) ./models/
	$(GO) test -run '^$$' -fuzz '^FuzzParseGlobalID$$' -fuzztime $(FUZZTIME) ./models/
	$(GO) test -run '^$$' -fuzz '^FuzzParseParams$$' -fuzztime $(FUZZTIME) ./rest/
	$(GO) test -run '^$$' -fuzz '^FuzzQueryString$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzGraphQLBody$$' -fuzztime $(FUZZTIME) .

# Benchmarks the service against the floor (bench/floor) on a seeded PostgreSQL database and
# rewrites BENCHMARKS.md and bench/latency.svg: about 5 minutes, plus the seed on the first run.
# Not part of `test`. A smaller run:
#   make bench BENCH_ARGS="-vendors 20 -conversations 200 -busiest 11000 -duration 3s"
BENCH_ARGS ?=

bench: ## benchmark against the floor; rewrites BENCHMARKS.md
	$(GO) run ./bench $(BENCH_ARGS)
