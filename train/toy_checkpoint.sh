#!/usr/bin/env bash
# Retrain the committed toy checkpoint (checkpoints/toy) from scratch with the committed config, then check it.
# Takes about 75 minutes on 2 CPU cores (see README). Extra arguments go to `lvg fit`.
set -euo pipefail
cd "$(dirname "$0")/.."
lvg fit --config configs/toy/extension.yaml "$@"
rm -rf checkpoints/toy
cp -r runs/toy-extension/backbone checkpoints/toy
python infer/toy_quality.py --checkpoint checkpoints/toy --out checkpoints/toy/quality.json
