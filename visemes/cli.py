"""The ``visemes`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from visemes.exporters import EXPORTERS, ExportOptions, target_match
from visemes.rigs import builtin_names, combined, load_rig

from . import limits
from .bake import Settings, check_format
from .batch import Report, plan, read_manifest, run
from .engines import ENGINES, MODES
from .errors import VisemesError
from .expression import EMOTIONS, PARTS, ExpressionParams
from .timing import FORMATS as TIMING_FORMATS
from .version import version

BAKE_EPILOG = """\
inputs:
  Audio files (wav, flac, ogg, mp3, ...; any rate and channel count), analysed by
  --engine; or timing files, detected by content: {timing}.

examples:
  visemes bake samples/hello.wav --rig arkit --format json -o hello.json
  visemes bake samples/hello.wav --transcript samples/hello.txt --language en -o hello.json
  visemes bake samples/hello.tsv --rig arkit --format json -o hello.json
  visemes bake samples/hello.tsv --format rhubarb-tsv -o -          # to standard output
  visemes bake lines/ --format json --format csv -o baked/          # a folder, two formats
  visemes bake --manifest lines.csv --format json -o baked/ --jobs 8
  visemes bake speech.wav --rig arkit --format gltf --into character.glb -o out.glb
  visemes bake speech.wav --rig oculus --format gltf -o head.glb    # the sample head, animated

