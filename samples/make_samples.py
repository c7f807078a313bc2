"""Make the bundled samples: espeak-ng speech, its transcript and its phone timings, and the sample head.

    python samples/make_samples.py [--out samples]

Writes, for each line below, NAME.wav (16-bit mono), NAME.txt (the words) and
NAME.tsv (``start end phone``, IPA, from espeak-ng's own phoneme events),
dialogue.wav (two voices, one per stereo channel, each microphone hearing the
other speaker 18 dB quieter) with dialogue.rttm (its speaker turns), visemes.tsv
(each of the 15 Oculus visemes held for half a second: the README's contact sheet), and
head.glb, the procedural head with 52 ARKit and 15 Oculus viseme morph targets
(:mod:`visemes.rigs.head`), so nothing is fetched and everything can be made
again. Needs espeak-ng.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

from visemes.audio import resample
from visemes.espeak import synthesize
from visemes.exporters.gltf import head_gltf, serialise
from visemes.fileio import atomic_write, write_bytes, write_text
from visemes.rigs.head import sample_head
from visemes.tracks import Segment, Track, make_contiguous

LINES = {
    "hello": ("en-us", "Hello! My name is Bob, and I make mouths move. Five wise foxes jumped over the lazy dog."),
    "hola": ("es", "Hola, me llamo Paula. Vivo en Madrid y me gusta la música."),
    "guten-tag": ("de", "Guten Tag! Wir fahren morgen mit dem Bus nach Berlin."),
}
PAD_S = 0.3  # silence before and after, as in a recorded line
# a dialogue between two different voices; ann and bob overlap from 7.3 s to 7.6 s
DIALOGUE = [("ann", 0.3, "Did you see the boats come in this morning?"),
            ("bob", 3.2, "Maybe. Which boats do you mean?"), ("ann", 6.0, "The big blue ones from the bay."),
            ("bob", 7.3, "Oh, those, I saw them."), ("ann", 10.0, "Bring me some fish, please.")]
DIALOGUE_VOICES = {"ann": ("en-us+m3", 40), "bob": ("en-gb-x-rp+f4", 70)}
DIALOGUE_S, DIALOGUE_RATE = 13.0, 16_000


def dialogue(bleed_db: float = -18.0) -> tuple[np.ndarray, dict[str, np.ndarray], list[tuple[float, float, str]]]:
    """The sample dialogue: float32 ``[2, samples]`` (ann left, bob right, each also hearing the other
    ``bleed_db`` quieter, with a little noise), per speaker the 10 ms frames where a phone sounds (bool), and
    the turns ``(start, end, speaker)``."""
    n = int(DIALOGUE_S * DIALOGUE_RATE)
    clean = {k: np.zeros(n, np.float32) for k in DIALOGUE_VOICES}
    talking = {k: np.zeros(int(DIALOGUE_S * 100), bool) for k in DIALOGUE_VOICES}
    turns = []
    for who, t0, text in DIALOGUE:
        voice, pitch = DIALOGUE_VOICES[who]
        u = synthesize(text, voice, pitch=pitch)
        x = resample(u.samples.astype(np.float32) / 32768, u.sample_rate, DIALOGUE_RATE)
        i = int(t0 * DIALOGUE_RATE)
        clean[who][i:i + len(x)] += x
        for seg in u.phones.segments:
            if seg.label != "sil":
                talking[who][round((t0 + seg.start) * 100):round((t0 + seg.end) * 100)] = True
        turns.append((round(t0 + u.phones.segments[0].start, 2), round(t0 + len(x) / DIALOGUE_RATE, 2), who))
    bleed = np.float32(10 ** (bleed_db / 20))
    noise = np.random.default_rng(0).normal(0, 1e-3, (2, n)).astype(np.float32)
    stereo = np.stack([clean["ann"] + bleed * clean["bob"], clean["bob"] + bleed * clean["ann"]]) + noise
    return stereo, talking, turns


def make_dialogue(out: Path) -> None:
    stereo, _, turns = dialogue()
    with atomic_write(out / "dialogue.wav", "wb") as f:
        sf.write(f, stereo.T, DIALOGUE_RATE, format="WAV", subtype="PCM_16")
    write_text(out / "dialogue.rttm", "".join(f"SPEAKER dialogue 1 {a:.2f} {b - a:.2f} <NA> <NA> {who} <NA> <NA>\n"
                                              for a, b, who in turns))


def make(name: str, voice: str, text: str, out: Path) -> None:
    utt = synthesize(text, voice)
    pad = np.zeros(int(PAD_S * utt.sample_rate), dtype=np.int16)
    audio = np.concatenate([pad, utt.samples, pad])
    segs = [Segment(s.start + PAD_S, s.end + PAD_S, s.label) for s in utt.phones.segments]
    track = Track(make_contiguous(segs, duration=len(audio) / utt.sample_rate), "phones", "ipa")
    with atomic_write(out / f"{name}.wav", "wb") as f:
        sf.write(f, audio, utt.sample_rate, format="WAV", subtype="PCM_16")
    write_text(out / f"{name}.txt", text + "\n")
    write_text(out / f"{name}.tsv", "".join(f"{s.start:.4f}\t{s.end:.4f}\t{s.label}\n" for s in track.segments))


def make_viseme_tour(out: Path, hold: float = 0.5) -> None:
    """visemes.tsv: the 15 visemes in order (silence first), each held ``hold`` seconds."""
    from visemes.phones import VISEMES

    rows = [(k * hold, (k + 1) * hold, v) for k, v in enumerate(VISEMES)]
    write_text(out / "visemes.tsv", "".join(f"{a:.2f}\t{b:.2f}\t{v}\n" for a, b, v in rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent, help="folder to write to (default: samples/)")
    a = ap.parse_args()
    for name, (voice, text) in LINES.items():
        make(name, voice, text, a.out)
        print(f"{a.out / name}.wav  .txt  .tsv")
    make_dialogue(a.out)
    print(f"{a.out / 'dialogue'}.wav  .rttm")
    make_viseme_tour(a.out)
    print(a.out / "visemes.tsv")
    write_bytes(a.out / "head.glb", serialise(head_gltf(sample_head())))
    print(a.out / "head.glb")


if __name__ == "__main__":
    main()
