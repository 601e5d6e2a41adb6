"""Build the real-handwriting test set: digits no one here wrote, photographed as a learner would.

    .venv/bin/pip install scikit-learn==1.9.1   # in requirements-dev.txt
    .venv/bin/python scripts/build_handwriting.py

Source: the digits that ship inside scikit-learn (``sklearn.datasets.load_digits``), the
test half of the UCI "Optical Recognition of Handwritten Digits" data set (E. Alpaydin and
C. Kaynak, 1998; CC BY 4.0): 1,797 digits written on forms by 13 people who wrote none of
MNIST. Each is stored as 8×8 counts (0–16) of the ink pixels in the 4×4 blocks of a 32×32
binary scan.

Each digit is turned back into ink and photographed:

1. **Ink**: the counts are upsampled to 32×32 (cubic) and thresholded so that exactly as
   many pixels are ink as the counts say the scan had (the area is kept; the edge is a
   one-pixel soft ramp).
2. **Photograph**: a page of random size (56–128 px a side), light and unevenly lit (a
   random tilt of brightness), the digit at a random size (40–80 % of the shorter side),
   place and small rotation (±8°), black or blue ink of random darkness, sensor noise, and
   JPEG at quality 40–85.

100 digits per class are drawn with seed 0; the JPEG bytes, labels and each digit's row
in ``load_digits()`` go into ``assets/handwriting/optdigits_photos.npz``
(read with :func:`cnnviz.imaging.load_handwriting`): the **test** set, which
``benchmarks/bench_handwriting.py`` reports on.

The other 797 digits, photographed the same way with seed 1, are the **validation** set
``assets/handwriting/optdigits_validation.npz``: choose preprocessing constants and
training recipes on it (``bench_handwriting.py --set validation``), never on the test set.

    .venv/bin/python scripts/build_handwriting.py --set validation   # one of the two
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 0
PER_CLASS = 100
OUT = ROOT / "assets" / "handwriting" / "optdigits_photos.npz"
VALIDATION_SEED = 1
VALIDATION_OUT = ROOT / "assets" / "handwriting" / "optdigits_validation.npz"


def ink_from_counts(counts: np.ndarray) -> np.ndarray:
    """``(8, 8)`` block counts (0–16) -> a ``(32, 32)`` ink map in [0, 1] with the same area."""
    density = ndimage.zoom(counts.astype(np.float64) / 16, 4, order=3, mode="nearest")
    n_ink = int(counts.sum())  # ink pixels the 32×32 scan had (counts are whole numbers)
    level = np.sort(density.ravel())[::-1][min(n_ink, density.size - 1)]
    return 1 / (1 + np.exp(-(density - level) / 0.03))  # a soft one-pixel edge


def photograph(ink: np.ndarray, rng: np.random.Generator) -> bytes:
    """A JPEG of ``ink`` (1 = ink) written on a page of paper, as a phone would take it."""
    height, width = (int(v) for v in rng.integers(56, 129, 2))
    side = int(rng.uniform(0.4, 0.8) * min(height, width))
    digit = Image.fromarray((ink * 255).astype(np.uint8)).resize((side, side), Image.BICUBIC)
    digit = digit.rotate(float(rng.uniform(-8, 8)), Image.BICUBIC, expand=True)
    a = np.asarray(digit, np.float64)[:height, :width] / 255  # (h, w)
    top = int(rng.integers(0, height - a.shape[0] + 1))
    left = int(rng.integers(0, width - a.shape[1] + 1))
    mask = np.zeros((height, width))
    mask[top : top + a.shape[0], left : left + a.shape[1]] = a
    rows, cols = np.indices((height, width))
    tilt = rng.normal(0, 0.08, 2)  # brightness change across the page
    light = (
        rng.uniform(0.7, 0.95) + tilt[0] * (rows / height - 0.5) + tilt[1] * (cols / width - 0.5)
    )
    paper = light[..., None] * np.array([1.0, rng.uniform(0.97, 1.0), rng.uniform(0.9, 1.0)])
    ink_rgb = np.ones(3) if rng.random() < 0.6 else np.array([0.4, 0.5, 1.6])  # black or blue
    ink_rgb = ink_rgb * rng.uniform(0.05, 0.35)
    rgb = paper * (1 - mask[..., None]) + ink_rgb * mask[..., None]
    rgb += rng.normal(0, rng.uniform(0.01, 0.05), rgb.shape)
    buf = io.BytesIO()
    photo = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))
    photo.save(buf, format="JPEG", quality=int(rng.integers(40, 86)))
    return buf.getvalue()


def save(out: Path, photos: list[bytes], labels: np.ndarray, rows: np.ndarray) -> None:
    """Write the photos (one byte string, with offsets), labels and source rows."""
    offsets = np.cumsum([0] + [len(p) for p in photos])
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        jpeg=np.frombuffer(b"".join(photos), np.uint8),
        offsets=offsets.astype(np.int64),
        labels=labels.astype(np.uint8),
        source_rows=rows.astype(np.int32),
    )
    size = out.stat().st_size / 1024
    print(f"wrote {out.relative_to(ROOT)}: {len(photos)} photos, {size:.0f} KB")


def main() -> None:
    from sklearn.datasets import load_digits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=["test", "validation", "both"], default="both")
    chosen = parser.parse_args().set
    digits = load_digits()
    rng = np.random.default_rng(SEED)
    rows = np.sort(
        np.concatenate(
            [
                rng.choice(np.flatnonzero(digits.target == c), PER_CLASS, replace=False)
                for c in range(10)
            ]
        )
    )
    if chosen in ("test", "both"):
        photos = [photograph(ink_from_counts(digits.images[i]), rng) for i in rows]
        save(OUT, photos, digits.target[rows], rows)
    if chosen in ("validation", "both"):
        rest = np.setdiff1d(np.arange(len(digits.target)), rows)  # the digits the test lacks
        vrng = np.random.default_rng(VALIDATION_SEED)
        photos = [photograph(ink_from_counts(digits.images[i]), vrng) for i in rest]
        save(VALIDATION_OUT, photos, digits.target[rest], rest)


if __name__ == "__main__":
    main()
