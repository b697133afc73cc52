# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The known-answer part of the smoke test: real photos in, the expected class names out.

- ``default_images()``: scikit-image's CC0 ``coffee.png`` (expect espresso as
  top-1) and ``chelsea.png`` (a cat: tiger cat, tabby or Egyptian cat as top-1),
  found in the installed scikit-image wheel, nothing downloaded;
- ``normalize_images()``: the user's list (path, expect, within) checked in one line;
- ``parse_classes()``: Triton's classification extension answers BYTES strings
  ``"score:index:label"`` (``"score:index"`` without a label file);
- ``check()``: the expected label among the top ``within`` classes, or a
  one-line failure naming the image, the expected label and the top-5 got.
"""

from __future__ import annotations

import importlib.util
import os

SKIMAGE_DATA = "data"
TOP_RECORDED = 5


class KnownAnswerError(Exception):
    """A known-answer check that failed or cannot run; the message is one line."""


def skimage_data_dir():
    """skimage/data of the installed scikit-image wheel (found without importing it)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise KnownAnswerError("the default smoke images need scikit-image on the controller (requirements.txt)")
    return os.path.join(list(spec.submodule_search_locations)[0], SKIMAGE_DATA)


def default_images():
    """The CC0 photos of scikit-image with their ImageNet answers."""
    data = skimage_data_dir()
    return [
        {"name": "coffee.png", "path": os.path.join(data, "coffee.png"), "expect": ["espresso"], "within": 1},
        {"name": "chelsea.png", "path": os.path.join(data, "chelsea.png"),
         "expect": ["tiger cat", "tabby", "Egyptian cat"], "within": 1},
    ]


def normalize_images(images):
    """[{name, path, expect: [labels], within}] from the user's list; KnownAnswerError on a bad entry."""
    result = []
    for index, item in enumerate(images or []):
        where = f"smoke image {index + 1}"
        if not isinstance(item, dict) or not item.get("path"):
            raise KnownAnswerError(f"{where} needs a path (and expect: the label(s) to find)")
        expect = item.get("expect")
        expect = [expect] if isinstance(expect, str) else list(expect or [])
        if not expect or not all(isinstance(e, str) and e.strip() for e in expect):
            raise KnownAnswerError(f"{where} ({item['path']}) needs expect: one label or a list of labels")
        try:
            within = int(item.get("within", 1))
        except (TypeError, ValueError) as exc:
            raise KnownAnswerError(f"{where} ({item['path']}): within must be an integer") from exc
        if within < 1:
            raise KnownAnswerError(f"{where} ({item['path']}): within must be >= 1")
        if not os.path.isfile(item["path"]):
            raise KnownAnswerError(f"{where}: {item['path']} does not exist or is not a file")
        result.append({"name": item.get("name") or os.path.basename(item["path"]), "path": item["path"],
                       "expect": expect, "within": within})
    return result


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def parse_classes(values):
    """[{score, index, label}] from the classification extension's strings, in the server's order."""
    result = []
    for value in values:
        text = _text(value)
        parts = text.split(":", 2)
        try:
            score, index = float(parts[0]), int(parts[1])
        except (IndexError, ValueError) as exc:
            raise KnownAnswerError(f"the server's class string {text[:60]!r} is not 'score:index:label'") from exc
        result.append({"score": round(score, 6), "index": index, "label": parts[2] if len(parts) > 2 else None})
    return result


def label_matches(expected, label):
    """An expected name matches a label equal to it or to one of its comma-separated synonyms (any case)."""
    if not label:
        return False
    want = expected.strip().casefold()
    return want == label.strip().casefold() or want in (p.strip().casefold() for p in label.split(","))


def describe(classes, count=TOP_RECORDED):
    """'espresso (p 0.957), cup (p 0.014), ...': the probability when known, else the server's score."""
    def one(c):
        name = c["label"] if c["label"] else "#" + str(c["index"])
        value = f"p {c['probability']:.3f}" if c.get("probability") is not None else f"score {c['score']:.3f}"
        return f"{name} ({value})"

    return ", ".join(one(c) for c in classes[:count])


def check(image, classes):
    """The expected label among the top `within` of `classes`, else KnownAnswerError in one line."""
    if classes and all(c["label"] is None for c in classes):
        raise KnownAnswerError(
            f"{image['name']}: the server returned classes without labels (is label_filename in config.pbtxt and "
            "labels.txt in the model directory?)")
    top = classes[: image["within"]]
    hits = [c for c in top if any(label_matches(e, c["label"]) for e in image["expect"])]
    if hits:
        return hits[0]
    expected = " or ".join(repr(e) for e in image["expect"])
    where = "top-1" if image["within"] == 1 else f"top-{image['within']}"
    raise KnownAnswerError(f"{image['name']}: expected {expected} as {where}, got top-5: {describe(classes)}")
