"""Apply a plan: create each audience once, send adds then removes, record what TikTok acknowledged.

One module per concern, each readable on its own:

- `runner`: the run, audience by audience, and what stops it (`sync_audiences`, `run`);
- `results`: what happened to each audience (`AudienceResult`, `RunResult`, `preview`);
- `context`: what the parts share, and recording a batch TikTok acknowledged;
- `create`: create once, adopt a lost create, recreate one deleted at TikTok;
- `segment`: streaming audiences (`/segment/mapping/`);
- `customer_file`: customer-file audiences (uploads, updates, processing waits, renames);
- `history`: the run id and its run-history rows.
"""

from sync.apply.context import DEFAULT_PROCESSING_WAIT
from sync.apply.history import new_run_id
from sync.apply.results import AudienceResult, ErrorInfo, Progress, RunResult, preview
from sync.apply.runner import run, sync_audiences

__all__ = [
    "DEFAULT_PROCESSING_WAIT",
    "AudienceResult",
    "ErrorInfo",
    "Progress",
    "RunResult",
    "new_run_id",
    "preview",
    "run",
    "sync_audiences",
]
