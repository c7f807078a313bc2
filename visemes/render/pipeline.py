"""Prepare reference footage, train the person-specific renderer, evaluate it against retrieval, run it.

- :func:`prepare`: frames of the reference video -> steady mouth crops, and our
  own curves (the 15 visemes) from the video's audio by the audio model, cached
  with the consent record and the video's hash.
- :func:`train`: :class:`~visemes.render.net.MouthNet` on the first 85 % of the
  frames (L1 inside the mouth, L1 overall, image gradients), mixed precision on
  a GPU; the checkpoint records the consent and the reference video's hash.
- :func:`evaluate`: on the held-out last 15 %, the network against the
  retrieval baseline (:func:`retrieve`: the training crop whose curve window is
  nearest), by PSNR/SSIM in the mouth, sync of the mouth's opening with the
  driving curves, and flicker.
- :func:`run`: new speech -> curves -> mouths pasted into a base video or
  image -> a labelled, tagged MP4 with the speech.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from visemes.errors import VisemesError, file_error
from visemes.fileio import atomic_write, write_text
from visemes.version import version

from . import consent as consent_mod
from . import faces, metrics, provenance, video, watermark
from .net import MouthNet, RendererConfig

HELD_OUT = 0.15
CURVE_RIG = "oculus"  # the renderer is driven by the 15 visemes, whatever rig the user animates


def curves_for(samples: np.ndarray, fps: float, frames: int) -> np.ndarray:
    """``float32 [frames, 15]``: our viseme curves of ``samples`` at the video's ``fps``."""
    from visemes.animate import AnimationParams
    from visemes.bake import Settings, lipsync_from_samples
    from visemes.rigs import load_rig

    rig = load_rig(CURVE_RIG)
    ls = lipsync_from_samples(samples, "video", rig, AnimationParams.for_rig(rig, fps=fps), Settings(rig=CURVE_RIG))
    v = ls.curves.values[:frames]
    return np.vstack([v, np.repeat(v[-1:], frames - len(v), axis=0)]) if len(v) < frames else v


def windows(curves: np.ndarray, index: np.ndarray, context: int) -> np.ndarray:
    """``[len(index), 2 * context + 1, C]`` curve windows around each frame (edges repeat)."""
    offsets = np.arange(-context, context + 1)
    return curves[np.clip(np.asarray(index)[:, None] + offsets, 0, len(curves) - 1)]


# ---- prepare -------------------------------------------------------------------------------------


def prepare(video_path: str | Path, consent: str | None, out: str | Path, size: int = 256, face: int = 0) -> Path:
    """Crops, boxes and curves of a consenting reference video, cached in the folder ``out``."""
    rec = consent_mod.record(consent)
    video_path = Path(video_path)
    info = video.probe(video_path)
    sound = video.audio(video_path)
    images = list(video.frames(video_path))
    if len(images) < 10:
        raise file_error(video_path, f"{len(images)} frames are too few to learn a face from")
    boxes = faces.track(images, face=face, every=2, name=str(video_path))
    crops = np.stack([np.round(faces.crop(f, b, size) * 255).astype(np.uint8) for f, b in zip(images, boxes,
                                                                                             strict=True)])
    curves = curves_for(sound, info["fps"], len(images))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "reference.npz", "wb") as f:
        np.savez_compressed(f, crops=crops, boxes=np.array(boxes, np.float32), curves=curves)
    meta = {"video": str(video_path.resolve()), "video_sha256": consent_mod.sha256_file(video_path),
            "fps": info["fps"], "frames": len(images), "size": size, "face": face, "consent": rec}
    write_text(out / "reference.json", json.dumps(meta, indent=2) + "\n")
    return out


