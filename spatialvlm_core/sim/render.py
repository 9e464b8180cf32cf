"""Offscreen MuJoCo rendering from an arbitrary OpenCV camera: RGB, metric z-depth and geom segmentation.

One ``Renderer`` (one GL context) per image size is reused across scenes; its MuJoCo render context is
rebuilt whenever a model differs in anything the context bakes in (textures, meshes, plane grids), so a
scene renders the same pixels whatever the process rendered before it. The camera is written straight into the
``MjvScene`` (position, forward, up, frustum), so any pose -- roll included -- renders without
recompiling the model.

Depth: MuJoCo reads a *reversed* depth buffer (``mjDEPTH_ZEROFAR``: 1 at znear, 0 at zfar). For a
perspective projection that value is ``d = n (f - z) / (z (f - n))``, hence ``z = n f / (n + d (f - n))``,
the distance along the optical axis (z-depth, not the ray length).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # MUJOCO_GL must be set before this import

from spatialvlm_core.types import CameraIntrinsics, CameraPose


@dataclass
class RenderOutput:
    rgb: np.ndarray  # uint8[H, W, 3]
    depth: np.ndarray  # float32[H, W], metres along the optical axis
    geom_ids: np.ndarray | None  # int32[H, W], MuJoCo geom id, -1 where no geom


def depth_from_buffer(buf: np.ndarray, znear: float, zfar: float) -> np.ndarray:
    """Metric z-depth from a reversed (1 = near, 0 = far) perspective depth buffer."""
    d = buf.astype(np.float64)
    return (znear * zfar / (znear + d * (zfar - znear))).astype(np.float32)


def _gl_context(width: int, height: int):  # type: ignore[no-untyped-def]
    try:
        from mujoco.gl_context import GLContext  # inside the try: raises without EGL/OSMesa libraries

        return GLContext(width, height)
    except Exception as e:  # missing EGL/OSMesa libraries
        backend = os.environ.get("MUJOCO_GL", "egl")
        raise RuntimeError(
            f"cannot create an offscreen OpenGL context (MUJOCO_GL={backend}): {e}. "
            "Install the GL libraries (bash scripts/install_system.sh) or try MUJOCO_GL=osmesa."
        ) from e


def _asset_signature(model: mujoco.MjModel) -> tuple[object, ...]:
    """Everything ``mjr_makeContext`` bakes into the render context from a model.

    Textures, meshes, height fields and skins are uploaded; plane geoms become display lists whose grid
    depends on each plane's size, ``quality.numquads`` and ``zfar * extent``. A context reused across
    models that differ in any of these draws the new model with the old one's geometry (the floor grid
    of the previous room changed texture edges and depth), so a scene's pixels would depend on what the
    process rendered before it.
    """
    planes = model.geom_type == int(mujoco.mjtGeom.mjGEOM_PLANE)
    vis = model.vis
    return (
        model.ntex, model.nmesh, model.nhfield, model.nskin, model.nflex,
        model.tex_data.tobytes() if model.ntex else b"",
        model.mesh_vert.tobytes() + model.mesh_face.tobytes() if model.nmesh else b"",
        model.hfield_data.tobytes() + model.hfield_size.tobytes() if model.nhfield else b"",
        model.geom_size[planes].tobytes(), model.geom_dataid[planes].tobytes(),
        float(model.stat.extent), float(vis.map.zfar), float(vis.map.znear), float(vis.map.shadowclip),
        float(vis.map.shadowscale), float(vis.map.fogstart), float(vis.map.fogend), float(vis.map.haze),
        tuple(int(q) for q in (vis.quality.numslices, vis.quality.numstacks, vis.quality.numquads,
                               vis.quality.shadowsize, vis.quality.offsamples)),
        (int(vis.global_.offwidth), int(vis.global_.offheight)),
    )  # fmt: skip


def _clear_gl_errors() -> None:
    """Drop pending OpenGL errors before ``mjr_makeContext``, which logs any it finds as its own.

    ``mjr_render`` leaves GL_INVALID_VALUE behind on every frame (the MJCF light's cutoff of 120 degrees is
    outside OpenGL's [0, 90] or 180; GL ignores the call, so the light stays a point light); without this
    every context rebuild printed a warning and wrote MUJOCO_LOG.TXT into the working directory.
    """
    try:
        from OpenGL import GL  # PyOpenGL: what mujoco's own EGL/OSMesa contexts are built on
    except ImportError:
        return
    for _ in range(16):  # bounded: a broken context could report errors forever
        if GL.glGetError() == GL.GL_NO_ERROR:
            return


class Renderer:
    """Renders any ``MjModel``/``MjData`` from a ``CameraPose`` (OpenCV) with pinhole ``CameraIntrinsics``."""

    def __init__(self, width: int, height: int, max_geom: int = 2000) -> None:
        if width < 1 or height < 1:
            raise ValueError(f"render size must be positive, got {width}x{height}")
        self.width, self.height, self.max_geom = width, height, max_geom
        self._gl = _gl_context(width, height)
        self._gl.make_current()
        self._con: mujoco.MjrContext | None = None
        self._con_sig: tuple[object, ...] | None = None
        self._scn: mujoco.MjvScene | None = None
        self._scn_model: mujoco.MjModel | None = None
        self._opt = mujoco.MjvOption()
        self._cam = mujoco.MjvCamera()
        self._rect = mujoco.MjrRect(0, 0, width, height)

    def _prepare(self, model: mujoco.MjModel) -> tuple[mujoco.MjrContext, mujoco.MjvScene]:
        self._gl.make_current()
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, self.width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, self.height)
        sig = _asset_signature(model)
        if self._con is None or sig != self._con_sig:
            if self._con is not None:
                self._con.free()
            _clear_gl_errors()
            self._con = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_50)
            mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._con)
            self._con.readDepthMap = mujoco.mjtDepthMap.mjDEPTH_ZEROFAR
            self._con_sig = sig
        if self._scn is None or self._scn_model is not model:
            self._scn = mujoco.MjvScene(model, maxgeom=self.max_geom)
            self._scn_model = model
        return self._con, self._scn

    @staticmethod
    def znear_zfar(model: mujoco.MjModel) -> tuple[float, float]:
        ext = float(model.stat.extent)
        return float(model.vis.map.znear) * ext, float(model.vis.map.zfar) * ext

    def _set_camera(self, scn: mujoco.MjvScene, pose: CameraPose, k: CameraIntrinsics, near: float, far: float) -> None:
        if (k.width, k.height) != (self.width, self.height):
            raise ValueError(f"intrinsics are for {k.width}x{k.height}, this renderer is {self.width}x{self.height}")
        if abs(k.fx - k.fy) > 1e-6 * k.fx:
            raise ValueError(f"the MuJoCo renderer needs square pixels (fx == fy), got fx={k.fx}, fy={k.fy}")
        m = pose.matrix()
        fwd, up = m[:3, 2], -m[:3, 1]  # OpenCV z forward, y down -> OpenGL forward, up
        for cam in (scn.camera[0], scn.camera[1]):
            cam.pos[:] = m[:3, 3]
            cam.forward[:] = fwd
            cam.up[:] = up
            cam.orthographic = 0
            cam.frustum_near, cam.frustum_far = near, far
            # Pixel edges at the near plane: rows grow downwards in the image, upwards in OpenGL.
            # OpenCV puts pixel centres on integers, so the image edge is at -0.5 in (cx, cy) coordinates.
            cx, cy = k.cx + 0.5, k.cy + 0.5
            cam.frustum_top = cy * near / k.fy
            cam.frustum_bottom = -(self.height - cy) * near / k.fy
            cam.frustum_center = (self.width / 2 - cx) * near / k.fx
            cam.frustum_width = self.width / 2 * near / k.fx

    def render(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        pose: CameraPose,
        intrinsics: CameraIntrinsics,
        *,
        segmentation: bool = True,
        shadows: bool = True,
    ) -> RenderOutput:
        """RGB + z-depth (one pass) and, optionally, per-pixel geom ids (a second, flat-coloured pass)."""
        con, scn = self._prepare(model)
        near, far = self.znear_zfar(model)
        mujoco.mjv_updateScene(model, data, self._opt, None, self._cam, mujoco.mjtCatBit.mjCAT_ALL, scn)
        self._set_camera(scn, pose, intrinsics, near, far)
        scn.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = shadows
        h, w = self.height, self.width
        rgb = np.empty((h, w, 3), dtype=np.uint8)
        zbuf = np.empty((h, w), dtype=np.float32)
        mujoco.mjr_render(self._rect, scn, con)
        mujoco.mjr_readPixels(rgb, zbuf, self._rect, con)
        rgb, depth = np.ascontiguousarray(rgb[::-1]), depth_from_buffer(zbuf[::-1], near, far)
        geom_ids = None
        if segmentation:
            scn.flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = True
            scn.flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = True
            try:
                seg = np.empty((h, w, 3), dtype=np.uint8)
                mujoco.mjr_render(self._rect, scn, con)
                mujoco.mjr_readPixels(seg, None, self._rect, con)
            finally:
                scn.flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = False
                scn.flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = False
            seg = seg[::-1].astype(np.int32)
            segid = seg[..., 0] | (seg[..., 1] << 8) | (seg[..., 2] << 16)  # segid + 1; 0 = nothing
            lut = np.full(scn.ngeom + 2, -1, dtype=np.int32)
            geom_type = int(mujoco.mjtObj.mjOBJ_GEOM)
            for i in range(scn.ngeom):
                g = scn.geoms[i]
                if g.objtype == geom_type and g.segid >= 0:
                    lut[g.segid + 1] = g.objid
            geom_ids = lut[np.clip(segid, 0, len(lut) - 1)]
        return RenderOutput(rgb=rgb, depth=depth, geom_ids=geom_ids)

    def close(self) -> None:
        if self._con is not None:
            self._gl.make_current()
            self._con.free()
            self._con = None
        self._gl.free()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_RENDERERS: dict[tuple[int, int], Renderer] = {}


def get_renderer(width: int, height: int) -> Renderer:
    """The shared renderer for this image size (GL contexts are expensive; one per size per process)."""
    key = (int(width), int(height))
    if key not in _RENDERERS:
        _RENDERERS[key] = Renderer(*key)
    return _RENDERERS[key]
