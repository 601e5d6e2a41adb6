"""Property tests of every sentence cnnviz.imaging writes from numbers (cnnviz.claims).

Each test generates inputs over the whole domain with Hypothesis and checks every fact the
sentence states against the input numbers: the sizes it names, the limits it compares
with, and what the model then gets.
"""

from __future__ import annotations

import io

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from cnnviz import imaging
from cnnviz.claims import proves

MIN_SIDE = getattr(imaging, "MIN_SIDE", 8)


def _issue_3x3() -> np.ndarray:
    """The issue's case: a 3×3 image with a clear stroke (a black column on white)."""
    img = np.full((3, 3), 255, np.uint8)
    img[:, 1] = 0
    return img


@st.composite
def tiny_images(draw) -> np.ndarray:
    """Images smaller than MIN_SIDE on their longer side: strokes, specks, noise, colour."""
    h = draw(st.integers(1, MIN_SIDE - 1))
    w = draw(st.integers(1, MIN_SIDE - 1))
    paper = draw(st.integers(0, 255))
    kind = draw(st.sampled_from(["stroke", "random", "speck"]))
    img = np.full((h, w), paper, np.uint8)
    if kind == "random":
        img = draw(st.lists(st.integers(0, 255), min_size=h * w, max_size=h * w))
        img = np.array(img, np.uint8).reshape(h, w)
    else:
        ink = draw(st.integers(0, 255))
        r, c = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
        if kind == "stroke":
            img[:, c] = ink if draw(st.booleans()) else img[:, c]
            img[r, :] = ink if draw(st.booleans()) else img[r, :]
        img[r, c] = ink
    if draw(st.booleans()):  # a colour photo of it
        tint = np.array(draw(st.tuples(*[st.floats(0.5, 1.0)] * 3)))
        img = np.clip(img[..., None] * tint, 0, 255).astype(np.uint8)
    return img


@proves("cnnviz.imaging.size_sentence")
@given(img=tiny_images(), encoded=st.booleans())
@example(img=_issue_3x3(), encoded=True)  # the issue: "only noise or specks" for a 3×3 stroke
@example(img=_issue_3x3(), encoded=False)
def test_a_tiny_image_is_told_its_size_not_noise(img, encoded):
    h, w = img.shape[:2]
    data = img
    if encoded:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")
        data = buf.getvalue()
    prep = imaging.prepare_image(data)
    if int(img.max()) == int(img.min()):  # one colour: that is the true sentence
        assert prep.warning == imaging.NO_CONTENT and not prep.array.any()
        return
    warning = prep.warning
    facts = getattr(warning, "facts", {})
    assert "noise" not in warning and "speck" not in warning, warning
    assert (facts.get("width"), facts.get("height")) == (w, h), warning
    assert facts["longer_side"] == max(h, w) < facts["min_side"] == MIN_SIDE
    assert f"only {w}×{h} pixels" in warning and f"at least {MIN_SIDE} pixels" in warning
    assert facts["blank"] and not prep.array.any()  # "the model sees a blank image"
    assert prep.array.shape == (28, 28, 1)


@proves("cnnviz.imaging.size_sentence")
@given(width=st.integers(1, 100_000), height=st.integers(1, 100_000), min_side=st.integers(1, 64))
@example(width=3, height=3, min_side=8)
@example(width=8, height=1, min_side=8)  # a long thin image of a "1" is big enough
def test_size_sentence_only_below_the_minimum(width, height, min_side):
    s = imaging.size_sentence(width, height, min_side)
    if max(width, height) >= min_side:
        assert s is None
        return
    assert s.facts["width"] == width and s.facts["height"] == height
    assert s.facts["longer_side"] == max(width, height) < s.facts["min_side"] == min_side
    assert f"only {width}×{height} pixels" in s and f"at least {min_side} pixels" in s
    assert s.facts["blank"] and "blank image" in s


