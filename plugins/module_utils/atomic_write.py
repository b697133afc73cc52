# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atomic file writes: the one place the collection writes a file that a reader may open meanwhile.

The content goes to a temporary file in the destination's directory (so the rename stays on one file
system), gets its mode before any byte is written (a kubeconfig is never readable by others, not even
for a moment), and replaces the destination with ``os.replace``. A failure leaves the destination as it
was and removes the temporary file. Errors are the ``OSError`` the system raised; each caller turns it
into its own error type.
"""
from __future__ import annotations

import os
import tempfile


def write_atomic(path, data, mode=0o644, make_dirs=True):
    """Write ``data`` (``str`` as UTF-8, or ``bytes``) to ``path`` atomically with permissions ``mode``.

    ``make_dirs`` creates the missing parent directories; without it a missing directory is an error.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if make_dirs:
        os.makedirs(directory, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
