#!/usr/bin/env python3
"""Reference pixel statistics from pydicom, for checking our own DICOM decoder.

Usage:
    python pydicom_stats.py FILE...
    python pydicom_stats.py --all      # pydicom's test_files + pydicom-data's files

Prints a JSON array to stdout, one object per file:
    {"path", "ok", "error", "modality", "transfer_syntax", "rows", "columns",
     "frames", "samples_per_pixel", "hu_min", "hu_max", "hu_mean", "slope",
     "intercept"}
and a summary count to stderr.

Values are `pydicom.pixels.apply_modality_lut(ds.pixel_array, ds)` as float64
over all frames (and all samples, for colour images). Notes:

* Enhanced multi-frame objects (e.g. Enhanced CT) carry Rescale Slope/Intercept
  in the functional groups, which apply_modality_lut ignores. When the top level
  has neither a Modality LUT nor a rescale, each frame is rescaled with the
  Pixel Value Transformation of its Per-frame item, else of the Shared item.
  `slope`/`intercept` then report the first frame's values.
* `ds.pixel_array` converts YBR photometric data to RGB (pydicom's default), so
  colour statistics are of RGB values, not the stored YBR ones.
* Files that fail the strict read (no preamble/'DICM') are read again with
  force=True; if that gives no dataset with Pixel Data, the strict read's error
  is reported. A missing Transfer Syntax UID is reported as null, and the
  pixel data decoded with the encoding pydicom detected while parsing.
* Failure messages carry pydicom's warnings, which often say why (truncation).
* --all lists only files present locally: pydicom's bundled test_files and the
  pydicom-data package. Files that pydicom would download are skipped (no
  network), and are counted on stderr.
* Each file is decoded in a worker process with a time limit, so a crashing or
  hanging decoder marks that file as failed instead of ending the run.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def _num(value) -> float | None:
    """A finite float for JSON, or None."""
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _read(path: str) -> pydicom.Dataset:
    """Strict read; on a missing preamble/'DICM' fall back to force=True when
    that yields pixel data, else re-raise the strict read's error."""
    try:
        return pydicom.dcmread(path)
    except InvalidDicomError as strict_err:
        try:
            ds = pydicom.dcmread(path, force=True)
        except Exception:
            raise strict_err from None
        if not any(k in ds for k in PIXEL_KEYWORDS):
            raise strict_err from None
        return ds


def _infer_transfer_syntax(ds: pydicom.Dataset) -> None:
    """Set a missing Transfer Syntax UID from the encoding pydicom detected,
    so the (necessarily native) pixel data can be decoded."""
    implicit, little = ds.original_encoding
    if implicit is None or little is None:
        return
    ds.file_meta.TransferSyntaxUID = (
        ImplicitVRLittleEndian if implicit
        else ExplicitVRLittleEndian if little
        else ExplicitVRBigEndian
    )


