"""Small, tested helpers shared by the lerobot_notebook_pipeline scripts and notebooks.

Importing the package sets up headless rendering before MuJoCo is loaded anywhere.
"""

import os

# MuJoCo picks its GL backend when it is first imported, so this must happen before any env module.
os.environ.setdefault("MUJOCO_GL", "egl")
if os.environ["MUJOCO_GL"] == "egl":
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
