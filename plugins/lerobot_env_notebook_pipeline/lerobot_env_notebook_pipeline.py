"""lerobot plugin for this checkout: `lerobot-eval --env.type=so101_pick_place ...` builds our SO-101 env.

lerobot imports this module (it is named lerobot_env_*) before it parses its flags. The project runs from its
checkout rather than being installed, so the checkout (two folders up) is put on the import path when its
package is not importable already.
"""

import importlib.util
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]

if importlib.util.find_spec("lerobot_notebook_pipeline") is None:
    sys.path.append(str(CHECKOUT))

import lerobot_notebook_pipeline.sim.so101_lerobot  # noqa: E402, F401  registers the env type and its gym id
