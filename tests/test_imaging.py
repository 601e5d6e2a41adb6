"""cnnviz.imaging: the MNIST recipe with hand-worked arrays, every format, hostile files."""

from __future__ import annotations

import base64
import io
import struct
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from cnnviz import imaging
from cnnviz.imaging import ImageError, prepare_image


def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _page_with_bar(width: int = 6) -> np.ndarray:
    """White 80×100 page, a black bar ``width`` wide × 40 tall in the top-left corner."""
    page = np.full((80, 100), 255, np.uint8)
    page[5:45, 8 : 8 + width] = 0
    return page


def test_off_centre_black_bar_becomes_white_centred_20px():
    out = prepare_image(_page_with_bar()).array[..., 0]
    # Hand-worked: 40×6 bar -> longer side 20 -> 20 rows × 3 cols, centre of mass at
    # (9.5, 1) placed on (13.5, 13.5): rows 4..23, cols 12..14 (13.5 - 1 rounds to 12).
    assert out.shape == (28, 28)
    np.testing.assert_allclose(out[4:24, 12:15], 1.0, atol=0.05)
    outside = np.ones_like(out, bool)
    outside[4:24, 12:15] = False
    assert out[outside].max() < 0.05  # black background: the stroke is now white
    com = imaging.centre_of_mass(out)
    np.testing.assert_allclose(com, (13.5, 13.5), atol=0.6)


def test_steps_are_named_and_end_with_the_model_input():
    prep = prepare_image(_page_with_bar())
    titles = [t for t, _ in prep.steps]
    assert titles[0].startswith("Original (100×80)")
    assert "Inverted (white on black)" in titles
    assert any(t.startswith("Cropped (6×40)") for t in titles)
    assert not any(t.startswith("Thinner pen") for t in titles)  # a 3-px stroke at 20 px
    np.testing.assert_array_equal(prep.steps[-1][1], prep.array[..., 0])
    assert prep.array.dtype == np.float32 and prep.warning is None


def test_white_on_black_input_is_not_inverted():
    page = 255 - _page_with_bar()
    a = prepare_image(page).array
    b = prepare_image(_page_with_bar()).array
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert "Inverted (white on black)" not in [t for t, _ in prepare_image(page).steps]


@pytest.mark.parametrize(
    ("fmt", "mode", "atol"),
    [
        ("PNG", "L", 1e-6),
        ("BMP", "L", 1e-6),
        ("GIF", "L", 1e-6),
        ("TIFF", "L", 1e-6),
        ("WEBP", "RGB", 0.08),
        ("JPEG", "RGB", 0.08),
        ("PNG", "P", 1e-6),
        ("TIFF", "CMYK", 1e-6),
        ("PNG", "RGBA", 1e-6),
    ],
)
def test_every_format_and_mode_gives_the_same_digit(fmt, mode, atol):
    reference = prepare_image(_page_with_bar()).array
    im = Image.fromarray(_page_with_bar()).convert(mode)
    kw = {"lossless": True} if fmt == "WEBP" else {}
    out = prepare_image(_encode(im, fmt, **kw)).array
    np.testing.assert_allclose(out, reference, atol=atol)


def test_sixteen_bit_png_matches_eight_bit():
    page16 = _page_with_bar().astype(np.uint16) * 257  # 0..65535
    raw = _encode(Image.fromarray(page16), "PNG")
    assert Image.open(io.BytesIO(raw)).mode.startswith("I")
    np.testing.assert_allclose(
        prepare_image(raw).array, prepare_image(_page_with_bar()).array, atol=1e-5
    )


def test_transparent_background_is_composited_over_white():
    rgba = np.zeros((80, 100, 4), np.uint8)  # transparent black everywhere…
    rgba[5:45, 8:14, 3] = 255  # …except an opaque black bar
    out = prepare_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG")).array
    np.testing.assert_allclose(out, prepare_image(_page_with_bar()).array, atol=1e-6)


def test_exif_orientation_is_applied():
    im = Image.fromarray(np.full((30, 60), 255, np.uint8)).convert("RGB")  # stored 60 wide
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    upright = imaging.open_image(_encode(im, "JPEG", exif=exif.tobytes()))
    assert upright.size == (30, 60)  # displayed 30 wide, 60 tall


def test_animated_gif_uses_the_first_frame():
    first = Image.fromarray(_page_with_bar())
    blank = Image.fromarray(np.full((80, 100), 255, np.uint8))
    raw = _encode(first, "GIF", save_all=True, append_images=[blank])
    assert Image.open(io.BytesIO(raw)).n_frames == 2
    np.testing.assert_allclose(
        prepare_image(raw).array, prepare_image(_page_with_bar()).array, atol=1e-6
    )


