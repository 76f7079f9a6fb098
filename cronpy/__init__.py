"""cronpy: a cron replacement that records every run."""

__version__ = "0.1.0"
