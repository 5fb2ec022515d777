# Two entry points on a fresh machine: `make demo` (the main job) and `make test` (everything CI runs).
.PHONY: deps build lint test unit integration bench demo demo-v2plugin demo-stop install clean v2plugin v2plugin-push v2plugin-clean

deps:
	bash scripts/install-deps.sh
	@if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi

build: deps
	npx tsc -p tsconfig.json
	bash scripts/build-native.sh

lint: deps
	npx biome check .
	node scripts/check-layers.mjs

# Node 20's runner takes no globs: list the compiled test files (harness modules are not tests).
TESTS = $(shell find dist/test -name '*.test.js' | sort)

test: build lint
	node --test --test-concurrency=1 $(TESTS)

unit: build
	node --test $(filter dist/test/unit/%,$(TESTS))

integration: build
	node --test --test-concurrency=1 $(filter dist/test/integration/%,$(TESTS))

bench: build
	node dist/bench/run.js --json

demo: build
	bash scripts/demo.sh

# The managed plugin on a single-node swarm, with the seed's swarm workflows (docs/architecture.md, "v2plugin").
demo-v2plugin: build
	bash scripts/demo-v2plugin.sh

demo-stop:
	bash scripts/demo-stop.sh

# Docker managed plugin contiv/v2plugin:<version> (docs/architecture.md, "v2plugin").
v2plugin: build
	bash v2plugin/build.sh

v2plugin-push: build
	bash v2plugin/push.sh $(REGISTRY)

v2plugin-clean:
	bash v2plugin/clean.sh

# Puts the commands on the PATH as small wrappers around this checkout's build.
PREFIX ?= /usr/local
COMMANDS = netctl:cli/netctl/main.js netmaster:cli/netmaster.js netplugin:cli/netplugin.js
# Where CNI runtimes look for plugins ("type": "contiv-cni"): a link to its wrapper, which answers
# VERSION in sh (a Node start per runtime call is costly) and names node by absolute path (runtimes
# may run plugins with a short PATH).
CNI_BIN_DIR ?= /opt/cni/bin
install: build
	mkdir -p $(PREFIX)/bin
	@for c in $(COMMANDS); do \
	  name=$${c%%:*}; main=$(CURDIR)/dist/$${c#*:}; \
	  printf '#!/bin/sh\nexec node %s "$$@"\n' "$$main" > $(PREFIX)/bin/$$name; \
	  chmod 755 $(PREFIX)/bin/$$name; echo "installed $(PREFIX)/bin/$$name"; \
	done
	node dist/api/cni/wrapper.js "$$(command -v node)" $(CURDIR)/dist/api/cni/main.js > $(PREFIX)/bin/contiv-cni
	chmod 755 $(PREFIX)/bin/contiv-cni
	mkdir -p $(CNI_BIN_DIR) && ln -sf $(PREFIX)/bin/contiv-cni $(CNI_BIN_DIR)/contiv-cni
	@echo "linked $(CNI_BIN_DIR)/contiv-cni"

clean:
	rm -rf dist
