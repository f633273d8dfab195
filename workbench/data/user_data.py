"""The user's own data as frames of integer sensor values: arrays (.npy, .npz, .csv) and images
(8- and 16-bit grayscale PNG and TIFF, single frames, multi-page TIFF stacks or a folder of them).

Everything is read into `Frames`: an `(F, H, W)` integer array, the sensor depth in bits and one
source name per frame. A profile is one line of a frame, along its columns (one profile per camera
column, what the hardware streams: `profiles(values, "columns")` gives `(F, W, H)`) or along its rows
(`(F, H, W)`, the workbench's `(N, L)` layout of a 2-D array). Images are read by imageio (PNG,
through Pillow) and tifffile (TIFF); nothing is converted silently: colour, float or signed data,
empty files and unreadable files raise `DatasetError` naming the file and what is allowed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.errors import ConfigError, DatasetError

IMAGE_SUFFIXES = (".png", ".tif", ".tiff")
ARRAY_SUFFIXES = (".npy", ".npz", ".csv")
ORIENTATIONS = ("columns", "rows")
STANDARD_DEPTHS = (8, 10, 12, 16)
IMAGE_DEPTHS = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}


@dataclass(frozen=True)
class Frames:
    """Integer frames `(F, H, W)`, their depth in bits, a source name per frame, and whether they are images."""

    values: np.ndarray
    depth: int
    sources: tuple[str, ...]
    images: bool


def profiles(values: np.ndarray, along: str) -> np.ndarray:
    """The profiles of frames `(F, H, W)` as `(F, N, L)`: one per column (`along="columns"`) or per row."""
    check_orientation(along)
    return np.swapaxes(values, 1, 2) if along == "columns" else values


def check_orientation(along: str) -> None:
    """ConfigError unless `along` is one of `ORIENTATIONS`."""
    if along not in ORIENTATIONS:
        raise ConfigError(f"profile orientation {along!r} invalid; allowed {list(ORIENTATIONS)}")


def read_frames(path: Path | str, depth: int | None = None) -> Frames:
    """Read a file or a folder of images (sorted by name, all of one shape and type) as `Frames`.

    `depth` declares the sensor depth (values above `2^depth - 1` are an error); by default an image's
    depth is its container's (8 or 16 bits) and an array's the smallest of `STANDARD_DEPTHS` holding it.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DatasetError(f"folder {path} holds no image; allowed suffixes {list(IMAGE_SUFFIXES)}")
        stacks = [_read_image(f) for f in files]
        _check_alike(stacks, files)
        values = np.concatenate(stacks)
        sources = tuple(name for f, s in zip(files, stacks) for name in _frame_names(f, len(s)))
        images = True
    elif not path.is_file():
        raise DatasetError(f"input {path} does not exist")
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        values = _read_image(path)
        sources, images = _frame_names(path, len(values)), True
    elif path.suffix.lower() in ARRAY_SUFFIXES:
        values = _read_array(path)
        sources, images = _frame_names(path, len(values)), False
    else:
        raise DatasetError(f"input {path} has suffix {path.suffix!r}; allowed {list(IMAGE_SUFFIXES + ARRAY_SUFFIXES)} "
                           "or a folder of images")
    return Frames(values, _depth(values, path, depth, images), sources, images)


def _frame_names(path: Path, count: int) -> tuple[str, ...]:
    return (path.name,) if count == 1 else tuple(f"{path.name}[{i}]" for i in range(count))


def _read_image(path: Path) -> np.ndarray:
    """One PNG or TIFF (TIFF: every page) as `(F, H, W)` of uint8 or uint16."""
    _check_not_empty(path)
    try:
        if path.suffix.lower() == ".png":
            import imageio.v3 as iio
            array, samples = np.asarray(iio.imread(path, plugin="pillow")), None
        else:
            import tifffile
            with tifffile.TiffFile(path) as tif:
                array, samples = tif.asarray(), tif.pages[0].samplesperpixel
    except Exception as exc:  # noqa: BLE001 - every reader failure is an unreadable file to the user
        raise _unreadable(path, exc) from exc
    colour = samples != 1 if samples is not None else array.ndim != 2  # a PNG holds one frame
    if colour or array.ndim not in (2, 3) or array.size == 0:
        raise DatasetError(f"image {path} has shape {array.shape}; allowed a grayscale frame (H, W) or a "
                           "TIFF stack of them (F, H, W), not colour")
    if array.dtype not in IMAGE_DEPTHS:
        raise DatasetError(f"image {path} holds {array.dtype} values; allowed 8- or 16-bit unsigned grayscale")
    return array if array.ndim == 3 else array[None]


