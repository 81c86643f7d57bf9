"""Run directories: atomic files, staging, provenance, verification, the directory lock.

A run is written into a hidden staging directory beside its target (``.NAME.tmp-PID``)
and renamed into place when it ends (finished or failed), so a reader never sees half a
run and an interrupted run leaves nothing at the target. Every file is written to a
temporary name and ``os.replace``d. The last file staged is ``manifest.json``: the size
and SHA-256 of each run file, so :func:`damage` can tell a whole run from a damaged one
without trusting it. :func:`lock` keeps one sweep or reproduction per output directory.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
import shlex
import shutil
import socket
import struct
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from ..config import Config, ConfigError, keys, get

FILES = ("config.json", "summary.json", "metrics.jsonl", "params.safetensors")
MANIFEST = "manifest.json"  # {"files": {name: {"bytes": n, "sha256": hex}}} of the FILES present, written last


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

    from .. import __version__

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "walkformer": __version__, "platform": platform.platform()}


def command_for(cfg: Config, out: str) -> str:
    """The ``walkformer train`` command that reproduces ``cfg`` (non-default keys, and every
    key whose default depends on model.name, see ``config.IMPLIED``)."""
    from ..config import IMPLIED

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
            write_manifest(self.tmp)
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
        from ..config import from_dict
        from ..models import build_model
        from ..tasks import make_task
        from ..training import generator

        cfg = from_dict(json.loads((run_dir / "config.json").read_text()))
        W0 = build_model(cfg, make_task(cfg), generator(cfg.seed, "init")).W0
        t["W"] = torch.outer(t["W_R"], t["W_q"]) + (W0 if W0 is not None else 0)
    return t


# ---- verification: is a run directory whole? ------------------------------------------
def digest(path: Path) -> dict:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {"bytes": path.stat().st_size, "sha256": h.hexdigest()}


def write_manifest(run: Path) -> None:
    write_json(run / MANIFEST, {"files": {n: digest(run / n) for n in FILES if (run / n).is_file()}})


def _safetensors_ok(path: Path) -> bool:
    """The header parses and the file is exactly as long as it says (8 + n + data)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            return False
        (n,) = struct.unpack("<Q", head)
        if n > path.stat().st_size:
            return False
        meta = json.loads(fh.read(n))
    end = max((t["data_offsets"][1] for k, t in meta.items() if k != "__metadata__"), default=0)
    return path.stat().st_size == 8 + n + end


def _parses(name: str, path: Path) -> bool:
    try:
        if name == "params.safetensors":
            return _safetensors_ok(path)
        text = path.read_text()
        if name == "metrics.jsonl":
            return all(isinstance(json.loads(line), dict) for line in text.splitlines())
        return isinstance(json.loads(text), dict)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError, struct.error):
        return False


def damage(run: Path | str) -> str | None:
    """None when ``run`` is a whole run directory, else why not (one line).

    Whole: ``summary.json`` is a JSON object with a ``status``; ``config.json`` is there,
    and so are ``metrics.jsonl`` and ``params.safetensors`` unless the run crashed before
    it had a model (status ``error``). With a ``manifest.json`` each file must have its
    recorded size and SHA-256; a run from before manifests (none) must parse instead:
    JSON, JSON lines, a safetensors header whose length matches the file."""
    run = Path(run)
    if not run.is_dir():
        return "missing" if not run.exists() else "not a directory"
    try:
        summary = json.loads((run / "summary.json").read_text())
    except FileNotFoundError:
        return "no summary.json"
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return f"summary.json is not valid JSON ({type(e).__name__})"
    if not isinstance(summary, dict) or "status" not in summary:
        return "summary.json has no status"
    need = FILES if summary["status"] != "error" else ("config.json", "summary.json")
    missing = [n for n in need if not (run / n).is_file()]
    if missing:
        return f"{missing[0]} is missing"
    try:
        files = json.loads((run / MANIFEST).read_text())["files"] if (run / MANIFEST).exists() else None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return "manifest.json is not readable"
    for n in need:
        try:
            if files is None:
                if not _parses(n, run / n):
                    return f"{n} does not parse"
                continue
            if n not in files:
                return f"{n} is not in manifest.json"
            size = (run / n).stat().st_size
            if size != files[n]["bytes"]:
                return f"{n} has {size} bytes, {files[n]['bytes']} recorded"
            if digest(run / n)["sha256"] != files[n]["sha256"]:
                return f"{n} does not match its recorded sha256"
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, struct.error) as e:
            return f"{n} is not readable ({type(e).__name__})"
    return None


DAMAGED = ".damaged"