def test_one_colour_image_warns_and_is_blank():
    prep = prepare_image(np.full((40, 40), 200, np.uint8))
    assert prep.warning and "no content" in prep.warning
    assert prep.array.shape == (28, 28, 1) and prep.array.max() == 0


def test_rgb_style_crops_resizes_and_scales():
    photo = np.zeros((40, 80, 3), np.uint8)
    photo[..., 0] = 255  # pure red, twice as wide as tall
    prep = prepare_image(photo, (32, 32, 3), "rgb")
    assert prep.array.shape == (32, 32, 3)
    np.testing.assert_allclose(prep.array.reshape(-1, 3).mean(0), [1, 0, 0], atol=1e-5)
    assert prep.steps[1][0] == "Centre-cropped (40×40)"


def test_grayscale_model_three_channel_target_repeats_channels():
    prep = prepare_image(_page_with_bar(), (28, 28, 3))
    np.testing.assert_array_equal(prep.array[..., 0], prep.array[..., 2])


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header claims ``width × height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


@pytest.mark.parametrize("side", [40_000, 7_000])  # above Pillow's own limit, and below it
def test_decompression_bomb_is_refused_without_decoding(side, monkeypatch):
    raw = _png_claiming(side, side)
    assert len(raw) < 200
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size))
    tracemalloc.start()
    with pytest.raises(ImageError, match="decompression bomb"):
        prepare_image(raw)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert decoded == []  # refused from the header: no pixel buffer was ever allocated
    assert peak < 5 * 2**20  # and Python-side memory stayed tiny (decoding: side² bytes)


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "hello")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"", "empty"),
        (b"just some notes, not a picture", "text"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "HTML page"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>', "SVG"),
        (_zip(), "zip archive"),
        (b"\x81\xfe\x00\x9c" * 100, "unrecognised binary data"),
    ],
    ids=["empty", "text", "html", "svg", "zip", "binary"],
)
def test_non_images_raise_one_clear_sentence(raw, match):
    with pytest.raises(ImageError, match=match) as info:
        prepare_image(raw)
    assert isinstance(info.value, ValueError) and str(info.value).endswith(".")