def load_reference(folder: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    folder = Path(folder)
    try:
        meta = json.loads((folder / "reference.json").read_text())
        data = dict(np.load(folder / "reference.npz"))
    except (OSError, ValueError) as e:
        raise file_error(folder, f"not a prepared reference ({e}); run 'visemes render prepare' first") from None
    consent_mod.check(meta.get("consent"), str(folder))
    return meta, data


# ---- train ---------------------------------------------------------------------------------------


def _split(n: int) -> tuple[np.ndarray, np.ndarray]:
    cut = round(n * (1 - HELD_OUT))
    return np.arange(cut), np.arange(cut, n)


def _tensor(crops: np.ndarray, device) -> torch.Tensor:
    return torch.as_tensor(crops, device=device).permute(0, 3, 1, 2).float() / 255.0


def _identity(data: dict[str, np.ndarray], train_idx: np.ndarray) -> np.ndarray:
    """The training crop with the most closed mouth: the face the renderer is given as reference."""
    return data["crops"][train_idx[int(np.argmin(metrics.driving_opening(data["curves"][train_idx])))]]


def train(folder: str | Path, out: str | Path, cfg: RendererConfig | None = None, steps: int = 2000,
          minutes: float | None = None, batch: int = 32, lr: float = 2e-3, device: str | None = None,
          seed: int = 0, progress=None) -> dict:
    """Train a renderer on a prepared reference; writes the checkpoint ``out`` and returns its summary."""
    meta, data = load_reference(folder)
    consent = consent_mod.check(meta.get("consent"), str(folder))
    crops = data["crops"]
    cfg = cfg or RendererConfig(size=crops.shape[1])
    if cfg.size != crops.shape[1]:
        crops = np.stack([_resize(c, cfg.size) for c in crops])
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = MouthNet(cfg).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    train_idx, _ = _split(len(crops))
    images = _tensor(crops, device)
    curves = torch.as_tensor(data["curves"], device=device)
    mask = torch.as_tensor(faces.ellipse_mask(cfg.size), device=device)[None, None]
    hide = torch.as_tensor(faces.input_mask(cfg.size), device=device)[None, None]
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu",
                                                                                                     enabled=False)
    start, done, loss = time.perf_counter(), 0, torch.zeros(())
    while done < steps:
        done += 1
        i = rng.choice(train_idx, batch)
        j = rng.choice(train_idx, batch)  # another moment of the same face: identity, light, not this mouth
        target = images[i]
        window = curves[torch.as_tensor(np.clip(i[:, None] + np.arange(-cfg.context, cfg.context + 1), 0,
                                                len(crops) - 1), device=device)]
        with amp:
            pred = net(target * (1 - hide), images[j], hide.expand(batch, -1, -1, -1), window.float())
        pred = pred.float()
        loss = (F.l1_loss(pred * mask, target * mask) * 4 + F.l1_loss(pred, target)
                + _gradient_loss(pred * mask, target * mask))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if progress:
            progress(1)
        if minutes is not None and time.perf_counter() - start > 60 * minutes:
            break
    seconds = time.perf_counter() - start
    summary = {"steps": done, "seconds": round(seconds, 1), "loss": round(float(loss.detach()), 4),
               "device": device.type, "frames": len(train_idx)}
    ckpt = {"config": cfg.to_dict(), "state": {k: v.detach().cpu() for k, v in net.state_dict().items()},
            "identity": torch.as_tensor(_resize(_identity(data, train_idx), cfg.size)),
            "consent": consent, "reference_sha256": meta["video_sha256"], "fps": meta["fps"],
            "curves": CURVE_RIG, "trained": summary}
    with atomic_write(out, "wb") as f:
        torch.save(ckpt, f)
    return summary


def _gradient_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    def grads(x):
        return x[..., 1:, :] - x[..., :-1, :], x[..., :, 1:] - x[..., :, :-1]

    (ay, ax), (by, bx) = grads(a), grads(b)
    return F.l1_loss(ay, by) + F.l1_loss(ax, bx)


