#!/usr/bin/env python3
"""The "Python way" peer of the CT pipeline benchmark.

Usage:
    python peer_pipeline.py study.zip OUT_DIR

Stages, each timed with time.perf_counter:
  parse   read the zip, pydicom.dcmread every member (non-DICOM members are
          skipped), group by SeriesInstanceUID, keep the series with most slices
  volume  sort slices along the slice normal (row x column cosines of
          ImageOrientationPatient) by ImagePositionPatient, decode and stack
          into a float32 HU volume with each slice's RescaleSlope/Intercept
  segment per slice: clip HU to [-1024, 3071], 3x3 Gaussian [[1,2,1],[2,4,2],
          [1,2,1]]/16 with zeros outside the slice, then label
          background < -400 <= skin < 300 <= bone (the thresholds of models/build_segmentation.py)
  mesh    per label (skin, bone): pad the mask with one voxel of zeros, run
          skimage.measure.marching_cubes(level=0.5, spacing=(dz, dy, dx)),
          move vertices to patient mm, count triangles, surface area (mm^2)
          and enclosed volume (ml, divergence theorem)
  write   binary STL per label with numpy-stl: OUT_DIR/<label>.stl

Prints one JSON object to stdout:
  {"stages": {"parse", "volume", "segment", "mesh", "write"} (seconds),
   "total_s", "peak_rss_mib", "series_slices",
   "labels": {"skin": {"triangles", "volume_ml", "area_mm2"}, "bone": {...}}}

Assumptions: single-frame slices of equal size; patient coordinates assume an
axial series with identity direction cosines (rows along +x, columns along +y,
slices along +z), so a vertex is origin + index * spacing, origin being the
first sorted slice's ImagePositionPatient minus one voxel for the padding.
A warning goes to stderr when the orientation is not identity.
"""

from __future__ import annotations

import io
import json
import os
import resource
import sys
import time
import zipfile
from collections import defaultdict

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError
from scipy import ndimage
from skimage import measure
from stl import Mode as StlMode
from stl import mesh as stl_mesh

HU_RANGE = (-1024.0, 3071.0)
SKIN_MIN, BONE_MIN = -400.0, 300.0
LABELS = {"skin": 1, "bone": 2}
KERNEL = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float32) / 16.0


def parse(zip_path: str) -> list[pydicom.Dataset]:
    """All DICOM members of the zip, grouped by series; the largest series."""
    series: dict[str, list[pydicom.Dataset]] = defaultdict(list)
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            try:
                ds = pydicom.dcmread(io.BytesIO(zf.read(info)))
            except InvalidDicomError:
                continue  # not DICOM
            if "PixelData" in ds and "SeriesInstanceUID" in ds:
                series[str(ds.SeriesInstanceUID)].append(ds)
    if not series:
        raise SystemExit(f"{zip_path}: no DICOM image series")
    return max(series.values(), key=len)


def build_volume(slices: list[pydicom.Dataset]):
    """Sorted float32 HU volume (z, y, x), spacing (dz, dy, dx) and origin (x, y, z)."""
    iop = np.asarray(slices[0].ImageOrientationPatient, dtype=np.float64)
    normal = np.cross(iop[:3], iop[3:])
    if not np.allclose(iop, [1, 0, 0, 0, 1, 0], atol=1e-3):
        print(f"warning: orientation {iop.tolist()} is not identity; "
              "mesh coordinates assume it is", file=sys.stderr)

    pos = np.array([np.asarray(s.ImagePositionPatient, dtype=np.float64) for s in slices])
    order = np.argsort(pos @ normal, kind="stable")
    slices = [slices[i] for i in order]
    proj = (pos @ normal)[order]

    rows, cols = int(slices[0].Rows), int(slices[0].Columns)
    vol = np.empty((len(slices), rows, cols), dtype=np.float32)
    for i, ds in enumerate(slices):
        slope = float(ds.get("RescaleSlope", 1.0))
        intercept = float(ds.get("RescaleIntercept", 0.0))
        vol[i] = ds.pixel_array.astype(np.float32) * np.float32(slope) + np.float32(intercept)

    dy, dx = (float(v) for v in slices[0].PixelSpacing)  # row spacing, column spacing
    if len(slices) > 1:
        dz = float(np.median(np.diff(proj)))
    else:
        dz = float(slices[0].get("SliceThickness", 1.0) or 1.0)
    origin = pos[order[0]]
    return vol, (dz, dy, dx), origin


def segment(vol: np.ndarray) -> np.ndarray:
    """uint8 labels: 0 background, 1 skin, 2 bone."""
    labels = np.empty(vol.shape, dtype=np.uint8)
    for z in range(vol.shape[0]):
        s = np.clip(vol[z], *HU_RANGE)
        s = ndimage.convolve(s, KERNEL, mode="constant", cval=0.0)
        labels[z] = np.where(s < SKIN_MIN, 0, np.where(s < BONE_MIN, 1, 2))
    return labels


def mesh_label(labels: np.ndarray, value: int, spacing, origin):
    """Triangles (n, 3, 3) in patient mm (x, y, z), area mm^2, volume ml."""
    mask = np.pad(labels == value, 1).astype(np.float32)
    if not mask.any():
        return np.zeros((0, 3, 3), dtype=np.float32), 0.0, 0.0
    verts, faces, _normals, _values = measure.marching_cubes(mask, level=0.5, spacing=spacing)
    # (z, y, x) mm from the padded corner -> patient (x, y, z); padding is one voxel
    dz, dy, dx = spacing
    xyz = verts[:, ::-1].astype(np.float64) + (origin - np.array([dx, dy, dz]))
    tri = xyz[faces]  # (n, 3, 3)
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = 0.5 * float(np.linalg.norm(cross, axis=1).sum())
    # divergence theorem: V = sum(v0 . (v1 x v2)) / 6 over the closed surface
    signed = float(np.einsum("ij,ij->", tri[:, 0], np.cross(tri[:, 1], tri[:, 2]))) / 6.0
    return tri.astype(np.float32), area, abs(signed) / 1000.0


def write_stl(path: str, tri: np.ndarray) -> None:
    data = np.zeros(len(tri), dtype=stl_mesh.Mesh.dtype)
    data["vectors"] = tri
    stl_mesh.Mesh(data, calculate_normals=True).save(path, mode=StlMode.BINARY)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    zip_path, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    stages: dict[str, float] = {}
    start = t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        stages[name] = now - t
        t = now

    slices = parse(zip_path)
    lap("parse")
    vol, spacing, origin = build_volume(slices)
    lap("volume")
    labels = segment(vol)
    lap("segment")
    meshes = {name: mesh_label(labels, value, spacing, origin) for name, value in LABELS.items()}
    lap("mesh")
    for name, (tri, _area, _vol) in meshes.items():
        write_stl(os.path.join(out_dir, f"{name}.stl"), tri)
    lap("write")
    total = time.perf_counter() - start

    result = {
        "stages": stages,
        "total_s": total,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        "series_slices": len(slices),
        "labels": {
            name: {"triangles": len(tri), "volume_ml": vol_ml, "area_mm2": area}
            for name, (tri, area, vol_ml) in meshes.items()
        },
    }
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
