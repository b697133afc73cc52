# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn a photo into the input tensor of an image classifier, as its model repository says.

The model stage records how its model wants images (colour order, layout,
resize, crop, mean and standard deviation on 0..255 pixel values) as
``parameters`` of config.pbtxt. This file writes those parameters
(``to_parameters()``), reads them back (``from_config()``) and applies them
(``preprocess()``). The smoke test and the load test's payload both go
through it, so no client keeps its own copy of the constants.
"""

from __future__ import annotations

try:
    import numpy as np
except ImportError:  # pragma: no cover - reported by the callers' missing_libraries()
    np = None

try:
    from PIL import Image
except ImportError:  # pragma: no cover
    Image = None

PREFIX = "image_"
KEYS = ("color_order", "layout", "resize_short_side", "crop_size", "resize_filter", "mean", "std")
FILTERS = {"bilinear": "BILINEAR", "bicubic": "BICUBIC", "nearest": "NEAREST"}


class PreprocessError(Exception):
    """Preprocessing that is missing, malformed, or an image that cannot be read."""


def missing_libraries():
    return [name for name, lib in (("numpy", np), ("pillow", Image)) if lib is None]


def _numbers(text, key):
    try:
        values = tuple(float(v) for v in str(text).split(","))
    except ValueError as exc:
        raise PreprocessError(f"preprocessing parameter {PREFIX}{key} is not a list of numbers: {text!r}") from exc
    if len(values) != 3:
        raise PreprocessError(f"preprocessing parameter {PREFIX}{key} needs 3 values (R,G,B), got {text!r}")
    return values


def validate(spec):
    """A checked copy of a preprocessing spec (the keys of KEYS); raise PreprocessError."""
    missing = [k for k in KEYS if k not in spec]
    if missing:
        raise PreprocessError("preprocessing lacks " + ", ".join(PREFIX + k for k in missing))
    result = dict(spec)
    if result["color_order"] not in ("RGB", "BGR"):
        raise PreprocessError(f"{PREFIX}color_order must be RGB or BGR, got {result['color_order']!r}")
    if result["layout"] not in ("NCHW", "NHWC"):
        raise PreprocessError(f"{PREFIX}layout must be NCHW or NHWC, got {result['layout']!r}")
    if result["resize_filter"] not in FILTERS:
        raise PreprocessError(f"{PREFIX}resize_filter must be one of {', '.join(FILTERS)}")
    for key in ("resize_short_side", "crop_size"):
        try:
            result[key] = int(result[key])
        except (TypeError, ValueError) as exc:
            raise PreprocessError(f"{PREFIX}{key} must be an integer, got {result[key]!r}") from exc
    if not 0 < result["crop_size"] <= result["resize_short_side"]:
        raise PreprocessError(f"{PREFIX}crop_size must be between 1 and {PREFIX}resize_short_side")
    for key in ("mean", "std"):
        value = result[key]
        result[key] = _numbers(value, key) if isinstance(value, str) else tuple(float(v) for v in value)
        if len(result[key]) != 3:
            raise PreprocessError(f"{PREFIX}{key} needs 3 values (R,G,B)")
    if any(s <= 0 for s in result["std"]):
        raise PreprocessError(f"{PREFIX}std values must be > 0")
    return result


def _text(value):
    if isinstance(value, (tuple, list)):
        return ",".join(_text(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_parameters(spec):
    """config.pbtxt `parameters` entries ({key, value: {string_value}}) of a spec."""
    spec = validate(spec)
    return [{"key": PREFIX + k, "value": {"string_value": _text(spec[k])}} for k in KEYS]


def from_config(config):
    """The spec recorded in a parsed config.pbtxt, or None when it records none."""
    found = {}
    for entry in config.get("parameters") or []:
        key = str(entry.get("key", ""))
        if key.startswith(PREFIX) and key[len(PREFIX):] in KEYS:
            found[key[len(PREFIX):]] = (entry.get("value") or {}).get("string_value", "")
    if not found:
        return None
    return validate(found)


def load_image(path):
    """An RGB PIL image from a file; PreprocessError with the path when it cannot be read."""
    if Image is None:
        raise PreprocessError("reading images needs pillow")
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError) as exc:
        raise PreprocessError(f"cannot read image {path}: {exc}") from exc


def preprocess(image, spec, datatype="FP32"):
    """The [C,H,W] (or [H,W,C]) tensor of one image (a path or an RGB PIL image), without a batch dimension."""
    spec = validate(spec)
    if isinstance(image, str):
        image = load_image(image)
    width, height = image.size
    short = spec["resize_short_side"]
    scale = short / min(width, height)
    size = (max(short, round(width * scale)), max(short, round(height * scale)))
    resized = image.resize(size, getattr(Image.Resampling, FILTERS[spec["resize_filter"]]))
    crop = spec["crop_size"]
    left, top = (size[0] - crop) // 2, (size[1] - crop) // 2
    pixels = np.asarray(resized.crop((left, top, left + crop, top + crop)), dtype=np.float32)  # H, W, RGB
    pixels = (pixels - np.asarray(spec["mean"], dtype=np.float32)) / np.asarray(spec["std"], dtype=np.float32)
    if spec["color_order"] == "BGR":
        pixels = pixels[:, :, ::-1]
    if spec["layout"] == "NCHW":
        pixels = pixels.transpose(2, 0, 1)
    if datatype != "FP32":
        raise PreprocessError(f"the preprocessing writes FP32 tensors; the model's input is {datatype}")
    return np.ascontiguousarray(pixels, dtype=np.float32)


def input_shape(spec):
    spec = validate(spec)
    crop = spec["crop_size"]
    return [3, crop, crop] if spec["layout"] == "NCHW" else [crop, crop, 3]