A manifest (CSV with a header row, or a JSON list of objects) has the columns
input (or timing and/or audio), transcript, rig, language, output. In a batch,
outputs newer than their inputs (and rig file) are skipped, so an interrupted
batch can simply be run again (--force redoes them). Exit status: 0 when every
input succeeded, 1 when any failed, 2 for a usage error.
"""


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="visemes",
        description="Speech in, a talking face out: viseme timings and blendshape curves for avatar rigs.",
        epilog="Run 'visemes COMMAND --help' for each command's options.",
    )
    ap.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _bake_parser(sub)
    _scene_parser(sub)
    _render_parser(sub)
    rigs = sub.add_parser("rigs", help="list rig profiles, or show one",
                          description="List the built-in rig profiles, or print one (a name or a profile file).")
    rigs.add_argument("action", nargs="?", choices=["list", "show"], default="list",
                      help="'list' (default) or 'show NAME'")
    rigs.add_argument("name", nargs="?", help="rig name or profile file, for 'show'")
    rigs.set_defaults(func=_cmd_rigs)
    plot = sub.add_parser("plot", help="draw a timeline: waveform, phones, visemes, rig curves",
                          description="Draw the analysis of one input as a timeline image (PNG or SVG).",
                          epilog="example: visemes plot samples/hello.wav --rig arkit -o timeline.png")
    plot.add_argument("input", metavar="INPUT", help="an audio or timing file")
    plot.add_argument("-o", "--output", required=True, metavar="OUT", help="image file: .png or .svg")
    _input_options(plot)
    plot.set_defaults(func=_cmd_plot)
    prev = sub.add_parser("preview", help="render a preview video of a face speaking (MP4)",
                          description="Render the sample head, or your glTF/VRM mesh, with the curves applied "
                                      "(front and three-quarter views) and mux the speech: an MP4 to judge by eye. "
                                      "Works without a display or GPU (Mesa EGL).",
                          epilog="example: visemes preview samples/hello.wav --rig arkit -o preview.mp4")
    prev.add_argument("input", metavar="INPUT", help="an audio file (or a timing file with --audio)")
    prev.add_argument("-o", "--output", required=True, metavar="OUT",
                      help="video file (.mp4), or .png for stills (the frames at --at)")
    prev.add_argument("--at", metavar="S[,S...]",
                      help="with a .png output: the moment to show, seconds (0); several make a contact sheet of "
                           "front views, each captioned with its viseme")
    prev.add_argument("--columns", type=int, default=5, help="stills per row of a contact sheet (5)")
    prev.add_argument("--mesh", metavar="FILE", help="a .glb/.gltf/.vrm to animate instead of the sample head")
    prev.add_argument("--map", dest="mapping", metavar="FILE",
                      help="channel -> morph target mapping (JSON or CSV) for a --mesh whose names nothing matches")
    prev.add_argument("--fps", type=float, default=30.0, help="video frame rate (30)")
    prev.add_argument("--size", type=int, default=360, help="height of each view in pixels (360)")
    _input_options(prev)
    prev.set_defaults(func=_cmd_preview)
    live = sub.add_parser("live", help="analyse audio as it arrives and stream rig weights out",
                          description="Run the causal model on live audio and send rig weights to sinks.",
                          epilog="example: visemes live --source file:samples/hello.wav --rig vrm "
                                 "--sink ws://127.0.0.1:8765 --monitor",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    live.add_argument("--source", metavar="SRC",
                      help="file:PATH (played in real time), stdin[:RATE[:CHANNELS]] (raw s16le PCM), "
                           "mic[:DEVICE] (index or part of the name) or ws://HOST:PORT (PCM from a client)")
    live.add_argument("--list-devices", action="store_true", help="list the microphones and exit")
    live.add_argument("--sink", action="append", metavar="URL",
                      help="where frames go, repeatable: ws://HOST:PORT (JSON frames; README has the schema), "
                           "vmc://HOST:PORT (VMC protocol, 39539 in most apps), osc://HOST:PORT/ADDRESS, "
                           "livelink://HOST:PORT (Unreal Live Link Face, 11111), vtubestudio://HOST:PORT (8001)")
    live.add_argument("-r", "--rig", default="arkit", metavar="RIG",
                      help=f"continuous rig profile ({', '.join(builtin_names())}) or file (default: arkit)")
    live.add_argument("--fps", type=float, default=60.0, help="output frames per second, 30-120 (60)")
    live.add_argument("--delay", type=float, default=0.0, metavar="MS",
                      help="hold the mouth this far behind the voice (50-2000) and decide it with the offline "
                           "network and decoder of 'visemes bake' on a rolling window: the curves of bake, bought "
                           "with latency (300 ms: frame correlation with bake 0.99 on the samples); pair with "
                           "--passthrough. 0 (default): the low-latency live head, about 40 ms")
    live.add_argument("--monitor", action="store_true",
                      help="serve a live monitor page at http://HOST:PORT/ of each ws sink")
    live.add_argument("--token", metavar="SECRET", help="ws sinks: clients must connect with ?token=SECRET")
    live.add_argument("--passthrough", nargs="?", const="default", metavar="DEVICE",
                      help="play the input on an output device (default one, or index/name), delayed so that "
                           "voice and mouth line up for viewers")
    live.add_argument("--passthrough-delay", type=float, metavar="MS",
                      help="the pass-through delay (default: the pipeline's latency, about 45 ms, or "
                           "--delay plus 45 ms)")
    live.add_argument("--duration", type=float, metavar="S", help="stop after this many seconds")
    live.add_argument("--speed", type=float, default=1.0, help="file sources: play this many times real time (1)")
    live.add_argument("-q", "--quiet", action="store_true", help="no status line or summary")
    _expression_options(live)
    live.set_defaults(func=_cmd_live)
    _score_parser(sub)
    fmts = sub.add_parser("formats", help="list output formats",
                          description="List the output formats that 'visemes bake --format' writes.")
    fmts.set_defaults(func=_cmd_formats)
    # listed here for --help; main() hands 'train' and its options to visemes.train
    sub.add_parser("train", help="train the audio model from scratch (see 'visemes train --help')")
    return ap


def _input_options(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that analyses an input: rig, timing audio, engine, transcript."""
    p.add_argument("-r", "--rig", default="arkit", metavar="RIG",
                   help=f"rig profile name ({', '.join(builtin_names())}) or file (default: arkit)")
    p.add_argument("--audio", metavar="FILE", help="the audio of a single timing file: drives jaw loudness")
    m = p.add_argument_group("audio analysis")
    m.add_argument("--engine", choices=ENGINES, default="neural",
                   help="neural (ours, default), pocketsphinx (English baseline), allosaurus (your model)")
    m.add_argument("--mode", choices=MODES, default="offline",
                   help="offline (full context, default) or causal (60 ms lookahead)")
    m.add_argument("--transcript", metavar="TEXT|FILE", help="the words spoken: aligns phones to them")
    m.add_argument("--language", metavar="xx", help="language of the transcript (en, es, fr, de, it, pt, ja, ...)")
    p.add_argument("--max-duration", type=float, metavar="S",
                   help="refuse inputs longer than this many seconds (default 21600, 6 hours; also "
                        "VISEMES_MAX_DURATION): a damaged header or timing file cannot ask for gigabytes")
    _expression_options(p)


def _expression_options(p: argparse.ArgumentParser) -> None:
    x = p.add_argument_group("expression layer (continuous rigs with an expression section)")
    x.add_argument("--expression", nargs="?", const=",".join(PARTS), metavar="PARTS",
                   help=f"add a living face: blinks, brow raises on pitch accents, head motion from the voice's "
                        f"pitch and energy; all, or a comma list of {','.join(PARTS)}")
    x.add_argument("--emotion", choices=list(EMOTIONS), default="neutral",
                   help="shape the face and mouth poses: " + ", ".join(EMOTIONS) + " (neutral)")
    x.add_argument("--intensity", type=float, default=0.6, metavar="X", help="strength of the emotion, 0..1 (0.6)")
    x.add_argument("--expression-gain", type=float, default=1.0, metavar="G",
                   help="scale blinks, brows and head motion together, 0..2 (1)")
    x.add_argument("--seed", type=int, default=0, metavar="N", help="seed of blink times and head drift (0)")


