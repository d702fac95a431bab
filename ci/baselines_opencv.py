#!/usr/bin/env python3
"""Detection quality against OpenCV baselines, in one run over the same frames.

For each labelled clip, three detectors decide per frame "motion or not":
- camhil: the core detector at its defaults (`cam-hil eval`, run from here);
- OpenCV frame differencing: grey frame, Gaussian blur 5x5, absdiff with the
  previous frame, pixel threshold 25, motion when more than AREA of the
  pixels changed (the textbook pipeline);
- OpenCV MOG2: createBackgroundSubtractorMOG2(history=500, varThreshold=16,
  detectShadows=False), a 3x3 opening on the mask, motion when more than
  AREA of the pixels are foreground.
All three are scored with the rules of `cam-hil eval` (docs/detector.md):
events are runs of motion frames, matched to labelled segments with a
tolerance of 2 frames; false alarms per hour of still footage; frame
precision and recall. Prints a Markdown table. Needs opencv-python-headless.

    python3 ci/baselines_opencv.py fixtures/cdnet_highway [more clips...]
"""
import csv, os, subprocess, sys

import cv2
import numpy as np

AREA = 0.005
TOLERANCE = 2


def clip(path):
    with open(os.path.join(path, "manifest.csv")) as f:
        rows = list(csv.DictReader(f))
    labels = {}
    with open(os.path.join(path, "labels.csv")) as f:
        for row in csv.DictReader(f):
            labels[row["file"]] = row["motion"] == "1"
    frames = [cv2.imread(os.path.join(path, r["file"]), cv2.IMREAD_GRAYSCALE) for r in rows]
    times = [int(r["t_ms"]) for r in rows]
    return frames, times, [labels.get(r["file"]) for r in rows]


def frame_difference(frames):
    out, prev = [], None
    for img in frames:
        blur = cv2.GaussianBlur(img, (5, 5), 0)
        if prev is None:
            out.append(False)
        else:
            _, mask = cv2.threshold(cv2.absdiff(blur, prev), 25, 255, cv2.THRESH_BINARY)
            out.append(cv2.countNonZero(mask) > AREA * mask.size)
        prev = blur
    return out


def mog2(frames):
    sub = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=16, detectShadows=False)
    kernel = np.ones((3, 3), np.uint8)
    out = []
    for i, img in enumerate(frames):
        mask = cv2.morphologyEx(sub.apply(img), cv2.MORPH_OPEN, kernel)
        # The first frame has no model yet.
        out.append(i > 0 and cv2.countNonZero(mask) > AREA * mask.size)
    return out


def runs(flags):
    out = []
    for i, f in enumerate(flags):
        if f:
            if out and out[-1][1] + 1 == i:
                out[-1][1] = i
            else:
                out.append([i, i])
    return out


def score(motion, labels, times):
    """The scoring of harness/src/eval.rs, on the same definitions."""
    detected = runs(motion)
    segments = runs([l is True for l in labels])
    overlaps = lambda a, s: a[0] <= s[1] + TOLERANCE and max(s[0] - TOLERANCE, 0) <= a[1]
    correct = sum(any(overlaps(d, s) for s in segments) for d in detected)
    found = sum(any(overlaps(d, s) for d in detected) for s in segments)
    precision = correct / len(detected) if detected else 1.0
    recall = found / len(segments) if segments else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    n = len(times)
    mean = (times[-1] - times[0]) / (n - 1) if n > 1 else 0
    durations = [times[i + 1] - times[i] if i + 1 < n else mean for i in range(n)]
    still_h = sum(d for d, l in zip(durations, labels) if l is False) / 3_600_000
    fa_h = (len(detected) - correct) / still_h if still_h else 0.0
    pairs = [(m, l) for m, l in zip(motion, labels) if l is not None]
    tp = sum(m and l for m, l in pairs)
    fp = sum(m and not l for m, l in pairs)
    fn = sum(l and not m for m, l in pairs)
    ratio = lambda a, b: a / b if b else 1.0
    return [len(detected), f"{found}/{len(segments)}", precision, recall, f1, fa_h, ratio(tp, tp + fp), ratio(tp, tp + fn)]


def camhil_rows(paths):
    out = subprocess.run(["cargo", "run", "-q", "--release", "-p", "cam-hil", "--", "eval", *paths],
                         check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 10 and cells[0] not in ("clip",) and not cells[0].startswith("-"):
            rows[cells[0]] = [cells[2], cells[3]] + [float(c) for c in cells[4:]]
    return rows


def fmt(v):
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def main(paths):
    ours = camhil_rows(paths)
    print("| clip | detector | events | segments found | precision | recall | F1 | false alarms / h still | frame precision | frame recall |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for path in paths:
        name = os.path.basename(os.path.normpath(path))
        frames, times, labels = clip(path)
        results = [("camhil (defaults)", ours[name])]
        results.append(("OpenCV frame difference", score(frame_difference(frames), labels, times)))
        results.append(("OpenCV MOG2", score(mog2(frames), labels, times)))
        for detector, row in results:
            print(f"| {name} | {detector} | " + " | ".join(fmt(v) for v in row) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