@proves("cnnviz.imaging.pixel_limit_sentence")
@given(
    width=st.integers(1, 200_000),
    height=st.integers(1, 200_000),
    limit=st.one_of(st.just(50_000_000), st.integers(1, 10**10)),
)
@example(width=7072, height=7071, limit=50_000_000)  # 50,006,112 pixels: just over
@example(width=12_000, height=9_000, limit=50_000_000)  # a 108-megapixel camera
@example(width=3_524, height=3_524, limit=12_399_999)  # 12.4 megapixels, limit not whole
def test_pixel_limit_sentence_states_the_real_count_and_limit(width, height, limit):
    s = imaging.pixel_limit_sentence(width, height, limit)
    pixels = width * height
    assert s.facts["pixels"] == pixels and s.facts["limit"] == limit
    assert s.facts["over"] == (pixels > limit)
    mp = s.facts["megapixels"]
    assert pixels / 1e6 <= mp < pixels / 1e6 + 0.1 + 1e-9  # rounded up, one decimal
    assert f"{width}×{height} pixels ({mp:.1f} megapixels)" in s
    if limit % 1_000_000 == 0:
        assert f"limit of {limit // 1_000_000} megapixels" in s
        if s.facts["over"]:  # the stated count is above the stated limit, never equal
            assert mp > limit // 1_000_000
    else:
        assert f"limit of {limit:,} pixels" in s


@proves("cnnviz.imaging.byte_limit_sentence")
@given(n_bytes=st.integers(0, 10**11), limit=st.one_of(st.just(50 * 2**20), st.integers(1, 10**10)))
@example(
    n_bytes=50 * 2**20 + 1, limit=50 * 2**20
)  # old text: "The file is 50 MB; the limit is 50 MB"
@example(n_bytes=int(50.4 * 2**20), limit=50 * 2**20)
def test_byte_limit_sentence_states_the_real_size_and_limit(n_bytes, limit):
    s = imaging.byte_limit_sentence(n_bytes, limit)
    assert s.facts["n_bytes"] == n_bytes and s.facts["limit"] == limit
    assert s.facts["over"] == (n_bytes > limit)
    mb = s.facts["megabytes"]
    assert n_bytes / 2**20 <= mb < n_bytes / 2**20 + 0.1 + 1e-9
    assert f"The file is {mb:.1f} MB" in s
    if limit % 2**20 == 0:
        assert f"upload limit of {limit // 2**20} MB" in s
        if s.facts["over"]:
            assert mb > limit // 2**20
    else:
        assert f"upload limit of {limit:,} bytes" in s


@proves("cnnviz.imaging.byte_limit_sentence")
@settings(max_examples=12)  # each example is a 50 MB file
@given(extra=st.integers(1, 3 * 2**20))
@example(extra=1)
@example(extra=int(0.4 * 2**20))  # 50.4 MB: the old text said "50 MB; the limit is 50 MB"
def test_a_file_over_the_upload_limit_is_refused_saying_by_how_much(extra):
    n = imaging.MAX_BYTES + extra
    try:
        imaging.open_image(b"\x89PNG" + bytes(n - 4))
    except imaging.ImageError as exc:
        message, kind = str(exc), type(exc).__name__
    else:
        raise AssertionError("a file over the limit was opened")
    stated = float(message.split("The file is ")[1].split(" MB")[0])
    assert stated > imaging.MAX_BYTES / 2**20 and stated >= n / 2**20, message
    assert kind == "ImageTooLarge"


TITLES = st.one_of(
    st.sampled_from(["Grayscale", "Inverted (white on black)", "Thinner pen (5.2 → 2.9 px)"]),
    st.text(st.characters(codec="utf-8", exclude_characters="()"), min_size=1, max_size=12),
)