def _expression_params(a: argparse.Namespace) -> ExpressionParams | None:
    """The expression layer asked for on the command line, or None."""
    if a.expression is None and a.emotion == "neutral":
        return None
    parts = () if a.expression is None else tuple(p.strip() for p in a.expression.split(",") if p.strip())
    try:
        return ExpressionParams(parts=parts, gain=a.expression_gain, emotion=a.emotion, intensity=a.intensity,
                                seed=a.seed)
    except ValueError as e:
        raise VisemesError(str(e).replace("intensity", "--intensity").replace("expression gain",
                                                                            "--expression-gain")) from None


def _analyse(a: argparse.Namespace):
    """The Lipsync and the audio samples (or None) of a single input, for plot and preview."""
    from .audio import is_audio, load_audio
    from .bake import bake_file

    settings = Settings(rig=a.rig, engine=a.engine, mode=a.mode, language=a.language,
                        expression=_expression_params(a))
    lipsync = bake_file(a.input, [], settings, a.audio, a.transcript, a.language)
    audio = a.input if is_audio(Path(a.input)) else a.audio
    return lipsync, (load_audio(audio) if audio else None), audio


def _cmd_plot(a: argparse.Namespace) -> int:
    from .plot import save

    lipsync, samples, _ = _analyse(a)
    save(lipsync, a.output, samples)
    return 0


