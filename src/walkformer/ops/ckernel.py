"""Build and load the accelerations' C kernels (``causal_attention.c``, ``shicao_kernel.c``,
``token_attention.c``).

A kernel is compiled once per machine with the system's C compiler (``$CC``, default
``cc``) into the cache directory ``$XDG_CACHE_HOME/walkformer`` (default
``~/.cache/walkformer``) as ``STEM-KEY.so``, where

    KEY = sha256(source + the local headers it includes, flags, compiler path, compiler --version)

so a change to anything that builds the library picks a new file. Concurrent processes each
compile to a temporary file and rename it into place atomically.

What is loaded is trusted only as far as its directory is:

- the cache directory is created 0700; one that is ours but that others may write is
  closed (0700) and emptied of libraries (anyone could have written them), one that belongs
  to another user is not used (the kernels are built in a private temporary directory);
  each case says so in one warning;
- a cached library that fails to load (a 0-byte or truncated ``.so``) is rebuilt once,
  then loaded.

Where no compiler works the kernel is None and its caller falls back to torch, with one
warning. ``tests/test_kernel_cache.py`` checks each of these.
"""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import torch


def simd_flags() -> list[str]:
    """-mavx2 -mfma where torch itself runs AVX2 code (so the machine has them)."""
    return ["-mavx2", "-mfma"] if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512") else []


def compiler() -> tuple[str, str, str]:
    """The C compiler's identity: (path found for ``$CC``, that path with links resolved,
    its ``--version`` output). OSError where there is none."""
    cc = os.environ.get("CC", "cc")
    path = shutil.which(cc)
    if path is None:
        raise FileNotFoundError(f"no C compiler {cc!r} (set $CC)")
    version = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
    return path, os.path.realpath(path), version


def cache_key(src: Path, flags: list[str], cc: tuple[str, ...]) -> str:
    """16 hex digits of sha256 over the source (with its local headers, e.g. ``simd.h``),
    the flags and the compiler's identity (``compiler()``); each part is hashed on its own
    so no two different inputs concatenate to the same bytes."""
    text = src.read_bytes()
    for h in sorted(set(re.findall(rb'#include "([\w.]+\.h)"', text))):
        text += (src.parent / h.decode()).read_bytes()
    key = hashlib.sha256()
    for part in (text, "\0".join(flags).encode(), *(s.encode() for s in cc)):
        key.update(hashlib.sha256(part).digest())
    return key.hexdigest()[:16]


_private_dir: list[Path] = []  # this process's own build directory, where the cache is not ours


def _temporary() -> Path:
    if not _private_dir:
        d = Path(tempfile.mkdtemp(prefix="walkformer-kernels-"))  # 0700
        atexit.register(shutil.rmtree, d, ignore_errors=True)
        _private_dir.append(d)
    return _private_dir[0]


def cache_dir() -> Path:
    """The kernel cache: this user's own directory, closed to others (0700). A directory
    that others could write is closed and emptied of libraries; one owned by another user
    is left alone and a private temporary directory is used instead (one warning each)."""
    d = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "walkformer"
    d.mkdir(parents=True, mode=0o700, exist_ok=True)
    st = d.stat()
    if st.st_uid != os.geteuid():
        warnings.warn(f"kernel cache {d} belongs to uid {st.st_uid}, not to you: building the C kernels in a "
                      "private temporary directory (set XDG_CACHE_HOME to a directory of your own)")
        return _temporary()
    if st.st_mode & 0o077:
        os.chmod(d, 0o700)
        if st.st_mode & 0o022:  # others could have written its libraries: build them again
            for so in d.glob("*.so"):
                so.unlink()
            warnings.warn(f"kernel cache {d} was writable by others (mode {st.st_mode & 0o777:o}): "
                          "made it 0700 and rebuilding its C kernels")
    return d


def build(src: Path, flags: list[str], force: bool = False) -> Path:
    """Compile ``src`` into the cache once per (source, flags, compiler), or again with
    ``force``; the .so's path."""
    cc = compiler()
    cache = cache_dir()
    so = cache / f"{src.stem}-{cache_key(src, flags, cc)}.so"
    if force or not so.exists():
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=cache)
        os.close(fd)
        try:
            subprocess.run([cc[0], *flags, str(src), "-o", tmp], capture_output=True, text=True, check=True)
            os.replace(tmp, so)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return so


class Kernel:
    """A C source, its flags and its ctypes declarations, built and loaded on first use.

    ``declare(lib)`` sets argtypes/restype; ``fallback`` ends the warning printed when the
    kernel cannot be built (e.g. "using the torch implementation")."""

    def __init__(self, src: Path, flags: Callable[[], list[str]], declare: Callable, fallback: str):
        self.src, self.flags, self.declare, self.fallback = src, flags, declare, fallback
        self._lib = None  # the loaded library, False once building it failed

    def build(self, force: bool = False) -> Path:
        return build(self.src, self.flags(), force)

    def _load(self):
        so = self.build()
        try:
            lib = ctypes.CDLL(str(so))
        except OSError as e:  # a damaged cached library (0 bytes, cut short): rebuilt once
            warnings.warn(f"{self.src.stem}: the cached C kernel {so} does not load ({e}); rebuilding it")
            lib = ctypes.CDLL(str(self.build(force=True)))
        self.declare(lib)
        return lib

    def library(self):
        """The loaded library (ctypes.CDLL), or None where it cannot be built (one warning)."""
        if self._lib is None:
            try:
                self._lib = self._load()
            except (OSError, subprocess.CalledProcessError) as e:
                err = getattr(e, "stderr", "") or e
                warnings.warn(f"{self.src.stem}: cannot build the C kernel ({err}); {self.fallback}")
                self._lib = False
        return self._lib or None
