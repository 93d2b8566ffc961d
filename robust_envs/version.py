"""Version of the robust-rl distribution."""

__version__ = "0.1.0"
