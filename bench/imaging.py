"""The imaging pipeline against a naive Pillow baseline and pyvips, single-threaded.

    python -m bench.imaging [--quick] [--runs N]

Prints a table (median ms, megapixels per second, peak RSS, time ratios) and a check
that our output matches the baseline's; it never passes or fails on timing. Inputs are
generated at run time into a temporary directory, except the 24 MP corpus JPEG. Every
engine runs in this process for timing; peak RSS is measured in a fresh subprocess per
engine and input, so that one engine's peak cannot hide another's.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import PIL
import pyvips
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps, features

from bench.figures import target
from glowworm.sizes import ALL_SIZES, THUMBNAIL_SIZES, SizeSpec
from processor.imaging import render

CORPUS_BIG = (
    Path(__file__).parents[1] / "tests" / "data" / "corpus" / "big-6000x4000-orientation-6.jpg"
)
# The baseline's and pyvips' JPEG quality, the same as render()'s default.
QUALITY = 85
# The derivative compared between ours and the baseline.
CHECKED_SIZE = "large"
SIZE_SETS: dict[str, tuple[SizeSpec, ...]] = {"all": ALL_SIZES, "thumbs": THUMBNAIL_SIZES}
# Targets of issue 5, read on the full set: the 12 MP JPEG against both references, and
# the peak RSS on the 24 MP one.
TARGET_INPUT, RSS_INPUT = "12 MP JPEG, orientation 6", "24 MP JPEG, orientation 6"
MAX_PYVIPS_RATIO = 1.3
MIN_NAIVE_SPEEDUP = 2.0
# Below this PSNR against the naive output, speed would come from a different picture.
SAME_PICTURE_PSNR_DB = 30.0
MAX_PEAK_RSS_MB = 200.0

Engine = Callable[[bytes, Sequence[SizeSpec]], list[bytes]]


def ours(data: bytes, sizes: Sequence[SizeSpec]) -> list[bytes]:
    return [rendition.data for rendition in render(data, sizes, quality=QUALITY)]


def naive(data: bytes, sizes: Sequence[SizeSpec]) -> list[bytes]:
    """What one writes first: open, exif_transpose, thumbnail() from the full image each time."""
    with Image.open(io.BytesIO(data)) as opened:
        upright = ImageOps.exif_transpose(opened)
    outputs = []
    for spec in sizes:
        thumb = upright.copy()
        thumb.thumbnail(spec.box_for(*upright.size))
        outputs.append(_jpeg(thumb if thumb.mode == "RGB" else thumb.convert("RGB")))
    return outputs


def vips(data: bytes, sizes: Sequence[SizeSpec]) -> list[bytes]:
    """pyvips: shrink-on-load to the largest box, then thumbnail_image down the chain."""
    header = pyvips.Image.new_from_buffer(data, "")
    width, height = header.width, header.height
    if header.get_typeof("orientation") and int(header.get("orientation")) >= 5:
        width, height = height, width
    boxes = sorted(
        ((spec.name, spec.box_for(width, height)) for spec in sizes),
        key=lambda item: item[1][0] * item[1][1],
        reverse=True,
    )
    made: dict[str, bytes] = {}
    image = None
    for name, (box_width, box_height) in boxes:
        if image is None:
            image = pyvips.Image.thumbnail_buffer(data, box_width, height=box_height, size="down")
        else:
            image = image.thumbnail_image(box_width, height=box_height, size="down")
        # Each step is kept in memory since the next, smaller one is made from it: libvips
        # is lazy, and without this every derivative would resample from the original
        # again (the reference then took twice its time).
        image = image.copy_memory()
        made[name] = image.jpegsave_buffer(Q=QUALITY, keep="none")
    return [made[spec.name] for spec in sizes]


ENGINES: dict[str, Engine] = {"ours": ours, "naive": naive, "pyvips": vips}


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=QUALITY)
    return buffer.getvalue()


# --- inputs -------------------------------------------------------------------------


def photo_like(width: int, height: int, seed: int) -> Image.Image:
    """A sky gradient, soft hills and shapes with edges, foliage-like texture and grain.

    Compresses and decodes like a photo (about 1.5 bits per pixel at q90), unlike flat
    colour or pure noise.
    """
    rng = random.Random(seed)
    small = (max(1, width // 8), max(1, height // 8))
    sky = Image.merge(
        "RGB",
        [
            Image.linear_gradient("L").resize(small).point(lambda v, k=k: 255 - v * k // 4)
            for k in (1, 2, 3)
        ],
    )
    draw = ImageDraw.Draw(sky)
    for _ in range(60):
        x, y = rng.randrange(small[0]), rng.randrange(small[1] // 3, small[1])
        radius = rng.randrange(4, max(5, small[0] // 6))
        colour = (rng.randrange(30, 140), rng.randrange(60, 200), rng.randrange(20, 120))
        draw.ellipse((x - radius, y - radius // 2, x + radius, y + radius // 2), fill=colour)
    for _ in range(40):
        x, y = rng.randrange(small[0]), rng.randrange(small[1])
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.line((x, y, x + rng.randrange(-60, 60), y + rng.randrange(-60, 60)), colour, 1)
    base = sky.resize((width, height), Image.Resampling.BICUBIC)
    leaves = Image.effect_noise((max(1, width // 4), max(1, height // 4)), 70).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    grain = Image.effect_noise((width, height), 20)
    texture = Image.blend(leaves, grain, 0.4).filter(ImageFilter.SMOOTH)
    return Image.blend(base, Image.merge("RGB", [texture] * 3), 0.25)


@dataclass(frozen=True)
class Input:
    label: str
    path: Path
    megapixels: float


def make_inputs(directory: Path, quick: bool) -> list[Input]:
    photo = photo_like(4000, 3000, seed=12)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to view, as a phone held upright writes
    exif[0x010F] = "bench"
    jpeg = directory / "photo-12mp-orientation-6.jpg"
    photo.save(jpeg, "JPEG", quality=90, exif=exif)
    inputs = [Input(TARGET_INPUT, jpeg, 12.0)]
    if quick:
        return inputs
    png = directory / "photo-12mp.png"
    photo.save(png, "PNG", compress_level=6)
    inputs.append(Input(RSS_INPUT, CORPUS_BIG, 24.0))
    inputs.append(Input("12 MP PNG", png, 12.0))
    return inputs


# --- measuring ------------------------------------------------------------------------


def median_ms(data: bytes, sizes: Sequence[SizeSpec], runs: int) -> dict[str, float]:
    """Median ms of each engine, taking turns run by run: on a shared machine whose speed
    drifts, engines timed one after the other would each see another machine."""
    for engine in ENGINES.values():
        engine(data, sizes)  # warm-up: imports, plugin registration, allocator
    times: dict[str, list[float]] = {name: [] for name in ENGINES}
    for _ in range(runs):
        for name, engine in ENGINES.items():
            started = time.perf_counter()
            engine(data, sizes)
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(taken) * 1000 for name, taken in times.items()}


def peak_rss_mb(engine: str, path: Path, sizes: str) -> float:
    """Peak RSS of a fresh interpreter that imports everything and runs one engine twice."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.imaging", "--child", engine, str(path), sizes],
        capture_output=True,
        check=True,
        text=True,
    )
    return int(done.stdout.split()[-1]) / 1024


