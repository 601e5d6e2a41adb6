"""Turn a learner's image (upload, drawing, bundled sample) into what a model expects.

The MNIST style repeats what LeCun, Cortes and Burges did to build MNIST: grayscale, a
white stroke on a black background, the digit cropped to its content, scaled so its longer
side is 20 px (aspect kept), and placed in a 28×28 frame so that its centre of mass is in
the middle. A digit drawn in a corner or photographed on paper then looks like the training
data. The Fashion-MNIST style repeats what Xiao, Rasul and Vollgraf (2017) did to Zalando's
product photos: trim the background around the product, resize so its *longest* side fills
the frame (aspect kept), centre it geometrically, and negate, so the product is light on
black. The RGB style (for colour models such as CIFAR-10 ones) only centre-crops to the
model's aspect ratio, resizes and scales to [0, 1].

Hostile input (an empty file, text or HTML, SVG, a zip, a truncated file, a tiny file that
claims billions of pixels) raises :class:`ImageError` with one sentence, and a
decompression bomb is refused from its header, before any pixel is decoded: an image of
more than :data:`MAX_PIXELS` pixels (50 megapixels) raises :class:`ImageTooLarge`.

Any photo a camera makes up to that limit is prepared at its full resolution (the model's
input does not depend on how the page draws it). Pages draw *display copies*
(:func:`display_steps`): each step shrunk so its longer side is at most
:data:`DISPLAY_SIDE` pixels, titled with its real size ("Original (4032×3024, shown at
1000×750)"), so a 12-megapixel photo is never sent to the browser pixel by pixel.

>>> import numpy as np
>>> from cnnviz.imaging import prepare_image
>>> page = np.full((60, 40), 255, np.uint8); page[5:25, 5:12] = 0   # black bar, top left
>>> out = prepare_image(page)
>>> out.array.shape, out.array.dtype, float(out.array.max())
((28, 28, 1), dtype('float32'), 1.0)
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import io
import itertools
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cnnviz.claims import Claim, claim
from cnnviz.data import ASSETS

# The decompression limit: an image of more pixels is refused from its header alone, before
# any pixel is decoded. 50 megapixels admits every phone's full-resolution mode (12 MP is
# 4032×3024; 48–50 MP sensors save 8064×6048 or 8160×6120) and a 6000×6000 scan, while a
# 40000×40000 "bomb" (1.6 billion pixels, a few hundred bytes as a PNG) is refused. At the
# limit, preparing an image holds about 1.5 GB of float32 arrays for a moment.
MAX_PIXELS = 50_000_000
MAX_BYTES = 50 * 1024 * 1024  # the same limit as server.maxUploadSize (50 MB)
# Pages draw each image at most this many pixels on its longer side (a display copy): a
# panel is a few hundred pixels wide, and a full 12-megapixel step row is 230 MB of JSON.
DISPLAY_SIDE = 1000
# The MNIST style needs at least this many pixels on the image's longer side: the bundled
# samples shrunk to 8×8 are still all read by the default model, at 4×4 half are not
# (tests/test_imaging.py measures it). Below it the model gets a blank image.
MIN_SIDE = 8
STYLES = ("mnist", "rgb", "fashion")
FORMATS = "PNG, JPEG, BMP, GIF, WebP or TIFF"
_BOX_FRACTION = 20 / 28  # MNIST: the digit's longer side fills 20 of 28 pixels
_INK_LEVEL = 0.2  # a pixel is "content" above this fraction of the stroke's brightness
_FLAT = 1 / 255  # an image whose range is below this is one colour: no content
NO_CONTENT = "The image has no content (it is all one colour), so the model sees a blank image."
NO_STROKES = (
    "Nothing in the image stands out from its background as strokes (only noise or specks), "
    "so the model sees a blank image."
)
_PEN = 2.9  # MNIST's median stroke width at the 20-px scale (stroke_width on the sample)
_PEN_MAX = 3.6  # strokes wider than this at 20 px are thinned towards _PEN
_RING_FRACTION = 0.03  # the border ring that shows the page: 3 % of the shorter side
_OUTLIER_FLOOR = 0.02  # border pixels further than this from the page's plane are ink
_SPECK_FRACTION = 0.05  # blobs smaller than this share of the largest one are noise
# Fashion-MNIST trims "edges that are close to the color of the corner pixels", close being
# "within 5 % of the maximum possible intensity in RGB space" (Xiao et al. 2017, step 2).
_TRIM_DISTANCE = 0.05
NO_PRODUCT = (
    "Nothing in the image stands out from the colour of its border, so the model sees a "
    "blank image."
)

_SIGNATURES = (  # what a non-image upload usually is, so the message can name it
    (b"PK\x03\x04", "a zip archive"),
    (b"%PDF", "a PDF document"),
    (b"<svg", "an SVG drawing (vector images are not supported; export it as PNG)"),
    (b"<?xml", "an XML/SVG document (vector images are not supported; export it as PNG)"),
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
)


class ImageError(ValueError):
    """An image cannot be read or used; the message is one sentence saying why."""


class ImageTooLarge(ImageError):
    """The file or its pixel count is over the limit (:data:`MAX_BYTES`, :data:`MAX_PIXELS`)."""


def _limit_text(limit: int, unit: int, name: str, small: str) -> str:
    """``"50 megapixels"`` for a whole number of units, else the exact count (``"… pixels"``)."""
    return f"{limit // unit} {name}" if limit % unit == 0 else f"{limit:,} {small}"


@claim
def pixel_limit_sentence(width: int, height: int, limit: int = MAX_PIXELS) -> Claim:
    """Why an image of ``width``×``height`` pixels is refused (it is above ``limit``).

    The megapixels are rounded *up* to one decimal, so an image just over the limit never
    reads as "50.0 megapixels, more than the limit of 50 megapixels".

    Examples
    --------
    >>> s = pixel_limit_sentence(12000, 9000)
    >>> s.facts["megapixels"], s.facts["over"]
    (108.0, True)
    """
    width, height, limit = int(width), int(height), int(limit)
    pixels = width * height
    mp = -(-pixels // 100_000) / 10  # ceil to a tenth, in integers: ≥ the true value
    text = (
        f"This image is {width}×{height} pixels ({mp:.1f} megapixels), more than the limit "
        f"of {_limit_text(limit, 1_000_000, 'megapixels', 'pixels')}, so it is refused "
        "before decoding (it could be a decompression bomb). Save a smaller copy (a phone's "
        "12-megapixel setting works) and upload that."
    )
    return Claim(
        text, width=width, height=height, pixels=pixels, megapixels=mp, limit=limit,
        over=pixels > limit,
    )  # fmt: skip


@claim
def byte_limit_sentence(n_bytes: int, limit: int = MAX_BYTES) -> Claim:
    """Why a file of ``n_bytes`` is refused (it is above ``limit``); a MB is 2**20 bytes.

    Rounded *up* to one decimal, like :func:`pixel_limit_sentence`.

    Examples
    --------
    >>> str(byte_limit_sentence(50 * 2**20 + 1))
    'The file is 50.1 MB, more than the upload limit of 50 MB.'
    """
    n_bytes, limit = int(n_bytes), int(limit)
    mb = -(-n_bytes * 10 // 2**20) / 10  # ceil to a tenth of a MB
    text = (
        f"The file is {mb:.1f} MB, more than the upload limit of "
        f"{_limit_text(limit, 2**20, 'MB', 'bytes')}."
    )
    return Claim(text, n_bytes=n_bytes, megabytes=mb, limit=limit, over=n_bytes > limit)


@claim
def size_sentence(width: int, height: int, min_side: int = MIN_SIDE) -> Claim | None:
    """What the learner reads when an image is too small to hold a digit, else ``None``.

    A 3×3 image with a clear stroke is not "noise": its problem is its size. The MNIST
    style needs :data:`MIN_SIDE` pixels on the longer side; below that the model gets a
    blank image, and the sentence says the size, the minimum and that.

    Examples
    --------
    >>> size_sentence(3, 3).facts["blank"], size_sentence(28, 28) is None
    (True, True)
    """
    if max(int(width), int(height)) >= min_side:
        return None
    text = (
        f"The image is only {width}×{height} pixels: a digit needs at least {min_side} "
        f"pixels on the image's longer side (MNIST draws digits 20 px tall), so the model "
        "sees a blank image. Upload a larger image of the digit."
    )
    return Claim(
        text, width=int(width), height=int(height), longer_side=max(int(width), int(height)),
        min_side=int(min_side), blank=True,
    )  # fmt: skip


def display_size(height: int, width: int, max_side: int = DISPLAY_SIDE) -> tuple[int, int]:
    """The ``(height, width)`` of an image's display copy: longer side at most ``max_side``.

    The aspect ratio is kept (each side rounded, never below 1); an image that already
    fits is not enlarged.

    Examples
    --------
    >>> display_size(3024, 4032), display_size(28, 28), display_size(6000, 2)
    ((750, 1000), (28, 28), (1000, 1))
    """
    height, width, max_side = int(height), int(width), int(max_side)
    if height < 1 or width < 1 or max_side < 1:
        raise ValueError(f"sizes must be >= 1, got {height}×{width} and max_side {max_side}")
    if max(height, width) <= max_side:
        return height, width
    scale = max_side / max(height, width)
    return max(1, min(max_side, round(height * scale))), max(1, min(max_side, round(width * scale)))


@claim
def display_title(title: str, size: tuple[int, int], max_side: int = DISPLAY_SIDE) -> Claim:
    """A step's title with its real size, and the size it is drawn at when shrunk.

    ``size`` is the image's ``(height, width)``. The title keeps its own words; the size is
    put in its parentheses (``"Original (4032×3024, shown at 1000×750)"``,
    ``"Inverted (white on black; 4032×3024, shown at 1000×750)"``, ``"Grayscale
    (28×28)"``).

    Examples
    --------
    >>> str(display_title("Original (4032×3024)", (3024, 4032)))
    'Original (4032×3024, shown at 1000×750)'
    >>> str(display_title("Grayscale", (28, 28)))
    'Grayscale (28×28)'
    """
    height, width = int(size[0]), int(size[1])
    shown = display_size(height, width, max_side)
    real = f"{width}×{height}"
    label = real if shown == (height, width) else f"{real}, shown at {shown[1]}×{shown[0]}"
    if f"({real})" in title:  # the title already names its size
        text = title.replace(f"({real})", f"({label})", 1)
    elif title.endswith(")") and " (" in title:
        text = f"{title[:-1]}; {label})"
    else:
        text = f"{title} ({label})"
    return Claim(text, size=(height, width), shown=shown, shrunk=shown != (height, width))


@claim
def working_copy_sentence(size: tuple[int, int], used: tuple[int, int]) -> Claim:
    """What a page that computes on a shrunk copy of an upload says about it.

    ``size`` is the upload's ``(height, width)``, ``used`` the copy's the page computes on
    (the Convolution and Pooling pages shrink an image to 160 px a side).

    Examples
    --------
    >>> s = working_copy_sentence((3024, 4032), (120, 160))
    >>> s.facts["shrunk"], s.split("; ")[0]
    (True, 'Your image is 4032×3024 pixels')
    """
    height, width = int(size[0]), int(size[1])
    h, w = int(used[0]), int(used[1])
    if (h, w) == (height, width):
        text = f"Your image is {width}×{height} pixels; this page uses it as it is."
    else:
        text = (
            f"Your image is {width}×{height} pixels; this page works on a copy shrunk to "
            f"{w}×{h}, so the pictures and numbers below are the copy's."
        )
    return Claim(text, size=(height, width), used=(h, w), shrunk=(h, w) != (height, width))


class DisplayCopy(NamedTuple):
    """One image as a page draws it (a ``(title, image, size)`` tuple for the figures).

    Attributes
    ----------
    title : str
        The step's title with its real size (:func:`display_title`).
    image : np.ndarray
        ``float32`` ``(h, w)`` or ``(h, w, 3)`` in [0, 1], longer side ≤ :data:`DISPLAY_SIDE`:
        each pixel the mean of the original pixels it covers.
    size : tuple of int
        The original's ``(height, width)``.
    """

    title: str
    image: np.ndarray
    size: tuple[int, int]


def shrink_for_display(img: np.ndarray, max_side: int = DISPLAY_SIDE) -> np.ndarray:
    """An image's display copy: area-averaged to :func:`display_size`, ``float32`` in [0, 1].

    Each display pixel is the mean of the original pixels under it (a box filter), so a
    thin stroke fades instead of vanishing and nothing is invented. An image that fits is
    returned as ``float32`` unchanged.

    Examples
    --------
    >>> shrink_for_display(np.ones((4032, 3024, 3)), 1000).shape
    (1000, 750, 3)
    """
    arr = np.asarray(img, dtype=np.float32)
    h, w = display_size(arr.shape[0], arr.shape[1], max_side)
    if (h, w) == arr.shape[:2]:
        return arr
    if arr.ndim == 2:
        im = Image.fromarray(np.ascontiguousarray(arr), mode="F")
        return np.asarray(im.resize((w, h), Image.Resampling.BOX), dtype=np.float32).clip(0, 1)
    planes = np.ascontiguousarray(np.moveaxis(arr, -1, 0))  # (C, H, W): one pass, not C
    return np.stack([shrink_for_display(plane, max_side) for plane in planes], -1)


def display_steps(
    steps: list[tuple[str, np.ndarray]], max_side: int = DISPLAY_SIDE
) -> list[DisplayCopy]:
    """Display copies of :attr:`PreparedImage.steps`, each titled with its real size."""
    out = []
    for title, img in steps:
        arr = np.asarray(img)
        size = (int(arr.shape[0]), int(arr.shape[1]))
        out.append(
            DisplayCopy(
                str(display_title(title, size, max_side)), shrink_for_display(arr, max_side), size
            )
        )
    return out


@dataclass
class PreparedImage:
    """A model-ready image and the steps that produced it.

    Attributes
    ----------
    array : np.ndarray
        ``float32`` ``(H, W, C)`` in [0, 1], the model's input without the batch axis.
    steps : list of (str, np.ndarray)
        Each intermediate image (``float`` in [0, 1], ``(h, w)`` or ``(h, w, 3)``) with a
        short title, in order, for display.
    warning : str or None
        A sentence for the learner when the image is usable but odd (e.g. no content).
    """

    array: np.ndarray
    steps: list[tuple[str, np.ndarray]] = field(default_factory=list)
    warning: str | None = None

    def for_display(self, max_side: int = DISPLAY_SIDE) -> PreparedImage:
        """The same model input and warning, with :func:`display_steps` as its steps.

        What a page keeps and draws: a few MB instead of the full-resolution steps (a
        12-megapixel photo's are ~250 MB), and ``steps`` are :class:`DisplayCopy` tuples.
        """
        return replace(self, steps=display_steps(self.steps, max_side))


def _describe_non_image(head: bytes) -> str:
    """Name what the bytes look like when Pillow cannot identify them."""
    low = head.lstrip().lower()
    for magic, name in _SIGNATURES:
        if low.startswith(magic.lower()):
            return name
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "unrecognised binary data"
    return "text"


def decode_data_url(url: str) -> bytes:
    """Decode a ``data:image/png;base64,...`` URL (what a browser canvas returns).

    Parameters
    ----------
    url : str
        The data URL.

    Returns
    -------
    bytes
        The encoded image file.
    """
    if not isinstance(url, str) or not url.startswith("data:") or "," not in url:
        raise ImageError(f"Expected a data:image/...;base64 URL, got {str(url)[:30]!r}.")
    header, payload = url.split(",", 1)
    if ";base64" not in header:
        raise ImageError(f"Expected a base64 data URL, got header {header[:30]!r}.")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageError("The drawing's data URL is not valid base64.") from exc


def open_image(data: bytes | bytearray | memoryview | io.IOBase | Image.Image) -> Image.Image:
    """Open and fully decode an image file safely, first frame only, EXIF orientation applied.

    Parameters
    ----------
    data : bytes or file-like or PIL.Image.Image
        The uploaded file's bytes, an open binary file, or an already opened image.

    Returns
    -------
    PIL.Image.Image
        The decoded image (any mode), upright.

    Raises
    ------
    ImageError
        Empty, not an image, truncated, or more than :data:`MAX_PIXELS` pixels.
    """
    if isinstance(data, Image.Image):
        im = data
    else:
        raw = bytes(data.read()) if hasattr(data, "read") else bytes(data)
        if not raw:
            raise ImageError("The file is empty (0 bytes).")
        if len(raw) > MAX_BYTES:
            raise ImageTooLarge(byte_limit_sentence(len(raw)))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked below
                im = Image.open(io.BytesIO(raw))  # reads the header only: no pixels yet
        except Image.DecompressionBombError as exc:  # over twice Pillow's own limit
            raise ImageTooLarge(
                "The image claims more pixels than Pillow's safety limit, so it is refused "
                "before decoding (it could be a decompression bomb)."
            ) from exc
        except UnidentifiedImageError as exc:
            kind = _describe_non_image(raw[:64])
            raise ImageError(f"This file is {kind}, not a {FORMATS} image.") from exc
        except (OSError, ValueError, SyntaxError) as exc:
            raise ImageError(f"This file could not be read as an image ({exc}).") from exc
    width, height = im.size
    if width * height > MAX_PIXELS:
        raise ImageTooLarge(pixel_limit_sentence(width, height))
    if width == 0 or height == 0:
        raise ImageError(f"The image has no pixels ({width}×{height}).")
    try:
        if getattr(im, "n_frames", 1) > 1:
            im.seek(0)  # animated GIF/WebP/TIFF: the first frame
        im.load()
        im = ImageOps.exif_transpose(im) or im
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageError(f"The image file is damaged or truncated ({exc}).") from exc
    return im


def header_size(data: bytes) -> tuple[int, int]:
    """An image file's upright ``(height, width)`` from its header, without decoding pixels.

    EXIF orientations that turn the picture a quarter turn (5–8) swap the two, as
    :func:`open_image` does when it decodes. Raises :class:`ImageError` as it does for a
    file that is not an image or is over the limits.
    """
    raw = bytes(data)
    if not raw:
        raise ImageError("The file is empty (0 bytes).")
    if len(raw) > MAX_BYTES:
        raise ImageTooLarge(byte_limit_sentence(len(raw)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as im:
                width, height = im.size
                turned = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge("The image claims more pixels than Pillow's safety limit.") from exc
    except UnidentifiedImageError as exc:
        raise ImageError(
            f"This file is {_describe_non_image(raw[:64])}, not a {FORMATS} image."
        ) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"This file could not be read as an image ({exc}).") from exc
    if width * height > MAX_PIXELS:
        raise ImageTooLarge(pixel_limit_sentence(width, height))
    return (width, height) if turned else (height, width)


def to_float(im: Image.Image) -> np.ndarray:
    """Pixels as ``float32`` in [0, 1]: ``(h, w, 3)`` RGB, transparency composited over white.

    Handles palette, grayscale, CMYK, 16-bit and 32-bit float images.
    """
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(im, dtype=np.float64)  # (h, w), one channel of 16/32-bit values
        if mode == "F":
            top = max(float(arr.max()), 1.0)
        else:
            top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        grey = np.clip(arr / top, 0, 1)
        return np.repeat(grey[..., None], 3, axis=-1).astype(np.float32)
    if mode == "P" or "A" in mode or "transparency" in im.info:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255  # (h, w, 4)
        alpha = rgba[..., 3:]
        return rgba[..., :3] * alpha + (1 - alpha)  # over a white page
    return np.asarray(im.convert("RGB"), dtype=np.float32) / 255


def _resize(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float image in [0, 1] to ``(height, width)`` with antialiasing."""
    height, width = size
    if arr.ndim == 2:
        im = Image.fromarray(arr.astype(np.float32), mode="F")
        return np.asarray(im.resize((width, height), Image.Resampling.LANCZOS)).clip(0, 1)
    chans = [_resize(arr[..., c], size) for c in range(arr.shape[-1])]  # 3 channels at most
    return np.stack(chans, axis=-1)


def centre_of_mass(arr: np.ndarray) -> tuple[float, float]:
    """Intensity-weighted ``(row, col)`` centre of a 2-D array (its middle if all zero)."""
    total = float(arr.sum())
    if total <= 0:
        return ((arr.shape[0] - 1) / 2, (arr.shape[1] - 1) / 2)
    rows, cols = np.indices(arr.shape)
    return float((rows * arr).sum() / total), float((cols * arr).sum() / total)


def _ring_pixels(h: int, w: int, ring: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the pixels within ``ring`` of an ``h``×``w`` image's edge.

    In row-major order, the order of ``grey[mask]`` for the ring's boolean mask, built
    without a full-size mask (a 36-megapixel scan has a 4-megapixel ring).
    """
    if 2 * ring >= h or 2 * ring >= w:  # the ring covers everything
        rows, cols = np.indices((h, w))
        return rows.ravel(), cols.ravel()
    inner = np.r_[0:ring, w - ring : w]  # the columns of the ring on a middle row
    parts_r = [np.repeat(np.arange(ring), w)]
    parts_c = [np.tile(np.arange(w), ring)]
    middle = np.arange(ring, h - ring)
    parts_r.append(np.repeat(middle, len(inner)))
    parts_c.append(np.tile(inner, len(middle)))
    parts_r.append(np.repeat(np.arange(h - ring, h), w))
    parts_c.append(np.tile(np.arange(w), ring))
    return np.concatenate(parts_r), np.concatenate(parts_c)


def _plane_fit(design: np.ndarray, values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Least-squares ``coef`` of ``design[keep] @ coef ≈ values[keep]`` (3 columns).

    Small fits go through ``np.linalg.lstsq``; a large photo's border (millions of pixels)
    through the 3×3 normal equations, 5× faster. The columns (1, row/h, col/w) lie in
    [0, 1], so the normal equations are well conditioned: the coefficients agree with
    ``lstsq`` to ~1e-15 (tests/test_imaging.py), far below a float32 pixel.
    """
    if len(values) < 200_000:
        return np.linalg.lstsq(design[keep], values[keep], rcond=None)[0]
    a, b = design[keep], values[keep]
    return np.linalg.solve(a.T @ a, a.T @ b)


def paper_background(grey: np.ndarray) -> tuple[np.ndarray, float]:
    """The page's brightness under each pixel and the noise level, from the image's border.

    A photo of paper is rarely evenly lit: one corner is brighter than the other. A plane
    ``a + b·row + c·col`` is fitted to the pixels of a thin border ring (where the page
    shows, not the digit), twice, the second time without the pixels the first fit left
    far out (ink touching the border). The noise level is the spread of what remains
    (1.4826 × the median absolute deviation: the standard deviation for Gaussian noise).

    Parameters
    ----------
    grey : np.ndarray
        ``(h, w)`` float image in [0, 1].

    Returns
    -------
    (np.ndarray, float)
        The ``(h, w)`` background plane and the noise level (0 for a clean image).

    Examples
    --------
    >>> ramp = np.tile(np.linspace(0.6, 0.9, 5), (4, 1))   # lighter to the right
    >>> plane, noise = paper_background(ramp)
    >>> bool(np.allclose(plane, ramp)), round(noise, 6)
    (True, 0.0)
    """
    h, w = grey.shape
    ring = max(1, round(_RING_FRACTION * min(h, w)))
    at_r, at_c = _ring_pixels(h, w, ring)
    design = np.column_stack(
        [np.ones(len(at_r)), at_r.astype(np.float64) / h, at_c.astype(np.float64) / w]
    )
    values = grey[at_r, at_c].astype(np.float64)
    keep = np.ones(len(values), bool)
    noise = 0.0
    for _ in range(2):  # fit, drop the outliers (ink on the border), fit again
        coef = _plane_fit(design, values, keep)
        residual = values - design @ coef
        noise = 1.4826 * float(np.median(np.abs(residual[keep] - np.median(residual[keep]))))
        keep = np.abs(residual) <= max(3 * noise, _OUTLIER_FLOOR)
    # The same arithmetic as on full (h, w) float64 index grids, broadcast from a column and
    # a row, a band of rows at a time (bit for bit the same plane, without float64 copies of
    # a 36-megapixel image).
    rows = coef[1] * np.arange(h, dtype=np.float64)[:, None] / h
    cols = coef[2] * np.arange(w, dtype=np.float64)[None, :] / w
    plane = np.empty((h, w), np.float32)
    for top in range(0, h, 256):
        plane[top : top + 256] = coef[0] + rows[top : top + 256] + cols
    return plane, noise


def _strokes(ink: np.ndarray) -> np.ndarray:
    """The pixels of the strokes: above :data:`_INK_LEVEL`, in blobs big enough to be ink.

    Specks of sensor noise or dust (blobs under :data:`_SPECK_FRACTION` of the largest
    blob, or a single pixel) would otherwise stretch the crop box to the image's edges.
    """
    from scipy import ndimage

    mask = ink > _INK_LEVEL
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return mask
    # Label inside the mask's bounding box only: no blob reaches outside it, so the blobs
    # are the same ones, from far fewer pixels on a large photo.
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    labels, n = ndimage.label(mask[box])
    if n <= 1:
        return mask
    sizes = np.bincount(labels.ravel())[1:]  # (n,) pixels per blob
    big = sizes >= max(2, _SPECK_FRACTION * sizes.max())
    out = np.zeros_like(mask)
    out[box] = big[labels - 1] & mask[box]
    return out


def stroke_width(ink: np.ndarray) -> float:
    """The typical width of the strokes in an ink map, in pixels: 2 × area / outline.

    A stroke of width ``w`` and length ``L`` has area ``w·L`` and an outline of about
    ``2·L`` pixels, so ``2 × area / outline`` is ``w`` (ink is where ``ink > 0.5``).

    Examples
    --------
    >>> bar = np.zeros((40, 40)); bar[5:35, 10:14] = 1   # a 4-pixel-wide bar
    >>> round(stroke_width(bar), 1)   # the bar's ends count as outline too
    3.8
    """
    from scipy import ndimage

    mask = ink > 0.5
    outline = int((mask & ~ndimage.binary_erosion(mask)).sum())
    return 2 * float(mask.sum()) / outline if outline else 0.0


def _thin(crop: np.ndarray, scale: float, steps: list) -> np.ndarray:
    """Erode strokes drawn with a much thicker pen than MNIST's, at the crop's resolution.

    ``scale`` maps the crop to the 20-px box. Strokes wider than :data:`_PEN_MAX` px
    there are eroded towards :data:`_PEN` px (a marker photo shrunk to 20 px would
    otherwise be a blob); never by so much that most of the ink disappears.
    """
    from scipy import ndimage

    width = stroke_width(crop)
    radius = (width - _PEN / scale) / 2  # in crop pixels
    if width * scale <= _PEN_MAX or radius < 0.5:
        return crop
    r = int(np.ceil(radius))
    rows, cols = np.mgrid[-r : r + 1, -r : r + 1]
    disk = rows**2 + cols**2 <= radius**2 + 0.25
    thin = ndimage.grey_erosion(crop, footprint=disk, mode="constant", cval=0.0)  # 0 outside
    after = stroke_width(thin) * scale
    if (thin > 0.5).sum() < 0.3 * (crop > 0.5).sum() or after >= width * scale:
        return crop  # the strokes would vanish, or nothing got thinner
    steps.append((f"Thinner pen ({width * scale:.1f} → {after:.1f} px at 20 px)", thin))
    return thin


_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601
# The luma of each of the 256 grey levels of an 8-bit grey image, computed exactly as for a
# 3-channel image (the same float32 matrix product), so a grey scan can skip the 3-channel
# float copy (432 MB for 6000×6000) and get bit for bit the same grey image.
_GREY_LEVELS = np.repeat((np.arange(256, dtype=np.float32) / 255)[:, None], 3, axis=1) @ _LUMA


def _mnist_style(rgb: np.ndarray, size: tuple[int, int], steps: list) -> tuple[np.ndarray, str]:
    """The MNIST recipe on an ``(h, w, 3)`` float image, or its ``(h, w)`` luma already;
    returns ``(H, W)`` and a warning."""
    grey = rgb if rgb.ndim == 2 else rgb @ _LUMA
    steps.append(("Grayscale", grey))
    one_colour = bool(np.ptp(rgb) == 0)
    tiny = size_sentence(grey.shape[1], grey.shape[0])
    if tiny is not None and not one_colour:  # too few pixels to hold a digit
        blank = np.zeros(size, np.float32)
        steps.append((f"Blank: too small to read ({size[1]}×{size[0]})", blank))
        return blank, tiny
    background, noise = paper_background(grey)
    if float(background.mean()) > 0.5:  # light paper: MNIST strokes are white on black
        grey = 1 - grey
        background = 1 - background
        steps.append(("Inverted (white on black)", grey))
    # Subtract the page (even lighting) and its noise floor, then stretch so the
    # background is 0 and the strokes reach 1 (photos are never pure black and white).
    lifted = grey - background - 3 * noise
    span = float(lifted.max())
    if span < _FLAT:
        blank = np.zeros(size, np.float32)
        steps.append((f"Blank: nothing to read ({size[1]}×{size[0]})", blank))
        return blank, NO_CONTENT if one_colour else NO_STROKES  # "all one colour": exactly
    strokes = _strokes(lifted / span)
    if not strokes.any():  # only isolated specks stand out: noise, not strokes
        blank = np.zeros(size, np.float32)
        steps.append((f"Blank: nothing to read ({size[1]}×{size[0]})", blank))
        return blank, NO_STROKES
    span = float(np.percentile(lifted[strokes], 90))  # the strokes' own brightness, not a speck's
    rows = np.flatnonzero(strokes.any(axis=1))
    cols = np.flatnonzero(strokes.any(axis=0))
    crop = np.clip(lifted[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] / span, 0, 1)
    steps.append((f"Cropped ({crop.shape[1]}×{crop.shape[0]})", crop))
    box = max(1, round(_BOX_FRACTION * min(size)))
    scale = box / max(crop.shape)
    crop = _thin(crop, scale * 20 / box, steps)  # pen widths are measured at a 20-px box
    inner = (max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale)))
    small = _resize(crop, inner)
    steps.append((f"Scaled to {box} px ({inner[1]}×{inner[0]})", small))
    # Place it so its centre of mass lands on the frame's centre, clipped to stay inside.
    com_r, com_c = centre_of_mass(small)
    top = int(np.clip(round(size[0] / 2 - 0.5 - com_r), 0, size[0] - inner[0]))
    left = int(np.clip(round(size[1] / 2 - 0.5 - com_c), 0, size[1] - inner[1]))
    frame = np.zeros(size, np.float32)
    frame[top : top + inner[0], left : left + inner[1]] = small
    steps.append((f"Centred ({size[1]}×{size[0]})", frame))
    return frame, None


def _fashion_style(
    rgb: np.ndarray, size: tuple[int, int], steps: list
) -> tuple[np.ndarray, str | None]:
    """Fashion-MNIST's recipe on an ``(h, w, 3)`` float image; ``(H, W, 3)`` and a warning.

    Xiao et al. (2017), *Fashion-MNIST*, section 2, on each product photo: (2) trim the
    edges close to the background's colour, (3) resize so the longest edge is the frame's
    (28 px), (5) extend the shorter edge to the frame, the product in the centre, (6)
    negate, (7) convert to grayscale (done by :func:`prepare_image` for a one-channel
    model). Their step 4, a sharpening of the shrunk photo, is left out: it sharpens the
    outlines of a photo shrunk from ~1000 px, and applied to a 28-px image again it would
    change what a Fashion-MNIST image is.

    The background is the median colour of the image's one-pixel border; a pixel is part
    of the product when its RGB distance from it is more than :data:`_TRIM_DISTANCE` of
    the largest possible distance. The centring is geometric (not by centre of mass, as
    MNIST's): with an odd number of spare pixels the extra one goes above / to the left,
    as in the data set (measured on the bundled samples, tests/test_imaging.py). The
    negation is measured from the background, so it becomes exactly black: ``1 - x`` on a
    white background; an image that is already light on dark keeps its polarity.
    """
    h, w = rgb.shape[:2]
    at_r, at_c = _ring_pixels(h, w, 1)
    background = np.median(rgb[at_r, at_c], axis=0).astype(np.float32)  # (3,)
    distance = np.sqrt(((rgb - background) ** 2).sum(axis=-1) / 3)  # 0–1, (h, w)
    product = distance > _TRIM_DISTANCE
    if not product.any():
        blank = np.zeros((*size, 3), np.float32)
        steps.append((f"Blank: nothing to read ({size[1]}×{size[0]})", blank))
        return blank, NO_PRODUCT
    rows = np.flatnonzero(product.any(axis=1))
    cols = np.flatnonzero(product.any(axis=0))
    crop = rgb[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    ch, cw = crop.shape[:2]
    steps.append((f"Trimmed to the product ({cw}×{ch})", crop))
    scale = min(size[0] / ch, size[1] / cw)  # the longest side fills the frame
    inner = (max(1, min(size[0], round(ch * scale))), max(1, min(size[1], round(cw * scale))))
    small = crop if inner == (ch, cw) else _resize(crop, inner)
    steps.append((f"Longest side {max(inner)} px ({inner[1]}×{inner[0]})", small))
    top, left = -(-(size[0] - inner[0]) // 2), -(-(size[1] - inner[1]) // 2)  # extra: top/left
    frame = np.empty((*size, 3), np.float32)
    frame[...] = background
    frame[top : top + inner[0], left : left + inner[1]] = small
    steps.append((f"Centred ({size[1]}×{size[0]})", frame))
    if float(background.mean()) > 0.5:  # a product photo: dark on a light background
        out = np.clip((background - frame) / np.maximum(background, _FLAT), 0, 1)
        steps.append(("Negated (light on black)", out))
    else:
        out = np.clip((frame - background) / np.maximum(1 - background, _FLAT), 0, 1)
        steps.append(("Background to black (already light on dark)", out))
    return out.astype(np.float32), None


def _rgb_style(rgb: np.ndarray, size: tuple[int, int], steps: list) -> np.ndarray:
    """Centre-crop ``(h, w, 3)`` to the target aspect ratio and resize to ``size``."""
    h, w = rgb.shape[:2]
    aspect = size[1] / size[0]
    crop_h, crop_w = (h, round(h * aspect)) if w / h > aspect else (round(w / aspect), w)
    top, left = (h - crop_h) // 2, (w - crop_w) // 2
    crop = rgb[top : top + crop_h, left : left + crop_w]
    steps.append((f"Centre-cropped ({crop_w}×{crop_h})", crop))
    out = _resize(crop, size)
    steps.append((f"Resized to {size[1]}×{size[0]}", out))
    return out


def prepare_image(
    data: bytes | io.IOBase | Image.Image | np.ndarray,
    target_shape: tuple[int, int, int] = (28, 28, 1),
    style: str = "mnist",
) -> PreparedImage:
    """Make a model-ready ``float32`` image in [0, 1] and keep each step for display.

    Parameters
    ----------
    data : bytes, file-like, PIL.Image.Image or np.ndarray
        An encoded image file, an opened image, or pixels: ``(h, w)``, ``(h, w, 3)`` or
        ``(h, w, 4)``, ``uint8`` (0–255) or float (0–1).
    target_shape : tuple of int
        The model's ``(H, W, C)`` input shape, ``C`` 1 (grayscale) or 3 (RGB).
    style : {"mnist", "rgb", "fashion"}
        ``"mnist"``: invert/crop/20 px/centre of mass; ``"rgb"``: centre-crop and resize;
        ``"fashion"``: Fashion-MNIST's trim/longest side/centre/negate.

    Returns
    -------
    PreparedImage
        ``array`` of shape ``target_shape``, the ``steps`` and an optional ``warning``.

    Raises
    ------
    ImageError
        Broken or hostile input, or an unsupported ``target_shape`` / ``style``.
    """
    if style not in STYLES:
        raise ImageError(f"style must be one of {STYLES}, got {style!r}.")
    if len(target_shape) != 3 or target_shape[2] not in (1, 3) or min(target_shape[:2]) < 4:
        raise ImageError(f"target_shape must be (H, W, 1) or (H, W, 3), got {target_shape}.")
    if isinstance(data, np.ndarray):
        rgb = array_to_rgb(data)
    else:
        im = open_image(data)
        if style == "mnist" and im.mode == "L":  # a grey scan: its luma, by lookup
            rgb = _GREY_LEVELS[np.asarray(im)]  # (h, w), what rgb @ _LUMA would give
        else:
            rgb = to_float(im)
    size = (int(target_shape[0]), int(target_shape[1]))
    steps: list[tuple[str, np.ndarray]] = [(f"Original ({rgb.shape[1]}×{rgb.shape[0]})", rgb)]
    warning = None
    if style == "mnist":
        out, warning = _mnist_style(rgb, size, steps)
        out = out[..., None]  # (H, W, 1)
    elif style == "fashion":
        out, warning = _fashion_style(rgb, size, steps)  # (H, W, 3)
    else:
        out = _rgb_style(rgb, size, steps)
        if float(out.max() - out.min()) < _FLAT:
            warning = "The image has no content (it is all one colour)."
    channels = target_shape[2]
    if out.shape[-1] != channels:
        if channels == 3:
            out = np.repeat(out, 3, axis=-1)
        else:  # the model reads one channel: show the learner that gray image last
            out = (out @ _LUMA)[..., None]
            steps.append((f"Grayscale, as the model gets it ({size[1]}×{size[0]})", out[..., 0]))
    return PreparedImage(np.ascontiguousarray(out, dtype=np.float32), steps, warning)


def array_to_rgb(arr: np.ndarray) -> np.ndarray:
    """Pixels ``(h, w)``, ``(h, w, 1|3|4)`` in 0–255 or 0–1 as ``float32`` ``(h, w, 3)``."""
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise ImageError(f"Expected pixels (h, w) or (h, w, 3|4), got shape {arr.shape}.")
    if arr.size == 0:
        raise ImageError(f"The image has no pixels (shape {arr.shape}).")
    if arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise ImageTooLarge(pixel_limit_sentence(arr.shape[1], arr.shape[0]))
    if not np.issubdtype(arr.dtype, np.number) or not np.isfinite(arr).all():
        raise ImageError("The pixel array contains non-numeric or non-finite values.")
    scaled = arr.astype(np.float32)
    if arr.dtype == np.uint8 or scaled.max() > 1:
        scaled = scaled / 255
    scaled = np.clip(scaled, 0, 1)
    if scaled.ndim == 2:
        return np.repeat(scaled[..., None], 3, axis=-1)
    if scaled.shape[-1] == 4:
        alpha = scaled[..., 3:]
        return scaled[..., :3] * alpha + (1 - alpha)
    return scaled


SAMPLES = ASSETS / "samples"
# The bundled samples, three test images of each class stored as a camera would see them
# (dark on white): set -> (file prefix, what one image is). "digits": the MNIST sample's;
# "clothes": Fashion-MNIST's first three test images of each class (scripts/build_assets.py).
SAMPLE_SETS = {"digits": ("digit", "digit"), "clothes": ("fashion", "Fashion-MNIST image")}
SAMPLES_PER_CLASS = 3


def load_sample(index: int, k: int = 0, kind: str = "digits") -> bytes:
    """The bytes of a bundled sample: class ``index``, number ``k`` (0–2), of set ``kind``.

    ``load_sample(3)`` is the first bundled 3 (``assets/samples/digit_3_0.png``);
    ``load_sample(7, 1, "clothes")`` the second Sneaker (``fashion_7_1.png``).
    """
    if kind not in SAMPLE_SETS:
        raise ImageError(f"kind must be one of {tuple(SAMPLE_SETS)}, got {kind!r}.")
    prefix, what = SAMPLE_SETS[kind]
    path = SAMPLES / f"{prefix}_{index}_{k}.png"
    if not path.exists():
        raise ImageError(f"There is no bundled sample for {what} {index!r}, number {k!r}.")
    return path.read_bytes()


@functools.lru_cache(maxsize=1)
def _sample_digests() -> dict[str, tuple[str, int, int]]:
    """sha256 of every bundled sample file -> ``(set, class index, k)``."""
    found = {}
    for kind, (prefix, _) in SAMPLE_SETS.items():
        for path in SAMPLES.glob(f"{prefix}_*_*.png"):
            _, index, k = path.stem.rsplit("_", 2)
            found[hashlib.sha256(path.read_bytes()).hexdigest()] = (kind, int(index), int(k))
    return found


def which_sample(raw: bytes) -> tuple[str, int, int] | None:
    """``(set, class index, k)`` when ``raw`` is a bundled sample's file, byte for byte.

    So a page knows that the current image is a bundled Fashion-MNIST sneaker however it
    got there (the picker, a reload, an upload of the same file), and can say when a digit
    model looks at it.

    Examples
    --------
    >>> which_sample(load_sample(7, 1, "clothes")), which_sample(b"not a sample")
    (('clothes', 7, 1), None)
    """
    if len(raw) > _largest_sample():  # a photo: not worth hashing on every page run
        return None
    return _sample_digests().get(hashlib.sha256(bytes(raw)).hexdigest())


@functools.lru_cache(maxsize=1)
def _largest_sample() -> int:
    """The size in bytes of the largest bundled sample file."""
    return max((p.stat().st_size for p in SAMPLES.glob("*.png")), default=0)


HANDWRITING = ASSETS / "handwriting" / "optdigits_photos.npz"
# The other 797 digits of the same source, photographed the same way: tune on these.
HANDWRITING_VALIDATION = ASSETS / "handwriting" / "optdigits_validation.npz"


def load_handwriting(path: str | Path = HANDWRITING) -> tuple[list[bytes], np.ndarray]:
    """The bundled photos of real handwriting (not MNIST) and their labels.

    1,000 JPEG photos of digits written by 13 people outside MNIST (UCI optdigits via
    scikit-learn), on unevenly lit paper at random sizes and places; built by
    ``scripts/build_handwriting.py`` (see ``assets/README.md``). Pass
    :data:`HANDWRITING_VALIDATION` for the 797 other digits, the set to tune on.

    Returns
    -------
    (list of bytes, np.ndarray)
        The encoded photos and their ``uint8`` labels 0–9.
    """
    with np.load(path) as z:
        raw, offsets, labels = z["jpeg"].tobytes(), z["offsets"], z["labels"]
    photos = [raw[a:b] for a, b in itertools.pairwise(offsets)]
    return photos, labels.copy()


def naive_input(data: bytes, target_shape: tuple[int, int, int] = (28, 28, 1)) -> np.ndarray:
    """The image squashed to the model's size as it is: no inversion, crop or centring.

    What a learner gets by resizing a photo and feeding it to the model; the baseline
    that :func:`prepare_image` is measured against.
    """
    rgb = to_float(open_image(data))
    out = _resize(rgb, (int(target_shape[0]), int(target_shape[1])))
    if target_shape[2] == 1:
        out = (out @ _LUMA)[..., None]
    return np.ascontiguousarray(out, dtype=np.float32)
