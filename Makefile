# difflore: `make demo` shows it working, `make test` proves it; `make ci` is what CI runs.
SHELL := bash
CARGO ?= cargo
PREFIX ?= $(HOME)/.local

# difflore-hook runs once per agent event: its start-up is the product. On Linux with glibc
# it is linked statically (no dynamic loader, no libgcc_s start-up code), about 0.3 ms off
# each run (see `make bench`). Only an explicit --target build can do that for one binary:
# proc-macros cannot be static. Elsewhere the hook is the ordinary release build.
# Where cargo builds (CARGO_TARGET_DIR, build.target-dir in a cargo config, or ./target),
# asked of cargo itself once, when a rule first needs it.
TARGET_DIR = $(eval TARGET_DIR := $(shell $(CARGO) metadata --format-version 1 --no-deps \
	| sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p'))$(TARGET_DIR)
# That build also has an SQLite of its own: the same bundled source without what the hook
# never uses but every open would set up (full-text search, R-trees, statistics tables,
# extension loading), and with allocation fitted to a process that lives a millisecond (no
# memory statistics, a small lookaside, no page-cache preallocation). The daemon and ctl
# keep the full set. `make test` runs the hook's tests again against this binary.
HOOK_SQLITE := -USQLITE_ENABLE_FTS3 -USQLITE_ENABLE_FTS3_PARENTHESIS -USQLITE_ENABLE_FTS5 \
	-USQLITE_ENABLE_RTREE -USQLITE_ENABLE_DBSTAT_VTAB -USQLITE_ENABLE_STAT4 \
	-USQLITE_ENABLE_LOAD_EXTENSION -DSQLITE_OMIT_LOAD_EXTENSION -USQLITE_SOUNDEX \
	-USQLITE_ENABLE_COLUMN_METADATA -DSQLITE_OMIT_DEPRECATED -DSQLITE_OMIT_SHARED_CACHE \
	-DSQLITE_OMIT_PROGRESS_CALLBACK -DSQLITE_DEFAULT_MEMSTATUS=0 -DSQLITE_USE_ALLOCA \
	-DSQLITE_DEFAULT_LOOKASIDE=256,40 -DSQLITE_DEFAULT_PCACHE_INITSZ=0
HOST := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
ifneq ($(filter %-linux-gnu,$(HOST)),)
HOOK_BIN = $(TARGET_DIR)/$(HOST)/release/difflore-hook
HOOK_FLAGS := RUSTFLAGS="$$RUSTFLAGS -C target-feature=+crt-static" LIBSQLITE3_FLAGS="$(HOOK_SQLITE)"
HOOK_TARGET := --target $(HOST)
else
HOOK_BIN = $(TARGET_DIR)/release/difflore-hook
endif

.PHONY: all build hook demo test lint ci bench e2e install clean

all: build

build:
	$(CARGO) build --release --locked

hook:
	$(HOOK_FLAGS) $(CARGO) build --release --locked $(HOOK_TARGET) --bin difflore-hook

# Snapshots never update silently in tests: a changed message fails until reviewed.
# Then the hook's own tests once more, against the hook as `make install` builds it.
# The last line adds up every test binary's result (cargo's own last line is the doc tests').
HOOK_TESTS := --test hook --test hook_argv --test hook_handoff
test: hook
	@mkdir -p $(TARGET_DIR)
	set -o pipefail; INSTA_UPDATE=no $(CARGO) test --locked 2>&1 | tee $(TARGET_DIR)/test.log
	set -o pipefail; DIFFLORE_TEST_HOOK_BIN=$(HOOK_BIN) INSTA_UPDATE=no \
		$(CARGO) test --locked $(HOOK_TESTS) 2>&1 | tee -a $(TARGET_DIR)/test.log
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "test: %d passed, %d failed\n", p, f }' $(TARGET_DIR)/test.log

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	@# shared/ is the synchronous core every binary loads, the hook's hot path included.
	@# Comments may name those crates (to forbid them); code may not.
	@if grep -rnE '\b(tokio|reqwest|bpaf|signal_hook|signal_hook_tokio)\b' shared/ \
		| grep -vE '^[^:]+:[0-9]+:[[:space:]]*//'; then \
		echo "lint: shared/ must not use tokio, reqwest, bpaf or signal-hook"; exit 1; fi

ci: lint test

bench: hook
	DIFFLORE_HOOK_BIN=$(HOOK_BIN) $(CARGO) bench --locked --bench hook
	DIFFLORE_TEST_HOOK_BIN=$(HOOK_BIN) $(CARGO) bench --locked --bench daemon
	$(CARGO) bench --locked --bench redact
	$(CARGO) bench --locked --bench history
	$(CARGO) bench --locked --bench traces

# Against the real agents (downloads them from the npm registry into target/e2e/): opt-in,
# never part of `test` or `ci`. The release build, as users run it: an agent that kills slow
# hooks loses fewer events to it. `make e2e AGENTS="codex gemini"` runs a few.
e2e: build
	DIFFLORE_BIN_DIR=$(TARGET_DIR)/release bash tests/e2e/run.sh $(AGENTS)

demo: build
	$(CARGO) build --release --locked --example otlp_waterfall
	@DIFFLORE_BIN_DIR=$(TARGET_DIR)/release bash tests/demo.sh

install: build hook
	install -d $(PREFIX)/bin
	install -m 0755 $(HOOK_BIN) $(TARGET_DIR)/release/difflored $(TARGET_DIR)/release/difflorectl $(PREFIX)/bin/

clean:
	$(CARGO) clean
