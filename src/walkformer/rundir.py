"""Run directories: atomic files, staging, provenance.

A run is written into a hidden staging directory beside its target and renamed into
place when it ends (finished or failed), so a reader never sees half a run and an
interrupted run leaves nothing at the target. Every file is written to a temporary
name and ``os.replace``d.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import shutil
from pathlib import Path

from .config import Config, ConfigError, keys, get

FILES = ("config.json", "summary.json", "metrics.jsonl", "params.safetensors")


def atomic_write(path: Path | str, data: str | bytes) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def strict(obj):
    """Replace NaN and ±inf by None so every file is strict JSON (any parser reads it)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    return obj


def dumps(obj, **kw) -> str:
    return json.dumps(strict(obj), allow_nan=False, **kw)


def write_json(path, obj) -> None:
    atomic_write(path, dumps(obj, indent=2) + "\n")


def versions() -> dict[str, str]:
    import numpy
    import torch

    from . import __version__

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "walkformer": __version__, "platform": platform.platform()}


def command_for(cfg: Config, out: str) -> str:
    """The ``walkformer train`` command that reproduces ``cfg`` (non-default keys, and every
    key whose default depends on model.name, see ``config.IMPLIED``)."""
    from .config import IMPLIED

    default, implied = Config(), IMPLIED.get(cfg.model.name, {})
    args = [f"{k}={get(cfg, k)}" for k in keys() if get(cfg, k) != get(default, k) or k in implied]
    return shlex.join(["walkformer", "train", "--out", str(out), *args])


def check_out(out: Path | str) -> Path:
    """``--out`` must be absent or an empty directory in a writable parent."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out={str(out)!r} is not allowed: it exists and is not an empty directory")
    parent = out.absolute().parent
    if not parent.is_dir():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"--out={str(out)!r} is not allowed: cannot create its parent ({e.strerror})") from None
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"--out={str(out)!r} is not allowed: {str(parent)!r} is not writable")
    return out


class Staging:
    """``with Staging(out) as tmp:`` write into ``tmp``; on exit it becomes ``out``.

    An exception inside the block (Ctrl-C included) removes the staging directory,
    except :class:`RunFailed`, whose directory is kept (it records the failure).
    """

    def __init__(self, out: Path | str):
        self.out = Path(out)
        self.tmp = self.out.with_name(f".{self.out.name}.tmp-{os.getpid()}")

    def __enter__(self) -> Path:
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        return self.tmp

    def __exit__(self, typ, exc, tb):
        if typ is None or (typ is not None and issubclass(typ, RunFailed)):
            if self.out.is_dir() and not any(self.out.iterdir()):
                self.out.rmdir()
            os.replace(self.tmp, self.out)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False


class RunFailed(RuntimeError):
    """Training stopped (non-finite loss); the run directory records why."""



def load_params(run_dir: Path | str) -> dict:
    """The tensors of ``run_dir/params.safetensors`` (torch), with the Shi & Cao W dense
    even where the run stored it by its factors (W = W0 + W_R W_qᵀ; W0 is zero or
    redrawn, bit for bit, from the seed (or ``init.seed``) in ``config.json``)."""
    import torch
    from safetensors.torch import load_file

    run_dir = Path(run_dir)
    t = load_file(str(run_dir / "params.safetensors"))
    if "W" not in t and "W_R" in t:
        from .config import from_dict
        from .models import build_model
        from .tasks import make_task
        from .train import generator

        cfg = from_dict(json.loads((run_dir / "config.json").read_text()))
        W0 = build_model(cfg, make_task(cfg), generator(cfg.seed, "init")).W0
        t["W"] = torch.outer(t["W_R"], t["W_q"]) + (W0 if W0 is not None else 0)
    return t
