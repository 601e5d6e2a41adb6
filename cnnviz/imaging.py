"""Turn a learner's image (upload, drawing, bundled sample) into what a model expects.

The MNIST style repeats what LeCun, Cortes and Burges did to build MNIST: grayscale, a
white stroke on a black background, the digit cropped to its content, scaled so its longer
side is 20 px (aspect kept), and placed in a 28×28 frame so that its centre of mass is in
the middle. A digit drawn in a corner or photographed on paper then looks like the training
data. The RGB style (for colour models such as CIFAR-10 ones) only centre-crops to the
model's aspect ratio, resizes and scales to [0, 1].

Hostile input (an empty file, text or HTML, SVG, a zip, a truncated file, a tiny file that
claims billions of pixels) raises :class:`ImageError` with one sentence, and a
decompression bomb is refused from its header, before any pixel is decoded.

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
import io
import itertools
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cnnviz.data import ASSETS

# Refuse anything above this many pixels from the header alone (a 40000×40000 "bomb" is
# 1.6 billion pixels; a phone photo is ~12 million).
MAX_PIXELS = 40_000_000
MAX_BYTES = 50 * 1024 * 1024  # the same limit as server.maxUploadSize
STYLES = ("mnist", "rgb")
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
            raise ImageError(f"The file is {len(raw) / 2**20:.0f} MB; the limit is 50 MB.")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked below
                im = Image.open(io.BytesIO(raw))  # reads the header only: no pixels yet
        except Image.DecompressionBombError as exc:
            raise ImageError(
                "The image claims more pixels than Pillow's safety limit; it is refused before "
                "decoding (possible decompression bomb)."
            ) from exc
        except UnidentifiedImageError as exc:
            kind = _describe_non_image(raw[:64])
            raise ImageError(f"This file is {kind}, not a {FORMATS} image.") from exc
        except (OSError, ValueError, SyntaxError) as exc:
            raise ImageError(f"This file could not be read as an image ({exc}).") from exc
    width, height = im.size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"The image claims {width}×{height} pixels, more than the limit of "
            f"{MAX_PIXELS:,}; it is refused before decoding (possible decompression bomb)."
        )
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
    rows, cols = np.indices((h, w), dtype=np.float64)
    border = np.ones((h, w), bool)
    border[ring : h - ring, ring : w - ring] = False
    design = np.column_stack([np.ones(border.sum()), rows[border] / h, cols[border] / w])
    values = grey[border].astype(np.float64)
    keep = np.ones(len(values), bool)
    noise = 0.0
    for _ in range(2):  # fit, drop the outliers (ink on the border), fit again
        coef, *_ = np.linalg.lstsq(design[keep], values[keep], rcond=None)
        residual = values - design @ coef
        noise = 1.4826 * float(np.median(np.abs(residual[keep] - np.median(residual[keep]))))
        keep = np.abs(residual) <= max(3 * noise, _OUTLIER_FLOOR)
    plane = coef[0] + coef[1] * rows / h + coef[2] * cols / w
    return plane.astype(np.float32), noise


def _strokes(ink: np.ndarray) -> np.ndarray:
    """The pixels of the strokes: above :data:`_INK_LEVEL`, in blobs big enough to be ink.

    Specks of sensor noise or dust (blobs under :data:`_SPECK_FRACTION` of the largest
    blob, or a single pixel) would otherwise stretch the crop box to the image's edges.
    """
    from scipy import ndimage

    mask = ink > _INK_LEVEL
    labels, n = ndimage.label(mask)
    if n <= 1:
        return mask
    sizes = np.bincount(labels.ravel())[1:]  # (n,) pixels per blob
    big = sizes >= max(2, _SPECK_FRACTION * sizes.max())
    return big[labels - 1] & mask


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


def _mnist_style(rgb: np.ndarray, size: tuple[int, int], steps: list) -> tuple[np.ndarray, str]:
    """The MNIST recipe on an ``(h, w, 3)`` float image; returns ``(H, W)`` and a warning."""
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 luma
    steps.append(("Grayscale", grey))
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
        return blank, NO_CONTENT if float(np.ptp(grey)) < _FLAT else NO_STROKES
    strokes = _strokes(lifted / span)
    if not strokes.any():  # only isolated specks stand out: noise, not strokes
        blank = np.zeros(size, np.float32)
        steps.append((f"Blank: nothing to read ({size[1]}×{size[0]})", blank))
        return blank, NO_STROKES
    span = float(np.percentile(lifted[strokes], 90))  # the strokes' own brightness, not a speck's
    ink = np.clip(lifted / span, 0, 1)
    rows = np.flatnonzero(strokes.any(axis=1))
    cols = np.flatnonzero(strokes.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
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
    style : {"mnist", "rgb"}
        ``"mnist"``: invert/crop/20 px/centre of mass; ``"rgb"``: centre-crop and resize.

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
        rgb = to_float(open_image(data))
    size = (int(target_shape[0]), int(target_shape[1]))
    steps: list[tuple[str, np.ndarray]] = [(f"Original ({rgb.shape[1]}×{rgb.shape[0]})", rgb)]
    warning = None
    if style == "mnist":
        out, warning = _mnist_style(rgb, size, steps)
        out = out[..., None]  # (H, W, 1)
    else:
        out = _rgb_style(rgb, size, steps)
        if float(out.max() - out.min()) < _FLAT:
            warning = "The image has no content (it is all one colour)."
    channels = target_shape[2]
    if out.shape[-1] != channels:
        if channels == 3:
            out = np.repeat(out, 3, axis=-1)
        else:  # the model reads one channel: show the learner that gray image last
            out = (out @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
            steps.append((f"Grayscale, as the model gets it ({size[1]}×{size[0]})", out[..., 0]))
    return PreparedImage(np.ascontiguousarray(out, dtype=np.float32), steps, warning)


def array_to_rgb(arr: np.ndarray) -> np.ndarray:
    """Pixels ``(h, w)``, ``(h, w, 1|3|4)`` in 0–255 or 0–1 as ``float32`` ``(h, w, 3)``."""
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise ImageError(f"Expected pixels (h, w) or (h, w, 3|4), got shape {arr.shape}.")
    if arr.size == 0 or arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise ImageError(f"The image has an unusable size {arr.shape[:2]}.")
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


def load_sample(digit: int, k: int = 0) -> bytes:
    """The bytes of a bundled sample ``assets/samples/digit_{digit}_{k}.png``."""
    path = ASSETS / "samples" / f"digit_{digit}_{k}.png"
    if not path.exists():
        raise ImageError(f"There is no bundled sample for digit {digit!r}, number {k!r}.")
    return path.read_bytes()


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
        out = (out @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
    return np.ascontiguousarray(out, dtype=np.float32)
