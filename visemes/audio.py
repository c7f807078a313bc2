"""Audio in: any common file, as 16 kHz mono float32.

wav, flac, ogg/opus and mp3 decode through libsndfile (``soundfile``); other
containers fall back to librosa's decoders. Any rate and channel count is
accepted: channels are averaged and the signal is resampled with soxr.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from .errors import file_error

SAMPLE_RATE = 16_000
AUDIO_SUFFIXES = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".aif",
                            ".aiff", ".wma", ".webm"})
_MAGIC = (b"RIFF", b"RIFX", b"fLaC", b"OggS", b"ID3", b"FORM", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")


def is_audio(path: str | Path) -> bool:
    """True when ``path`` is an audio file, by its suffix or its first bytes."""
    path = Path(path)
    if path.suffix.lower() in AUDIO_SUFFIXES:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return head.startswith(_MAGIC) or head[4:8] == b"ftyp"


def load_audio(path: str | Path, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sr`` Hz.

    Raises
    ------
    VisemesError
        ``PATH: problem`` when the file is missing, empty, truncated or not audio.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise file_error(path, "no such audio file")
    try:
        with _quiet_stderr():  # libmpg123 and friends print warnings straight to the process's stderr
            mono = _decode_blocks(path, sr)
    except (sf.LibsndfileError, RuntimeError, ValueError) as e:
        data, rate = _fallback_decode(path, e)
        mono = resample(data.mean(axis=1), rate, sr)
    if mono.size == 0:
        raise file_error(path, "audio file holds no samples")
    if not np.all(np.isfinite(mono)):
        raise file_error(path, "audio holds NaN or infinite samples")
    return mono


def _decode_blocks(path: Path, sr: int, block_s: float = 30.0) -> np.ndarray:
    """Decode and resample block by block, so a long multi-channel file never sits in memory at its own rate."""
    import soundfile as sf
    import soxr

    with sf.SoundFile(str(path)) as f:
        rate, total = f.samplerate, f.frames
        out = np.empty(int(np.ceil(total * sr / rate)) + sr, dtype=np.float32)
        stream = soxr.ResampleStream(rate, sr, 1, dtype="float32", quality="HQ") if rate != sr else None
        n = 0
        for block in f.blocks(blocksize=int(block_s * rate), dtype="float32", always_2d=True):
            mono = block.mean(axis=1)
            y = stream.resample_chunk(mono) if stream else mono
            out[n:n + len(y)] = y
            n += len(y)
        if stream:
            y = stream.resample_chunk(np.zeros(0, np.float32), last=True)
            out[n:n + len(y)] = y
            n += len(y)
    return out[:n]


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (C libraries' own messages) for the duration of the block."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _fallback_decode(path: Path, first_error: Exception) -> tuple[np.ndarray, int]:
    if path.suffix.lower() in (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff"):
        raise file_error(path, f"cannot decode audio ({_short(first_error)})")
    try:
        import librosa

        data, rate = librosa.load(str(path), sr=None, mono=True)
    except Exception as e:  # librosa raises many types, all mean "cannot decode"
        raise file_error(path, f"cannot decode audio ({_short(e)})") from None
    return np.asarray(data, dtype=np.float32)[:, None], int(rate)


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:160] if str(e) else type(e).__name__


def resample(x: np.ndarray, rate: int, sr: int) -> np.ndarray:
    """``x`` at ``rate`` Hz -> float32 at ``sr`` Hz (soxr, high quality)."""
    if rate == sr:
        return np.ascontiguousarray(x, dtype=np.float32)
    import soxr

    return soxr.resample(np.asarray(x, dtype=np.float32), rate, sr, quality="HQ").astype(np.float32)
