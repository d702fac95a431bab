#!/usr/bin/env python3
"""Detector speed against OpenCV's best desktop path, in one run on the same frames.

OpenCV: cv2.imdecode(buf, IMREAD_REDUCED_GRAYSCALE_8) + absdiff against the
previous frame + threshold + countNonZero, per frame (best of 20 passes).
camhil: the core detector (decode to luma, 8x8 cell grid, compare, lighting
rules) through `core/examples/bench_frames.rs`, release build, same frames:
at its defaults (shake removal on), as the seed's detector, and as the
seed's detector with the background model. The four run interleaved, five
times; the table gives medians and the ratios (this machine varies by
±30 % from run to run). Needs opencv-python-headless.

    python3 ci/bench_opencv.py fixtures/cdnet_highway [more clips...]
"""
import csv, os, re, statistics, subprocess, sys, time

import cv2
import numpy as np

ROUNDS = 20


def frames(clip):
    with open(os.path.join(clip, "manifest.csv")) as f:
        return [open(os.path.join(clip, row["file"]), "rb").read() for row in csv.DictReader(f)]


def opencv_us_per_frame(data):
    bufs = [np.frombuffer(b, dtype=np.uint8) for b in data]
    best = float("inf")
    for _ in range(ROUNDS):
        prev = None
        start = time.perf_counter()
        for buf in bufs:
            img = cv2.imdecode(buf, cv2.IMREAD_REDUCED_GRAYSCALE_8)
            if prev is not None:
                diff = cv2.absdiff(img, prev)
                _, mask = cv2.threshold(diff, 12, 255, cv2.THRESH_BINARY)
                cv2.countNonZero(mask)
            prev = img
        best = min(best, (time.perf_counter() - start) * 1e6 / len(bufs))
    return best


def camhil_us_per_frame(clip, *mode):
    out = subprocess.run([BENCH, clip, *mode], check=True, capture_output=True, text=True).stdout
    return float(re.search(r"us_per_frame=([0-9.]+)", out).group(1))


BENCH = "target/release/examples/bench_frames"
REPS = 5


def main():
    clips = sys.argv[1:] or ["fixtures/cdnet_highway"]
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "camhil-core", "--example", "bench_frames"], check=True)
    print(f"opencv {cv2.__version__}, {REPS} interleaved runs of {ROUNDS} passes each (best pass per run), medians\n")
    print("| clip | frames | OpenCV µs/frame | camhil defaults µs/frame | camhil speed vs OpenCV | seed's detector µs/frame | defaults' cost vs the seed's | seed + background model µs/frame | background model's cost vs the seed's |")
    print("|---|---|---|---|---|---|---|---|---|")
    for clip in clips:
        data = frames(clip)
        cv, ours, seed, bg = [], [], [], []
        for _ in range(REPS):
            cv.append(opencv_us_per_frame(data))
            ours.append(camhil_us_per_frame(clip))
            seed.append(camhil_us_per_frame(clip, "seed"))
            bg.append(camhil_us_per_frame(clip, "background"))
        cv, ours, seed, bg = (statistics.median(x) for x in (cv, ours, seed, bg))
        print(
            f"| {os.path.basename(clip)} | {len(data)} | {cv:.1f} | {ours:.1f} | {cv / ours:.2f}x | {seed:.1f} "
            f"| {ours / seed:.3f}x | {bg:.1f} | {bg / seed:.3f}x |"
        )


if __name__ == "__main__":
    main()
