"""The GPUs a trial process may use (`ProcessExecutor(gpus_per_trial=...)`): found once, in the driver, and handed
out from a pool, so that no two running trials share a GPU beyond their fractions.

The GPUs are those the driver's ``CUDA_VISIBLE_DEVICES`` lists (ids or UUIDs), else those ``nvidia-smi -L`` lists,
else none. Each trial process gets ``CUDA_VISIBLE_DEVICES`` set to the GPUs it holds, and gives them back when it
ends, however it ends.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from tunesmith._validate import real
from tunesmith.errors import ConfigError

__all__ = ["VISIBLE", "Found", "GpuPool", "find_gpus", "gpu_pool", "gpu_share", "listed", "listed_by_nvidia_smi"]

VISIBLE = "CUDA_VISIBLE_DEVICES"
# nvidia-smi numbers GPUs in PCI bus order, CUDA by default fastest first: a trial handed nvidia-smi's numbers reads
# them in nvidia-smi's order, or "0" could name another GPU on a machine of mixed GPUs.
_ORDER = "CUDA_DEVICE_ORDER"
_NVIDIA_SMI_TIMEOUT = 20.0  # seconds; a driver in trouble can hang nvidia-smi
_GPU_LINE = re.compile(r"^GPU (\d+):")
_MIG_LINE = re.compile(r"^\s+MIG .*\(UUID: (MIG-[^)\s]+)\)")
_ID = re.compile(r"^(\d+|GPU-\S+|MIG-\S+)$")
# How far 1 / gpus_per_trial may be from a whole number of trials: 0.33 and 0.333 (as a config writes 1/3) are 3 a GPU.
_SHARE_SLACK = 0.05
_FIX = "pass a whole number of GPUs (1, 2...) or a fraction that divides one GPU (0.5, 0.25...)"


@dataclass(frozen=True)
class Found:
    """The GPUs found and where: ``where`` says it in words for a message; ``order`` is the ``CUDA_DEVICE_ORDER`` a
    trial process needs to read the ids as they were found (``None``: the driver's own, inherited)."""

    gpus: tuple[str, ...]
    where: str
    order: str | None = None


def listed(value: str) -> tuple[str, ...]:
    """The GPUs a ``CUDA_VISIBLE_DEVICES`` value makes visible, read as CUDA reads it: the entries before the first that
    is not a GPU's number or UUID (``-1`` hides every GPU), a GPU listed twice counted once."""
    gpus: list[str] = []
    for entry in (part.strip() for part in value.split(",")):
        if not _ID.match(entry):
            break
        if entry not in gpus:
            gpus.append(entry)
    return tuple(gpus)


def listed_by_nvidia_smi(text: str) -> tuple[str, ...]:
    """The GPUs in ``nvidia-smi -L``'s output: their numbers, or for a GPU split into MIG instances, the instances'
    UUIDs (CUDA reaches a MIG instance by its UUID alone)."""
    whole: list[str] = []
    migs: dict[str, list[str]] = {}
    for line in text.splitlines():
        if (gpu := _GPU_LINE.match(line)) is not None:
            whole.append(gpu.group(1))
        elif (mig := _MIG_LINE.match(line)) is not None and whole:
            migs.setdefault(whole[-1], []).append(mig.group(1))
    return tuple(unit for gpu in whole for unit in migs.get(gpu, [gpu]))


def _nvidia_smi() -> Found:
    """The GPUs ``nvidia-smi -L`` lists (`listed_by_nvidia_smi`), or none and why."""
    try:
        done = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=_NVIDIA_SMI_TIMEOUT, check=False
        )
    except FileNotFoundError:
        return Found((), f"{VISIBLE} is not set, and nvidia-smi is not installed")
    except (OSError, subprocess.SubprocessError) as exc:
        return Found((), f"{VISIBLE} is not set, and nvidia-smi -L failed ({exc})")
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        first = f": {said[0]}" if said else ""
        return Found((), f"{VISIBLE} is not set, and nvidia-smi -L failed (exit {done.returncode}{first})")
    gpus = listed_by_nvidia_smi(done.stdout)
    if not gpus:
        return Found((), f"{VISIBLE} is not set, and nvidia-smi -L lists no GPU")
    return Found(gpus, "nvidia-smi -L", order="PCI_BUS_ID")


def find_gpus() -> Found:
    """The GPUs this process may hand to trials: those ``CUDA_VISIBLE_DEVICES`` lists when it is set (empty, or
    ``-1``: none, as CUDA reads it), else those ``nvidia-smi -L`` lists."""
    value = os.environ.get(VISIBLE)
    if value is not None:
        return Found(listed(value), f"{VISIBLE}={value!r}")
    return _nvidia_smi()