def set_aside(run: Path, reason: str) -> Path:
    """Move a damaged run to ``PARENT/.damaged/<name>-<UTC time>/`` with ``reason.txt``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    dest = run.parent / DAMAGED / f"{run.name}-{stamp}"
    n = 1
    while dest.exists():
        dest, n = run.parent / DAMAGED / f"{run.name}-{stamp}-{n}", n + 1
    dest.parent.mkdir(parents=True, exist_ok=True)
    if run.is_dir():
        os.replace(run, dest)
    else:  # a file where the run directory should be
        dest.mkdir()
        os.replace(run, dest / run.name)
    atomic_write(dest / "reason.txt", f"{run.name}: {reason}\n")
    return dest


# ---- staging directories and files of dead processes ----------------------------------
def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


STAGED = re.compile(r"^\.(.+)\.tmp-(\d+)$")
OURS = FILES + (MANIFEST, "results.parquet", "claims.json", "differences.json")  # with *.png: what we write


def _ours(entry: Path) -> bool:
    """A staging directory holding only run files, figures and their temporary names,
    or the temporary name of one such file (``atomic_write``)."""
    if entry.is_symlink():
        return False
    if entry.is_file():
        name = STAGED.match(entry.name).group(1)
        return name in OURS or name.endswith(".png")
    return entry.is_dir() and all(e.is_file() and (e.name in OURS or e.suffix == ".png" or STAGED.match(e.name))
                                  for e in entry.iterdir())


def clean_staging(dirs) -> list[Path]:
    """Remove the staging directories and temporary files (``.NAME.tmp-PID``) that
    processes now dead left in ``dirs``; those of a live process are its work in
    progress and stay. Only what holds nothing but files walkformer writes is touched
    (``--out``'s parent may be any directory). Returns what was removed."""
    gone = []
    for d in {Path(p) for p in dirs}:
        if not d.is_dir():
            continue
        for entry in d.iterdir():
            m = STAGED.match(entry.name)
            if m and not pid_alive(int(m.group(2))) and _ours(entry):
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
                gone.append(entry)
    return gone


# ---- one sweep or reproduction per output directory ------------------------------------
LOCK = ".walkformer.lock"


class Busy(ConfigError):
    """The output directory is in use by another walkformer process."""


def _owner(info: dict) -> str:
    if info.get("pid") is None:
        return "another walkformer process"
    return (f"pid {info['pid']} on {info.get('host')} ({info.get('command', '?')}, since "
            f"{info.get('since', '?')})")


STRAGGLERS = 5.0  # seconds a lock whose owner is dead may stay held by its ending workers


def _flock(fd: int) -> tuple[bool, bool]:
    """(held by another process, the filesystem takes flock locks), trying once."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False, True
    except BlockingIOError:
        return True, True
    except OSError:  # a filesystem without locks: the file's content decides
        return False, False


def _owner_of(fd: int) -> dict:
    """The owner a lock file names ({} if none can be read)."""
    try:
        old = json.loads(os.pread(fd, 1 << 16, 0) or b"{}")
    except ValueError:  # not ours, or cut short: no owner to name
        return {}
    return old if isinstance(old, dict) and isinstance(old.get("pid"), int) else {}


@contextmanager
def lock(out: Path | str, note=lambda m: print(f"walkformer: note: {m}", file=sys.stderr)):
    """``with lock(DIR):`` hold ``DIR/.walkformer.lock`` (``fcntl.flock``, released by
    the kernel when the holder dies); the file names the holder (pid, host, command).

    Held by a live process: :class:`Busy` (one line, nothing written). Left by a dead
    process of this host: taken over, with a ``note`` (stderr). Left by another host, whose pids
    we cannot check: Busy, saying to remove the file if that process is gone."""
    import fcntl

    out = Path(out)
    path = out / LOCK
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ConfigError(f"--out={str(out)!r} is not allowed: cannot create {str(path)!r} ({e.strerror})") from None
    try:
        held, flocks = _flock(fd)
        old = _owner_of(fd)
        host = socket.gethostname()
        # the owner is gone but its workers (which share the lock) may still be ending: they
        # die within a second of it (executors._die_with_parent), so wait for them a little
        deadline = time.time() + STRAGGLERS
        orphaned = lambda: old.get("host") == host and "pid" in old and not pid_alive(old["pid"])  # noqa: E731
        while held and orphaned() and time.time() < deadline:
            time.sleep(0.05)
            held, flocks = _flock(fd)
        if held and orphaned():
            raise Busy(f"--out={str(out)!r} is still locked by processes that {_owner(old)} (gone) left behind: "
                       f"end them (e.g. fuser {path}) and run again")
        if held:
            raise Busy(f"--out={str(out)!r} is in use by {_owner(old)}: one sweep or reproduce per directory at a time")
        if old.get("pid") is not None:
            if old.get("host") != host:
                raise Busy(f"--out={str(out)!r} is locked by {_owner(old)}; if that process is gone, remove {path}")
            if not flocks and pid_alive(old["pid"]) and old["pid"] != os.getpid():
                raise Busy(f"--out={str(out)!r} is in use by {_owner(old)}: one sweep or reproduce per directory at a time")
            why = "no longer holds it" if pid_alive(old["pid"]) else "is gone"
            note(f"took over the lock of {_owner(old)}: that process {why}")
        me = {"pid": os.getpid(), "host": host, "command": shlex.join(["walkformer", *sys.argv[1:]]),
              "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        os.fsync(fd)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)  # an empty file: free (never unlinked, so no two processes lock two inodes)
            if flocks:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
