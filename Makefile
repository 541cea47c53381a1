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

test: deps services browser web
	npx tsc -p tsconfig.json --noEmit
	npx mocha 'spec/**/*.spec.ts'

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