def _read_array(path: Path) -> np.ndarray:
    """A .npy/.npz/.csv array of profiles `(N, L)` (one frame) or frames `(F, H, W)`."""
    _check_not_empty(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            array = np.loadtxt(path, delimiter=",", ndmin=2)
        elif suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        else:
            array = _npz_array(path)
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - every reader failure is an unreadable file to the user
        raise _unreadable(path, exc) from exc
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.size == 0:
        raise DatasetError(f"{path} holds an array of shape {array.shape}; allowed non-empty profiles (N, L) "
                           "or frames (F, H, W)")
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.array_equal(array, np.round(array)):
            raise DatasetError(f"{path} holds non-integer values; allowed integer sensor values")
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise DatasetError(f"{path} holds {array.dtype} values; allowed integer sensor values")
    return array


def _npz_array(path: Path) -> np.ndarray:
    """The `profiles` array of an .npz (as `workbench generate` writes), or its only array."""
    with np.load(path, allow_pickle=False) as archive:
        names = list(archive.files)
        if "profiles" in names:
            return archive["profiles"]
        if len(names) == 1:
            return archive[names[0]]
    raise DatasetError(f"{path} holds arrays {names}; allowed one named 'profiles' or a single array")


def _unreadable(path: Path, exc: Exception) -> DatasetError:
    """One line naming the file and the reader's first line of complaint."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return DatasetError(f"cannot read {path}: {reason}")


def _check_not_empty(path: Path) -> None:
    if path.stat().st_size == 0:
        raise DatasetError(f"input {path} is empty (0 bytes)")


def _check_alike(stacks: list[np.ndarray], files: list[Path]) -> None:
    first = stacks[0]
    for stack, file in zip(stacks[1:], files[1:]):
        if stack.shape[1:] != first.shape[1:] or stack.dtype != first.dtype:
            raise DatasetError(f"image {file} is {stack.dtype} {stack.shape[1:]}, unlike {files[0].name} "
                               f"({first.dtype} {first.shape[1:]}); allowed one size and depth per folder")


def _depth(values: np.ndarray, path: Path, declared: int | None, image: bool) -> int:
    """The declared depth (checked against the values), else the container's or the smallest standard one."""
    low, high = int(values.min()), int(values.max())
    if low < 0:
        raise DatasetError(f"{path} holds the negative value {low}; allowed unsigned sensor values")
    if declared is not None:
        if declared not in STANDARD_DEPTHS:
            raise ConfigError(f"--depth {declared} invalid; allowed {list(STANDARD_DEPTHS)}")
        if high > (1 << declared) - 1:
            raise DatasetError(f"{path} holds the value {high}, above the declared {declared}-bit range "
                               f"[0, {(1 << declared) - 1}]")
        return declared
    if image:
        return IMAGE_DEPTHS[values.dtype]
    for depth in STANDARD_DEPTHS:
        if high <= (1 << depth) - 1:
            return depth
    raise DatasetError(f"{path} holds the value {high}; allowed sensor values below 2^{STANDARD_DEPTHS[-1]}")


def to_depth(frames: Frames, depth: int | None, rescale: bool) -> np.ndarray:
    """The frames' values as int64 for a detector built for `depth`-bit input (None: any depth).

    Different depths are an error naming both and `--rescale`, which shifts the values by the
    difference of the depths (dropping low bits, or padding them with zeros).
    """
    values = frames.values.astype(np.int64)
    if depth is None:
        if rescale:
            raise ConfigError("--rescale needs a detector built for a fixed input depth (a network); "
                              "classical methods take any depth")
        return values
    if frames.depth == depth:
        return values
    if not rescale:
        raise ConfigError(f"the data is {frames.depth}-bit but the detector was built for {depth}-bit input; "
                          f"pass --rescale to shift the values to {depth} bits, or --depth if the data "
                          f"holds fewer significant bits than its container")
    shift = frames.depth - depth
    return values >> shift if shift > 0 else values << -shift