class GpuPool:
    """The GPUs of one executor and the trials holding them: each trial takes ``per_trial`` GPUs, a fraction being a
    share of one GPU (0.5: two trials on a GPU). Not thread-safe: driven by the executor's one thread."""

    def __init__(self, found: Found, per_trial: float) -> None:
        self.found = found
        self.per_trial = per_trial
        self._shares = round(1 / per_trial) if per_trial < 1 else 1  # trials one GPU holds at once
        self._whole = int(per_trial) if per_trial >= 1 else 1  # GPUs one trial holds
        self._free = dict.fromkeys(found.gpus, self._shares)

    @property
    def fits(self) -> int:
        """Trials that can hold their GPUs at once."""
        return len(self.found.gpus) * self._shares // self._whole

    def take(self) -> tuple[str, ...]:
        """GPUs for one trial: those with the most shares free (trials spread over the GPUs before they pair up),
        the first listed among equals.

        Raises:
            RuntimeError: none free; the executor ran more trials than `fits` (a bug, not the user's).
        """
        free = sorted((gpu for gpu, left in self._free.items() if left > 0), key=lambda gpu: -self._free[gpu])
        if len(free) < self._whole:
            raise RuntimeError(f"no GPU free for a trial: {self._free} held, {self.fits} trials fit")
        taken = tuple(free[: self._whole])
        for gpu in taken:
            self._free[gpu] -= 1
        return taken

    def give_back(self, gpus: Sequence[str]) -> None:
        """Return what `take` gave a trial that ended."""
        for gpu in gpus:
            self._free[gpu] = min(self._shares, self._free[gpu] + 1)

    def environment(self, gpus: Sequence[str]) -> dict[str, str]:
        """What a trial process holding ``gpus`` sets in its environment: ``CUDA_VISIBLE_DEVICES``, and the order
        its ids are read in when they are nvidia-smi's."""
        order = {} if self.found.order is None else {_ORDER: self.found.order}
        return {VISIBLE: ",".join(gpus), **order}


def gpu_share(gpus_per_trial: object) -> float:
    """``gpus_per_trial`` checked as a value, whatever GPUs this machine has: a positive number, whole from 1 up, or
    a fraction that divides one GPU.

    Raises:
        ConfigError: any other value (the message names the nearest that are allowed).
    """
    value = real("gpus_per_trial", gpus_per_trial, exclusive_minimum=0, numpy=True, fix=_FIX)
    if value < 1:
        trials = 1 / value
        if abs(trials - round(trials)) > _SHARE_SLACK:
            fewer, more = math.floor(trials), math.ceil(trials)
            raise ConfigError(
                f"gpus_per_trial below 1 must divide one GPU evenly (1/2, 1/3, 1/4...), got "
                f"gpus_per_trial={gpus_per_trial!r}: {trials:.3g} trials cannot share one GPU; pass "
                f"gpus_per_trial={1 / fewer:.3g} ({fewer} trials a GPU) or {1 / more:.3g} ({more} a GPU)"
            )
    elif not value.is_integer():
        raise ConfigError(
            f"gpus_per_trial above 1 must be a whole number of GPUs, got gpus_per_trial={gpus_per_trial!r}: pass "
            f"{math.floor(value)} or {math.ceil(value)}"
        )
    return value


def gpu_pool(gpus_per_trial: object, workers: int) -> GpuPool | None:
    """The pool a `ProcessExecutor` of ``workers`` hands GPUs out from (``None`` for ``gpus_per_trial=None``: the
    trials' environment is left alone).

    Raises:
        ConfigError: ``gpus_per_trial`` is not a positive number, a fraction that divides one GPU, or a whole number;
            no GPU was found; or ``workers`` trials would need more GPUs than were found.
    """
    if gpus_per_trial is None:
        return None
    share = gpu_share(gpus_per_trial)
    found = find_gpus()
    asked = f"gpus_per_trial={gpus_per_trial!r}"
    if not found.gpus:
        raise ConfigError(
            f"{asked} needs a GPU, but none was found: {found.where}: run where `nvidia-smi -L` lists GPUs, set "
            f"{VISIBLE} to the GPUs to use (e.g. {VISIBLE}=0,1), or drop gpus_per_trial to run trials without GPUs"
        )
    pool = GpuPool(found, share)
    if workers > pool.fits:
        count = len(found.gpus)
        names = ", ".join(found.gpus)
        fix = (
            f"pass workers={pool.fits} or fewer, or a smaller gpus_per_trial (0.5 puts two trials on one GPU)"
            if pool.fits
            else f"not one trial fits: pass gpus_per_trial={count} or less"
        )
        raise ConfigError(
            f"workers x gpus_per_trial must not exceed the GPUs found, got workers={workers} x {asked} = "
            f"{workers * share:g} GPUs with {count} GPU{'' if count == 1 else 's'} found ({names}; from "
            f"{found.where}): {fix}"
        )
    return pool
