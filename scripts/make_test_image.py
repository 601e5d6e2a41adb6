"""Procedural test images: the conv pages' landscape, and camera-sized uploads for tests.

``scene()`` rebuilds ``assets/images/scene.png``: a 128×128 landscape (sky gradient, sun,
two hill lines, a house with a roof and a window, a tree and grass texture give edges in
every direction for the kernels to find).

``phone_photo()`` and ``big_digit_png()`` make the uploads a learner's camera makes, at
test time (nothing big is committed): a 12-megapixel JPEG of a dark hand-drawn "7" on
cream paper with uneven light and sensor noise, and a 6000×6000 PNG of a scanned digit.
Nothing is downloaded.

    .venv/bin/python scripts/make_test_image.py                  # -> assets/images/scene.png
    .venv/bin/python scripts/make_test_image.py --phone /tmp/seven.jpg --big-png /tmp/d.png
"""

from __future__ import annotations

import argparse
import io
import itertools
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

OUT = Path(__file__).resolve().parent.parent / "assets" / "images" / "scene.png"
SIZE = 128


def scene(seed: int = 0) -> np.ndarray:
    """The landscape as uint8 ``(128, 128, 3)``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)  # (128, 128) each
    img = np.zeros((SIZE, SIZE, 3))
    # Sky: deep blue at the top fading to pale near the horizon.
    t = (yy / SIZE)[..., None]
    img[:] = (1 - t) * np.array([70, 130, 210]) + t * np.array([200, 225, 245])
    sun = (xx - 98) ** 2 + (yy - 24) ** 2 < 12**2
    img[sun] = [255, 214, 90]
    far = 70 + 8 * np.sin(xx / 13.0) + 4 * np.sin(xx / 5.0 + 1)
    img[yy > far] = [110, 140, 120]
    near = 86 + 6 * np.sin(xx / 20.0 + 2)
    grass = yy > near
    texture = rng.normal(0, 12, size=(SIZE, SIZE))
    img[grass] = np.stack([60 + texture, 150 + texture, 60 + texture], axis=-1)[grass]
    # House: wall, triangular roof, dark door and a window.
    wall = (xx > 22) & (xx < 58) & (yy > 70) & (yy < 104)
    img[wall] = [230, 220, 200]
    roof = (yy <= 70) & (yy > 48) & (np.abs(xx - 40) < (yy - 48) * 0.9 + 1)
    img[roof] = [170, 50, 40]
    img[(xx > 34) & (xx < 44) & (yy > 86) & (yy < 104)] = [90, 60, 40]
    img[(xx > 46) & (xx < 54) & (yy > 76) & (yy < 84)] = [120, 170, 220]
    # Tree: trunk and round crown.
    img[(xx > 86) & (xx < 91) & (yy > 82) & (yy < 106)] = [100, 70, 40]
    crown = (xx - 88.5) ** 2 + (yy - 74) ** 2 < 13**2
    img[crown] = np.stack([40 + texture, 110 + texture, 45 + texture], axis=-1)[crown]
    return np.clip(img, 0, 255).astype(np.uint8)


# A "7" as a pen would draw it, in units of the digit's height (x right, y down): a
# slightly rising top bar with a hook at its left end, then a long, slightly bowed stem.
_SEVEN = [
    [(0.02, 0.12), (0.05, 0.06), (0.30, 0.05), (0.62, 0.03), (0.80, 0.02)],
    [(0.80, 0.02), (0.70, 0.28), (0.58, 0.55), (0.49, 0.80), (0.45, 0.98)],
]


def phone_photo(width: int = 4032, height: int = 3024, seed: int = 0) -> bytes:
    """A phone photo (JPEG bytes) of a clear dark hand-drawn "7" on cream paper.

    The page is lit unevenly (brighter at the top left, a soft shadow at the bottom
    right), the pen is a dark blue-black with a wobbly width, and the sensor adds noise;
    the digit fills about half the frame's height, off centre, as a learner would frame it.
    """
    rng = np.random.default_rng(seed)
    small = (width // 4, height // 4)  # drawn at a quarter size, then enlarged: soft edges
    page = Image.new("L", small, 0)
    pen = ImageDraw.Draw(page)
    tall = 0.55 * small[1]
    left, top = 0.42 * small[0], 0.2 * small[1]
    for stroke in _SEVEN:
        pts = np.array(stroke) * tall + (left, top)
        pts = pts + rng.normal(0, 0.004 * tall, pts.shape)  # a hand, not a ruler
        fine = np.concatenate(  # many short segments with a varying width: a real pen
            [np.linspace(a, b, 12, endpoint=False) for a, b in itertools.pairwise(pts)]
        )
        for a, b in itertools.pairwise(fine):
            w = round(0.055 * tall * rng.uniform(0.85, 1.1))
            pen.line([tuple(a), tuple(b)], fill=255, width=w)
            pen.ellipse([a[0] - w / 2, a[1] - w / 2, a[0] + w / 2, a[1] + w / 2], fill=255)
    ink = page.filter(ImageFilter.GaussianBlur(1.2)).resize((width, height), Image.BILINEAR)
    ink_f = np.asarray(ink, np.float32)[..., None] / 255  # (H, W, 1), 1 where the pen went
    yy = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    xx = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    light = 1.05 - 0.18 * yy - 0.12 * xx - 0.10 * np.clip(xx + yy - 1.2, 0, None)  # (H, W, 1)
    cream = np.array([243, 234, 208], np.float32)
    dark = np.array([38, 36, 58], np.float32)
    img = (cream * (1 - ink_f) + dark * ink_f) * light
    img += rng.normal(0, 4.0, (height, width, 1)).astype(np.float32)  # sensor noise
    buf = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def big_digit_png(side: int = 6000, digit: int = 4, k: int = 0) -> bytes:
    """A ``side``×``side`` grayscale PNG: a bundled MNIST sample scanned at a huge size.

    The 28×28 sample (black ink on white) is enlarged smoothly and placed a little off
    centre on a larger white page, so the preprocessing has a real crop to make.
    """
    root = Path(__file__).resolve().parent.parent
    sample = Image.open(root / "assets" / "samples" / f"digit_{digit}_{k}.png").convert("L")
    inner = int(side * 0.7)
    big = sample.resize((inner, inner), Image.BICUBIC)
    page = Image.new("L", (side, side), 255)
    page.paste(big, (int(side * 0.2), int(side * 0.1)))
    buf = io.BytesIO()
    page.save(buf, "PNG")
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phone", type=Path, help="also write phone_photo() here (JPEG)")
    parser.add_argument("--big-png", type=Path, help="also write big_digit_png() here")
    args = parser.parse_args()
    if args.phone or args.big_png:
        for path, make in ((args.phone, phone_photo), (args.big_png, big_digit_png)):
            if path is not None:
                path.write_bytes(make())
                print(f"wrote {path} ({path.stat().st_size:,} bytes)")
        return
    OUT.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(scene()).save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
