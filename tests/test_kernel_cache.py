"""The C kernel cache (ops/ckernel.py): damaged libraries are rebuilt, the key names
what built the library, the directory is private (0700) or not used."""

import os
import shutil
import warnings

import pytest

from walkformer.ops import ckernel
from walkformer.ops.ckernel import Kernel, cache_key

SRC = "int answer(void) { return %d; }\n"
FLAGS = ["-O1", "-fPIC", "-shared"]


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """A one-function kernel whose cache is ``tmp_path/cache/walkformer``."""
    if shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("no C compiler")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    src = tmp_path / "answer.c"
    src.write_text(SRC % 42)
    return lambda: Kernel(src, lambda: list(FLAGS), lambda lib: None, "using torch")


def load(kernel):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        lib = kernel().library()
    return lib, [str(x.message) for x in w]


def test_a_zero_byte_cached_library_is_rebuilt_and_loaded(kernel):
    so = kernel().build()
    so.write_bytes(b"")  # what a full disk or a kill during a copy leaves
    lib, warned = load(kernel)
    assert lib is not None and lib.answer() == 42
    assert so.stat().st_size > 0 and any("rebuilding" in m for m in warned)
    lib, warned = load(kernel)  # and from then on it is simply used
    assert lib.answer() == 42 and warned == []


def test_the_key_changes_with_source_flags_and_compiler(tmp_path):
    src = tmp_path / "k.c"
    src.write_text(SRC % 1)
    cc = ("/usr/bin/cc", "/usr/bin/gcc-12", "gcc 12.2.0\n")
    key = cache_key(src, FLAGS, cc)
    assert key == cache_key(src, list(FLAGS), tuple(cc))
    assert cache_key(src, FLAGS + ["-mavx2"], cc) != key
    assert cache_key(src, ["-O1 -fPIC", "-shared"], cc) != key  # flags are not just joined text
    assert cache_key(src, FLAGS, ("/opt/cc", *cc[1:])) != key  # another compiler on the path
    assert cache_key(src, FLAGS, (cc[0], "/usr/bin/clang-16", cc[2])) != key  # cc now links elsewhere
    assert cache_key(src, FLAGS, (*cc[:2], "gcc 13.1.0\n")) != key  # the same path, upgraded
    src.write_text(SRC % 2)
    assert cache_key(src, FLAGS, cc) != key


def test_the_compiler_identity_is_its_path_and_version(tmp_path, monkeypatch):
    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    wrapper = tmp_path / "mycc"
    wrapper.write_text('#!/bin/sh\nexec cc "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("CC", "cc")
    plain = ckernel.compiler()
    monkeypatch.setenv("CC", str(wrapper))
    wrapped = ckernel.compiler()
    assert wrapped[0] == str(wrapper) and wrapped[2] == plain[2] and wrapped != plain


def test_the_cache_directory_is_created_private(kernel, tmp_path):
    so = kernel().build()
    assert so.parent == tmp_path / "cache" / "walkformer"
    assert so.parent.stat().st_mode & 0o777 == 0o700


def test_a_cache_others_can_write_is_closed_and_rebuilt(kernel, tmp_path):
    so = kernel().build()
    (tmp_path / "answer.c").write_text(SRC % 666)  # a planted library under the right name
    shutil.copy(Kernel(tmp_path / "answer.c", lambda: list(FLAGS), None, "").build(force=True), so)
    (tmp_path / "answer.c").write_text(SRC % 42)
    so.parent.chmod(0o777)
    lib, warned = load(kernel)
    assert lib.answer() == 42 and so.parent.stat().st_mode & 0o777 == 0o700
    assert any("writable by others" in m for m in warned)


def test_a_cache_of_another_user_is_not_used(kernel, tmp_path, monkeypatch):
    (tmp_path / "cache" / "walkformer").mkdir(parents=True, mode=0o700)
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(tmp_path).st_uid + 1)  # we are someone else
    lib, warned = load(kernel)
    assert lib.answer() == 42 and any("not to you" in m for m in warned)
    assert list((tmp_path / "cache" / "walkformer").iterdir()) == []
    with pytest.warns(UserWarning, match="not to you"):
        private = ckernel.cache_dir()
    assert private != tmp_path / "cache" / "walkformer" and private.stat().st_mode & 0o777 == 0o700


def test_no_compiler_falls_back_with_one_warning(kernel, monkeypatch):
    monkeypatch.setenv("CC", "/nonexistent")
    lib, warned = load(kernel)
    assert lib is None and len(warned) == 1 and "cannot build the C kernel" in warned[0]
    assert "using torch" in warned[0]