def child(engine: str, path: str, sizes: str) -> None:
    """The subprocess side of peak_rss_mb: print the peak RSS (KiB) and nothing else.

    VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork and exec, so a child would
    report the (large) benchmark process that started it.
    """
    data = Path(path).read_bytes()
    if engine != "idle":
        for _ in range(2):
            ENGINES[engine](data, SIZE_SETS[sizes])
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            print(line.split()[1])
            return
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def compare(ours_jpeg: bytes, naive_jpeg: bytes) -> tuple[float, float, str]:
    """Mean absolute difference (0..255) and PSNR (dB) of two encoded derivatives."""
    with Image.open(io.BytesIO(ours_jpeg)) as a, Image.open(io.BytesIO(naive_jpeg)) as b:
        ours_image, naive_image = a.convert("RGB"), b.convert("RGB")
    note = f"{ours_image.width}x{ours_image.height}"
    if naive_image.size != ours_image.size:
        note += f" (naive {naive_image.width}x{naive_image.height}, resized to compare)"
        naive_image = naive_image.resize(ours_image.size, Image.Resampling.LANCZOS)
    histogram = ImageChops.difference(ours_image, naive_image).histogram()
    count = sum(histogram)
    mad = sum((i % 256) * n for i, n in enumerate(histogram)) / count
    mse = sum((i % 256) ** 2 * n for i, n in enumerate(histogram)) / count
    psnr = math.inf if mse == 0 else 10 * math.log10(255**2 / mse)
    return mad, psnr, note


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    vips_version = ".".join(str(pyvips.version(i)) for i in range(3))
    return (
        f"machine: {os.cpu_count()} CPUs ({model}), {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}\n"
        f"libraries: Pillow {PIL.__version__} (libjpeg-turbo "
        f"{features.version('libjpeg_turbo')}, zlib {features.version('zlib')}), "
        f"pyvips {pyvips.__version__} (libvips {vips_version}, concurrency "
        f"{pyvips.concurrency_get()})"
    )


# --- report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    label: str
    sizes: str
    engine: str
    ms: float
    megapixels: float
    rss_mb: float


