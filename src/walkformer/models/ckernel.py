"""Build and load the package's small C kernels (``causal_attention.c``, ``shicao_kernel.c``).

A kernel is compiled once per machine with the system's C compiler (``$CC``, default
``cc``) into ``~/.cache/walkformer`` (``$XDG_CACHE_HOME/walkformer``), under a name keyed
by a hash of its source (with the local headers it includes), flags and compiler version; concurrent processes each compile
to a temporary file and rename it into place atomically. Where no compiler works the
kernel is None and its caller falls back to torch, with one warning.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import torch


def simd_flags() -> list[str]:
    """-mavx2 -mfma where torch itself runs AVX2 code (so the machine has them)."""
    return ["-mavx2", "-mfma"] if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512") else []


def build(src: Path, flags: list[str]) -> Path:
    """Compile ``src`` into the cache once per (source, flags, compiler); the .so's path."""
    cc = os.environ.get("CC", "cc")
    ver = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True).stdout
    text = src.read_bytes()
    for h in sorted(set(re.findall(rb'#include "([\w.]+\.h)"', text))):  # local headers (simd.h) are part of the key
        text += (src.parent / h.decode()).read_bytes()
    key = hashlib.sha256(text + " ".join(flags).encode() + ver.encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "walkformer"
    so = cache / f"{src.stem}-{key}.so"
    if not so.exists():
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=cache)
        os.close(fd)
        try:
            subprocess.run([cc, *flags, str(src), "-o", tmp], capture_output=True, text=True, check=True)
            os.replace(tmp, so)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return so


class Kernel:
    """A C source, its flags and its ctypes declarations, built and loaded on first use.

    ``declare(lib)`` sets argtypes/restype; ``fallback`` ends the warning printed when the
    kernel cannot be built (e.g. "using the torch blocks backend")."""

    def __init__(self, src: Path, flags: Callable[[], list[str]], declare: Callable, fallback: str):
        self.src, self.flags, self.declare, self.fallback = src, flags, declare, fallback
        self._lib = None  # the loaded library, False once building it failed

    def build(self) -> Path:
        return build(self.src, self.flags())

    def library(self):
        """The loaded library (ctypes.CDLL), or None where it cannot be built (one warning)."""
        if self._lib is None:
            try:
                lib = ctypes.CDLL(str(self.build()))
                self.declare(lib)
                self._lib = lib
            except (OSError, subprocess.CalledProcessError) as e:
                err = getattr(e, "stderr", "") or e
                warnings.warn(f"{self.src.stem}: cannot build the C kernel ({err}); {self.fallback}")
                self._lib = False
        return self._lib or None
