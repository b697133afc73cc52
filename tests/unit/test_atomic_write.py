"""plugins/module_utils/atomic_write.py: the one atomic writer every module_utils uses."""
from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.gpu_e2e.platform.plugins.module_utils import atomic_write
from ansible_collections.gpu_e2e.platform.plugins.module_utils.atomic_write import write_atomic


def test_text_and_bytes_land_with_the_asked_mode(tmp_path):
    text_file = tmp_path / "a" / "b" / "doc.json"
    write_atomic(str(text_file), "{}\n")
    assert text_file.read_text() == "{}\n"
    assert stat.S_IMODE(text_file.stat().st_mode) == 0o644
    secret = tmp_path / "kubeconfig"
    write_atomic(str(secret), b"token", mode=0o600)
    assert secret.read_bytes() == b"token"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_a_missing_directory_is_an_error_without_make_dirs(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_atomic(str(tmp_path / "missing" / "events.json"), "x", make_dirs=False)
    assert not (tmp_path / "missing").exists()


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    """Without the clean-up in write_atomic's except branch the temporary file stays (checked)."""
    dest = tmp_path / "kpis.json"
    dest.write_text("old\n")

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(atomic_write.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(str(dest), "new\n")
    assert dest.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["kpis.json"]