def run(runs: int, quick: bool) -> None:
    print(machine())
    print(
        f"runs per cell: {runs} (median), engines taking turns run by run, after one "
        "warm-up run each; single thread\n"
    )
    rows: list[Row] = []
    checks: list[str] = []
    psnr_of: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="glowworm-bench-") as tmp:
        inputs = make_inputs(Path(tmp), quick)
        cells = [(item, "all") for item in inputs] + [(inputs[0], "thumbs")]
        idle = peak_rss_mb("idle", inputs[0].path, "all")
        for item, size_set in cells:
            data = item.path.read_bytes()
            sizes = SIZE_SETS[size_set]
            medians = median_ms(data, sizes, runs)
            for name in ENGINES:
                rss = peak_rss_mb(name, item.path, size_set)
                rows.append(Row(item.label, size_set, name, medians[name], item.megapixels, rss))
            if size_set == "all":
                index = [spec.name for spec in sizes].index(CHECKED_SIZE)
                mad, psnr, note = compare(ours(data, sizes)[index], naive(data, sizes)[index])
                psnr_of[item.label] = psnr
                checks.append(
                    f"  {item.label:28} {CHECKED_SIZE} {note}: "
                    f"mean abs diff {mad:.2f}/255, PSNR {psnr:.1f} dB"
                )
    print_table(rows)
    print(f"\npeak RSS of an idle child (interpreter + imports): {idle:.0f} MB")
    print(
        "\nours vs naive on the same derivative (similar pictures: PSNR > "
        f"{SAME_PICTURE_PSNR_DB:.0f} dB):"
    )
    print("\n".join(checks))
    print()
    print_targets(rows, psnr_of)


def print_targets(rows: Sequence[Row], psnr_of: dict[str, float]) -> None:
    full = {(row.label, row.engine): row for row in rows if row.sizes == "all"}
    ours_ms = full[TARGET_INPUT, "ours"].ms
    pyvips_ratio = ours_ms / full[TARGET_INPUT, "pyvips"].ms
    target(
        "12 MP full set against pyvips",
        pyvips_ratio <= MAX_PYVIPS_RATIO,
        f"ours {ours_ms:.0f} ms, pyvips {full[TARGET_INPUT, 'pyvips'].ms:.0f} ms",
        f"<= {MAX_PYVIPS_RATIO}x pyvips' time",
        pyvips_ratio,
        "x pyvips' time",
    )
    speedup = full[TARGET_INPUT, "naive"].ms / ours_ms
    target(
        "12 MP full set against naive Pillow",
        speedup >= MIN_NAIVE_SPEEDUP and psnr_of[TARGET_INPUT] > SAME_PICTURE_PSNR_DB,
        f"naive {full[TARGET_INPUT, 'naive'].ms:.0f} ms, ours {ours_ms:.0f} ms; the same "
        f"picture: PSNR {psnr_of[TARGET_INPUT]:.1f} dB on the {CHECKED_SIZE} size",
        f">= {MIN_NAIVE_SPEEDUP:.0f}x faster, PSNR > {SAME_PICTURE_PSNR_DB:.0f} dB",
        speedup,
        "x faster",
    )
    if (RSS_INPUT, "ours") in full:  # not in --quick
        rss = full[RSS_INPUT, "ours"].rss_mb
        naive_rss, pyvips_rss = full[RSS_INPUT, "naive"].rss_mb, full[RSS_INPUT, "pyvips"].rss_mb
        target(
            "24 MP peak RSS",
            rss <= MAX_PEAK_RSS_MB,
            f"one process rendering the full set twice (naive {naive_rss:.0f} MB, "
            f"pyvips {pyvips_rss:.0f} MB)",
            f"<= {MAX_PEAK_RSS_MB:.0f} MB",
            rss,
            "MB",
        )


def print_table(rows: Sequence[Row]) -> None:
    header = (
        f"{'input':28} {'sizes':8} {'engine':7} {'median ms':>10} {'MP/s':>7} "
        f"{'peak RSS MB':>12} {'ours/naive':>11} {'ours/pyvips':>12}"
    )
    print(header)
    print("-" * len(header))
    by_cell: dict[tuple[str, str], dict[str, Row]] = {}
    for row in rows:
        by_cell.setdefault((row.label, row.sizes), {})[row.engine] = row
    for (label, sizes), engines in by_cell.items():
        for name, row in engines.items():
            ratios = ""
            if name == "ours":
                ratios = (
                    f"{row.ms / engines['naive'].ms:>11.2f} {row.ms / engines['pyvips'].ms:>12.2f}"
                )
            size_label = "5 sizes" if sizes == "all" else "3 thumbs"
            print(
                f"{label:28} {size_label:8} {name:7} {row.ms:>10.1f} "
                f"{row.megapixels / (row.ms / 1000):>7.1f} {row.rss_mb:>12.0f} {ratios}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="few runs, 12 MP JPEG only")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per cell")
    parser.add_argument(
        "--child", nargs=3, metavar=("ENGINE", "PATH", "SIZES"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    # Single-threaded comparison: the processor scales by replicas, not threads per job.
    pyvips.concurrency_set(1)
    # No operation cache either: every run decodes, as every upload does (ours sets both).
    pyvips.cache_set_max(0)
    if args.child:
        child(*args.child)
        return 0
    runs = args.runs or (3 if args.quick else 5)
    run(runs, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
