# The README's two commands: `make run` (a node at http://localhost:8080) and `make test` (the specs).
# Both install what they need first: npm dependencies, and Redis and Postgres where they are not answering.
.PHONY: run test bench build typecheck deps services browser web clean

NODE_MODULES := node_modules/.package-lock.json

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: $(NODE_MODULES)

services:
	@bash scripts/services.sh

browser:
	@bash scripts/browser.sh

web: deps
	node scripts/build-web.mjs

run: deps services web
	./bin/snaketron-node

# Spec files run two at a time (each file in a process of its own; every spec has its own key prefix, database
# and ports), the slowest first so that no long one starts last. 13.4 min one at a time, 9.5 min two at a time.
SLOW_SPECS := $(addprefix spec/,cluster.spec.ts runtime.spec.ts node.spec.ts browser.spec.ts replay.spec.ts \
	bots.spec.ts runtime-outage.spec.ts node-config.spec.ts runtime-process.spec.ts engine-properties.spec.ts)
ALL_SPECS := $(sort $(wildcard spec/*.spec.ts))
SPECS := $(filter $(ALL_SPECS),$(SLOW_SPECS)) $(filter-out $(SLOW_SPECS),$(ALL_SPECS))

test: deps services browser web
	npx tsc -p tsconfig.json --noEmit
	npx mocha --parallel --jobs 2 $(SPECS)

bench: deps services
	npx tsx bench/run.ts

build: deps web
	npx tsc -p tsconfig.json
	cp -r runtime/commands dist/runtime/
	cp -r actors/snaketron/commands actors/snaketron/pages dist/actors/snaketron/
	rm -rf dist/web/dist && mkdir -p dist/web && cp -r web/dist dist/web/

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

clean:
	rm -rf dist web/dist
