"""Every image form users hand over: converted correctly, or refused with a one-line error."""

import os

import cv2
import numpy as np
import pytest

from edge_ocr.errors import ImageError
from edge_ocr.images import decode_image, load_image, read_header_size


def _encode(ext: str, image: np.ndarray, params=()) -> bytes:
    ok, data = cv2.imencode(ext, image, list(params))
    assert ok
    return data.tobytes()


def test_grayscale_becomes_bgr():
    gray = np.full((20, 30), 77, np.uint8)
    out = decode_image(_encode(".png", gray)).image
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8 and (out == 77).all()


def test_rgba_is_composited_on_white():
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[:, :5] = (0, 0, 255, 255)  # opaque red (BGR order)
    out = decode_image(_encode(".png", rgba)).image
    assert out.shape == (10, 10, 3)
    assert tuple(out[0, 0]) == (0, 0, 255)
    assert tuple(out[0, 9]) == (255, 255, 255)  # fully transparent black -> white


def test_sixteen_bit_png_is_scaled_to_eight_bit():
    deep = np.full((8, 8, 3), 65535, np.uint16)
    deep[0, 0] = (256 * 10, 0, 0)
    out = decode_image(_encode(".png", deep)).image
    assert out.dtype == np.uint8 and out[1, 1, 0] == 255 and out[0, 0, 0] == 10


def test_palette_png(tmp_path):
    from PIL import Image

    picture = Image.new("P", (12, 6))
    picture.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    picture.putpixel((1, 1), 1)
    path = tmp_path / "palette.png"
    picture.save(path)
    out = load_image(str(path)).image
    assert out.shape == (6, 12, 3)
    assert tuple(out[0, 0]) == (0, 0, 255)  # palette red, in BGR
    assert tuple(out[1, 1]) == (0, 255, 0)


def test_exif_rotated_jpeg_is_turned_upright(tmp_path):
    from PIL import Image

    wide = np.zeros((20, 40, 3), np.uint8)
    picture = Image.fromarray(wide)
    exif = picture.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.jpg"
    picture.save(path, exif=exif.tobytes())
    assert load_image(str(path)).image.shape[:2] == (40, 20)


def test_one_pixel_image():
    out = decode_image(_encode(".png", np.zeros((1, 1, 3), np.uint8))).image
    assert out.shape == (1, 1, 3)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty file"),
        (b"this is not an image at all", "not an image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 10, "not an image"),
    ],
)
def test_bad_bytes_are_clear_errors(content, message):
    with pytest.raises(ImageError, match=message):
        decode_image(content, "x.jpg")


def test_truncated_png_is_an_error(img11, tmp_path):
    data = _encode(".png", cv2.imread(img11))
    with pytest.raises(ImageError, match="damaged|not an image"):
        decode_image(data[: len(data) // 3], "cut.png")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(str(tmp_path / "nope.jpg"))
    with pytest.raises(ImageError, match="folder"):
        load_image(str(tmp_path))


def test_header_sizes(img11):
    with open(img11, "rb") as handle:
        assert read_header_size(handle.read()) == (1280, 720)
    assert read_header_size(_encode(".png", np.zeros((7, 9, 3), np.uint8))) == (9, 7)
    assert read_header_size(_encode(".bmp", np.zeros((7, 9, 3), np.uint8))) == (9, 7)


@pytest.mark.slow
def test_huge_jpeg_is_decoded_reduced_and_huge_png_refused():
    # A 20000 x 20000 JPEG (400 MP, 1.2 GB as BGR) must decode at reduced size with a coordinate scale.
    tile = np.zeros((20000, 20000, 3), np.uint8)
    tile[5000:6000, 2000:9000] = 255
    data = _encode(".jpg", tile, (cv2.IMWRITE_JPEG_QUALITY, 50))
    png = _encode(".png", tile, (cv2.IMWRITE_PNG_COMPRESSION, 1))
    del tile
    loaded = decode_image(data, "huge.jpg", max_pixels=64_000_000)
    assert loaded.image.shape[0] * loaded.image.shape[1] <= 64_000_000
    assert loaded.scale == pytest.approx(20000 / loaded.image.shape[1])
    assert loaded.scale > 1
    with pytest.raises(ImageError, match="limit"):
        decode_image(png, "huge.png", max_pixels=64_000_000)


def test_image_suffix_listing(tmp_path):
    from edge_ocr.images import list_images

    for name in ("b.jpg", "a.PNG", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [os.path.basename(p) for p in list_images([str(tmp_path)])] == ["a.PNG", "b.jpg"]
