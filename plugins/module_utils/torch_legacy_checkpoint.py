# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a legacy (pre-1.6) PyTorch checkpoint into numpy arrays, without torch and without trusting it.

Hand-written because no maintained library reads this format without torch,
and torch's own loader would execute whatever the pickle names. The legacy
format is a sequence of pickles: a magic number, the protocol version, a
dict of system info, the object itself (here a state dict of tensors whose
storages are persistent-id references), the list of storage keys, and then
for each storage an 8-byte little-endian element count and its raw bytes.

The unpickler allows only the names a state dict of tensors needs
(``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2``/
``_rebuild_tensor`` and the typed ``torch.*Storage`` classes), which are
replaced by local stand-ins; any other global, and so any code a crafted
checkpoint tries to run, is refused with CheckpointError.
"""

from __future__ import annotations

import collections
import pickle
import struct

try:
    import numpy as np
except ImportError:  # pragma: no cover - the caller reports missing numpy
    np = None

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
# Storage class name -> numpy dtype of its elements (little endian, as torch writes them).
STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class CheckpointError(Exception):
    """The one error type of this file: a checkpoint that is not a legacy torch state dict, or is unsafe."""


class _StorageType:
    """Stand-in for a torch.*Storage class: only its element dtype matters."""

    def __init__(self, name):
        self.name = name
        self.dtype = STORAGE_DTYPES[name]


class _TensorRef:
    """A tensor waiting for its storage bytes: storage key, offset, size and stride in elements."""

    def __init__(self, storage, offset, size, stride):
        self.storage = storage
        self.offset = int(offset)
        self.size = tuple(int(s) for s in size)
        self.stride = tuple(int(s) for s in stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    del requires_grad, backward_hooks, metadata  # autograd state means nothing to a numpy array
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _TensorRef(storage, storage_offset, size, stride)


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, handle, storages):
        super().__init__(handle)
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise CheckpointError(f"the checkpoint names {module}.{name}, which a state dict of tensors never needs: "
                                  "refused")
        return allowed

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, element count, view metadata)
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage" or not isinstance(pid[1], _StorageType):
            raise CheckpointError(f"unexpected persistent reference {str(pid)[:80]}")
        _kind, storage_type, key, _location, count = pid[:5]
        if len(pid) > 5 and pid[5] is not None:
            raise CheckpointError("storage views are not supported")
        self.storages.setdefault(str(key), (storage_type, int(count)))
        return str(key)


def _load_one(handle, storages):
    try:
        return _RestrictedUnpickler(handle, storages).load()
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - pickle raises many types on corrupt input
        raise CheckpointError(f"not a legacy torch checkpoint ({type(exc).__name__}: {str(exc)[:120]})") from exc


def _strided(flat, ref, name):
    if not ref.size:
        return flat[ref.offset:ref.offset + 1].reshape(()).copy()
    extent = ref.offset + sum((s - 1) * st for s, st in zip(ref.size, ref.stride, strict=True)) + 1
    if ref.offset < 0 or extent > flat.size:
        raise CheckpointError(f"tensor '{name}' reaches outside its storage")
    itemsize = flat.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[ref.offset:], shape=ref.size, strides=tuple(st * itemsize for st in ref.stride), writeable=False)
    return np.array(view)


def load_state_dict(path):
    """The checkpoint's state dict as {name: numpy array}; raise CheckpointError on anything unexpected."""
    if np is None:
        raise CheckpointError("reading a checkpoint needs numpy")
    storages = {}
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed in finally, the reads below interleave pickles and bytes
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        if handle.read(2) == b"PK":
            raise CheckpointError(f"{path} is a zip-format (torch >= 1.6) checkpoint, not the legacy format")
        handle.seek(0)
        if _load_one(handle, storages) != MAGIC_NUMBER:
            raise CheckpointError(f"{path} does not start with the legacy torch magic number")
        if _load_one(handle, storages) != PROTOCOL_VERSION:
            raise CheckpointError(f"{path} has an unknown legacy protocol version")
        sys_info = _load_one(handle, storages)
        if not isinstance(sys_info, dict) or not sys_info.get("little_endian", True):
            raise CheckpointError(f"{path} was written on a big-endian machine")
        state = _load_one(handle, storages)
        keys = _load_one(handle, storages)
        if not isinstance(state, dict) or not isinstance(keys, list):
            raise CheckpointError(f"{path} does not hold a state dict")
        flat = {}
        for key in keys:
            key = str(key)
            if key not in storages:
                raise CheckpointError(f"storage {key} is listed but never referenced")
            storage_type, count = storages[key]
            header = handle.read(8)
            if len(header) != 8:
                raise CheckpointError(f"{path} is truncated (storage {key})")
            (stored_count,) = struct.unpack("<q", header)
            if stored_count != count:
                raise CheckpointError(f"storage {key} holds {stored_count} elements, its reference says {count}")
            dtype = np.dtype(storage_type.dtype)
            raw = handle.read(count * dtype.itemsize)
            if len(raw) != count * dtype.itemsize:
                raise CheckpointError(f"{path} is truncated (storage {key})")
            flat[key] = np.frombuffer(raw, dtype=dtype)
    finally:
        handle.close()
    result = collections.OrderedDict()
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef):
            raise CheckpointError(f"entry '{name}' is not a tensor")
        if ref.storage not in flat:
            raise CheckpointError(f"tensor '{name}' refers to storage {ref.storage}, which is not in the file")
        result[str(name)] = _strided(flat[ref.storage], ref, name)
    return result
