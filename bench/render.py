"""Neural renderer throughput: training time per epoch on 2 minutes of footage, inference frames per second.

    python bench/render.py [--size 256] [--base 32] [--device cuda]

Makes 2 minutes of synthetic footage (the sample head saying the bundled lines, looped, 25 fps), prepares it,
times training (an epoch = as many crops as the footage has frames) and inference (`render_crops`, batched)
at ``--size``, and prints Markdown for docs/benchmarks.md. Runs on a GPU when there is one (bf16), else on the
CPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from visemes.audio import load_audio
from visemes.bake import Settings, bake_file
from visemes.preview import Renderer, scene
from visemes.render import pipeline, video
from visemes.render.net import MouthNet, RendererConfig, count_parameters

ROOT = Path(__file__).resolve().parents[1]
CONSENT = "Synthetic footage of the visemes sample head, made for this benchmark."


def footage(folder: Path, seconds: float, size: int) -> Path:
    speech = np.concatenate([load_audio(ROOT / "samples" / f"{n}.wav") for n in ("hello", "hola", "guten-tag")])
    speech = np.tile(speech, int(np.ceil(seconds * 16000 / len(speech))))[: int(seconds * 16000)]
    sf.write(folder / "speech.wav", speech, 16000)
    sc = scene(bake_file(folder / "speech.wav", [], Settings()), None, 25)
    r = Renderer(sc, size=size, views=("front",))
    try:
        video.write_mp4(folder / "ref.mp4", (r.frame(i) for i in range(len(sc.weights[0]))), 25,
                        folder / "speech.wav", {})
    finally:
        r.release()
    return folder / "ref.mp4"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256, help="crop size (256)")
    ap.add_argument("--base", type=int, default=32, help="network width (32)")
    ap.add_argument("--seconds", type=float, default=120.0, help="footage length (120)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ref = footage(tmp, a.seconds, max(256, a.size * 2))
        t0 = time.perf_counter()
        pipeline.prepare(ref, CONSENT, tmp / "prep", size=a.size)
        prep_s = time.perf_counter() - t0
        frames = int(np.load(tmp / "prep" / "reference.npz")["crops"].shape[0])
        steps = max(1, int(frames * (1 - pipeline.HELD_OUT)) // a.batch)
        cfg = RendererConfig(size=a.size, base=a.base)
        summary = pipeline.train(tmp / "prep", tmp / "m.pt", cfg, steps=steps, batch=a.batch, device=a.device)
        net, ckpt = pipeline.load_model(tmp / "m.pt", a.device)
        data = np.load(tmp / "prep" / "reference.npz")
        wins = pipeline.windows(data["curves"], np.arange(frames), cfg.context)
        pipeline.render_crops(net, data["crops"][:64], ckpt["identity"].numpy(), wins[:64])  # warm up
        if a.device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        pipeline.render_crops(net, data["crops"], ckpt["identity"].numpy(), wins)
        if a.device == "cuda":
            torch.cuda.synchronize()
        infer_s = time.perf_counter() - t0
    device = torch.cuda.get_device_name() if a.device == "cuda" else f"CPU ({platform.processor() or 'x86_64'}, " \
                                                                     f"{torch.get_num_threads()} threads)"
    print(f"Device: {device}; `python bench/render.py --size {a.size} --base {a.base} --device {a.device}`\n")
    print("| measure | value |\n| --- | --- |")
    print(f"| network | {count_parameters(MouthNet(cfg)) / 1e6:.2f} M parameters, {a.size}x{a.size} crops |")
    print(f"| prepare {a.seconds:.0f} s of footage ({frames} frames) | {prep_s:.0f} s |")
    print(f"| training, one epoch ({steps} steps of {a.batch}) | {summary['seconds'] / 60:.2f} min |")
    print(f"| inference (network only, batched) | {frames / infer_s:.0f} frames/s |")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
