#!/usr/bin/env bash
# Retrain the committed toy checkpoint (checkpoints/toy) from scratch with the committed config, export it and check
# it against the quality bar (infer/toy_quality.py). One stage: configs/toy/extension.yaml (12 epochs of 1000 steps;
# the time it took is in train/README.md). Extra arguments go to `lvg fit`.
set -euo pipefail
cd "$(dirname "$0")/.."
lvg fit --config configs/toy/extension.yaml "$@"
rm -rf checkpoints/toy
cp -r runs/toy-extension/backbone checkpoints/toy
python infer/toy_quality.py --checkpoint checkpoints/toy --out checkpoints/toy/quality.json