def _cmd_preview(a: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .preview import render_video, scene

    if a.fps <= 0 or a.size < 32 or a.columns < 1:
        raise VisemesError("--fps must be positive, --size at least 32 and --columns at least 1")
    lipsync, samples, audio = _analyse(a)
    sc = scene(lipsync, a.mesh, a.fps, len(samples) / 16_000 if samples is not None else None, a.mapping)
    frames = len(sc.weights[0])
    if Path(a.output).suffix.lower() == ".png":
        from .preview import render_stills

        times = _times(a.at or "0")
        labels = [f"{v}  {t:.2f} s" for v, t in zip(lipsync.visemes.labels_at(np.array(times)), times, strict=True)]
        render_stills(sc, a.output, [min(frames - 1, max(0, round(t * a.fps))) for t in times], a.size, labels,
                      a.columns)
        return 0
    with tqdm(total=frames, unit="frame", desc="rendering", file=sys.stderr, leave=False, disable=None) as bar:
        render_video(sc, a.output, a.fps, audio, a.size, bar.update)
    return 0


def _times(text: str) -> list[float]:
    """Seconds from ``--at``: one number or several separated by commas."""
    try:
        times = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise VisemesError(f"--at takes seconds separated by commas, not {text!r}") from None
    if not times or not all(np.isfinite(t) and t >= 0 for t in times):
        raise VisemesError(f"--at takes seconds separated by commas, not {text!r}")
    return times


def _cmd_live(a: argparse.Namespace) -> int:
    from visemes.runtime.analyser import LiveAnalyser
    from visemes.runtime.live import run
    from visemes.runtime.sinks import open_sink
    from visemes.runtime.sources import open_source

    if a.list_devices:
        from visemes.runtime.sources import input_devices

        print("\n".join(input_devices()) or "no input devices")
        return 0
    if not a.source:
        raise VisemesError("give a --source (file:PATH, stdin, mic[:DEVICE] or ws://HOST:PORT)")
    if not a.sink:
        raise VisemesError("give at least one --sink (e.g. ws://127.0.0.1:8765)")
    if not 30 <= a.fps <= 120:
        raise VisemesError("--fps must be between 30 and 120")
    rig = load_rig(a.rig)
    import torch

    torch.set_num_threads(1)  # 10 ms steps are too small to share out; extra threads only spin
    try:
        analyser = LiveAnalyser(rig, a.fps, _expression_params(a), a.delay / 1000)
    except ValueError as e:
        raise VisemesError(str(e)) from None
    for spec in [a.source, *a.sink]:
        host = urlsplit(spec).hostname if spec.startswith("ws://") else None
        if host in ("0.0.0.0", "::") and not a.token:
            print(f"warning: {spec} listens on every network interface without a token: anyone who can reach "
                  "this machine can connect (add --token SECRET, or bind 127.0.0.1)", file=sys.stderr)
    source = open_source(a.source, a.speed, a.token)
    sinks, passthrough = [], None
    try:
        if a.passthrough is not None:
            from visemes.runtime.passthrough import Passthrough

            delay = a.passthrough_delay / 1000 if a.passthrough_delay is not None else analyser.latency_s
            device = None if a.passthrough == "default" else (int(a.passthrough) if a.passthrough.isdigit()
                                                              else a.passthrough)
            passthrough = Passthrough(delay, device)
        for spec in a.sink:
            sinks.append(open_sink(spec, analyser.rig, a.fps, a.token, a.monitor))
            if a.monitor and not a.quiet:
                print(f"monitor: http://{spec.split('://', 1)[1]}/" + (f"?token={a.token}" if a.token else ""),
                      file=sys.stderr)
        stats = run(source, analyser, sinks, a.duration, status=not a.quiet and sys.stderr.isatty(),
                    passthrough=passthrough)
    except KeyboardInterrupt:
        return 0

    finally:
        for sink in sinks:
            sink.close()
        if passthrough is not None:
            passthrough.close()
    if not a.quiet:
        print(f"live: {stats.frames} frames in {stats.seconds:.1f} s, latency median {stats.median_latency_ms:.0f} ms, "
              f"CPU {100 * stats.cpu_seconds / max(stats.seconds, 1e-9):.0f}% of a core, {stats.dropped} dropped",
              file=sys.stderr)
        for line in _live_report(a.source, source, list(zip(a.sink, sinks, strict=True))):
            print(line, file=sys.stderr)
    return 0


def _live_report(source_spec: str, source, sinks: list) -> list[str]:
    """One line per sink that dropped frames or failed (the count split per sink, with the reason), and one
    for a source that dropped audio or refused a sender."""
    lines = []
    for spec, sink in sinks:
        dropped, error = getattr(sink, "dropped", 0), getattr(sink, "error", "")
        if getattr(sink, "connects", 1) == 0:
            lines.append(f"warning: {spec}: never connected, {dropped} frames dropped"
                         + (f" (last error: {error})" if error else ""))
        elif dropped or error:
            lines.append(f"{spec}: {dropped} frames dropped" + (f" (last error: {error})" if error else ""))
    if getattr(source, "dropped_s", 0):
        lines.append(f"{source_spec}: {source.dropped_s:.1f} s of audio dropped (the analysis fell behind)")
    lines += [f"warning: {source_spec}: a client was refused ({e})" for e in getattr(source, "errors", [])]
    return lines


def _scene_parser(sub) -> None:
    sc = sub.add_parser(
        "scene", help="bake a dialogue: one animation per character",
        description="Bake a scene with several speakers into one animation per character: a file with one "
                    "speaker per channel, one file per speaker, or one mixed track with speaker turns.",
        epilog="examples:\n"
               "  visemes scene dialogue.wav --speaker ann=arkit --speaker bob=vrm -f gltf -o scene/\n"
               "  visemes scene ann.wav bob.wav -f json -f unity -o scene/\n"
               "  visemes scene mix.wav --turns mix.rttm -o scene/   (or subtitles: --turns mix.srt)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sc.add_argument("inputs", nargs="+", metavar="AUDIO", help="one multi-channel file, or one file per speaker")
    sc.add_argument("-o", "--output", required=True, metavar="FOLDER",
                    help="where NAME.EXT per character and scene.json go")
    sc.add_argument("-f", "--format", action="append", metavar="FMT",
                    help=f"output format, repeatable: {', '.join(EXPORTERS)} (default: json)")
    sc.add_argument("--speaker", action="append", default=[], metavar="NAME[=RIG]",
                    help="name (and rig) of each channel or file in order; with --turns, a speaker's rig")
    sc.add_argument("--turns", metavar="FILE", help="speaker turns of a mixed track: .rttm, .srt, .vtt or .tsv "
                                                    "(start end speaker)")
    sc.add_argument("-r", "--rig", default="arkit", metavar="RIG", help="rig of characters without one (arkit)")
    sc.add_argument("--engine", choices=ENGINES, default="neural", help="audio engine (neural)")
    sc.add_argument("--mode", choices=MODES, default="offline", help="offline (default) or causal")
    sc.add_argument("--fps", type=float, help="curve frame rate (default 60)")
    _expression_options(sc)
    sc.set_defaults(func=_cmd_scene)


def _cmd_scene(a: argparse.Namespace) -> int:
    from .scene import bake_scene, speaker_rigs, write_scene

    formats = [check_format(f) for f in (a.format or ["json"])]
    if a.fps is not None and a.fps <= 0:
        raise VisemesError("--fps must be positive")
    speakers = speaker_rigs(a.speaker, a.rig)
    for rig in [a.rig, *(r for _, r in speakers)]:
        load_rig(rig)  # an unknown rig fails before any work
    settings = Settings(rig=a.rig, timing={"fps": a.fps}, engine=a.engine, mode=a.mode,
                        expression=_expression_params(a))
    characters = bake_scene([Path(p) for p in a.inputs], settings, speakers, Path(a.turns) if a.turns else None)
    index = write_scene(characters, formats, Path(a.output), settings)
    for c in characters:
        talk = sum(b - s for s, b in c.spans())
        print(f"{c.name}: {c.lipsync.rig.name}, talks {talk:.1f} s of {c.lipsync.duration:.1f} s", file=sys.stderr)
    print(f"wrote {index}", file=sys.stderr)
    return 0


def _render_parser(sub) -> None:
    from .render.video import CORNERS

    r = sub.add_parser(
        "render", help="neural renderer: re-animate a consenting person's face from speech (GPU; visemes[render])",
        description="Train a small renderer on a person's own consenting footage, conditioned on our curves, "
                    "then re-animate their mouth from new speech. Every video it writes is labelled as AI output.",
        epilog="steps:\n"
               "  visemes render prepare --video ref.mp4 --consent consent.txt -o ref.prep\n"
               "  visemes render train --data ref.prep -o face.pt\n"
               "  visemes render eval --data ref.prep --model face.pt   (held-out quality vs retrieval)\n"
               "  visemes render run --model face.pt --audio new.wav --video base.mp4 -o out.mp4\n"
               "  visemes render verify out.mp4   (tags, C2PA and the invisible watermark)\n\n"
               "consent.json names the person and the use, e.g.\n"
               '  {"person": "Ada Lovelace", "use": "re-animate my mouth for our demo video", "date": "2026-12-06"}',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    rs = r.add_subparsers(dest="step", required=True, metavar="STEP")
    p = rs.add_parser("prepare", help="crops, boxes and our curves of a reference video, with the consent record")
    p.add_argument("--video", required=True, metavar="FILE", help="reference footage of the person, with speech")
    p.add_argument("--consent", metavar="FILE|JSON",
                   help="the person's consent (required): JSON naming the person and the use they agreed to")
    p.add_argument("-o", "--output", required=True, metavar="FOLDER", help="where the prepared data goes")
    p.add_argument("--size", type=int, default=256, help="mouth crop size in pixels (256)")
    p.add_argument("--face", type=int, default=0, metavar="N", help="with several faces: the N-th largest (0)")
    t = rs.add_parser("train", help="train the renderer on prepared data")
    t.add_argument("--data", required=True, metavar="FOLDER", help="from 'visemes render prepare'")
    t.add_argument("-o", "--output", required=True, metavar="CKPT", help="checkpoint to write")
    t.add_argument("--steps", type=int, default=3000, help="optimiser steps (3000)")
    t.add_argument("--minutes", type=float, help="stop after this long")
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--base", type=int, default=32, help="network width: channels at full resolution (32)")
    t.add_argument("--device", help="cuda or cpu (default: cuda when there is one)")
    e = rs.add_parser("eval", help="held-out reconstruction, sync and flicker against the retrieval baseline")
    e.add_argument("--data", required=True, metavar="FOLDER")
    e.add_argument("--model", required=True, metavar="CKPT")
    e.add_argument("--device")
    u = rs.add_parser("run", help="re-animate a face with new speech")
    u.add_argument("--model", required=True, metavar="CKPT")
    u.add_argument("--audio", required=True, metavar="FILE", help="the new speech")
    src = u.add_mutually_exclusive_group()
    src.add_argument("--video", metavar="FILE", help="base video of the same person (looped back and forth)")
    src.add_argument("--image", metavar="FILE", help="a still of the same person")
    u.add_argument("-o", "--output", required=True, metavar="OUT.mp4")
    u.add_argument("--face", type=int, default=0, metavar="N", help="with several faces: the N-th largest (0)")
    u.add_argument("--label-position", choices=CORNERS,
                   default="bottom-left", help="corner of the burned-in 'AI-generated' label")
    u.add_argument("--no-label", action="store_true",
                   help="leave the visible label out (the file's metadata still says AI-generated, and says "
                        "that the label was removed)")
    u.add_argument("--c2pa", nargs=2, metavar=("CERT.pem", "KEY.pem"),
                   help="embed a C2PA manifest (Content Credentials: created by a trained model, with the consent "
                        "and reference hashes) signed with your certificate chain and private key")
    u.add_argument("--device")
    v = rs.add_parser("verify", help="report what marks a video as the renderer's: tags, C2PA, invisible watermark")
    v.add_argument("video", metavar="FILE")
    r.set_defaults(func=_cmd_render)


def _cmd_render(a: argparse.Namespace) -> int:
    if a.step == "verify":
        from .render.verify import verify

        report = verify(a.video)
        print(json.dumps(report, indent=2))
        marks = [name for name, found in (("tags", report["tags"]), ("C2PA", report["c2pa"]),
                                          ("watermark", report["watermark"]["found"])) if found]
        print(f"{a.video}: " + (f"AI-generated ({', '.join(marks)})" if report["ai_generated"]
                                else "no mark of the visemes renderer found"), file=sys.stderr)
        return 0
    from .render import pipeline

    if a.step == "prepare":
        out = pipeline.prepare(a.video, a.consent, a.output, a.size, a.face)
        print(f"prepared {out}", file=sys.stderr)
    elif a.step == "train":
        from tqdm import tqdm

        from .render.net import RendererConfig

        meta, _ = pipeline.load_reference(a.data)
        cfg = RendererConfig(size=meta["size"], base=a.base)
        with tqdm(total=a.steps, unit="step", desc="training", file=sys.stderr, leave=False, disable=None) as bar:
            summary = pipeline.train(a.data, a.output, cfg, a.steps, a.minutes, a.batch, device=a.device,
                                     progress=bar.update)
        print(json.dumps(summary), file=sys.stderr)
    elif a.step == "eval":
        print(json.dumps(pipeline.evaluate(a.data, a.model, a.device), indent=2))
    else:
        from tqdm import tqdm

        with tqdm(unit="frame", desc="rendering", file=sys.stderr, leave=False, disable=None) as bar:
            done = pipeline.run(a.model, a.audio, a.output, a.video, a.image, a.face,
                                None if a.no_label else a.label_position, a.device, bar.update, a.c2pa)
        print(f"wrote {a.output}: {done['frames']} frames, mouth opening follows the curves with r = "
              f"{done['sync']['r']}", file=sys.stderr)
    return 0


def _bake_parser(sub) -> None:
    b = sub.add_parser(
        "bake", help="turn timing files (or audio) into visemes and rig curves",
        description="Turn speech timings into visemes and animation curves for a rig, and write them out.",
        epilog=BAKE_EPILOG.format(timing=", ".join(TIMING_FORMATS)),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("inputs", nargs="*", metavar="INPUT", help="timing files, audio files or folders")
    b.add_argument("-o", "--output", metavar="OUT",
                   help="output file (one input, one format), folder, or - for standard output")
    b.add_argument("-f", "--format", action="append", metavar="FMT",
                   help=f"output format, repeatable: {', '.join(EXPORTERS)} (default: json)")
    b.add_argument("--add-rig", metavar="RIG",
                   help="animate this rig's channels too, e.g. --rig arkit --add-rig vrm drives a VRM's lip "
                        "expressions as well as its ARKit morph targets")
    b.add_argument("--manifest", metavar="FILE", help="CSV or JSON list of inputs for a batch")
    b.add_argument("--allow-outside", action="store_true",
                   help="let a manifest's 'output' column write outside -o FOLDER (or, without -o, outside the "
                        "manifest's folder)")
    _input_options(b)
    b.add_argument("-j", "--jobs", type=int, default=0, metavar="N", help="worker processes (default: all cores)")
    b.add_argument("--executor", default="local", metavar="local|ray|ray://HOST:PORT",
                   help="where a batch runs: local processes (default), or a Ray cluster (RAY_ADDRESS, one "
                        "started with 'ray start', or Ray Client at ray://HOST:PORT); needs visemes[ray]")
    b.add_argument("--force", action="store_true", help="redo outputs that are already up to date")
    g = b.add_argument_group("animation (defaults come from the rig profile)")
    g.add_argument("--fps", type=float, help="curve frame rate (default 60)")
    g.add_argument("--anticipation", type=float, metavar="S", help="shapes start this early, seconds (0.03)")
    g.add_argument("--lip-anticipation", type=float, metavar="S", help="the same for p/b/m f/v o u (0.06)")
    g.add_argument("--coarticulation", type=float, metavar="S", help="blend time between neighbours (0.03)")
    g.add_argument("--closure-min", type=float, metavar="S", help="shortest p/b/m closure held (0.067)")
    g.add_argument("--jaw-gain", type=float, metavar="G", help="how much loudness scales the jaw, 0..1 (0.4)")
    g.add_argument("--min-hold", type=float, metavar="S", help="2D shapes: shortest time a shape shows (0.04)")
    e = b.add_argument_group("format options")
    e.add_argument("--keyframes", type=float, metavar="ERR",
                   help="json: add keyframes; gltf, fbx, unity: write only keys needed to stay within this "
                        "error (e.g. 0.005; default: every frame, but 0.005 for unity)")
    e.add_argument("--into", metavar="MESH",
                   help="gltf: the .glb/.gltf/.vrm to add the animation to; fbx, unity, unreal: a mesh whose "
                        "morph target names the curves take (default: the sample head)")
    e.add_argument("--map", dest="mapping", metavar="FILE",
                   help="channel -> morph target mapping (JSON or CSV) that overrides automatic retargeting")
    e.add_argument("--interpolation", choices=["linear", "step"], default="linear",
                   help="key interpolation in gltf, fbx and unity (default linear)")
    e.add_argument("--animation-name", metavar="NAME",
                   help="animation / take / clip name (default: the input's name, so clips do not collide)")
    e.add_argument("--ascii", dest="fbx_ascii", action="store_true", help="fbx: ASCII FBX 7.4 instead of binary")
    e.add_argument("--unity-path", default="", metavar="PATH",
                   help="unity: path of the SkinnedMeshRenderer below the Animator, e.g. Armature/Body (default: "
                        "the Animator's own object)")
    e.add_argument("--no-vrm-expressions", dest="vrm_expressions", action="store_false",
                   help="gltf into a VRM: drive raw morph targets only, not the VRM expressions of the same name")
    e.add_argument("--moho-fps", type=float, default=24.0, metavar="FPS", help="moho-dat frame rate (24)")
    e.add_argument("--preston-blair", action="store_true", help="moho-dat: Preston Blair shape names")
    b.set_defaults(func=_cmd_bake)


def _settings(a: argparse.Namespace) -> Settings:
    for name in ("fps", "moho_fps"):
        if getattr(a, name) is not None and getattr(a, name) <= 0:
            raise VisemesError(f"--{name.replace('_', '-')} must be positive")
    timing = {"fps": a.fps, "anticipation_s": a.anticipation, "lip_anticipation_s": a.lip_anticipation,
              "coarticulation_s": a.coarticulation, "closure_min_s": a.closure_min, "jaw_gain": a.jaw_gain,
              "min_hold_s": a.min_hold}
    for k, v in timing.items():
        if v is not None and v < 0:
            raise VisemesError(f"--{k.removesuffix('_s').replace('_', '-')} must not be negative")
    if a.keyframes is not None and a.keyframes <= 0:
        raise VisemesError("--keyframes must be a positive error bound")
    export = ExportOptions(a.keyframes, a.moho_fps, a.preston_blair, into=a.into, mapping=a.mapping,
                           interpolation=a.interpolation.upper(), animation_name=a.animation_name,
                           vrm_expressions=a.vrm_expressions, fbx_ascii=a.fbx_ascii,
                           unity_path=a.unity_path)
    return Settings(rig=a.rig, add_rig=a.add_rig, timing=timing, export=export, engine=a.engine, mode=a.mode,
                    language=a.language, expression=_expression_params(a))


def _cmd_bake(a: argparse.Namespace) -> int:
    if a.executor not in ("local", "ray") and not a.executor.startswith("ray://"):
        raise VisemesError(f"unknown --executor {a.executor!r} (use local, ray or ray://HOST:PORT)")
    formats = [check_format(f) for f in (a.format or ["json"])]
    settings = _settings(a)
    rig = load_rig(a.rig)  # an unknown rig, or a mesh nothing matches, fails once, before any work
    if a.add_rig:
        rig = combined(rig, load_rig(a.add_rig))
    for fmt in formats:
        m = target_match(rig, fmt, settings.export)
        if m is not None and a.output != "-" and (settings.export.into or m.unmatched):
            print(m.report(settings.export.into or "the sample head"), file=sys.stderr)
    if a.manifest:
        if a.inputs:
            raise VisemesError("give inputs or --manifest, not both")
        jobs = read_manifest(a.manifest, formats, a.output, a.allow_outside)
    elif a.inputs:
        jobs = plan(a.inputs, formats, a.output, a.audio, a.transcript)
        if len(jobs) > 1:
            _say_pairs(jobs, a.language)
    else:
        raise VisemesError("nothing to bake: give INPUT files or folders, or --manifest FILE")
    # skipping up-to-date outputs is for batches; one named file is always baked
    force = a.force or (len(jobs) == 1 and not a.manifest)
    report = _run_with_progress(jobs, settings, a.jobs, force, a.executor)
    _summary(report, quiet=a.output == "-")
    return 1 if report.failed else 0


def _say_pairs(jobs, language: str | None) -> None:
    """Tell which lines of a folder took the audio or the transcript beside them."""
    paired = [j for j in jobs if j.audio is not None]
    spoken = [j for j in jobs if j.transcript is not None]
    if paired:
        print(f"{len(paired)} timing file(s) take the audio of the same name for loudness "
              f"(e.g. {paired[0].source.name} with {paired[0].audio.name})", file=sys.stderr)
    if spoken:
        print(f"{len(spoken)} audio file(s) are aligned to the transcript beside them, read as "
              f"'{language or 'en'}' (--language to change; e.g. {Path(spoken[0].transcript).name})", file=sys.stderr)


def _run_with_progress(jobs, settings: Settings, workers: int, force: bool, executor: str) -> Report:
    from tqdm import tqdm

    with tqdm(total=len(jobs), unit="file", desc="baking", disable=None if len(jobs) > 1 else True,
              file=sys.stderr, leave=False) as bar:
        def on_result(job, err):
            if err:
                bar.write(f"error: {err}", file=sys.stderr)
            bar.update()

        report = run(jobs, settings, workers, force, on_result, executor)
        bar.update(len(report.skipped))
    return report


def _summary(report: Report, quiet: bool) -> None:
    if quiet and not report.failed:
        return
    if len(report.done) + len(report.skipped) + len(report.failed) == 1 and not report.skipped:
        return  # one file: silence on success, and the one error line says it all
    parts = [f"{len(report.done)} baked"]
    if report.skipped:
        parts.append(f"{len(report.skipped)} up to date")
    if report.failed:
        parts.append(f"{len(report.failed)} failed")
    print(", ".join(parts), file=sys.stderr)


def _cmd_rigs(a: argparse.Namespace) -> int:
    if a.action == "show":
        if not a.name:
            raise VisemesError("'visemes rigs show' needs a rig name or profile file")
        print(json.dumps(load_rig(a.name).to_dict(), indent=2, ensure_ascii=False))
        return 0
    for name in builtin_names():
        rig = load_rig(name)
        print(f"{name:<12} {rig.kind:<10} {len(rig.channels):>3} channels  {rig.description}")
    return 0


def _score_parser(sub) -> None:
    sc = sub.add_parser(
        "score", help="measure mouth shapes against a phone alignment (accuracy, lip-closure F1)",
        description="Score predicted mouth shapes against a reference phone alignment: frame accuracy on the 15 "
                    "visemes and 6 mouth classes, a 30 ms tolerant accuracy, F1 of lip closures (p/b/m) and the "
                    "speech/silence decision, at 100 frames per second. The reference is any timing file bake "
                    "reads (TSV, TextGrid, ...); a prediction is 'segments' output or Rhubarb's TSV.",
        epilog="examples:\n  visemes bake take1.wav -f segments -o take1.pred.tsv\n"
               "  visemes score take1.TextGrid take1.pred.tsv\n"
               "  visemes score --ref-dir alignments/ --pred-dir predictions/   # NAME.tsv with NAME.tsv",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sc.add_argument("reference", nargs="?", metavar="REF", help="the reference alignment")
    sc.add_argument("prediction", nargs="?", metavar="PRED", help="the predicted visemes or Rhubarb shapes")
    sc.add_argument("--ref-dir", type=Path, metavar="DIR", help="score every DIR/NAME.tsv ...")
    sc.add_argument("--pred-dir", type=Path, metavar="DIR", help="... against --pred-dir's NAME.tsv")
    sc.set_defaults(func=_cmd_score)


def _cmd_score(a: argparse.Namespace) -> int:
    from . import metrics

    if a.ref_dir and a.pred_dir and not (a.reference or a.prediction):
        pairs = [(ref, a.pred_dir / ref.name) for ref in sorted(a.ref_dir.glob("*.tsv"))]
        if not pairs:
            raise VisemesError(f"{a.ref_dir}: no .tsv alignments in the folder")
    elif a.reference and a.prediction and not (a.ref_dir or a.pred_dir):
        pairs = [(Path(a.reference), Path(a.prediction))]
    else:
        print("error: give REF PRED, or --ref-dir and --pred-dir", file=sys.stderr)
        return 2
    missing = [pred for _, pred in pairs if not pred.exists()]
    if missing:
        print(f"error: no prediction at {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    scores = [metrics.score_files(ref, pred) for ref, pred in pairs]
    print(metrics.report(scores))
    for s in scores:
        if s.unknown:
            print(f"{s.name}: phones no table knows, left out: {' '.join(s.unknown)}", file=sys.stderr)
    return 0


def _cmd_formats(a: argparse.Namespace) -> int:
    for name, module in EXPORTERS.items():
        print(f"{name:<13} {module.SUFFIX:<14} {module.DESCRIPTION}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:  # its own options, parsed by visemes.train
        from .train import main as train_main

        train_main(argv[1:])
        return 0
    args = _parser().parse_args(argv)
    try:
        if getattr(args, "max_duration", None) is not None:
            if not args.max_duration > 0:
                raise VisemesError("--max-duration must be a positive number of seconds")
            os.environ[limits.ENV] = repr(args.max_duration)  # worker processes inherit it
        return args.func(args)
    except VisemesError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
