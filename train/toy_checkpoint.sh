#!/usr/bin/env bash
# Retrain the committed toy checkpoint (checkpoints/toy) from scratch with the committed configs, export it and check
# it against the quality bar (infer/toy_quality.py), then run the README's main job and make its frame strip
# (checkpoints/toy/strip.png). Three stages (the times are in train/README.md):
#   1. configs/toy/extension.yaml: 12 epochs of 1000 steps from scratch -> runs/toy-extension/backbone;
#   2. configs/toy/extension_sprites.yaml: 3000 steps from stage 1 (own steps, sprite-weighted loss) -> round 1;
#   3. the same config again, 3000 steps from round 1 (a fresh warm-up and cosine decay) -> runs/toy-sprites/backbone.
# Extra arguments go to stage 1's `lvg fit`.
set -euo pipefail
cd "$(dirname "$0")/.."
lvg fit --config configs/toy/extension.yaml "$@"
rm -rf runs/toy-sprites runs/toy-sprites-round1
lvg fit --config configs/toy/extension_sprites.yaml
mv runs/toy-sprites runs/toy-sprites-round1
lvg fit --config configs/toy/extension_sprites.yaml \
    --model.init_args.backbone.init_args.path runs/toy-sprites-round1/backbone
rm -rf checkpoints/toy
cp -r runs/toy-sprites/backbone checkpoints/toy
python infer/toy_quality.py --checkpoint checkpoints/toy --out checkpoints/toy/quality.json
lvg generate --config configs/toy/generate.yaml
python infer/frame_strip.py outputs/toy_long_video.mp4 --out checkpoints/toy/strip.png
