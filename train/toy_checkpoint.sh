#!/usr/bin/env bash
# Retrain the committed toy checkpoint (checkpoints/toy) from scratch with the committed configs, then check it.
# Stage 1 (configs/toy/extension.yaml, 2400 steps) took 52 minutes and stage 2 (configs/toy/extension_nearest.yaml,
# 900 steps) about 17 minutes on 2 CPU cores. Extra arguments go to both `lvg fit` calls.
set -euo pipefail
cd "$(dirname "$0")/.."
lvg fit --config configs/toy/extension.yaml "$@"
lvg fit --config configs/toy/extension_nearest.yaml "$@"
rm -rf checkpoints/toy
cp -r runs/toy-nearest/backbone checkpoints/toy
python infer/toy_quality.py --checkpoint checkpoints/toy --out checkpoints/toy/quality.json
