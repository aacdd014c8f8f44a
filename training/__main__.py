"""`python -m training`: see training.cli."""

import os

# no per-file "Loading weights" / "Writing model shards" bars from transformers: commands report their own
# progress (set before transformers is imported; HF_HUB_DISABLE_PROGRESS_BARS=0 brings them back)
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from training.cli import main  # noqa: E402

main()
