"""OCR evaluation: character error rate against reference lines, and test material made by drawing
text over real footage with ffmpeg's ``drawtext`` filter (fonts from the system).

``match_lines`` pairs each reference line with the predicted line, or run of neighbouring lines on
one row (a detector may split a line at a wide gap), that it is closest to; CER is the summed
edit distance over the summed reference length. Predicted lines left over are counted apart
(``extra``): text the reference does not have.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from reelscope.vision.text_spans import edit_distance

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")


def normalise(text: str) -> str:
    """Whitespace runs as one space, no surrounding space (case and punctuation kept)."""
    return " ".join(text.split())


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate of one line: edit distance over the reference length."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    return edit_distance(ref, hyp) / max(1, len(ref))


@dataclass
class LineMatch:
    edits: int = 0  # summed edit distance of the reference lines to their matches
    chars: int = 0  # summed reference length
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (reference, what was read)
    extra: list[str] = field(default_factory=list)  # predicted lines matched to no reference

    @property
    def cer(self) -> float:
        return self.edits / max(1, self.chars)

    def add(self, other: "LineMatch") -> "LineMatch":
        self.edits += other.edits
        self.chars += other.chars
        self.pairs += other.pairs
        self.extra += other.extra
        return self


def _rows(lines: Sequence[tuple[str, Sequence[float]]]) -> list[list[int]]:
    """Indices of predicted lines grouped into rows (vertical centres within half the smaller
    height), each row left to right."""
    order = sorted(range(len(lines)), key=lambda i: lines[i][1][1] + lines[i][1][3] / 2)
    rows: list[list[int]] = []
    for i in order:
        x, y, w, h = lines[i][1]
        c = y + h / 2
        if rows:
            j = rows[-1][0]
            _, yj, _, hj = lines[j][1]
            if abs(c - (yj + hj / 2)) < 0.5 * min(h, hj):
                rows[-1].append(i)
                continue
        rows.append([i])
    return [sorted(r, key=lambda i: lines[i][1][0]) for r in rows]


def match_lines(references: Sequence[str], predicted: Sequence[tuple[str, Sequence[float]]]) -> LineMatch:
    """Pair reference lines with predicted ``(text, (x, y, w, h))`` lines, longest reference first,
    each taking the unused line or run of adjacent lines on one row with the fewest edits."""
    rows = _rows(predicted)
    candidates = []  # (indices, text)
    for r in rows:
        for a in range(len(r)):
            for b in range(a + 1, len(r) + 1):
                idx = tuple(r[a:b])
                candidates.append((idx, " ".join(normalise(predicted[i][0]) for i in idx)))
    out = LineMatch()
    used: set[int] = set()
    for ref in sorted((normalise(x) for x in references), key=len, reverse=True):
        best = None
        for idx, text in candidates:
            if used.intersection(idx):
                continue
            d = edit_distance(ref, text)
            if best is None or d < best[0]:
                best = (d, idx, text)
        if best is None or best[0] >= len(ref):  # nothing closer than reading nothing
            out.edits += len(ref)
            out.pairs.append((ref, ""))
        else:
            out.edits += best[0]
            out.pairs.append((ref, best[2]))
            used.update(best[1])
        out.chars += len(ref)
    out.extra = [normalise(predicted[i][0]) for i in range(len(predicted)) if i not in used]
    return out


# ---- test material: text drawn over real footage --------------------------------------------------
@dataclass
class Title:
    """One line of text drawn with ffmpeg drawtext. ``font``: a font file; ``x``/``y`` the top-left
    corner in output pixels; ``border``: outline width (0: none); ``box``: a translucent box behind."""
    text: str
    font: Path
    size: int
    x: int
    y: int
    color: str = "white"
    border: int = 0
    box: bool = False
    start: float | None = None  # shown from (seconds); None: from the start
    end: float | None = None  # shown until; None: to the end


def find_font(name: str) -> Path | None:
    """A font file by file name (e.g. ``DejaVuSans.ttf``) under the system font folders."""
    for d in FONT_DIRS:
        if d.is_dir():
            for p in d.rglob(name):
                return p
    return None


def drawtext_available() -> bool:
    """Whether an ffmpeg with the drawtext filter is on the PATH."""
    exe = shutil.which("ffmpeg")
    if not exe:
        return False
    try:
        out = subprocess.run([exe, "-hide_banner", "-filters"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return " drawtext " in out


def render_titles(src: str | Path, out: str | Path, titles: Sequence[Title], *, start: float = 0.0,
                  duration: float = 2.0, width: int | None = None, height: int | None = None,
                  crf: int = 23) -> Path:
    """Cut ``duration`` seconds of ``src`` from ``start``, optionally scaled to ``width`` x
    ``height``, draw ``titles`` over it and encode H.264 (CRF ``crf``, no audio) to ``out``.
    Texts go through files (no filter escaping). Raises RuntimeError naming ffmpeg's complaint."""
    exe = shutil.which("ffmpeg")
    if not exe:
        raise RuntimeError("ffmpeg not found: install it (apt-get install ffmpeg) to render test titles")
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="titles-") as tmp:
        filters = []
        if width and height:
            filters.append(f"scale={int(width)}:{int(height)}")
        for i, t in enumerate(titles):
            tf = Path(tmp) / f"t{i}.txt"
            tf.write_text(t.text, encoding="utf-8")
            opts = [f"fontfile='{t.font}'", f"textfile='{tf}'", f"fontsize={int(t.size)}", f"fontcolor={t.color}",
                    f"x={int(t.x)}", f"y={int(t.y)}"]
            if t.border:
                opts += [f"borderw={int(t.border)}", "bordercolor=black"]
            if t.box:
                opts += ["box=1", "boxcolor=black@0.55", "boxborderw=6"]
            if t.start is not None or t.end is not None:
                a = 0.0 if t.start is None else float(t.start)
                b = 1e9 if t.end is None else float(t.end)
                opts.append(f"enable='between(t,{a:.3f},{b:.3f})'")
            filters.append("drawtext=" + ":".join(opts))
        script = Path(tmp) / "filter.txt"
        script.write_text(",".join(filters) or "null", encoding="utf-8")
        cmd = [exe, "-loglevel", "error", "-y", "-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", str(src),
               "-filter_script:v", str(script), "-an", "-c:v", "libx264", "-preset", "veryfast",
               "-crf", str(int(crf)), "-pix_fmt", "yuv420p", str(out)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0 or not out.is_file():
            raise RuntimeError(f"{src}: ffmpeg drawtext failed: {res.stderr.strip().splitlines()[-1:] or res.returncode}")
    return out
