# difflore: `make demo` shows it working, `make test` proves it; `make ci` is what CI runs.
CARGO ?= cargo
PREFIX ?= $(HOME)/.local

.PHONY: all build demo test lint ci bench install clean

all: build

build:
	$(CARGO) build --release --locked

# Snapshots never update silently in tests: a changed message fails until reviewed.
test:
	INSTA_UPDATE=no $(CARGO) test --locked

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	@# shared/ is the synchronous core every binary loads, the hook's hot path included.
	@if grep -rnE '\b(tokio|reqwest|bpaf|signal_hook|signal_hook_tokio)\b' shared/; then \
		echo "lint: shared/ must not use tokio, reqwest, bpaf or signal-hook"; exit 1; fi

ci: lint test

bench:
	$(CARGO) bench --locked --bench hook
	$(CARGO) bench --locked --bench redact

demo: build
	@bash tests/demo.sh

install: build
	install -d $(PREFIX)/bin
	install -m 0755 target/release/difflore-hook target/release/difflored target/release/difflorectl $(PREFIX)/bin/

clean:
	$(CARGO) clean
