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

from .errors import VisemesError, file_error
from .limits import check_duration

SAMPLE_RATE = 16_000
MAX_PEAK = 1000.0  # float files may overshoot 1.0 a little; far beyond it they are damaged, not loud
AUDIO_SUFFIXES = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".aif",
                            ".aiff", ".wma", ".webm"})
_MAGIC = (b"RIFF", b"RIFX", b"fLaC", b"OggS", b"ID3", b"FORM", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")


def is_audio(path: str | Path) -> bool:
    """True when ``path`` is an audio file, by its suffix or its first bytes."""
    path = Path(path)
    if path.suffix.lower() in AUDIO_SUFFIXES:
        return True
    if not path.is_file():  # never open a FIFO or device just to look at it: nobody may ever write to it
        return False
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
    return _load(path, sr, keep_channels=False)[:, 0]


def load_channels(path: str | Path, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Decode ``path`` keeping its channels: float32 ``[channels, samples]`` at ``sr`` Hz (one speaker per
    channel in a scene). Raises like :func:`load_audio`."""
    return np.ascontiguousarray(_load(path, sr, keep_channels=True).T)


def _load(path: str | Path, sr: int, keep_channels: bool) -> np.ndarray:
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise file_error(path, "no such audio file")
    try:
        with _quiet_stderr():  # libmpg123 and friends print warnings straight to the process's stderr
            out = _decode_blocks(path, sr, keep_channels)
    except (sf.LibsndfileError, RuntimeError, ValueError) as e:
        data, rate = _fallback_decode(path, e, mono=not keep_channels)
        out = np.stack([resample(c, rate, sr) for c in data.T], axis=1)
    if out.size == 0:
        raise file_error(path, "audio file holds no samples")
    if not np.all(np.isfinite(out)):
        raise file_error(path, "audio holds NaN or infinite samples")
    peak = float(np.max(np.abs(out)))
    if peak > MAX_PEAK:
        raise file_error(path, f"sample values reach {peak:.3g}; audio lies within ±1 (a damaged float file?)")
    return out


def _decode_blocks(path: Path, sr: int, keep_channels: bool = False, block_s: float = 30.0) -> np.ndarray:
    """Decode and resample block by block to ``[samples, channels]`` (one channel, their mean, unless
    ``keep_channels``), so a long multi-channel file never sits in memory at its own rate."""
    import soundfile as sf
    import soxr

    with sf.SoundFile(str(path)) as f:
        rate, total = f.samplerate, f.frames
        try:
            check_duration(total / rate, "the audio")  # before any buffer is sized from the header
        except VisemesError as e:
            raise file_error(path, str(e)) from None
        width = f.channels if keep_channels else 1
        out = np.empty((int(np.ceil(total * sr / rate)) + sr, width), dtype=np.float32)
        stream = soxr.ResampleStream(rate, sr, width, dtype="float32", quality="HQ") if rate != sr else None
        n = 0
        for block in f.blocks(blocksize=int(block_s * rate), dtype="float32", always_2d=True):
            block = block if keep_channels else block.mean(axis=1, keepdims=True)
            y = stream.resample_chunk(np.ascontiguousarray(block)) if stream else block
            out[n:n + len(y)] = y.reshape(len(y), width)
            n += len(y)
        if stream:
            y = stream.resample_chunk(np.zeros((0, width), np.float32), last=True)
            out[n:n + len(y)] = y.reshape(len(y), width)
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


def _fallback_decode(path: Path, first_error: Exception, mono: bool = True) -> tuple[np.ndarray, int]:
    if path.suffix.lower() in (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff"):
        raise file_error(path, f"cannot decode audio ({_short(first_error, path)})")
    try:
        import librosa

        data, rate = librosa.load(str(path), sr=None, mono=mono)
    except Exception as e:  # librosa raises many types, all mean "cannot decode"
        raise file_error(path, f"cannot decode audio ({_short(e, path)})") from None
    data = np.asarray(data, dtype=np.float32)
    return (data[:, None] if data.ndim == 1 else data.T), int(rate)


def _short(e: Exception, path: Path) -> str:
    """The first line of a decoder's message, without the "Error opening 'PATH': " that repeats the name."""
    text = str(e).replace(f"Error opening {str(path)!r}: ", "")
    return text.splitlines()[0][:160] if text else type(e).__name__


def resample(x: np.ndarray, rate: int, sr: int) -> np.ndarray:
    """``x`` at ``rate`` Hz -> float32 at ``sr`` Hz (soxr, high quality)."""
    if rate == sr:
        return np.ascontiguousarray(x, dtype=np.float32)
    import soxr

    return soxr.resample(np.asarray(x, dtype=np.float32), rate, sr, quality="HQ").astype(np.float32)
