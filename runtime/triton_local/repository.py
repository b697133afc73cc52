# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The model repository: Triton's layout, version policy, load, reload and unload.

Layout: <repository>/<model>/config.pbtxt and <repository>/<model>/<version>/model.onnx
(the file name may be changed with default_model_filename). Without a
config.pbtxt the configuration is completed from the model, as Triton does
for ONNX. A load request reloads a model only when its files changed (the
fingerprint: config bytes plus size and mtime of each version's model file).
"""

from __future__ import annotations

import hashlib
import logging
import os

from . import pbtxt
from .model import ModelLoadError, ModelVersion

LOG = logging.getLogger("triton_local.repository")


class Repository:
    def __init__(self, roots, options):
        self.roots = [os.path.abspath(r) for r in roots]
        self.options = options
        self.models = {}  # name -> {version: ModelVersion}
        self.fingerprints = {}  # name -> fingerprint of the loaded files
        self.failures = {}  # name -> reason the last load failed

    # --- discovery ------------------------------------------------------------------------
    def model_dirs(self):
        found = {}
        for root in self.roots:
            try:
                entries = sorted(os.listdir(root))
            except OSError as exc:
                raise ModelLoadError(f"cannot read the model repository {root}: {exc.strerror}") from exc
            for entry in entries:
                path = os.path.join(root, entry)
                if os.path.isdir(path) and not entry.startswith("."):
                    found.setdefault(entry, path)
        return found

    @staticmethod
    def _read_config(path, name):
        config_path = os.path.join(path, "config.pbtxt")
        if not os.path.exists(config_path):
            return {"name": name, "platform": "onnxruntime_onnx", "backend": "onnxruntime", "max_batch_size": 0}, b""
        with open(config_path, "rb") as handle:
            raw = handle.read()
        try:
            config = pbtxt.parse(raw.decode("utf-8"))
        except (pbtxt.TritonConfigError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"config.pbtxt of '{name}' cannot be parsed: {exc}") from exc
        if config.get("name", name) != name:
            raise ModelLoadError(f"config.pbtxt names the model '{config.get('name')}', its directory is '{name}'")
        platform = config.get("platform", "onnxruntime_onnx")
        backend = config.get("backend", "onnxruntime")
        if platform != "onnxruntime_onnx" or backend != "onnxruntime":
            raise ModelLoadError(
                f"'{name}' needs platform '{platform}' / backend '{backend}': this runtime serves ONNX models only")
        config.setdefault("name", name)
        config.setdefault("platform", "onnxruntime_onnx")
        config.setdefault("backend", "onnxruntime")
        config.setdefault("max_batch_size", 0)
        return config, raw

    @staticmethod
    def _versions(path, config):
        available = sorted(int(e) for e in os.listdir(path) if e.isdigit() and os.path.isdir(os.path.join(path, e)))
        policy = config.get("version_policy") or {"latest": {"num_versions": 1}}
        if "all" in policy:
            return available
        if "specific" in policy:
            wanted = {int(v) for v in (policy["specific"] or {}).get("versions", [])}
            return [v for v in available if v in wanted]
        latest = int(((policy.get("latest") or {}).get("num_versions")) or 1)
        return available[-latest:]

    def _fingerprint(self, path, config_raw, config, versions):
        digest = hashlib.sha256(config_raw)
        filename = config.get("default_model_filename", "model.onnx")
        for version in versions:
            model_path = os.path.join(path, str(version), filename)
            try:
                st = os.stat(model_path)
                digest.update(f"{version}:{st.st_size}:{st.st_mtime_ns}".encode())
            except OSError:
                digest.update(f"{version}:missing".encode())
        return digest.hexdigest()

    # --- load / unload --------------------------------------------------------------------
    def load(self, name, force=False):
        """(Re)load a model from disk. Returns True when something was (re)loaded."""
        dirs = self.model_dirs()
        if name not in dirs:
            raise ModelLoadError(f"failed to load '{name}', no version is available (not in the repository)")
        path = dirs[name]
        try:
            config, raw = self._read_config(path, name)
            versions = self._versions(path, config)
            if not versions:
                raise ModelLoadError(f"'{name}' has no numeric version directory with a model in it")
            fingerprint = self._fingerprint(path, raw, config, versions)
            if not force and name in self.models and self.fingerprints.get(name) == fingerprint:
                return False
            filename = config.get("default_model_filename", "model.onnx")
            loaded = {}
            for version in versions:
                model_path = os.path.join(path, str(version), filename)
                try:
                    with open(model_path, "rb") as handle:
                        data = handle.read()
                except OSError as exc:
                    raise ModelLoadError(
                        f"'{name}' version {version}: cannot read {model_path}: {exc.strerror}") from exc
                loaded[str(version)] = ModelVersion(name, version, config, data, self.options)
                loaded[str(version)].labels = _labels(path, config)
        except ModelLoadError as exc:
            self.failures[name] = str(exc)
            raise
        old = self.models.get(name)
        self.models[name] = loaded
        self.fingerprints[name] = fingerprint
        self.failures.pop(name, None)
        if old:
            for model in old.values():
                model.close()
        first = next(iter(loaded.values()))
        LOG.info(
            "loaded model '%s' versions %s (max_batch_size %d, dynamic batching %s, %d instance(s), "
            "intra-op threads %s)",
            name, ", ".join(loaded), first.max_batch_size, "on" if first.dynamic else "off", first.instance_count,
            first.intra_threads or "onnxruntime default")
        return True

    def load_all(self):
        errors = []
        for name in self.model_dirs():
            try:
                self.load(name)
            except ModelLoadError as exc:
                LOG.error("model '%s' failed to load: %s", name, exc)
                errors.append(f"{name}: {exc}")
        return errors

    def unload(self, name):
        old = self.models.pop(name, None)
        self.fingerprints.pop(name, None)
        if old is None:
            return False
        for model in old.values():
            model.close()
        self.failures[name] = "unloaded"
        return True

    # --- lookups --------------------------------------------------------------------------
    def get(self, name, version=None):
        versions = self.models.get(name)
        if not versions:
            return None
        if version:
            return versions.get(str(version))
        return versions[max(versions, key=int)]

    def ready(self):
        """Ready when a model is loaded and none failed (a failed reload keeps serving the old version)."""
        failed = [n for n, reason in self.failures.items() if reason != "unloaded" and n not in self.models]
        return bool(self.models) and not failed

    def index(self):
        result = []
        for name in sorted(set(self.model_dirs()) | set(self.models)):
            if name in self.models:
                result.extend({"name": name, "version": v, "state": "READY", "reason": ""} for v in self.models[name])
            else:
                result.append({"name": name, "version": "", "state": "UNAVAILABLE",
                               "reason": self.failures.get(name, "not loaded")})
        return result

    def all_versions(self):
        for versions in self.models.values():
            yield from versions.values()


def _labels(path, config):
    """{output name: class names} of the outputs with a label_filename (Triton's classification labels)."""
    result = {}
    for output in config.get("output") or []:
        filename = output.get("label_filename")
        if not filename:
            continue
        try:
            with open(os.path.join(path, filename), encoding="utf-8") as handle:
                result[output["name"]] = handle.read().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"label file {filename} of output '{output['name']}' cannot be read: {exc}") from exc
    return result
