"""Batches: many inputs, several formats, all cores, and nothing redone that is up to date.

A batch is a list of :class:`Job` (one input, its outputs) made from command
line inputs (files or folders) or a manifest (CSV or JSON). Jobs run in
parallel worker processes; a failed job is reported and the others finish;
outputs are written atomically, so a batch killed half way can simply be run
again and redoes only what is missing or out of date.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path

from visemes.exporters import EXPORTERS
from visemes.rigs import RIG_DIR

from .audio import AUDIO_SUFFIXES
from .bake import Settings, bake_file
from .engines import WEIGHTS
from .errors import VisemesError, file_error
from .fileio import is_uri, mtime, read_input, temp_prefix

RETRIES = 2
TIMING_SUFFIXES = frozenset({".tsv", ".json", ".jsonl", ".xml", ".textgrid", ".marks", ".lab"})
MANIFEST_COLUMNS = ("input", "audio", "timing", "transcript", "rig", "language", "output")


@dataclass(frozen=True)
class Job:
    """One input and the files to write from it.

    ``audio`` beside a timing ``source`` drives loudness and duration; ``rig``
    overrides the batch's rig for this input.
    """

    source: Path
    outputs: tuple[tuple[str, Path | str], ...]
    audio: Path | None = None
    rig: str | None = None
    transcript: str | None = None
    language: str | None = None

    def dependencies(self) -> list[Path]:
        """Input files other than the rig (which the batch may supply): source, audio, transcript file."""
        deps = [self.source] + ([self.audio] if self.audio else [])
        if self.transcript and Path(self.transcript).is_file():
            deps.append(Path(self.transcript))
        return deps


@dataclass
class Report:
    done: list[Job] = field(default_factory=list)
    skipped: list[Job] = field(default_factory=list)
    failed: list[tuple[Job, str]] = field(default_factory=list)


def _location(out: str) -> Path | str:
    """An output location as given: a URI stays a string, a local path becomes a Path."""
    return out if is_uri(out) else Path(out)


def join(folder: str | Path, rel: Path) -> Path | str:
    """``folder / rel`` for a local folder or a URI prefix."""
    if is_uri(folder):
        return str(folder).rstrip("/") + "/" + rel.as_posix()
    return Path(folder) / rel


def output_name(rel: Path, fmt: str) -> Path:
    """``speech.tsv`` -> ``speech.json`` etc.: the input's name with the format's suffix."""
    return rel.with_name(rel.stem + EXPORTERS[fmt].SUFFIX)


def find_inputs(folder: Path) -> list[Path]:
    """Timing and audio files under ``folder`` (recursively, hidden files left out), sorted."""
    wanted = TIMING_SUFFIXES | AUDIO_SUFFIXES
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in wanted and not p.name.startswith("."))


def plan(inputs: Iterable[str | Path], formats: list[str], out: str | Path | None,
         audio: str | Path | None = None, transcript: str | None = None) -> list[Job]:
    """Jobs for command-line inputs.

    One file and one format write to ``out`` as a file (unless it is a folder);
    otherwise ``out`` is a folder and each output is named after its input.
    """
    inputs = [Path(p) for p in inputs]
    if out is None:
        raise VisemesError("no output given: add -o FILE (one input, one format) or -o FOLDER")
    out_s = str(out)
    single = len(inputs) == 1 and not inputs[0].is_dir() and len(formats) == 1
    if single and (out_s == "-" or not (out_s.endswith(("/", os.sep)) or (not is_uri(out_s) and Path(out_s).is_dir()))):
        return _unique([Job(inputs[0], ((formats[0], _location(out_s) if out_s != "-" else "-"),),
                            Path(audio) if audio else None, transcript=transcript)])
    if audio is not None or transcript is not None:
        raise VisemesError("--audio and --transcript go with a single input; for batches use manifest columns")
    if out_s == "-":
        raise VisemesError("-o - (standard output) takes one input and one format")
    jobs = []
    for src in inputs:
        if src.is_dir():
            found = find_inputs(src)
            if not found:
                raise file_error(src, "folder holds no timing or audio files")
            jobs += [replace(job, outputs=tuple((f, join(out, output_name(job.source.relative_to(src), f)))
                                                for f in formats)) for job in folder_jobs(found)]
        else:
            jobs.append(Job(src, tuple((f, join(out, output_name(Path(src.name), f))) for f in formats)))
    return _unique(jobs)


def folder_jobs(found: list[Path]) -> list[Job]:
    """One job per line of a folder: a timing file and the audio of the same name beside it are one line
    (the timing says what is said, the audio drives the jaw's loudness); audio alone takes the transcript
    beside it (``NAME.txt``), as a user who keeps them together expects. Outputs are filled in later."""
    by_stem: dict[tuple[Path, str], list[Path]] = {}
    for p in found:
        by_stem.setdefault((p.parent, p.stem), []).append(p)
    jobs = []
    for (folder, stem), files in by_stem.items():
        timings = [p for p in files if p.suffix.lower() in TIMING_SUFFIXES]
        audios = [p for p in files if p.suffix.lower() in AUDIO_SUFFIXES]
        if len(audios) == 1 and timings:
            jobs += [Job(t, (), audio=audios[0]) for t in timings]
        elif len(audios) == 1 and (folder / f"{stem}.txt").is_file():
            jobs.append(Job(audios[0], (), transcript=str(folder / f"{stem}.txt")))
        else:
            jobs += [Job(p, ()) for p in files]
    return sorted(jobs, key=lambda j: j.source)


def _unique(jobs: list[Job]) -> list[Job]:
    """Refuse outputs that would overwrite an input of the run (any job's source, audio or transcript
    file) or that two inputs would both write."""
    inputs = {p.resolve(): job.source for job in jobs for p in job.dependencies()}
    seen: dict[Path, Path] = {}
    for job in jobs:
        for fmt, path in job.outputs:
            if path == "-":
                continue
            key = path if is_uri(path) else Path(path).resolve()
            if key in inputs:
                owner = inputs[key]
                what = "the input" if owner == job.source else f"{key.name}, an input of {owner}"
                raise file_error(job.source, f"the {fmt} output would overwrite {what}")
            if key in seen and seen[key] != job.source:
                raise VisemesError(f"{job.source} and {seen[key]} would both write {path}; give them other names")
            seen[key] = job.source
    return jobs


def read_manifest(path: str | Path, formats: list[str], out: str | Path | None,
                  allow_outside: bool = False) -> list[Job]:
    """Jobs from a manifest: CSV with a header row, or a JSON list of objects.

    Columns (JSON keys): ``input`` (or ``timing`` and/or ``audio``), ``transcript``,
    ``rig``, ``language``, ``output``. Relative paths are relative to the
    manifest. Without ``output``, files go to ``out`` named after the input.
    An ``output`` must stay inside ``out`` (or, without it, the manifest's folder) unless it is a URI
    or ``allow_outside`` is set: a manifest from elsewhere cannot write over files it should not touch.
    """
    path = Path(path)
    rows = _manifest_rows(path)
    base = path.parent
    jobs = []
    for i, row in enumerate(rows, start=2 if path.suffix.lower() == ".csv" else 1):
        where = f"{path}: row {i}"
        unknown = set(row) - set(MANIFEST_COLUMNS)
        if unknown:
            expected = ", ".join(MANIFEST_COLUMNS)
            raise VisemesError(f"{where}: unknown column {sorted(unknown)[0]!r} (expected {expected})")
        if any("\0" in v for v in row.values()):
            raise VisemesError(f"{where}: a value holds a NUL byte")
        source = row.get("timing") or row.get("input") or row.get("audio")
        if not source:
            raise VisemesError(f"{where}: no input (give 'input', 'timing' or 'audio')")
        src = base / source
        audio = base / row["audio"] if row.get("audio") and row.get("audio") != source else None
        if row.get("output"):
            if len(formats) != 1:
                raise VisemesError(f"{where}: an 'output' column takes exactly one --format")
            dest = row["output"] if is_uri(row["output"]) else base / row["output"]
            root = Path(out) if out is not None and not is_uri(out) else base
            if not (is_uri(dest) or allow_outside or Path(dest).resolve().is_relative_to(root.resolve())):
                raise VisemesError(f"{where}: output {row['output']} lies outside {root} (give --allow-outside "
                                   "to let the manifest write there)")
            outputs = ((formats[0], dest),)
        elif out is not None:
            outputs = tuple((f, join(out, output_name(Path(src.name), f))) for f in formats)
        else:
            raise VisemesError(f"{where}: no 'output' and no -o FOLDER")
        text = row.get("transcript") or None
        if text and (base / text).is_file():
            text = str(base / text)
        jobs.append(Job(src, outputs, audio, row.get("rig") or None, text, row.get("language") or None))
    return _unique(jobs)


def _manifest_rows(path: Path) -> list[dict[str, str]]:
    try:
        text = read_input(path, "manifest", 256 << 20).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise file_error(path, f"cannot read manifest ({e})") from None
    if not text.strip():
        raise file_error(path, "empty manifest")
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except (ValueError, RecursionError) as e:
            raise file_error(path, f"manifest is not valid JSON ({_json_why(e)})") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise file_error(path, "a JSON manifest is a list of objects")
        return [{k: str(v) for k, v in r.items() if v is not None} for r in rows]
    try:
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or not set(reader.fieldnames) & {"input", "timing", "audio"}:
            raise file_error(path, "manifest CSV needs a header row with an 'input', 'timing' or 'audio' column")
        return [{k.strip(): (v if isinstance(v, str) else "").strip() for k, v in r.items() if isinstance(k, str)}
                for r in reader]
    except csv.Error as e:
        raise file_error(path, f"manifest is not valid CSV ({e})") from None


def _json_why(e: Exception) -> str:
    return "nested too deeply" if isinstance(e, RecursionError) else str(e)


def up_to_date(job: Job, rig: str, extra: Iterable[Path] = ()) -> bool:
    """Every output exists and is newer than every input it depends on (input, audio, rig file, ``extra``)."""
    if any(o == "-" for _, o in job.outputs):
        return False
    rig_file = Path(rig) if Path(rig).suffix.lower() in (".json", ".toml") else RIG_DIR / f"{rig}.json"
    try:
        newest = max(p.stat().st_mtime for p in [*job.dependencies(), rig_file, *extra] if p.exists())
        return all((mtime(o) or 0.0) >= newest for _, o in job.outputs)
    except OSError:
        return False


def _remove_stale_temporaries(jobs: list[Job]) -> None:
    """Delete the temporary files a killed run left beside the outputs it is about to redo."""
    wanted: dict[Path, set[str]] = {}
    for job in jobs:
        for _, out in job.outputs:
            if out != "-" and not is_uri(out):
                wanted.setdefault(Path(out).parent, set()).add(Path(out).name)
    for folder, names in wanted.items():
        if not folder.is_dir():
            continue
        prefixes = tuple(temp_prefix(name) for name in names)
        for entry in os.scandir(folder):
            if entry.name.endswith(".tmp") and entry.name.startswith(prefixes):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


def _work(item: tuple[Job, Settings]) -> str | None:
    """Run one job; the error message, or None on success. Never raises for bad input.

    An OSError (a network file system or object store hiccup) is retried up to
    ``RETRIES`` times; bad input is not, as it would fail the same way again.
    """
    job, settings = item
    for attempt in range(RETRIES + 1):
        try:
            bake_file(job.source, list(job.outputs), replace(settings, rig=job.rig or settings.rig), job.audio,
                      job.transcript, job.language)
            return None
        except VisemesError as e:
            return str(e)
        except OSError as e:
            if attempt == RETRIES:
                return f"{job.source}: failed {RETRIES + 1} times ({type(e).__name__}: {e})"
        except RecursionError:
            return f"{job.source}: failed (nested too deeply to read)"
        except MemoryError:
            return f"{job.source}: failed (out of memory)"
        except Exception as e:  # one bad input is that input's error line, never the batch's end
            return f"{job.source}: failed ({type(e).__name__}: {e})"
    return None


def bake_chunk(items: list[tuple[Job, Settings]]) -> list[str | None]:
    """Run several jobs in one worker (a unit of work for a cluster); their error messages or None."""
    return [_work(item) for item in items]


def _dependencies(job: Job, settings: Settings) -> list[Path]:
    """What else an output depends on: the --into mesh, the mapping, and the model for analysed audio."""
    deps = [Path(p) for p in (settings.export.into, settings.export.mapping) if p]
    if job.source.suffix.lower() in AUDIO_SUFFIXES and settings.engine == "neural":
        deps.append(WEIGHTS)
    return deps


def run(jobs: list[Job], settings: Settings, workers: int = 0, force: bool = False,
        on_result: Callable[[Job, str | None], None] | None = None, executor: str = "local") -> Report:
    """Bake ``jobs``, skipping up-to-date ones, on ``workers`` local processes (0 = every core) or on a
    Ray cluster (``executor`` ``"ray"`` or ``"ray://HOST:PORT"``, see :mod:`visemes.cluster`).

    ``on_result(job, error)`` is called as each job finishes (for progress).
    """
    report = Report()
    todo = []
    for job in jobs:
        if not force and up_to_date(job, job.rig or settings.rig, _dependencies(job, settings)):
            report.skipped.append(job)
        else:
            todo.append(job)
    _remove_stale_temporaries(jobs)
    _execute(todo, [(job, settings) for job in todo], workers, executor, report, on_result)
    # a worker killed mid-write (a lost cluster node, the OOM killer) leaves its temp file behind;
    # its job was retried or reported, so the leftovers are only litter now
    _remove_stale_temporaries(jobs)
    return report


def _execute(todo: list[Job], items: list[tuple[Job, Settings]], workers: int, executor: str,
             report: Report, on_result: Callable[[Job, str | None], None] | None) -> None:
    """Run ``items`` on a Ray cluster or on ``workers`` local processes, collecting into ``report``."""
    if executor != "local":
        from .cluster import run_on_ray

        _collect(todo, run_on_ray(items, executor), report, on_result)
        return
    workers = min(workers or os.cpu_count() or 1, max(1, len(todo)))
    if workers == 1:
        _collect(todo, enumerate(map(_work, items)), report, on_result)
        return
    pending = list(range(len(items)))
    for attempt in range(2):  # a killed worker's jobs run once more in a fresh pool
        pending = _pool_run(items, pending, workers, report, todo, on_result, last=attempt == 1)
        if not pending:
            break


def _pool_run(items: list[tuple[Job, Settings]], indices: list[int], workers: int, report: Report,
              todo: list[Job], on_result, last: bool) -> list[int]:
    """Run ``items[indices]`` in a process pool; the indices a dead worker took with it (reported as
    failed when ``last``)."""
    done: list[tuple[int, str | None]] = []
    lost: list[int] = []
    with ProcessPoolExecutor(max_workers=min(workers, len(indices)), initializer=_worker_setup,
                             initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(_work, items[i]): i for i in indices}
        for future in as_completed(futures):
            i = futures[future]
            try:
                _collect(todo, [(i, future.result())], report, on_result)
                done.append(i)
            except BrokenProcessPool:
                lost.append(i)
    if last and lost:
        _collect(todo, [(i, f"{todo[i].source}: failed (its worker process died twice)") for i in lost],
                 report, on_result)
        return []
    return sorted(lost)


def _worker_setup(parent: int) -> None:
    """Worker processes die with their parent (even on kill -9) and share the cores: one compute thread
    each, or torch's threads fight over them."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    if os.getppid() != parent:  # the parent died before the line above ran
        os._exit(1)
    import torch

    torch.set_num_threads(1)


def _collect(todo: list[Job], results: Iterable[tuple[int, str | None]], report: Report,
             on_result: Callable[[Job, str | None], None] | None) -> None:
    """Record ``(index into todo, error or None)`` results as they come, in any order."""
    for i, err in results:
        job = todo[i]
        if err is None:
            report.done.append(job)
        else:
            report.failed.append((job, err))
        if on_result:
            on_result(job, err)
