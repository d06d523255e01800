# lienlac — the commands of README.md.
#   make run    stack up, build, every service in the foreground (Ctrl-C stops all)
#   make test   stack up, then every test of the workspace
#   make up / make down   the same services, detached (pids and logs in .local/)
#   make cluster   the same, two replicas each, against a three-node NATS cluster (deploy/local/cluster.sh)
#   make chaos  the fault suite on a system of its own; figures in target/bench/chaos.json
#   make check-deploy   the deployment and observability files against their validators
#   make bench  benchmarks; figures in target/bench/*.json
#   make bench PROFILE=city   only the whole-system roll-call benchmark, at city scale

SHELL := /bin/bash
STACK := deploy/local/stack.sh
SERVICES := deploy/local/services.sh
CARGO ?= cargo

.PHONY: run up down cluster chaos check-deploy stack test bench fmt lint toolchain

toolchain:
	@command -v $(CARGO) >/dev/null || { \
	  echo "Rust is not installed. Install it with rustup (https://rustup.rs), then run make again:"; \
	  echo "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y && . ~/.cargo/env"; \
	  exit 1; }
	@command -v cc >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q build-essential; \
	  else echo "A C compiler is needed: sudo apt-get install -y build-essential"; exit 1; fi; }

stack:
	@$(STACK) up

run: toolchain stack
	@$(SERVICES) run

up: toolchain stack
	@$(SERVICES) up

down:
	@$(SERVICES) down
	@-deploy/local/cluster.sh down
	@$(STACK) down

# The services against a three-node NATS cluster, streams at three replicas, two
# replicas of every service behind HAProxy on the services' own ports.
cluster: toolchain stack
	@deploy/local/cluster.sh up
	@eval "$$(deploy/local/cluster.sh env)" && LIENLAC_REPLICAS=2 $(SERVICES) up

test: toolchain stack check-deploy
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  $(CARGO) nextest run --workspace --all-features; \
	else \
	  echo "cargo-nextest not found; running the tests with cargo test"; \
	  $(CARGO) test --workspace --all-features; \
	fi

# Kubernetes manifests, the Compose file, the container build, Prometheus rules
# and configuration, the collector's configuration and the dashboard, each
# against its own validator (fetched once into .local/).
check-deploy:
	@deploy/check.sh
	@deploy/observability/check.sh

# Kills, pauses and restarts replicas, NATS nodes and Postgres under a steady
# roll-call load, then checks that nothing acknowledged was lost or duplicated.
# ARGS go to `lienlac bench chaos` (ARGS="--rounds 1" for a shorter run,
# ARGS="--only pause-nats-node" for one kind of fault).
chaos: toolchain
	@deploy/local/chaos.sh run $(ARGS)

PROFILE ?= default

bench: toolchain stack
	@case "$(PROFILE)" in default|city) ;; *) echo "PROFILE is default or city, not $(PROFILE)"; exit 2 ;; esac
	@mkdir -p target/bench
ifneq ($(PROFILE),city)
	$(CARGO) bench -p kernel --bench kernel
	$(CARGO) bench -p identity --bench identity
	$(CARGO) bench -p attendance --bench attendance
	$(CARGO) bench -p messaging --bench messaging
	$(CARGO) bench -p messaging --bench notifications
	$(CARGO) bench -p reporting --bench reporting
endif
	deploy/local/bench.sh $(PROFILE)

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings
