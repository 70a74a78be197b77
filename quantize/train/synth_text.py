"""Seeded Chinese + English + digits text: recognition line crops and scene-like det/e2e images with exact labels.

``generate_synth(out_dir, SynthSizes(...), seed)`` writes, under ``out_dir``::

    rec_train.txt, rec_dev.txt     path<TAB>text             (crops in rec_train/, rec_dev/)
    e2e_train.txt, e2e_dev.txt     path<TAB>[{"transcription", "points"}]   (images in e2e_train/, e2e_dev/)
    synth.json                     seed, sizes, fonts, backgrounds, character statistics, time taken

Text: common Chinese characters (GB2312 level 1 ∩ the recognizer's dictionary; the dictionary itself is not in
frequency order), English words from the IC15 train transcriptions, digits, dates, prices, times and phone numbers;
only characters of the dictionary. Train splits also get phrases with spaces (``train_phrases`` of their lines: several
English words, Chinese then English, a word and a number), so that a recognizer trained on them keeps the space
class that real signs need; dev splits have none, as before. Rendering: Noto CJK (Debian's ``fonts-noto-cjk``) in
sans/serif, regular/bold; backgrounds are train photos (ICDAR 2015 train, MSRA-TD500 train without the TD500 dev
tail) with their labelled text painted out (``cv2.inpaint``), or flat/gradient/noise textures; every line is rotated
and perspective-warped, and each image blurred, noised and colour-shifted. Each sample draws from its own
``numpy`` generator seeded by (seed, split, index), so the same seed gives the same bytes.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from dataclasses import asdict, dataclass, field
from functools import cache, lru_cache

import cv2
import numpy as np

from edge_ocr.errors import EdgeOCRError

log = logging.getLogger(__name__)

NOTO_CJK_FILES = ("NotoSansCJK-Regular.ttc", "NotoSansCJK-Bold.ttc", "NotoSerifCJK-Regular.ttc",
                  "NotoSerifCJK-Bold.ttc")
NOTO_CJK_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/noto-cjk", "/usr/share/fonts/google-noto-cjk")
SPLITS = {"rec_train": 1, "rec_dev": 2, "e2e_train": 3, "e2e_dev": 4}  # the split's part of each sample's seed
CHINESE_PUNCTUATION = "，。：！？、"
SCENE_SIZES = ((960, 720), (720, 960), (1024, 768))


@dataclass(frozen=True)
class SynthSizes:
    """How many samples each split gets (defaults: what a 2-core CPU generates and evaluates in minutes)."""

    rec_train: int = 2000
    rec_dev: int = 500
    e2e_train: int = 200
    e2e_dev: int = 100


# ------------------------------------------------------------------------------------------------ fonts


def find_cjk_fonts() -> list[str]:
    """Noto CJK .ttc files: fc-list's, else the known Debian/Fedora paths; a clear error when there are none."""
    found: set[str] = set()
    try:
        listing = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=30).stdout
        found.update(line.split(":")[0].strip() for line in listing.splitlines()
                     if os.path.basename(line.split(":")[0].strip()) in NOTO_CJK_FILES)
    except (OSError, subprocess.SubprocessError):
        pass
    for folder in NOTO_CJK_DIRS:
        found.update(os.path.join(folder, n) for n in NOTO_CJK_FILES if os.path.isfile(os.path.join(folder, n)))
    if not found:
        raise EdgeOCRError("no Noto CJK font found (NotoSansCJK-Regular.ttc): install Debian's fonts-noto-cjk "
                           "(apt-get install fonts-noto-cjk; scripts/setup.sh does it as root)")
    return sorted(found, key=lambda p: (NOTO_CJK_FILES.index(os.path.basename(p)), p))[: len(NOTO_CJK_FILES)]


@cache
def _simplified_face(path: str) -> int:
    """Index of the Simplified Chinese ("SC") face inside a Noto CJK collection."""
    from PIL import ImageFont

    for index in range(16):
        try:
            family = ImageFont.truetype(path, 20, index=index).getname()[0]
        except OSError:
            break
        if family.endswith(" SC"):
            return index
    raise EdgeOCRError(f"{path} has no Simplified Chinese (SC) face")


@lru_cache(maxsize=256)
def _font(path: str, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(path, size, index=_simplified_face(path))


# ------------------------------------------------------------------------------------------------ text


def gb2312_level1() -> list[str]:
    """The 3,755 most common Chinese characters (GB2312 level 1: rows 0xB0-0xD7), in code order."""
    chars = []
    for high in range(0xB0, 0xD8):
        for low in range(0xA1, 0xFF):
            try:
                chars.append(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def english_words(rec_labels: str, dictionary: set[str]) -> list[str]:
    """Distinct alphabetic words of 2 to 14 letters from a rec label file, sorted (as written there)."""
    words = set()
    with open(rec_labels, encoding="utf-8") as handle:
        for line in handle:
            text = line.rstrip("\n").partition("\t")[2]
            if text.isascii() and text.isalpha() and 2 <= len(text) <= 14 and set(text) <= dictionary:
                words.add(text)
    if not words:
        raise EdgeOCRError(f"{rec_labels}: no English words in its transcriptions")
    return sorted(words)


class TextSampler:
    """Lines of text: Chinese phrases, English words, numbers in everyday formats, and mixes of them."""

    def __init__(self, dictionary: list[str], words: list[str], phrases: float = 0.0) -> None:
        self.dictionary = set(dictionary)
        self.phrases = phrases  # share of lines that are phrases with spaces (0: no draw, the same lines as before)
        self.common = [c for c in gb2312_level1() if c in self.dictionary]
        self.words = words
        self.punctuation = [c for c in CHINESE_PUNCTUATION if c in self.dictionary]

    def _chinese(self, rng: np.random.Generator, low: int = 2, high: int = 9) -> str:
        text = "".join(self.common[i] for i in rng.integers(len(self.common), size=int(rng.integers(low, high + 1))))
        if len(text) >= 4 and rng.random() < 0.25:  # a comma inside, or a full stop at the end
            cut = int(rng.integers(1, len(text) - 1))
            mark = self.punctuation[int(rng.integers(len(self.punctuation)))]
            text = text + mark if mark in "。！？" else text[:cut] + mark + text[cut:]
        return text

    def _english(self, rng: np.random.Generator) -> str:
        # one word: the recognizer's space class is unreliable between rendered words, and the IC15 crops it reads
        # best are single words too
        word = self.words[int(rng.integers(len(self.words)))]
        style = rng.random()
        return word.upper() if style < 0.3 else word.capitalize() if style < 0.6 else word

    @staticmethod
    def _number(rng: np.random.Generator) -> str:
        kind = int(rng.integers(8))
        y, m, d = int(rng.integers(1990, 2031)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        formats = (  # date, Chinese date, price, time, phone number, percentage, yuan, plain number
            lambda: f"{y}-{m:02d}-{d:02d}",
            lambda: f"{y}年{m}月{d}日",
            lambda: f"{'￥$'[int(rng.integers(2))]}{rng.integers(1, 2000)}.{rng.integers(0, 100):02d}",
            lambda: f"{rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}",
            lambda: f"1{rng.integers(30, 90)}-{rng.integers(0, 10000):04d}-{rng.integers(0, 10000):04d}",
            lambda: f"{rng.integers(1, 100)}%",
            lambda: f"{rng.integers(1, 1000)}元",
            lambda: str(int(rng.integers(0, 10 ** int(rng.integers(1, 8))))),
        )
        return formats[kind]()

    def _phrase(self, rng: np.random.Generator) -> str:
        """Words with spaces, as on signs: "Beijing China", "银行 BANK", "Line 10"."""
        kind = rng.random()
        if kind < 0.5:
            style = rng.random()
            words = [self.words[int(i)] for i in rng.integers(len(self.words), size=int(rng.integers(2, 4)))]
            return " ".join(w.upper() if style < 0.3 else w.capitalize() if style < 0.6 else w.lower() for w in words)
        if kind < 0.75:
            return self._chinese(rng, 2, 5) + " " + self._english(rng)
        return self._english(rng) + " " + str(int(rng.integers(1, 1000)))

    def sample(self, rng: np.random.Generator) -> str:
        """One line: 45% Chinese, 15% an English word, 15% mixed, 25% numbers (some with a Chinese label); with
        ``phrases`` > 0, that share of lines is first drawn as a phrase with spaces instead."""
        if self.phrases and rng.random() < self.phrases:
            return self._checked(self._phrase(rng))
        kind = rng.random()
        if kind < 0.45:
            text = self._chinese(rng)
        elif kind < 0.60:
            text = self._english(rng)
        elif kind < 0.75:
            parts = [self._chinese(rng, 2, 5), self._english(rng) if rng.random() < 0.5 else self._number(rng)]
            text = "".join(parts if rng.random() < 0.5 else parts[::-1])
        else:
            number = self._number(rng)
            text = self._chinese(rng, 2, 4) + "：" + number if rng.random() < 0.3 else number
        return self._checked(text)

    def _checked(self, text: str) -> str:
        bad = sorted(set(text) - self.dictionary - {" "})
        if bad:  # every format above uses dictionary characters only; a dictionary without them is a wrong one
            raise EdgeOCRError(f"characters {''.join(bad)!r} are not in the dictionary")
        return text


# ------------------------------------------------------------------------------------------------ backgrounds


def load_backgrounds(label_files: list[tuple[str, slice]], count: int, max_side: int = 720) -> list[np.ndarray]:
    """Up to ``count`` photos (evenly spread over the label files' images) with their labelled text painted out."""
    from edge_ocr.evaluation.labels import read_det_labels

    samples = [s for path, part in label_files for s in read_det_labels(path)[part]]
    if not samples or count <= 0:
        return []
    picked = [samples[int(i)] for i in np.linspace(0, len(samples) - 1, min(count, len(samples))).round()]
    backgrounds = []
    for sample in picked:
        image = cv2.imread(sample.image, cv2.IMREAD_COLOR)
        if image is None:
            raise EdgeOCRError(f"cannot read background image {sample.image}")
        scale = min(1.0, max_side / max(image.shape[:2]))
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        mask = np.zeros(image.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(np.array(box.points) * scale).astype(np.int32) for box in sample.boxes], 255)
        mask = cv2.dilate(mask, np.ones((7, 7), np.uint8))
        backgrounds.append(cv2.inpaint(image, mask, 5, cv2.INPAINT_TELEA))
    return backgrounds


def _texture(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A flat, gradient or smoothed-noise colour field."""
    base = rng.integers(0, 256, size=3).astype(np.float32)
    kind = rng.random()
    if kind < 0.3:
        field_ = np.broadcast_to(base, (height, width, 3)).copy()
    elif kind < 0.65:
        other = rng.integers(0, 256, size=3).astype(np.float32)
        ramp = np.linspace(0, 1, width if rng.random() < 0.5 else height, dtype=np.float32)
        ramp = ramp[None, :, None] if ramp.size == width else ramp[:, None, None]
        field_ = base + (other - base) * ramp + np.zeros((height, width, 1), np.float32)
    else:
        small = rng.normal(0, 40, size=(max(2, height // 24), max(2, width // 24), 3)).astype(np.float32)
        field_ = base + cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(field_, 0, 255).astype(np.uint8)


def _background(rng: np.random.Generator, backgrounds: list[np.ndarray], width: int, height: int,
                textures: float = 0.25, contrast: tuple[float, float] = (0.5, 1.0)) -> np.ndarray:
    """A random window of a photo, scaled to ``width``×``height``, its contrast scaled by a factor drawn from
    ``contrast`` (busy photos at full contrast hide text no reader could read); a texture with probability
    ``textures``, or when there are no photos."""
    if not backgrounds or rng.random() < textures:
        return _texture(rng, width, height)
    photo = backgrounds[int(rng.integers(len(backgrounds)))]
    h, w = photo.shape[:2]
    scale = rng.uniform(0.5, 1.0) * min(w / width, h / height)
    cw, ch = max(8, int(width * scale)), max(8, int(height * scale))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    window = photo[y : y + ch, x : x + cw]
    if rng.random() < 0.5:
        window = window[:, ::-1]
    window = cv2.resize(np.ascontiguousarray(window), (width, height), interpolation=cv2.INTER_LINEAR)
    mean = window.reshape(-1, 3).mean(axis=0)
    return np.clip(mean + (window - mean) * rng.uniform(*contrast), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------------ rendering


@dataclass
class RenderedLine:
    """A line drawn as an alpha mask, and its box (tight ink box + a margin) in mask coordinates."""

    mask: np.ndarray  # HxW uint8 coverage
    box: np.ndarray  # 4x2 float32: top-left, top-right, bottom-right, bottom-left


def render_line(text: str, font_path: str, size: int) -> RenderedLine:
    from PIL import Image, ImageDraw

    font = _font(font_path, size)
    left, top, right, bottom = font.getbbox(text)
    pad = size
    image = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(image).text((pad - left, pad - top), text, font=font, fill=255)
    mask = np.asarray(image, dtype=np.uint8)
    ys, xs = np.nonzero(mask > 64)
    if not len(xs):
        raise EdgeOCRError(f"{text!r} renders as nothing in {os.path.basename(font_path)}")
    margin = 0.12 * size  # IC15-style boxes sit a little outside the ink
    x0, x1 = xs.min() - margin, xs.max() + 1 + margin
    y0, y1 = ys.min() - margin, ys.max() + 1 + margin
    return RenderedLine(mask, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32))


def _line_transform(rng: np.random.Generator, line: RenderedLine, max_angle: float, skew: float) -> np.ndarray:
    """A homography: mild perspective (corners moved up to ``skew`` × the line height), then a rotation."""
    h, w = line.mask.shape
    height = float(line.box[2, 1] - line.box[0, 1])
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    dst = src + rng.uniform(-skew, skew, size=(4, 2)).astype(np.float32) * height
    perspective = cv2.getPerspectiveTransform(src, dst)
    angle = rng.uniform(-max_angle, max_angle) if rng.random() < 0.6 else rng.uniform(-3, 3)
    rotation = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0), [0, 0, 1]])
    return rotation @ perspective


def _translated(matrix: np.ndarray, shift: np.ndarray) -> np.ndarray:
    return np.array([[1, 0, shift[0]], [0, 1, shift[1]], [0, 0, 1]], np.float64) @ matrix


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float32), matrix).reshape(-1, 2)


def _text_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A colour whose luminance differs from the background's mean under the text by at least 110 of 255."""
    luminance = float(np.mean(under @ np.array([0.114, 0.587, 0.299], np.float32))) if under.size else 128.0
    target = (rng.uniform(0, max(0.0, luminance - 110)) if luminance > 127
              else rng.uniform(min(255.0, luminance + 110), 255))
    hue = rng.uniform(-60, 60, size=3) * (rng.random() < 0.5)
    return np.clip(target + hue - np.mean(hue), 0, 255).astype(np.float32)


def _composite(image: np.ndarray, line: RenderedLine, matrix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw the transformed line onto ``image`` (in place); returns its box in image coordinates."""
    height, width = image.shape[:2]
    h, w = line.mask.shape
    corners = _apply(matrix, np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32))
    x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int) - 1, 0, [width, height])
    x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 1, 0, [width, height])
    # only the region the line can cover is warped and blended
    alpha = cv2.warpPerspective(line.mask, _translated(matrix, np.array([-x0, -y0])), (int(x1 - x0), int(y1 - y0)),
                                flags=cv2.INTER_LINEAR).astype(np.float32) / 255
    region = image[y0:y1, x0:x1]
    colour = _text_colour(rng, region[alpha > 0.5].astype(np.float32))
    alpha = alpha[..., None] * rng.uniform(0.85, 1.0)
    region[:] = np.clip(region * (1 - alpha) + colour * alpha, 0, 255).astype(np.uint8)
    return _apply(matrix, line.box)


def _degrade(image: np.ndarray, rng: np.random.Generator, blur: float, noise: float) -> np.ndarray:
    """Blur, sensor noise, contrast/brightness and a colour cast."""
    out = image.astype(np.float32)
    sigma = rng.uniform(0, blur)
    if sigma > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    out = out * rng.uniform(0.75, 1.15) + rng.uniform(-25, 25) + rng.uniform(-12, 12, size=3).astype(np.float32)
    out += rng.normal(0, rng.uniform(0, noise), size=out.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def _boxes_overlap(box: np.ndarray, others: list[np.ndarray], gap: float) -> bool:
    x0, y0 = box.min(axis=0) - gap
    x1, y1 = box.max(axis=0) + gap
    for other in others:
        a0, b0 = other.min(axis=0)
        a1, b1 = other.max(axis=0)
        if x0 < a1 and a0 < x1 and y0 < b1 and b0 < y1:
            return True
    return False


class SynthRenderer:
    """Draws rec crops and scenes from a text sampler, fonts and background photos."""

    def __init__(self, sampler: TextSampler, fonts: list[str], backgrounds: list[np.ndarray]) -> None:
        self.sampler, self.fonts, self.backgrounds = sampler, fonts, backgrounds

    def _line(self, rng: np.random.Generator, size: int) -> tuple[str, RenderedLine]:
        text = self.sampler.sample(rng)
        return text, render_line(text, self.fonts[int(rng.integers(len(self.fonts)))], size)

    def rec_crop(self, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        """A line crop: text 24-48 px high, a small tilt, on a photo or a texture, cut out with uneven margins."""
        text, line = self._line(rng, int(rng.integers(24, 49)))
        matrix = _line_transform(rng, line, max_angle=4, skew=0.06)
        box = _apply(matrix, line.box)
        height = float(line.box[2, 1] - line.box[0, 1])
        low, high = box.min(axis=0) - 0.6 * height, box.max(axis=0) + 0.6 * height  # room for the margins below
        canvas = np.ceil(high - low).astype(int)
        image = _background(rng, self.backgrounds, int(canvas[0]), int(canvas[1]), textures=0.5,
                            contrast=(0.2, 0.6))
        box = _composite(image, line, _translated(matrix, -low), rng)
        image = _degrade(image, rng, blur=1.0, noise=6)
        # cut along the box, widened by 5-25% of the line height (above/below) and 15-50% (left/right), about what
        # the detector's unclipped boxes leave around a line
        height = float(np.linalg.norm(box[3] - box[0]))
        lr, tb = rng.uniform(0.15, 0.5, size=2) * height, rng.uniform(0.05, 0.25, size=2) * height
        x_axis = (box[1] - box[0]) / max(1e-6, float(np.linalg.norm(box[1] - box[0])))
        y_axis = (box[3] - box[0]) / max(1e-6, height)
        outer = box + np.array([-lr[0] * x_axis - tb[0] * y_axis, lr[1] * x_axis - tb[0] * y_axis,
                                lr[1] * x_axis + tb[1] * y_axis, -lr[0] * x_axis + tb[1] * y_axis], np.float32)
        out_w = int(round(np.linalg.norm(outer[1] - outer[0])))
        out_h = int(round(np.linalg.norm(outer[3] - outer[0])))
        target = np.array([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]], np.float32)
        crop = cv2.warpPerspective(image, cv2.getPerspectiveTransform(outer.astype(np.float32), target),
                                   (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return crop, text

    def scene(self, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
        """A photo-like image with 3-8 non-overlapping lines (text 20-64 px high, up to ±20° rotation)."""
        width, height = SCENE_SIZES[int(rng.integers(len(SCENE_SIZES)))]
        image = _background(rng, self.backgrounds, width, height)
        boxes: list[np.ndarray] = []
        labels = []
        for _ in range(int(rng.integers(3, 9))):
            text, line = self._line(rng, int(rng.integers(20, 65)))
            matrix = _line_transform(rng, line, max_angle=20, skew=0.1)
            box = _apply(matrix, line.box)
            low, high = box.min(axis=0), box.max(axis=0)
            room = np.array([width, height], np.float32) - (high - low) - 8
            if (room <= 0).any():
                continue
            gap = max(10.0, 0.6 * float(line.box[2, 1] - line.box[0, 1]))  # detectors merge lines closer than this
            for _attempt in range(20):
                shift = rng.uniform(0, room) + 4 - low
                if not _boxes_overlap(box + shift, boxes, gap):
                    break
            else:
                continue
            boxes.append(_composite(image, line, _translated(matrix, shift), rng))
            labels.append({"transcription": text,
                           "points": [[round(float(x), 1), round(float(y), 1)] for x, y in boxes[-1]]})
        return _degrade(image, rng, blur=1.5, noise=10), labels


# ------------------------------------------------------------------------------------------------ generation


@dataclass
class SynthSources:
    """Where the text and the backgrounds come from (defaults under ``$EDGE_OCR_SHARED``)."""

    dictionary: str
    english_labels: str
    backgrounds: list[tuple[str, slice]] = field(default_factory=list)  # det label files and the part to use
    background_count: int = 60


def default_sources(shared: str | None = None) -> SynthSources:
    """The PP-OCRv2 dictionary, IC15 train words, and ICDAR 2015 + TD500 train photos (never a test image; TD500's
    dev tail, an evaluation domain, left out)."""
    from edge_ocr.evaluation.domains import TD500_DEV_IMAGES, shared_dir

    shared = shared or shared_dir()
    data = os.path.join(shared, "data")
    return SynthSources(
        dictionary=os.path.join(shared, "models", "ppocrv2", "ppocr_keys_v1.txt"),
        english_labels=os.path.join(data, "ic15_rec", "rec_gt_train.txt"),
        backgrounds=[(os.path.join(data, "icdar2015", "train_label.txt"), slice(None)),
                     (os.path.join(data, "td500_train", "det_label.txt"), slice(None, -TD500_DEV_IMAGES))])


def _seeded(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, SPLITS[split], index])


def _write_image(path: str, image: np.ndarray, jpeg: bool) -> None:
    ok, data = cv2.imencode(".jpg" if jpeg else ".png", image, [cv2.IMWRITE_JPEG_QUALITY, 92] if jpeg else [])
    if not ok:
        raise EdgeOCRError(f"cannot encode {path}")
    with open(path, "wb") as handle:
        handle.write(data.tobytes())


def generate_synth(out_dir: str, sizes: SynthSizes = SynthSizes(), seed: int = 0,
                   sources: SynthSources | None = None, progress: bool = True, train_phrases: float = 0.15) -> dict:
    """Write the four splits and ``synth.json`` into ``out_dir``; returns the summary written to synth.json.
    ``train_phrases``: the share of train lines that are phrases with spaces (dev lines never are)."""
    from tqdm import tqdm

    from edge_ocr.atomic import write_json, write_text

    start = time.perf_counter()
    sources = sources or default_sources()
    for path in (sources.dictionary, sources.english_labels, *(p for p, _ in sources.backgrounds)):
        if not os.path.isfile(path):
            raise EdgeOCRError(f"{path} does not exist (set EDGE_OCR_SHARED to the shared models-and-data folder)")
    with open(sources.dictionary, encoding="utf-8") as handle:
        dictionary = [line.rstrip("\r\n") for line in handle]
    sampler = TextSampler(dictionary, english_words(sources.english_labels, set(dictionary)))
    fonts = find_cjk_fonts()
    backgrounds = load_backgrounds(sources.backgrounds, sources.background_count)
    renderer = SynthRenderer(sampler, fonts, backgrounds)
    os.makedirs(out_dir, exist_ok=True)
    characters: dict[str, int] = {}
    counts = {"rec_train": sizes.rec_train, "rec_dev": sizes.rec_dev, "e2e_train": sizes.e2e_train,
              "e2e_dev": sizes.e2e_dev}
    for split, count in counts.items():
        folder = os.path.join(out_dir, split)
        os.makedirs(folder, exist_ok=True)
        sampler.phrases = train_phrases if split.endswith("train") else 0.0
        rows = []
        for index in tqdm(range(count), desc=f"synth {split}", unit="img", disable=not progress):
            rng = _seeded(seed, split, index)
            if split.startswith("rec"):
                crop, text = renderer.rec_crop(rng)
                name = f"{split}/{index:06d}.png"
                _write_image(os.path.join(out_dir, name), crop, jpeg=False)
                rows.append(f"{name}\t{text}")
                texts = [text]
            else:
                image, labels = renderer.scene(rng)
                name = f"{split}/{index:06d}.jpg"
                _write_image(os.path.join(out_dir, name), image, jpeg=True)
                rows.append(f"{name}\t{json.dumps(labels, ensure_ascii=False)}")
                texts = [label["transcription"] for label in labels]
            for text in texts:
                for char in text:
                    characters[char] = characters.get(char, 0) + 1
        write_text(os.path.join(out_dir, f"{split}.txt"), "\n".join(rows) + "\n")
    summary = {
        "seed": seed, "sizes": asdict(sizes), "train_phrases": train_phrases,
        "fonts": [f"{os.path.basename(p)}#{_simplified_face(p)}" for p in fonts],
        "dictionary": sources.dictionary, "english_words": len(sampler.words), "english_source": sources.english_labels,
        "common_chinese": len(sampler.common),
        "backgrounds": {"photos": len(backgrounds), "from": [f"{path}[{part.start or ''}:{part.stop or ''}]"
                                                             for path, part in sources.backgrounds]},
        "distinct_characters": len(characters),
        "chinese_share": round(sum(n for c, n in characters.items() if "\u4e00" <= c <= "\u9fff")
                               / max(1, sum(characters.values())), 4),
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_json(os.path.join(out_dir, "synth.json"), summary)
    log.info("synth: %s in %.1f s", counts, summary["seconds"])
    return summary

