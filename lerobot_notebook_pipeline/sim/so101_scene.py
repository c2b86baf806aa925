"""The SO-101 pick-and-place scene: MuJoCo Menagerie's robotstudio_so101 arm (from the installed so101-nexus
package) on a table, with a 3 cm cube, a centre target, pencil marks and settable cameras, built with MjSpec.

Only the package's model files are used (its env classes are a beta API). The arm's base sits at the origin on
the table top (z = 0) and reaches along +x. Every scene also carries a convex hull of each visual mesh in geom
group HULL_GROUP (massless, no contacts), so the "fast" render can show the arm's shape at a fraction of the
348k-face meshes' cost while the physics stays the same in every render quality.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lerobot_notebook_pipeline.runtime import UserError

MODEL_PACKAGE = "so101_nexus"
MODEL_DIR = "assets/SO101_menagerie"  # MuJoCo Menagerie's robotstudio_so101, as the package ships it
MODEL_FILE = "so101.xml"
INSTALL_FIX = "install it with `.venv/bin/pip install so101-nexus==0.10.0` (see requirements.txt)"

TABLE_XY = (-0.15, 0.45, -0.30, 0.30)  # the table top (XMIN XMAX YMIN YMAX, m); the arm's base is at (0, 0)
TABLE_THICKNESS = 0.02
CUBE_SIZE = 0.03  # edge of the cube (m)
CUBE_MASS = 0.02  # kg, about a 3 cm PLA or wooden cube
CUBE_FRICTION = (1.0, 0.005, 0.0001)
TARGET_XY = (0.20, 0.0)  # the centre target drawn on the table, where the cube must go
TARGET_RADIUS = 0.02  # drawn disc radius: the same 2 cm as the success distance
MARK_RADIUS = 0.004  # a pencil mark's dot
PHYSICS_TIMESTEP = 1 / 240  # s: 8 substeps per 30 Hz control step (the model's own 5 ms does not divide 1/30 s)
HULL_OPTIONS = "Qt W0.001 C0.001"  # qhull: merge facets within 1 mm (a few hundred faces in all)
HULL_GROUP = 5  # geom group of the convex-hull stand-ins for the visual meshes (hidden by MuJoCo's default option)
VISUAL_GROUP = 2  # the model's visual meshes
COLLISION_GROUP = 3  # the model's collision geometry
SCENE_GROUP = 0  # table, cube, target and marks
STOCK_SHADOW_SIZE = 4096  # MuJoCo's defaults: shadows and 4x multisampling
STOCK_OFFSAMPLES = 4
RENDER_QUALITIES = {  # name -> (geom groups drawn, shadows and multisampling)
    "fast": ((SCENE_GROUP, HULL_GROUP), False),
    "collision": ((SCENE_GROUP, COLLISION_GROUP), False),
    "mesh": ((SCENE_GROUP, VISUAL_GROUP), False),
    "stock": ((SCENE_GROUP, VISUAL_GROUP), True),
}


@dataclass(frozen=True)
class Camera:
    """A camera: its name, the body it is fixed to, its position there, the point it looks at and the direction
    that is up in its image (both in that body's frame), and its vertical field of view (degrees)."""

    name: str
    pos: tuple[float, float, float]
    look_at: tuple[float, float, float]
    body: str = "world"
    fovy: float = 45.0
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)


# Defaults: `front` clamped beyond the table's far edge, off to one side and high, looking down at the workspace
# (framed on the marks and the target: at 64x85 the cube is about 8 px wide, against 4-5 px with a 42-degree view);
# `wrist` on the camera mount of the gripper, looking past the fingertips (near the model's own wrist_cam).
CAMERAS = {
    "front": Camera("front", pos=(0.50, -0.20, 0.40), look_at=(0.20, 0.0, 0.0), fovy=30.0),
    "wrist": Camera("wrist", pos=(0.0, 0.055, -0.045), look_at=(0.0, 0.0, -0.13), body="gripper", fovy=60.0,
                    up=(0.0, 1.0, 0.0)),
    "top": Camera("top", pos=(0.20, 0.0, 0.65), look_at=(0.20, 0.0, 0.0), fovy=45.0),
}
DEFAULT_CAMERAS = ("front", "wrist")