def _resize(crop: np.ndarray, size: int) -> np.ndarray:
    import cv2

    if crop.shape[0] == size:
        return crop
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def load_model(path: str | Path, device: str | None = None) -> tuple[MouthNet, dict]:
    """A trained renderer and its checkpoint; refuses one without a valid consent record."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a file that is not a checkpoint
        raise file_error(path, f"not a renderer checkpoint ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or "state" not in ckpt or "config" not in ckpt:
        raise file_error(path, "not a renderer checkpoint (no weights or configuration)")
    consent_mod.check(ckpt.get("consent"), str(path))
    net = MouthNet(RendererConfig(**ckpt["config"]))
    net.load_state_dict(ckpt["state"])
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return net.to(device).eval(), ckpt


@torch.no_grad()
def render_crops(net: MouthNet, crops: np.ndarray, identity: np.ndarray, curve_windows: np.ndarray,
                 batch: int = 64) -> np.ndarray:
    """Mouths for ``crops`` (uint8 ``[N, S, S, 3]``) driven by ``curve_windows``: float ``[N, S, S, 3]``,
    the network inside the mouth ellipse and the crop outside it."""
    device = next(net.parameters()).device
    size = net.cfg.size
    mask = torch.as_tensor(faces.ellipse_mask(size), device=device)[None, None]
    hide = torch.as_tensor(faces.input_mask(size), device=device)[None, None]
    ref = _tensor(identity[None], device)
    out = []
    for a in range(0, len(crops), batch):
        x = _tensor(crops[a:a + batch], device)
        w = torch.as_tensor(curve_windows[a:a + batch], device=device).float()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            y = net(x * (1 - hide), ref.expand(len(x), -1, -1, -1), hide.expand(len(x), -1, -1, -1), w)
        y = y.float() * mask + x * (1 - mask)
        out.append(y.permute(0, 2, 3, 1).cpu().numpy())
    return np.concatenate(out)


# ---- baseline and evaluation --------------------------------------------------------------------


def retrieve(train_crops: np.ndarray, train_windows: np.ndarray, crops: np.ndarray,
             curve_windows: np.ndarray) -> np.ndarray:
    """The baseline: for each frame, the training mouth whose curve window is nearest, blended into the
    frame's crop through the mouth ellipse with its colours matched."""
    size = crops.shape[1]
    mask = faces.ellipse_mask(size)
    ring = mask * (1 - mask) * 4
    keys = train_windows.reshape(len(train_windows), -1)
    out = []
    for crop, w in zip(crops, curve_windows.reshape(len(curve_windows), -1), strict=True):
        best = int(np.argmin(((keys - w) ** 2).sum(axis=1)))
        here = crop.astype(np.float32) / 255
        patch = faces.match_colours(train_crops[best].astype(np.float32) / 255, here, ring)
        out.append(patch * mask[..., None] + here * (1 - mask[..., None]))
    return np.stack(out)


def evaluate(folder: str | Path, model: str | Path, device: str | None = None) -> dict:
    """Held-out reconstruction, sync and flicker of the renderer and of the retrieval baseline."""
    meta, data = load_reference(folder)
    net, ckpt = load_model(model, device)
    if ckpt.get("reference_sha256") != meta["video_sha256"]:
        raise VisemesError(f"{model}: trained on another reference than {folder}")
    size = net.cfg.size
    crops = np.stack([_resize(c, size) for c in data["crops"]])
    train_idx, test_idx = _split(len(crops))
    curves = data["curves"]
    wins = windows(curves, np.arange(len(crops)), net.cfg.context)
    truth = crops[test_idx].astype(np.float32) / 255
    mask = faces.ellipse_mask(size)
    still = (mask < 0.05) & (np.add.outer(*(2 * [np.abs(np.arange(size) - size / 2)])) < size * 0.45)
    results = {}
    for name, pred in (("renderer", render_crops(net, crops[test_idx], ckpt["identity"].numpy(), wins[test_idx])),
                       ("retrieval", retrieve(crops[train_idx], wins[train_idx], crops[test_idx], wins[test_idx]))):
        r, lag = metrics.sync(metrics.opening(pred, mask), metrics.driving_opening(curves[test_idx]))
        results[name] = {"psnr_mouth": round(metrics.psnr(pred, truth, mask), 2),
                         "ssim_mouth": round(metrics.ssim(pred, truth, mask), 4),
                         "sync_r": round(r, 3), "sync_lag_frames": lag,
                         "flicker": round(metrics.flicker(pred, still), 5)}
    r, lag = metrics.sync(metrics.opening(truth, mask), metrics.driving_opening(curves[test_idx]))
    results["reference"] = {"sync_r": round(r, 3), "sync_lag_frames": lag,
                            "flicker": round(metrics.flicker(truth, still), 5)}
    results["held_out_frames"] = len(test_idx)
    return results


