"""A local emulator of the TikTok Business API endpoints this project uses (a test double).

TikTok's sandbox has no audience endpoints (docs/tiktok-api.md §1), so tests and `make demo` talk to
this instead. It must be at least as strict as the real API: a client that passes here should work
unchanged against business-api.tiktok.com.
"""

from sync.emulator.config import EmulatorConfig
from sync.emulator.server import Emulator, run_forever

__all__ = ["Emulator", "EmulatorConfig", "run_forever"]
