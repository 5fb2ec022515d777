# Two entry points on a fresh machine: `make demo` (the main job) and `make test` (everything CI runs).
.PHONY: deps build lint test unit integration bench demo clean

deps:
	bash scripts/install-deps.sh
	@if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi

build: deps
	npx tsc -p tsconfig.json

lint: deps
	npx biome check .

test: build lint
	node --test --test-concurrency=1 "dist/test/**/*.test.js"

unit: build
	node --test "dist/test/unit/**/*.test.js"

integration: build
	node --test --test-concurrency=1 "dist/test/integration/**/*.test.js"

bench: build
	node dist/bench/run.js --json

demo: build
	bash scripts/demo.sh

clean:
	rm -rf dist
