"""The typed decision a scheduler returns for a running trial."""

from __future__ import annotations

from enum import Enum

__all__ = ["Decision"]


class Decision(Enum):
    """What a running trial should do after reporting an intermediate value."""

    CONTINUE = "continue"
    STOP = "stop"
    PAUSE = "pause"