def test_truncated_file_raises():
    raw = _encode(Image.fromarray(_page_with_bar()), "PNG")
    with pytest.raises(ImageError, match="damaged or truncated"):
        prepare_image(raw[: len(raw) // 2])


def test_bad_arguments_name_the_value():
    with pytest.raises(ImageError, match="'fancy'"):
        prepare_image(_page_with_bar(), style="fancy")
    with pytest.raises(ImageError, match=r"\(28, 28, 2\)"):
        prepare_image(_page_with_bar(), (28, 28, 2))
    with pytest.raises(ImageError, match=r"\(2, 2, 2, 2\)"):
        prepare_image(np.zeros((2, 2, 2, 2)))


def test_data_url_round_trip_and_errors():
    raw = _encode(Image.fromarray(_page_with_bar()), "PNG")
    url = "data:image/png;base64," + base64.b64encode(raw).decode()
    assert imaging.decode_data_url(url) == raw
    with pytest.raises(ImageError, match="data:image"):
        imaging.decode_data_url("http://example.com/x.png")
    with pytest.raises(ImageError, match="base64"):
        imaging.decode_data_url("data:image/png;base64,@@@")


def test_bundled_samples_are_confident_mnist_digits():
    from cnnviz import explain, models

    model = models.load(models.bundled(models.DEFAULT_BUNDLED))
    for digit in (0, 3, 7):
        x = prepare_image(imaging.load_sample(digit, 0)).array
        assert int(np.argmax(explain.predict_proba(model, x))) == digit
    with pytest.raises(ImageError, match="digit 11"):
        imaging.load_sample(11)


# ------------------------------------------------------------- photos and real handwriting


def _photo_of(page: np.ndarray, tilt: float, noise: float, seed: int = 0) -> bytes:
    """``page`` (uint8, dark ink on white) lit unevenly from the left, with sensor noise."""
    rng = np.random.default_rng(seed)
    light = 0.6 + tilt * np.linspace(0, 1, page.shape[1])[None, :]  # brighter to the right
    grey = page / 255 * light + rng.normal(0, noise, page.shape)
    return _encode(Image.fromarray((np.clip(grey, 0, 1) * 255).astype(np.uint8)), "PNG")


def test_uneven_paper_and_noise_do_not_move_the_crop():
    clean = prepare_image(_page_with_bar())
    photo = prepare_image(_photo_of(_page_with_bar(), tilt=0.35, noise=0.03))
    crop = [t for t, _ in photo.steps if t.startswith("Cropped")]
    assert crop == ["Cropped (6×40)"]  # the lit half of the page is not mistaken for ink
    np.testing.assert_allclose(photo.array, clean.array, atol=0.15)
    plane, level = imaging.paper_background(np.tile(np.linspace(0.2, 0.5, 30), (20, 1)))
    np.testing.assert_allclose(plane, np.tile(np.linspace(0.2, 0.5, 30), (20, 1)), atol=1e-6)
    assert level == pytest.approx(0, abs=1e-9)


def test_pure_noise_has_no_strokes_and_says_so():
    rng = np.random.default_rng(0)
    prep = prepare_image((rng.random((90, 120)) * 255).astype(np.uint8))
    assert prep.warning == imaging.NO_STROKES and not prep.array.any()
    assert prep.steps[-1][0] == "Blank: nothing to read (28×28)"  # what the model gets, last
    flat = prepare_image(np.full((30, 30), 90, np.uint8))
    assert flat.warning == imaging.NO_CONTENT


def test_a_thick_pen_is_thinned_towards_mnists_width():
    bar = np.pad(np.ones((30, 4)), 5)  # area 120, outline 2·30 + 2·4 - 4 = 64 pixels
    assert imaging.stroke_width(bar) == pytest.approx(240 / 64)
    fat = prepare_image(_page_with_bar(width=20))  # a 20-px stroke: 10 px at the 20-px scale
    titles = [t for t, _ in fat.steps]
    thinned = next(t for t in titles if t.startswith("Thinner pen"))
    assert thinned == "Thinner pen (6.9 → 4.6 px at 20 px)"
    assert titles.index(thinned) == titles.index("Cropped (20×40)") + 1


def test_handwriting_test_set_is_what_the_readme_says():
    from sklearn.datasets import load_digits

    photos, labels = imaging.load_handwriting()
    assert len(photos) == 1000 and np.bincount(labels).tolist() == [100] * 10
    assert all(p[:2] == b"\xff\xd8" for p in photos)  # JPEG files
    with np.load(imaging.HANDWRITING) as z:
        rows = z["source_rows"]
    np.testing.assert_array_equal(load_digits().target[rows], labels)  # provenance
    sizes = {Image.open(io.BytesIO(p)).size for p in photos[:50]}
    assert len(sizes) > 30 and all(56 <= w <= 128 and 56 <= h <= 128 for w, h in sizes)


def test_handwriting_validation_set_is_the_other_digits_of_the_source():
    """Tune on the validation photos, report on the test photos: no digit is in both."""
    from sklearn.datasets import load_digits

    photos, labels = imaging.load_handwriting(imaging.HANDWRITING_VALIDATION)
    with np.load(imaging.HANDWRITING) as z, np.load(imaging.HANDWRITING_VALIDATION) as v:
        test_rows, rows = z["source_rows"], v["source_rows"]
    digits = load_digits()
    assert len(photos) == len(rows) == 797 and all(p[:2] == b"\xff\xd8" for p in photos)
    assert not set(rows.tolist()) & set(test_rows.tolist())  # disjoint
    assert sorted([*rows.tolist(), *test_rows.tolist()]) == list(range(len(digits.target)))
    np.testing.assert_array_equal(digits.target[rows], labels)  # provenance
    assert np.bincount(labels).tolist() == [78, 82, 77, 83, 81, 82, 81, 79, 74, 80]


def test_the_default_model_reads_real_handwriting_through_the_upload_path():
    """Issue 12's target on the whole test set (1,000 photos, ~3 s): the default model
    reads ≥ 0.90 of them through the upload path (measured 0.927), a naive resize ~0.1."""
    from cnnviz import models

    model = models.load(models.bundled(models.DEFAULT_BUNDLED))
    photos, labels = imaging.load_handwriting()
    upload = np.stack([prepare_image(p).array for p in photos])
    naive = np.stack([imaging.naive_input(p) for p in photos])
    assert naive.shape == upload.shape == (1000, 28, 28, 1)
    acc_upload = np.mean(model.predict(upload, verbose=0, batch_size=250).argmax(1) == labels)
    acc_naive = np.mean(model.predict(naive, verbose=0, batch_size=250).argmax(1) == labels)
    assert acc_upload >= 0.90 and acc_naive <= 0.25, (acc_upload, acc_naive)
