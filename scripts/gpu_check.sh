#!/usr/bin/env bash
# The gpu preset's checks on one GPU within a short lease (issue 9, part 5), in ~8 minutes:
#  1. one real epoch of each of its phases, extrapolated to the whole preset
#     (scripts/time_preset_epochs.py);
#  2. with the time left, the gpu space's largest network trained alone as phase 1 trains it
#     (peak lr 0.2, batch 256, elastic resolution) for as many epochs as fit, on its own
#     shortened schedule, then tested: a first look at what phase 1 reaches.
# Data: $HWNAS_DATA_DIR, or else the offline tarball copied to .data/cifar10-jpeg.tar.gz
# (.data/ is ignored by git: name it in the device's carry). Writes its figures to $OUT
# (default /tmp/gpu-check). BUDGET_S: seconds for both parts (default 470).
set -u
OUT=${OUT:-/tmp/gpu-check}; mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
PRESET=${PRESET:-gpu}  # smoke: a dry run of this script on a CPU
end=$((SECONDS + ${BUDGET_S:-470}))
rm -rf /tmp/gpu-largest
if [[ -z "${HWNAS_DATA_DIR:-}" ]]; then
    mkdir -p /tmp/cifar && tar -xzf .data/cifar10-jpeg.tar.gz -C /tmp/cifar || exit 1
    export HWNAS_DATA_DIR=/tmp/cifar/cifar10-jpeg
fi
export HWNAS_CACHE_DIR=${HWNAS_CACHE_DIR:-/tmp/hwnas-cache}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc
  python3 -c "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.version.cuda)"
} > "$OUT/machine.txt" 2>&1
rm -rf /tmp/gpu-epochs
timeout $((end - SECONDS - 150)) python3 scripts/time_preset_epochs.py --preset "$PRESET" \
    --out /tmp/gpu-epochs > "$OUT/epochs.txt" 2>&1; echo "exit $?" >> "$OUT/epochs.txt"
cp /tmp/gpu-epochs/estimate.json "$OUT/" 2>/dev/null
cp /tmp/gpu-epochs/log.jsonl "$OUT/epochs-log.jsonl" 2>/dev/null
left=$((end - SECONDS))
timeout "$left" python3 - "$left" "$PRESET" > "$OUT/largest.txt" 2>&1 <<'PY'
import json, sys
from dataclasses import replace
from hwnas_lab.ofa.schedule import get_shrink_config
from hwnas_lab.ofa.shrink import train_supernet
left = float(sys.argv[1])
try:  # the measured phase-1 epoch (training + one validation); else a guess of 10 s
    est = json.load(open("/tmp/gpu-epochs/estimate.json"))
    epoch_s = est["phases"][0]["epoch_s"] + est["validation_s"] / 4
except OSError:
    epoch_s = 10.0
epochs = max(1, int((left - 40) / epoch_s))
gpu = get_shrink_config(sys.argv[2])
config = replace(gpu, phases=(replace(gpu.phases[0], epochs=epochs,
                                      warmup_epochs=min(3.0, epochs / 5)),),
                 eval_every=max(1, epochs // 4))
print(f"largest alone: {epochs} epochs (phase-1 epoch ~{epoch_s:.1f} s, {left:.0f} s left)")
final = train_supernet(config, "/tmp/gpu-largest", progress=False)
print(json.dumps({k: final[k] for k in final if k.startswith("test_acc")}))
PY
echo "exit $?" >> "$OUT/largest.txt"
cp /tmp/gpu-largest/log.jsonl "$OUT/largest-log.jsonl" 2>/dev/null
echo "done at ${SECONDS} s"
