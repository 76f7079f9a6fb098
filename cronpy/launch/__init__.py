"""Child processes: ``launcher`` starts, watches and stops them (job runs and hooks), ``capture``
keeps their output, ``env`` prepares what they start with."""

from cronpy.launch.env import parse_env
from cronpy.launch.launcher import Launcher

__all__ = ["Launcher", "parse_env"]
