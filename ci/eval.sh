#!/usr/bin/env bash
# Detection quality, leave-one-clip-out, camhil against the OpenCV
# baselines tuned the same way, on every labelled fixture clip
# (docs/detector.md, "Choosing the defaults"; figures in docs/benchmarks.md).
#
#   bash ci/eval.sh            # prints the Markdown tables
#
# Installs opencv-python-headless and numpy with pip if missing; builds
# cam-hil in release. About a minute on 2 cores once built.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import cv2, numpy" 2>/dev/null \
  || python3 -m pip install -q --disable-pip-version-check opencv-python-headless numpy
clips=()
for d in fixtures/*/; do
  [ -f "$d/labels.csv" ] && clips+=("${d%/}")
done
mkdir -p target/eval
python3 ci/baselines_opencv.py --scores target/eval/baselines.json "${clips[@]}"
cargo run -q --release -p cam-hil -- eval --loco --baselines target/eval/baselines.json "${clips[@]}"