@proves("cnnviz.imaging.display_title")
@given(
    height=st.integers(1, 30_000),
    width=st.integers(1, 30_000),
    max_side=st.one_of(st.just(getattr(imaging, "DISPLAY_SIDE", 1000)), st.integers(1, 4_000)),
    title=TITLES,
    names_size=st.booleans(),
)
@example(height=3024, width=4032, max_side=1000, title="Original", names_size=True)
@example(height=6000, width=6000, max_side=1000, title="Grayscale", names_size=False)
@example(height=1661, width=1410, max_side=1000, title="Cropped", names_size=True)
@example(height=1, width=30_000, max_side=1000, title="Inverted (white on black)", names_size=False)
def test_display_title_says_the_real_size_and_the_size_drawn(
    height, width, max_side, title, names_size
):
    if names_size:
        title = f"{title} ({width}×{height})"
    s = imaging.display_title(title, (height, width), max_side)
    h, w = s.facts["shown"]
    assert s.facts["size"] == (height, width)
    assert h >= 1 and w >= 1
    assert s.facts["shrunk"] == (max(height, width) > max_side)
    assert (h, w) == imaging.display_size(height, width, max_side)
    if s.facts["shrunk"]:
        scale = max_side / max(height, width)
        for shown, real in ((h, height), (w, width)):  # the aspect ratio is kept
            assert shown == 1 or abs(shown - real * scale) <= 0.5 + 1e-9
        assert max(h, w) == max_side
        assert f"{width}×{height}, shown at {w}×{h}" in s
    else:
        assert (h, w) == (height, width)
        assert f"{width}×{height})" in s and "shown at" not in s
    assert s.count(f"{width}×{height}") == 1  # the size is named once
    assert s.startswith(title.split(" (")[0])  # the step keeps its own words


@given(
    height=st.integers(1, 60),
    width=st.integers(1, 60),
    max_side=st.integers(1, 40),
    channels=st.sampled_from([0, 3]),
)
def test_display_copies_have_the_titled_size_and_are_block_means(height, width, max_side, channels):
    """The arrays drawn match their titles (not a claim test: the copies themselves)."""
    rng = np.random.default_rng(height * 100 + width)
    img = rng.random((height, width, channels) if channels else (height, width), np.float32)
    (copy,) = imaging.display_steps([("Step", img)], max_side)
    assert copy.size == (height, width)
    assert (
        copy.image.shape[:2]
        == imaging.display_title("Step", (height, width), max_side).facts["shown"]
    )
    assert copy.image.dtype == np.float32 and 0 <= copy.image.min() <= copy.image.max() <= 1
    # a box filter keeps the mean (up to the edge weights of a non-integer scale)
    assert abs(float(copy.image.mean()) - float(img.mean())) < 0.05


def _upload(height: int, width: int, turned: bool) -> bytes:
    """A PNG of ``height``×``width``, or a JPEG stored sideways with EXIF orientation 6."""
    img = np.linspace(0, 255, height * width).reshape(height, width).astype(np.uint8)
    buf = io.BytesIO()
    if turned:  # stored as width×height; EXIF says "turn a quarter" to show it upright
        exif = Image.Exif()
        exif[0x0112] = 6
        Image.fromarray(np.ascontiguousarray(np.rot90(img))).save(buf, "JPEG", exif=exif)
    else:
        Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


@proves("cnnviz.imaging.working_copy_sentence")
@given(height=st.integers(1, 400), width=st.integers(1, 400), turned=st.booleans())
@example(height=3024 // 12, width=4032 // 12, turned=False)
@example(height=200, width=120, turned=True)  # a portrait phone photo stored sideways
def test_working_copy_sentence_names_the_upload_and_the_copy_the_page_uses(height, width, turned):
    from cnnviz import conv

    raw = _upload(height, width, turned)
    copy = conv.read_image(raw)  # what the Convolution and Pooling pages compute on
    s = imaging.working_copy_sentence(imaging.header_size(raw), copy.shape[:2])
    assert s.facts["size"] == (height, width)  # upright, as the learner sees the photo
    assert s.facts["used"] == copy.shape[:2]
    assert s.facts["shrunk"] == (max(height, width) > 160) == (copy.shape[:2] != (height, width))
    assert f"Your image is {width}×{height} pixels" in s
    if s.facts["shrunk"]:
        assert f"shrunk to {copy.shape[1]}×{copy.shape[0]}" in s
    else:
        assert "uses it as it is" in s
