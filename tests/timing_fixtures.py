"""Made-up timing files for batch tests and benchmarks (generated, never fetched)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

PHONES = "P B M F V TH DH T D K G CH JH S Z N L R AA1 AE1 AH0 EH1 IY1 IH0 OW1 UW1 ER0 AY1".split()


def make_timing_files(folder: Path, n: int, seed: int = 0, corrupt: set[str] | frozenset[str] = frozenset()) -> None:
    """``n`` ARPAbet timing files of 1-4 s of made-up speech; names in ``corrupt`` get garbage."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        name = f"line{i:04d}.tsv"
        if name in corrupt:
            (folder / name).write_bytes(b"\x00\x01garbage that is not a timing file\xff")
            continue
        t, rows = 0.2, ["0.000\t0.200\tsil"]
        for _ in range(rng.integers(10, 40)):
            d = float(rng.uniform(0.03, 0.15))
            rows.append(f"{t:.3f}\t{t + d:.3f}\t{rng.choice(PHONES)}")
            t += d
        rows.append(f"{t:.3f}\t{t + 0.3:.3f}\tsil")
        (folder / name).write_text("\n".join(rows) + "\n")