# ---- run -----------------------------------------------------------------------------------------


def run(model: str | Path, audio_path: str | Path, out: str | Path, base_video: str | Path | None = None,
        image: str | Path | None = None, face: int = 0, label: str | None = "bottom-left",
        device: str | None = None, progress=None, c2pa: tuple[str | Path, str | Path] | None = None) -> dict:
    """Re-animate the mouth of ``base_video`` (looped back and forth) or ``image`` with ``audio_path``.

    ``label`` is the corner of the burned-in "AI-generated" badge; None leaves
    it out (the tags then say so). ``c2pa`` (certificate chain, private key;
    PEM files) embeds a signed C2PA manifest. Returns the tags written and
    ``sync``: the correlation and lag of the rendered mouths' opening with the
    driving curves.
    """
    from visemes.audio import load_audio

    if not (image or base_video):
        raise VisemesError("give --video or --image: the face to animate")
    sign_with = provenance.signer(*c2pa) if c2pa else None  # bad keys fail before the work
    net, ckpt = load_model(model, device)
    base = Path(image or base_video)
    info = video.probe(base)
    fps = info["fps"] if image is None else float(ckpt.get("fps", 25.0))
    speech = load_audio(audio_path)
    n = max(1, int(np.ceil(len(speech) / 16_000 * fps)))
    source = list(video.frames(base))
    if not source:
        raise file_error(base, "holds no frames")
    order = _ping_pong(len(source), n)
    boxes = faces.track([source[k] for k in sorted(set(order))], face=face, every=2, name=str(base))
    box_of = dict(zip(sorted(set(order)), boxes, strict=True))
    curves = curves_for(speech, fps, n)
    size = net.cfg.size
    crops = np.stack([np.round(faces.crop(source[k], box_of[k], size) * 255).astype(np.uint8) for k in order])
    mouths = render_crops(net, crops, ckpt["identity"].numpy(), windows(curves, np.arange(n), net.cfg.context))
    tags = {"comment": "AI-generated lip movement (visemes neural renderer)",
            "description": f"Mouth re-animated by visemes from {Path(audio_path).name}; not a recording",
            "ai_generated": "true", "generator": "visemes render", "consent_sha256": ckpt["consent"]["sha256"],
            "reference_sha256": ckpt["reference_sha256"], "label": label or "off (removed on request)",
            "watermark": watermark.NAME}

    def frames():
        for k, mouth in zip(order, mouths, strict=True):
            frame = faces.paste(source[k], mouth, box_of[k])
            # the pixels carry the mark too: tags and manifests are lost when the container is rewritten
            yield watermark.embed(video.burn_label(frame, label) if label else frame)

    finish = None
    if sign_with is not None:
        content = provenance.manifest(Path(out).name, tags, version())
        finish = lambda path: provenance.sign(path, sign_with, content)  # noqa: E731
    video.write_mp4(out, frames(), fps, audio_path, tags, progress, finish)
    r, lag = metrics.sync(metrics.opening(mouths, faces.ellipse_mask(size)), metrics.driving_opening(curves))
    return {"tags": tags, "sync": {"r": round(r, 3), "lag_frames": lag}, "frames": n}


def _ping_pong(count: int, n: int) -> list[int]:
    """Frame indices of a clip of ``count`` frames played forth and back to fill ``n`` frames."""
    if count == 1:
        return [0] * n
    cycle = list(range(count)) + list(range(count - 2, 0, -1))
    return [cycle[i % len(cycle)] for i in range(n)]
