#!/usr/bin/env bash
# Train on every GPU of one node: torchrun starts one process per GPU and Lightning picks up its environment
# (TorchElasticEnvironment), so the strategy overlay's `devices: auto` becomes those processes.
#   train/torchrun.sh configs/wan/extension.yaml configs/scale/ddp.yaml --data.init_args.root /data/videos
#   NPROC=4 train/torchrun.sh configs/wan/extension_14b.yaml configs/scale/fsdp.yaml --model.init_args.backbone.init_args.path /models/Wan2.1-T2V-14B-Diffusers
# Arguments: a model config, a strategy overlay (configs/scale/), then any `lvg fit` flags (e.g. --ckpt_path last).
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:?usage: train/torchrun.sh MODEL_CONFIG SCALE_CONFIG [lvg fit flags]}
scale=${2:?usage: train/torchrun.sh MODEL_CONFIG SCALE_CONFIG [lvg fit flags]}
shift 2
nproc=${NPROC:-$( (nvidia-smi --list-gpus 2>/dev/null || true) | wc -l)}
if [ "$nproc" -lt 1 ]; then
  echo "train/torchrun.sh: error: no GPU found (nvidia-smi): set NPROC, or on CPU run lvg fit --trainer.strategy ddp --trainer.accelerator cpu --trainer.devices N" >&2
  exit 2
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}
exec torchrun --standalone --nnodes 1 --nproc_per_node "$nproc" -m lvg.cli fit \
  --config "$config" --config "$scale" --trainer.devices "$nproc" --trainer.num_nodes 1 "$@"
