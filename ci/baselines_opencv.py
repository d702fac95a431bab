#!/usr/bin/env python3
"""Per-frame scores of the OpenCV baselines, for `cam-hil eval --loco --baselines`.

For each labelled clip and each setting of two textbook detectors, the score
of every frame: the fraction of its pixels that changed.
- OpenCV frame differencing: grey frame, Gaussian blur 5x5, absdiff with the
  previous frame, pixels above PIXEL_THRESHOLD changed;
- OpenCV MOG2: createBackgroundSubtractorMOG2(history=H, varThreshold=V,
  detectShadows=False), a 3x3 opening on the mask, foreground pixels changed.
The first frame of a clip scores 0 (nothing to compare with yet).

cam-hil then tunes each detector's setting and threshold on the score (the
"AREA" of the textbook pipeline) exactly as it tunes its own, and prints one
table (docs/detector.md, "Choosing the defaults"). Needs
opencv-python-headless and numpy.

    python3 ci/baselines_opencv.py --scores OUT.json DIR [DIR...]
"""
import csv, json, os, sys

import cv2
import numpy as np

PIXEL_THRESHOLDS = [10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 160]
VAR_THRESHOLDS = [8, 16, 25, 36, 64, 100, 144, 225, 400, 900]
HISTORIES = [50, 100, 500]


def frames_of(path):
    with open(os.path.join(path, "manifest.csv")) as f:
        rows = list(csv.DictReader(f))
    return [cv2.imread(os.path.join(path, r["file"]), cv2.IMREAD_GRAYSCALE) for r in rows]


def frame_difference(frames, pixel_threshold):
    out, prev = [], None
    for img in frames:
        blur = cv2.GaussianBlur(img, (5, 5), 0)
        if prev is None:
            out.append(0.0)
        else:
            _, mask = cv2.threshold(cv2.absdiff(blur, prev), pixel_threshold, 255, cv2.THRESH_BINARY)
            out.append(cv2.countNonZero(mask) / mask.size)
        prev = blur
    return out


def mog2(frames, history, var_threshold):
    sub = cv2.createBackgroundSubtractorMOG2(history=history, varThreshold=var_threshold, detectShadows=False)
    kernel = np.ones((3, 3), np.uint8)
    out = []
    for i, img in enumerate(frames):
        mask = cv2.morphologyEx(sub.apply(img), cv2.MORPH_OPEN, kernel)
        # The first frame has no model yet.
        out.append(cv2.countNonZero(mask) / mask.size if i > 0 else 0.0)
    return out


def main(args):
    if len(args) < 3 or args[0] != "--scores":
        sys.exit(__doc__)
    out_path, paths = args[1], args[2:]
    scores = {"OpenCV frame difference": {}, "OpenCV MOG2": {}}
    for path in paths:
        name = os.path.basename(os.path.normpath(path))
        frames = frames_of(path)
        for t in PIXEL_THRESHOLDS:
            scores["OpenCV frame difference"].setdefault(f"pixel_threshold={t}", {})[name] = frame_difference(frames, t)
        for h in HISTORIES:
            for v in VAR_THRESHOLDS:
                scores["OpenCV MOG2"].setdefault(f"history={h},varThreshold={v}", {})[name] = mog2(frames, h, v)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(scores, f)
    print(f"baselines_opencv: {len(paths)} clip(s), OpenCV {cv2.__version__}: {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
