"""Speech to text (the speech stage): word error rate, language identification and speed.

    .venv/bin/python bench/bench_speech.py [--quick] [--out bench/results/speech.json]
    .venv/bin/python bench/bench_speech.py --beam-only      # beam 5 against greedy decoding

1. **WER on synthesised sentences over real footage.** English sentences written for this
   benchmark are spoken by espeak-ng in several voices, four per clip with pauses between them,
   and laid over the soundtrack of real footage at a given speech-to-background power ratio
   (SNR): the Big Buck Bunny score (music) and the marathon clip's crowd (looped), plus clean.
   Sparse clips: two sentences in 60 s of a music recording (an instrumental, and a song whose
   sung vocals are not speech), at 5 dB.
   Each clip goes through what the stage does: the audio stage's analysis (speech/music/silence
   segments), regions, Whisper. Region sources compared on the same clips: ``audio`` (the
   default), ``vad`` (Silero VAD regions), ``all`` (the whole soundtrack). Also counted: words
   the model wrote more than 0.5 s away from any spoken sentence (text invented over music or
   crowd noise).
2. **Language identification**: sentences written in seven languages, spoken by espeak-ng's voice
   for each (one clip per sentence): the stage's language; the LibriSpeech readers (English);
   the bilingual conversation (per-segment languages over time).
3. **Speed per minute of audio**: decode seconds (model load excluded) per minute of input for
   the real recordings, the compute types ``int8`` (default) and ``float32`` interleaved, two
   threads. Whisper small: its carrier packages are incomplete (see reelscope/models/whisper.py):
   the benchmark records the refusal instead of a figure.

Figures are medians or totals as stated; the machine is shared (load average recorded).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DATA = Path(os.environ.get("REELSCOPE_TEST_DATA", ROOT.parent / "shared" / "data"))

SENTENCES = [
    "The quick brown fox jumps over the lazy dog near the old bridge.",
    "Please bring the red umbrella to the station tomorrow morning.",
    "Our train leaves at noon, so we should pack the bags tonight.",
    "She painted the old wooden door a bright shade of green.",
    "The children were laughing while the band played in the park.",
    "He forgot his keys in the kitchen and had to climb through the window.",
    "A cold wind blew across the water as the boats came home.",
    "We need more coffee before the meeting starts this afternoon.",
    "The museum opens early on weekends and closes late on Friday.",
    "My brother bought a small house with a garden full of roses.",
    "Turn left at the bakery and walk straight to the library.",
    "The doctor said the patient could go home after lunch.",
]
VOICES = ["en-us", "en-gb-x-rp", "en-029", "en-us+f3"]
BACKGROUNDS = {"music": "video/big_buck_bunny_0_30.webm", "crowd": "video/five-second-marathon-clip.mkv"}
SPARSE = {"jazz": "music/Kevin_MacLeod_-_Vibe_Ace.hq.ogg", "song": "music/Karissa_Hobbs_-_Lets_Go_Fishin.hq.ogg"}
SNRS = [10.0, 5.0, 0.0]
LANGUAGES = {  # espeak-ng voice -> (Whisper code, sentences)
    "en-us": ("en", ["The library is closed today because of the storm.",
                     "I would like a cup of tea with milk, please."]),
    "es": ("es", ["Mañana vamos a visitar a mis abuelos en el pueblo.",
                  "La comida de este restaurante es muy buena y barata."]),
    "fr-fr": ("fr", ["Nous allons au marché tous les samedis matin.",
                     "Il fait très beau aujourd'hui, allons à la plage."]),
    "de": ("de", ["Ich habe gestern ein neues Fahrrad gekauft.",
                  "Der Zug nach Berlin fährt um acht Uhr ab."]),
    "it": ("it", ["Vorrei prenotare un tavolo per due persone stasera.",
                  "La nostra casa si trova vicino al fiume."]),
    "pt": ("pt", ["Eu gosto muito de ler livros antes de dormir.",
                  "O ônibus para o centro passa a cada dez minutos."]),
    "nl": ("nl", ["Wij fietsen elke dag naar ons werk in de stad.",
                  "Het regent al de hele week in Amsterdam."]),
}
RATE = 16000


def soundtrack(path: Path) -> np.ndarray:
    from reelscope.audio.analyze import align
    from reelscope.media.audio import read_audio

    x = align(read_audio(path, RATE, "mono"))
    return x.astype(np.float32)


def speech_track(sentences: list[str], voice: str, gap: float = 2.5, lead: float = 2.0):
    """Samples with the sentences one after the other, and their spans in seconds."""
    from reelscope.eval.speech import synthesize

    parts, spans, t = [np.zeros(int(lead * RATE), np.float32)], [], lead
    for s in sentences:
        a = synthesize(s, voice)
        parts += [a, np.zeros(int(gap * RATE), np.float32)]
        spans.append((t, t + len(a) / RATE))
        t += len(a) / RATE + gap
    return np.concatenate(parts), spans


def run_stage(mono: np.ndarray, model, source: str, **kw):
    """What the speech stage does on a soundtrack (audio analysis for the regions, then Whisper);
    returns (transcript, audio analysis seconds)."""
    from reelscope.audio.analyze import analyze_clip
    from reelscope.audio.transcribe import audio_regions, pad_merge, transcribe_clip, vad_regions
    from reelscope.audio.vad import SileroVAD
    from reelscope.media.audio import AudioClip

    duration = len(mono) / RATE
    t0 = time.perf_counter()
    if source == "audio":
        res = analyze_clip(AudioClip(mono, RATE, 0.0, 1, "pcm"), vad=SileroVAD())
        regions = audio_regions(res.segments, duration)
    elif source == "vad":
        regions = vad_regions(mono, SileroVAD())
    else:
        regions = pad_merge([(0.0, duration)], duration, pad=0.0, merge_gap=0.0)
    prep = time.perf_counter() - t0
    tr = transcribe_clip(mono, model, model_name="whisper-base", regions=regions, region_source=source, **kw)
    return tr, prep


def outside(tr, spans, margin: float = 0.5) -> int:
    words = [w for s in tr.segments for w in s.words]
    return sum(1 for w in words if not any(a - margin <= (w.start + w.end) / 2 <= b + margin for a, b in spans))


def placed_track(sentences: list[str], voice: str, starts: list[float], length: float):
    """Sentences at given start times in ``length`` seconds of silence, and their spans."""
    from reelscope.eval.speech import synthesize

    out, spans = np.zeros(int(length * RATE), np.float32), []
    for s, t in zip(sentences, starts):
        a = synthesize(s, voice)
        i = int(t * RATE)
        out[i:i + len(a)] += a[: len(out) - i]
        spans.append((t, t + len(a) / RATE))
    return out, spans


def bench_wer(model, quick: bool) -> dict:
    """Dense clips: four sentences in ~26 s over the background (or clean). Sparse clips: two
    sentences in 60 s of a music recording (an instrumental, and a song with sung vocals)."""
    from reelscope.eval.speech import WordErrors, mix_at_snr, word_errors

    voices = VOICES[:2] if quick else VOICES
    backgrounds = {k: soundtrack(DATA / v) for k, v in BACKGROUNDS.items()}
    backgrounds.update({k: soundtrack(DATA / v) for k, v in SPARSE.items()})
    conditions = [("clean", None)] + [(bg, snr) for bg in BACKGROUNDS for snr in (SNRS[:2] if quick else SNRS)]
    conditions += [(bg, 5.0) for bg in SPARSE]
    sources = ["audio", "vad", "all"]
    rows = []
    for vi, voice in enumerate(voices):
        sents = [SENTENCES[(vi * 4 + k) % len(SENTENCES)] for k in range(4)]
        dense = speech_track(sents, voice)
        sparse = placed_track(sents[:2], voice, [12.0, 38.0], 60.0)
        for bg, snr in conditions:
            if bg in SPARSE:
                (speech, spans), ref, length = sparse, " ".join(sents[:2]), 60.0
            else:
                (speech, spans), ref = dense, " ".join(sents)
                length = max(len(speech) / RATE, 30.0 if bg == "music" else len(speech) / RATE)
            mono = mix_at_snr(speech, backgrounds.get(bg, np.zeros(0, np.float32)), snr, length=length)
            for source in sources:  # interleaved on the same clip
                tr, prep = run_stage(mono, model, source)
                e = word_errors(ref, tr.text())
                rows.append({"voice": voice, "background": bg, "snr": snr, "source": source,
                             "errors": [e.substitutions, e.deletions, e.insertions, e.reference_words],
                             "wer": round(e.wer, 4), "outside_words": outside(tr, spans),
                             "speech_seconds": round(tr.speech_seconds, 2), "audio_seconds": round(len(mono) / RATE, 2),
                             "decode_seconds": tr.seconds, "region_seconds": round(prep, 3),
                             "language": tr.language, "text": tr.text()})
                print(f"  {voice:11s} {bg:6s} {str(snr):5s} {source:5s} WER {e.wer:.3f} outside {rows[-1]['outside_words']}"
                      f" decode {tr.seconds:.1f}s  {tr.text()[:70]}", flush=True)
    table = {}
    for r in rows:
        key = f"{r['background']}@{r['snr']:g}" if r["snr"] is not None else "clean"
        t = table.setdefault(key, {}).setdefault(r["source"], {"errors": WordErrors(0, 0, 0, 0), "outside": 0,
                                                                  "decode": 0.0, "audio": 0.0, "speech": 0.0,
                                                                  "clips": 0})
        t["errors"] = t["errors"] + WordErrors(*r["errors"])
        t["outside"] += r["outside_words"]
        t["decode"] += r["decode_seconds"]
        t["audio"] += r["audio_seconds"]
        t["speech"] += r["speech_seconds"]
        t["clips"] += 1
    summary = {k: {s: {"wer": round(v["errors"].wer, 4), "substitutions": v["errors"].substitutions,
                       "deletions": v["errors"].deletions, "insertions": v["errors"].insertions,
                       "reference_words": v["errors"].reference_words, "outside_words": v["outside"],
                       "decode_s_per_audio_min": round(v["decode"] / (v["audio"] / 60), 2),
                       "speech_share": round(v["speech"] / v["audio"], 3), "clips": v["clips"]}
                   for s, v in d.items()} for k, d in table.items()}
    return {"rows": rows, "summary": summary}


def bench_language(model) -> dict:
    from reelscope.eval.speech import synthesize

    out = {"synthetic": [], "librispeech": [], "bilingual": None}
    for voice, (code, sents) in LANGUAGES.items():
        for s in sents:
            x = np.concatenate([np.zeros(RATE, np.float32), synthesize(s, voice), np.zeros(RATE, np.float32)])
            tr, _ = run_stage(x, model, "vad")
            out["synthetic"].append({"voice": voice, "expected": code, "got": tr.language,
                                     "probability": tr.language_probability, "text": tr.text()})
            print(f"  {voice:6s} expected {code} got {tr.language} ({tr.language_probability})  {tr.text()[:60]}",
                  flush=True)
    for f in sorted((DATA / "speech").glob("*.hq.ogg")):
        tr, _ = run_stage(soundtrack(f), model, "audio")
        out["librispeech"].append({"file": f.name, "got": tr.language, "probability": tr.language_probability,
                                   "text": tr.text()})
        print(f"  {f.name} {tr.language} {tr.language_probability} {tr.text()[:60]}", flush=True)
    x = soundtrack(DATA / "speech/bilingual.mp3")
    for pack in (True, False):
        tr, _ = run_stage(x, model, "audio", pack=pack)
        out.setdefault("bilingual_runs", []).append({
            "pack": pack, "language": tr.language, "languages": tr.languages, "regions": tr.regions,
            "segments": [{"start": s.start, "end": s.end, "language": s.language,
                          "probability": s.language_probability, "text": s.text} for s in tr.segments]})
    out["bilingual"] = out["bilingual_runs"][0]
    return out


def bench_speed(rounds: int) -> dict:
    from reelscope.models.whisper import load_whisper, whisper_dir

    files = sorted((DATA / "speech").glob("*.hq.ogg")) + [DATA / "speech/bilingual.mp3",
                                                         DATA / "speech/10001-90210-01803.wav"]
    tracks = {f.name: soundtrack(f) for f in files}
    minutes = sum(len(x) for x in tracks.values()) / RATE / 60
    res = {"audio_minutes": round(minutes, 3), "compute_types": {}}
    models = {}
    for ct in ("int8", "float32"):
        t0 = time.perf_counter()
        models[ct] = load_whisper("base", compute_type=ct, threads=2)
        res["compute_types"][ct] = {"load_seconds": round(time.perf_counter() - t0, 2), "runs": []}
    for r in range(rounds):
        for ct in (("int8", "float32") if r % 2 == 0 else ("float32", "int8")):  # interleaved
            total, speech = 0.0, 0.0
            for name, x in tracks.items():
                tr, prep = run_stage(x, models[ct], "audio")
                total += tr.seconds
                speech += tr.speech_seconds
            res["compute_types"][ct]["runs"].append(round(total / minutes, 2))
            print(f"  round {r} {ct}: {total / minutes:.2f} s per minute of audio", flush=True)
    for ct, d in res["compute_types"].items():
        d["decode_s_per_audio_min_median"] = round(statistics.median(d["runs"]), 2)
    try:
        whisper_dir("small")
        res["small"] = "available"
    except Exception as e:  # noqa: BLE001 - recorded as the result
        res["small"] = f"not usable: {e}"
    return res


def bench_beam(model, rounds: int = 2) -> dict:
    """Beam 5 (default) against greedy decoding (beam 1) on the dense clean and score@5 dB clips of
    every voice, interleaved: WER and decode seconds per audio minute."""
    from reelscope.eval.speech import WordErrors, mix_at_snr, word_errors

    music = soundtrack(DATA / BACKGROUNDS["music"])
    clips = []
    for vi, voice in enumerate(VOICES):
        sents = [SENTENCES[(vi * 4 + k) % len(SENTENCES)] for k in range(4)]
        speech, _ = speech_track(sents, voice)
        for bg, snr in (("clean", None), ("music", 5.0)):
            length = 30.0 if bg == "music" else len(speech) / RATE
            clips.append((" ".join(sents), mix_at_snr(speech, music if bg == "music" else np.zeros(0, np.float32),
                                                       snr, length=length)))
    res = {}
    for r in range(rounds):
        for beam in ((5, 1) if r % 2 == 0 else (1, 5)):
            errs, dec, aud = WordErrors(0, 0, 0, 0), 0.0, 0.0
            for ref, mono in clips:
                tr, _ = run_stage(mono, model, "audio", beam_size=beam)
                errs = errs + word_errors(ref, tr.text())
                dec += tr.seconds
                aud += len(mono) / RATE
            d = res.setdefault(f"beam{beam}", {"wer": round(errs.wer, 4), "runs": []})
            d["runs"].append(round(dec / (aud / 60), 2))
            print(f"  round {r} beam {beam}: WER {errs.wer:.3f}, {dec / (aud / 60):.2f} s per audio min", flush=True)
    for d in res.values():
        d["decode_s_per_audio_min_median"] = round(statistics.median(d["runs"]), 2)
    return res


def main() -> int:
    from machine_info import machine

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="two voices, two SNRs, one speed round")
    ap.add_argument("--out", default=str(ROOT / "bench/results/speech.json"))
    ap.add_argument("--beam-only", action="store_true",
                    help="only beam 5 against greedy decoding (writes bench/results/speech_beam.json)")
    args = ap.parse_args()
    from reelscope.eval.speech import have_espeak
    from reelscope.models.whisper import load_whisper

    if not have_espeak():
        print("error: espeak-ng not found (apt-get install espeak-ng)", file=sys.stderr)
        return 2
    info = machine(("faster-whisper", "ctranslate2", "onnxruntime", "numpy"))
    model = load_whisper("base", compute_type="int8", threads=2)
    t0 = time.perf_counter()
    if args.beam_only:
        beam = bench_beam(model)
        out = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": info,
               "load_after": [round(x, 2) for x in os.getloadavg()], "threads": 2, "model": "whisper-base",
               "beam": beam}
        path = ROOT / "bench/results/speech_beam.json"
        path.write_text(json.dumps(out, indent=1))
        print(json.dumps(beam, indent=1))
        print(f"wrote {path}")
        return 0
    print("WER over real footage:", flush=True)
    wer = bench_wer(model, args.quick)
    print("language identification:", flush=True)
    lang = bench_language(model)
    print("speed:", flush=True)
    speed = bench_speed(1 if args.quick else 3)
    out = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": info,
           "load_after": [round(x, 2) for x in os.getloadavg()], "seconds": round(time.perf_counter() - t0, 1),
           "threads": 2, "model": "whisper-base", "wer": wer, "language": lang, "speed": speed}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1, ensure_ascii=False))
    print(json.dumps({"wer": wer["summary"], "speed": speed}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