def _frame_rescale(ds: pydicom.Dataset, frames: int) -> list[tuple[float, float]] | None:
    """Per-frame (slope, intercept) from the functional groups, or None."""
    shared = ds.get("SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared_pvt = None
    if shared and "PixelValueTransformationSequence" in shared[0]:
        shared_pvt = shared[0].PixelValueTransformationSequence[0]
    out = []
    found = False
    for i in range(frames):
        pvt = shared_pvt
        if per_frame and i < len(per_frame) and "PixelValueTransformationSequence" in per_frame[i]:
            pvt = per_frame[i].PixelValueTransformationSequence[0]
        if pvt is not None and "RescaleSlope" in pvt and "RescaleIntercept" in pvt:
            found = True
            out.append((float(pvt.RescaleSlope), float(pvt.RescaleIntercept)))
        else:
            out.append((1.0, 0.0))
    return out if found else None


def _empty_record(path: str) -> dict:
    return {
        "path": path, "ok": False, "error": None, "modality": None,
        "transfer_syntax": None, "rows": None, "columns": None, "frames": None,
        "samples_per_pixel": None, "padding": None, "hu_min": None, "hu_max": None,
        "hu_mean": None, "slope": None, "intercept": None,
    }


def file_stats(path: str) -> dict:
    """Statistics for one file; never raises."""
    rec = _empty_record(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            _fill(rec, path)
        except Exception as exc:  # any parse/decode problem is a result, not a crash
            rec["error"] = _error(exc)
            # pydicom often explains a failure in a warning (e.g. truncation)
            notes = list(dict.fromkeys(str(w.message) for w in caught))
            if notes:
                rec["error"] += " [warnings: " + " | ".join(notes)[:500] + "]"
    return rec


def _fill(rec: dict, path: str) -> None:
    """Fill rec in place; raises on any parse/decode problem."""
    ds = _read(path)
    if "TransferSyntaxUID" in ds.file_meta:
        rec["transfer_syntax"] = str(ds.file_meta.TransferSyntaxUID)
    else:  # reported as null, but decode with the detected encoding
        _infer_transfer_syntax(ds)
    rec["modality"] = ds.get("Modality") or None
    rec["rows"] = _int(ds.get("Rows"))
    rec["columns"] = _int(ds.get("Columns"))
    rec["frames"] = _int(ds.get("NumberOfFrames") or 1)
    rec["samples_per_pixel"] = _int(ds.get("SamplesPerPixel"))
    if not any(k in ds for k in PIXEL_KEYWORDS):
        raise ValueError("no Pixel Data element")

    arr = ds.pixel_array
    frames = rec["frames"] or 1
    per_frame = None
    if not ds.get("ModalityLUTSequence") and not (
        "RescaleSlope" in ds and "RescaleIntercept" in ds
    ):
        per_frame = _frame_rescale(ds, frames)

    if per_frame is None:
        hu = np.asarray(apply_modality_lut(arr, ds), dtype=np.float64)
        if "RescaleSlope" in ds and "RescaleIntercept" in ds:
            rec["slope"] = _num(ds.RescaleSlope)
            rec["intercept"] = _num(ds.RescaleIntercept)
    else:
        # pixel_array is (frames, rows, cols[, samples]) when frames > 1
        hu = arr.astype(np.float64)
        if frames == 1:
            hu = hu[np.newaxis]
        for i, (m, b) in enumerate(per_frame):
            hu[i] = hu[i] * m + b
        rec["slope"], rec["intercept"] = per_frame[0]

    if hu.size == 0:
        raise ValueError("empty pixel array")
    padding = ds.get("PixelPaddingValue")
    rec["padding"] = _int(padding)
    if padding is not None:
        # medrt turns padding into air (-1024 HU); pydicom leaves it as a value. Compare
        # what both agree on: the pixels that are neither padding nor exactly -1024 HU.
        stored = np.asarray(arr).reshape(hu.shape)
        hu = hu[(stored != int(padding)) & (hu != -1024.0)]
        if hu.size == 0:
            raise ValueError("only padding")
    rec["hu_min"] = _num(hu.min())
    rec["hu_max"] = _num(hu.max())
    rec["hu_mean"] = _num(hu.mean())
    rec["ok"] = True


def _worker(conn) -> None:
    """Child process loop: receive a path, send back its record."""
    while True:
        path = conn.recv()
        if path is None:
            return
        conn.send(file_stats(path))


class IsolatedRunner:
    """Runs file_stats in a child process, restarting it after a crash or timeout."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.ctx = mp.get_context("fork")
        self.proc = None
        self.conn = None

    def _start(self) -> None:
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def _kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join()
        self.proc = self.conn = None

    def run(self, path: str) -> dict:
        if self.proc is None:
            self._start()
        self.conn.send(path)
        reason = f"Timeout: no result within {self.timeout:g} s"
        if self.conn.poll(self.timeout):
            try:
                return self.conn.recv()
            except EOFError:
                self.proc.join()
                reason = f"WorkerCrash: decoder process died (exit code {self.proc.exitcode})"
        self._kill()
        return {**_empty_record(path), "error": reason}

    def close(self) -> None:
        if self.proc is not None:
            try:
                self.conn.send(None)
                self.proc.join(5)
            finally:
                self._kill()


def all_test_files() -> tuple[list[str], int]:
    """Local test files (pydicom's test_files, then pydicom-data's), and how many
    listed files would need a download."""
    from pydicom.data import data_manager as dm

    base = Path(dm.DATA_ROOT) / "test_files"
    files = sorted(
        os.fspath(p) for p in base.rglob("*")
        if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts
    )
    local_names = {os.path.basename(f) for f in files}
    for _name, source in dm.external_data_sources().items():  # pydicom-data
        extra = sorted(source.get_paths("**/*", dm.DataTypes.DATASET))
        files += [p for p in extra if os.path.isfile(p)]
        local_names.update(os.path.basename(p) for p in extra)
    online_only = [n for n in dm.get_url_map() if n not in local_names]
    return files, len(online_only)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", help="DICOM files")
    ap.add_argument("--all", action="store_true", help="all local pydicom test files")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per file")
    args = ap.parse_args()
    if not args.files and not args.all:
        ap.error("give FILE... or --all")

    paths = list(args.files)
    online_only = 0
    if args.all:
        found, online_only = all_test_files()
        paths += found

    runner = IsolatedRunner(args.timeout)
    try:
        records = [runner.run(p) for p in paths]
    finally:
        runner.close()

    json.dump(records, sys.stdout, indent=1)
    sys.stdout.write("\n")
    ok = sum(r["ok"] for r in records)
    msg = f"pydicom {pydicom.__version__}: {len(records)} files, {ok} ok, {len(records) - ok} failed"
    if args.all:
        msg += f"; {online_only} download-only test files skipped"
    print(msg, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
