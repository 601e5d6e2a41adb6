"""Rebuild ``assets/images/scene.png``: a procedural 128×128 landscape for the conv pages.

Nothing is downloaded: sky gradient, sun, two hill lines, a house with a roof and a
window, a tree and grass texture give edges in every direction for the kernels to find.

    .venv/bin/python scripts/make_test_image.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

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


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(scene()).save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