def model_dir() -> Path:
    """The folder of the installed SO-101 model files; a UserError naming the install when they are missing."""
    try:
        root = importlib.resources.files(MODEL_PACKAGE)
    except ModuleNotFoundError as err:
        raise UserError(f"the SO-101 model needs the so101-nexus package: {INSTALL_FIX}") from err
    path = Path(str(root)) / MODEL_DIR
    if not (path / MODEL_FILE).is_file():
        raise UserError(f"no {MODEL_FILE} under {path}: {INSTALL_FIX}")
    return path


def check_cameras(cameras) -> tuple[Camera, ...]:
    """Cameras from names (of CAMERAS) or Camera objects; a UserError for an unknown name or a repeated one."""
    result = []
    for cam in cameras:
        if isinstance(cam, str):
            if cam not in CAMERAS:
                raise UserError(f"unknown camera '{cam}': use one of {', '.join(CAMERAS)} or pass a Camera")
            cam = CAMERAS[cam]
        result.append(cam)
    names = [c.name for c in result]
    if not names or len(set(names)) != len(names):
        raise UserError(f"cameras {names}: give at least one camera, each name once")
    return tuple(result)


def look_at_quat(pos, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """The wxyz quaternion of a MuJoCo camera at pos looking at target (camera -z forward, +y up)."""
    forward = np.asarray(target, dtype=float) - np.asarray(pos, dtype=float)
    forward /= np.linalg.norm(forward)
    up = np.asarray(up, dtype=float)
    if abs(forward @ up) > 0.999:  # looking straight along up: any perpendicular will do
        up = np.array([1.0, 0.0, 0.0])
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    rot = np.column_stack([right, np.cross(right, forward), -forward])
    return matrix_to_quat(rot)


def matrix_to_quat(rot: np.ndarray) -> np.ndarray:
    """wxyz quaternion of a 3x3 rotation matrix (MuJoCo's own conversion)."""
    import mujoco

    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.asarray(rot, dtype=float).reshape(9))
    return quat


def convex_hull(vertices: np.ndarray, options: str | None = HULL_OPTIONS) -> tuple[np.ndarray, np.ndarray]:
    """The convex hull of a point set, with nearly coplanar facets merged (qhull options): (its vertices, its
    triangles as indices into them, counter-clockwise seen from outside)."""
    from scipy.spatial import ConvexHull

    hull = ConvexHull(vertices, qhull_options=options)
    used, faces = np.unique(hull.simplices, return_inverse=True)
    faces = faces.reshape(-1, 3)
    points = vertices[used]
    a, b, c = points[faces[:, 0]], points[faces[:, 1]], points[faces[:, 2]]
    inward = np.einsum("ij,ij->i", np.cross(b - a, c - a), hull.equations[:, :3]) < 0
    faces[inward] = faces[inward][:, [0, 2, 1]]
    return points, faces


def add_hulls(spec, model) -> None:
    """Add a massless, contact-free convex hull of every visual mesh geom, in group HULL_GROUP, to spec."""
    import mujoco

    for geom_id in np.flatnonzero((model.geom_type == mujoco.mjtGeom.mjGEOM_MESH) & (model.geom_group == VISUAL_GROUP)):
        mesh_id = model.geom_dataid[geom_id]
        start, count = model.mesh_vertadr[mesh_id], model.mesh_vertnum[mesh_id]
        points, faces = convex_hull(model.mesh_vert[start:start + count].astype(float))
        name = f"hull_{geom_id}"
        spec.add_mesh(name=name, uservert=points.reshape(-1).tolist(), userface=faces.reshape(-1).tolist())
        body = spec.body(model.body(model.geom_bodyid[geom_id]).name)
        material = model.mat(model.geom_matid[geom_id]).name if model.geom_matid[geom_id] >= 0 else ""
        body.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_MESH, meshname=name, pos=model.geom_pos[geom_id],
                      quat=model.geom_quat[geom_id], group=HULL_GROUP, contype=0, conaffinity=0, mass=0,
                      material=material, rgba=model.geom_rgba[geom_id])


