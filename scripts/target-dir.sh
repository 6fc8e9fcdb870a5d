#!/usr/bin/env bash
# Prints cargo's target directory (it honours CARGO_TARGET_DIR and .cargo/config), so that the
# scripts find the binaries wherever cargo puts them.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --no-deps \
    | sed -e 's/.*"target_directory":"\([^"]*\)".*/\1/'
