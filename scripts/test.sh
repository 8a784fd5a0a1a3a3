#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what the tests drive (a real
# Prometheus, the Prometheus Python client, a D-Bus daemon, Chromium and playwright-core),
# then checks formatting and lints, builds, and runs every test and bench once.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
# The gateway's UI test drives Debian's Chromium through playwright-core (npm).
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
# The systemd and logind collectors' tests serve their D-Bus objects on a private bus.
command -v dbus-daemon >/dev/null 2>&1 || need+=(dbus-daemon)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# The gateway's client test drives the real Prometheus Python client.
if ! python3 -c 'import prometheus_client' >/dev/null 2>&1; then
  python3 -m pip install -q prometheus_client 2>/dev/null \
    || python3 -m pip install -q --break-system-packages prometheus_client \
    || echo "prometheus_client could not be installed: its gateway test will skip"
fi

if [ ! -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) \
    || echo "playwright-core could not be installed: the gateway's browser test will skip"
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The end-to-end tests run the real binary: build it before they start.
cargo build --workspace --bins
cargo test --workspace
# Each criterion bench once, so benches cannot rot.
cargo test --workspace --benches
# The fuzz targets' property checks over their committed seeds (and any local corpus), as a
# plain test; the fuzz crate sits outside the workspace, so it is checked on its own.
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
cargo clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings
cargo test --manifest-path fuzz/Cargo.toml
# Each target briefly (NODEGATE_FUZZ_SECONDS, 10 by default; 0 skips) where cargo-fuzz is
# installed: about 2 minutes of fuzzing plus the sanitizer build, so the suite stays bounded.
fuzz_seconds="${NODEGATE_FUZZ_SECONDS:-10}"
if [ "$fuzz_seconds" -gt 0 ]; then
  if cargo fuzz --version >/dev/null 2>&1; then
    (
      cd fuzz
      for t in $(RUSTC_BOOTSTRAP=1 cargo fuzz list); do
        mkdir -p "corpus/$t"
        log="$(mktemp)"
        if ! RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
          -max_total_time="$fuzz_seconds" -print_final_stats=1 >"$log" 2>&1; then
          tail -n 60 "$log"
          echo "fuzz target $t failed (its input is in fuzz/artifacts/$t/)"
          exit 1
        fi
        echo "fuzz $t: $(grep -h '^stat::number_of_executed_units' "$log" | tr -s ' ' | cut -d' ' -f2) runs"
        rm -f "$log"
      done
    )
  else
    echo "cargo-fuzz is not installed: the fuzz targets were replayed over their seeds, not run"
  fi
fi
