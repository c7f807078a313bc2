"""Make the bundled samples: espeak-ng speech, its transcript and its phone timings, and the sample head.

    python samples/make_samples.py [--out samples]

Writes, for each line below, NAME.wav (16-bit mono), NAME.txt (the words) and
NAME.tsv (``start end phone``, IPA, from espeak-ng's own phoneme events), and
head.glb, the procedural head with 52 ARKit and 15 Oculus viseme morph targets
(:mod:`visemes.rigs.head`), so nothing is fetched and everything can be made
again. Needs espeak-ng.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent, help="folder to write to (default: samples/)")
    a = ap.parse_args()
    for name, (voice, text) in LINES.items():
        make(name, voice, text, a.out)
        print(f"{a.out / name}.wav  .txt  .tsv")
    write_bytes(a.out / "head.glb", serialise(head_gltf(sample_head())))
    print(a.out / "head.glb")


if __name__ == "__main__":
    main()