def add_table(spec, marks) -> None:
    """The table top (its surface at z = 0), the centre target and the pencil marks, all in SCENE_GROUP."""
    import mujoco

    x0, x1, y0, y1 = TABLE_XY
    world = spec.worldbody
    world.add_geom(name="table", type=mujoco.mjtGeom.mjGEOM_BOX, group=SCENE_GROUP,
                   size=[(x1 - x0) / 2, (y1 - y0) / 2, TABLE_THICKNESS / 2],
                   pos=[(x0 + x1) / 2, (y0 + y1) / 2, -TABLE_THICKNESS / 2], rgba=[0.76, 0.64, 0.48, 1])
    flat = {"type": mujoco.mjtGeom.mjGEOM_CYLINDER, "group": SCENE_GROUP, "contype": 0, "conaffinity": 0}
    world.add_geom(name="target", size=[TARGET_RADIUS, 0.0005, 0], pos=[*TARGET_XY, 0.0005],
                   rgba=[0.15, 0.45, 0.95, 1], **flat)
    for k, (x, y) in enumerate(marks):
        world.add_geom(name=f"mark_{k}", size=[MARK_RADIUS, 0.0004, 0], pos=[x, y, 0.0004],
                       rgba=[0.25, 0.25, 0.25, 1], **flat)


def add_cube(spec) -> None:
    """The free 3 cm cube, resting on the table at the target until the env places it."""
    import mujoco

    half = CUBE_SIZE / 2
    body = spec.worldbody.add_body(name="cube", pos=[*TARGET_XY, half])
    body.add_freejoint(name="cube")
    body.add_geom(name="cube", type=mujoco.mjtGeom.mjGEOM_BOX, size=[half] * 3, mass=CUBE_MASS,
                  friction=list(CUBE_FRICTION), condim=4, group=SCENE_GROUP, rgba=[0.85, 0.15, 0.15, 1])


def add_camera(spec, cam: Camera) -> None:
    """A fixed camera named cam.name on its body, looking at cam.look_at."""
    body = spec.worldbody if cam.body == "world" else spec.body(cam.body)
    if body is None:
        raise UserError(f"camera '{cam.name}' is fixed to an unknown body '{cam.body}': use world or gripper")
    body.add_camera(name=cam.name, pos=list(cam.pos), quat=look_at_quat(cam.pos, cam.look_at, cam.up).tolist(), fovy=cam.fovy)


def add_lights(spec) -> None:
    """A soft headlight and one directional light from above (like the package's own scene)."""
    import mujoco

    spec.visual.headlight.diffuse = [0.4, 0.4, 0.4]
    spec.visual.headlight.ambient = [0.3, 0.3, 0.3]
    spec.visual.headlight.specular = [0.0, 0.0, 0.0]
    spec.worldbody.add_light(name="sun", pos=[0.2, 0.0, 1.5], dir=[0, 0, -1], type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
                             diffuse=[0.5, 0.5, 0.5], castshadow=True)


def build_model(cameras=DEFAULT_CAMERAS, marks=(), image_size=(480, 640), grip_site=None, distractor=False):
    """The compiled scene (an MjModel): arm, table, target, marks, cube, cameras, lights and the mesh hulls;
    grip_site=(name, xyz) adds a site at xyz on the gripper body, distractor=True sim/perturb.py's distractor."""
    import mujoco

    from lerobot_notebook_pipeline.sim.perturb import add_distractor

    robot = mujoco.MjSpec.from_file(str(model_dir() / MODEL_FILE))
    robot.option.timestep = PHYSICS_TIMESTEP
    spec = robot.copy()
    add_hulls(spec, robot.compile())
    if grip_site is not None:
        spec.body("gripper").add_site(name=grip_site[0], pos=list(grip_site[1]), group=COLLISION_GROUP)
    add_lights(spec)
    add_table(spec, marks)
    add_cube(spec)
    if distractor:
        add_distractor(spec)
    for cam in check_cameras(cameras):
        add_camera(spec, cam)
    height, width = int(image_size[0]), int(image_size[1])
    spec.visual.global_.offheight = max(spec.visual.global_.offheight, height)
    spec.visual.global_.offwidth = max(spec.visual.global_.offwidth, width)
    return spec.compile()


def check_render_quality(quality: str) -> str:
    """quality when it is one of RENDER_QUALITIES, else a UserError naming them."""
    if quality not in RENDER_QUALITIES:
        raise UserError(f"unknown render quality '{quality}': use one of {', '.join(RENDER_QUALITIES)}")
    return quality


def set_render_quality(model, quality: str):
    """Set model's shadow and multisampling settings for quality and return the MjvOption that draws its groups."""
    import mujoco

    groups, stock = RENDER_QUALITIES[check_render_quality(quality)]
    model.vis.quality.shadowsize = STOCK_SHADOW_SIZE if stock else 0
    model.vis.quality.offsamples = STOCK_OFFSAMPLES if stock else 0
    option = mujoco.MjvOption()
    option.geomgroup[:] = [1 if g in groups else 0 for g in range(len(option.geomgroup))]
    return option
