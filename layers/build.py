"""Build the third-party Lambda layers without Docker, cached, stripped and measured.

    python -m layers.build            # build (or reuse) every layer, check imports, print the size table
    python -m layers.build --force    # rebuild even when the requirements are unchanged

Each layer `layers/<name>/requirements.txt` is installed with pip for the Lambda platform
(manylinux x86_64, CPython 3.13) into `.build/layers/<name>/python`, then stripped of what a Lambda
never imports. A layer is rebuilt only when its requirements file (or this recipe) changes. The stack
(infra/) asks `layer_asset_dir()` for the directory to package.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS_SRC = ROOT / "layers"
BUILD_ROOT = ROOT / ".build" / "layers"
FUNCTIONS_DIR = ROOT / "functions"

LAMBDA_PYTHON = "3.13"
# pyarrow >= 21 ships only manylinux_2_28 wheels for x86_64; Lambda python3.13 (Amazon Linux 2023,
# glibc 2.34) runs both tags.
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # function code + all its layers, unzipped
# Bump when the strip rules or pip options change, so cached layers are rebuilt.
RECIPE_VERSION = "6"

THIRD_PARTY_LAYERS = ("base", "data")
# Which layers each function gets. access_api stays off the data layer so its cold start is light.
FUNCTION_LAYERS: dict[str, tuple[str, ...]] = {
    "upload_validator": ("shared", "base", "data"),
    "access_api": ("shared", "base"),
    "model_run": ("shared", "base", "data"),
    "audit_sealer": ("shared", "base"),
}

# Layers shipped with bytecode compiled for the runtime. Lambda's /opt and /var/task are read-only, so
# without .pyc files every cold start compiles every module it imports: the access_api's cold import
# measured 1.0 s from source against 0.47 s from bytecode (python3.13, same layer). Third-party code
# never changes within a build, so unchecked hashes; "data" stays without (its bytecode would add tens
# of MB against the 250 MB limit, and its functions run from queues and Step Functions, not for people).
BYTECODE_LAYERS = frozenset({"base"})
CODE_BUILD_ROOT = ROOT / ".build" / "code"

# Directories never needed at run time, wherever they appear.
STRIP_DIR_NAMES = frozenset({"__pycache__", "tests"})
STRIP_SUFFIXES = (".pyc", ".pyx", ".pxd", ".pxi", ".h", ".hpp", ".cc", ".cpp", ".a", ".lib")
# Paths inside a layer's python/ folder that the handlers never import. What pyarrow.parquet, .csv,
# .compute and .dataset load was measured: every pyarrow extension links libarrow_python, which links
# substrait, dataset, acero, compute and parquet, so those stay; Flight, the S3/GCS/Azure/HDFS
# filesystems (we read S3 through boto3) and the C++ test module go (pyarrow.fs skips missing ones).
STRIP_GLOBS = (
    "bin",  # console scripts: a layer is only imported
    "share",  # man pages
    "pyarrow/include",
    "pyarrow/src",
    "pyarrow/flight.py",
    "pyarrow/_flight*.so",
    "pyarrow/libarrow_flight.so*",
    "pyarrow/libarrow_python_flight.so*",
    "pyarrow/_s3fs*.so",
    "pyarrow/libarrow_s3.so*",
    "pyarrow/_gcsfs*.so",
    "pyarrow/_azurefs*.so",
    "pyarrow/_hdfs*.so",
    "pyarrow/_pyarrow_cpp_tests*.so",
    "numpy/_core/include",
    "numpy/_core/lib/pkgconfig",
    "matplotlib/mpl-data/sample_data",
    "matplotlib/backends/web_backend",
)
# Smoke test run with a real CPython 3.13 against the built layer (catches an over-eager strip).
IMPORT_CHECKS: dict[str, str] = {
    "base": (
        "import aws_lambda_powertools, jsonschema, aws_xray_sdk, wrapt\n"
        "from aws_lambda_powertools import Logger, Metrics, Tracer\n"
        "jsonschema.validate({'a': 1}, {'type': 'object'})\n"
    ),
    "data": (
        "import io, numpy, openpyxl, python_calamine, fastexcel\n"
        "import pyarrow as pa, pyarrow.parquet as pq, pyarrow.csv as pcsv, pyarrow.compute as pc\n"
        "import pyarrow.dataset, pyarrow.fs, pyarrow.json, pyarrow.ipc\n"
        "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt\n"
        "t = pcsv.read_csv(io.BytesIO(b'a,b\\n1,x\\n2,y\\n'))\n"
        "buf = io.BytesIO(); pq.write_table(t, buf); buf.seek(0)\n"
        "assert pc.sum(pq.read_table(buf)['a']).as_py() == 3\n"
        "m = numpy.arange(4.0).reshape(2, 2); assert abs(numpy.linalg.det(m @ m) - 4.0) < 1e-9\n"
        "fig, ax = plt.subplots(); ax.plot(numpy.arange(3)); png = io.BytesIO(); fig.savefig(png)\n"
        "wb = openpyxl.Workbook(); wb.active['A1'] = 1; x = io.BytesIO(); wb.save(x)\n"
    ),
}


class LayerNotBuiltError(RuntimeError):
    """A third-party layer is needed for synth but has not been built."""


@dataclass(frozen=True)
class LayerBuild:
    name: str
    path: Path  # the layer asset directory (holding python/)
    size_bytes: int
    cached: bool


def requirements_file(name: str) -> Path:
    return LAYERS_SRC / name / "requirements.txt"


def placeholder_dir(name: str) -> Path:
    """Tiny stand-in asset used when WITAN_SKIP_LAYER_BUILD=1 (local and test synths)."""
    return LAYERS_SRC / name / "placeholder"


def build_dir(name: str) -> Path:
    return BUILD_ROOT / name


def recipe_hash(name: str) -> str:
    """Hash of what determines a layer's content: its requirements and this build recipe."""
    digest = hashlib.sha256()
    digest.update(requirements_file(name).read_bytes())
    digest.update(f"{RECIPE_VERSION}|{LAMBDA_PYTHON}|{','.join(PLATFORMS)}".encode())
    return digest.hexdigest()


def _stamp(name: str) -> Path:
    return build_dir(name) / ".recipe-sha256"


def is_built(name: str) -> bool:
    stamp = _stamp(name)
    return stamp.is_file() and stamp.read_text().strip() == recipe_hash(name)


def layer_asset_dir(name: str, *, skip_build: bool) -> Path:
    """Directory the stack packages as layer `name`: the built layer, or the placeholder when skipping."""
    if skip_build:
        return placeholder_dir(name)
    if not is_built(name):
        raise LayerNotBuiltError(
            f"layer '{name}' is not built (or its requirements changed): run make layers "
            "(or set WITAN_SKIP_LAYER_BUILD=1 for a local/test synth)"
        )
    return build_dir(name)


def dir_size(path: Path, *, exclude_dirs: frozenset[str] = frozenset({"__pycache__"})) -> int:
    """Unzipped size in bytes of the files under path, as Lambda would count them."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if d not in exclude_dirs]
        for filename in filenames:
            file = Path(dirpath, filename)
            if not file.is_symlink():
                total += file.stat().st_size
    return total


def strip_layer(python_dir: Path) -> int:
    """Delete what a Lambda never imports; return the number of bytes removed."""
    before = dir_size(python_dir, exclude_dirs=frozenset())
    for pattern in STRIP_GLOBS:
        for match in python_dir.glob(pattern):
            if match.is_dir():
                shutil.rmtree(match)
            else:
                match.unlink()
    for dirpath, dirnames, filenames in os.walk(python_dir, topdown=True):
        for dirname in [d for d in dirnames if d in STRIP_DIR_NAMES]:
            shutil.rmtree(Path(dirpath, dirname))
            dirnames.remove(dirname)
        for filename in filenames:
            if filename.endswith(STRIP_SUFFIXES):
                Path(dirpath, filename).unlink()
    _drop_link_time_copies(python_dir / "pyarrow")
    _strip_symbols(python_dir / "pyarrow")
    return before - dir_size(python_dir, exclude_dirs=frozenset())


def _drop_link_time_copies(package: Path) -> None:
    """Wheels cannot hold symlinks, so pyarrow ships libX.so, libX.so.N and libX.so.N.M.P as three full
    copies. The loader only follows the SONAME (libX.so.N); the others exist for compiling against."""
    if not package.is_dir():
        return
    for lib in sorted(package.glob("lib*.so*")):
        name = lib.name
        stem, _, version = name.partition(".so")
        parts = [p for p in version.split(".") if p]
        if len(parts) == 1:
            continue  # the SONAME file: keep
        sonames = [p for p in package.glob(f"{stem}.so.*") if len(p.name.split(".so.")[1].split(".")) == 1]
        if sonames:
            lib.unlink()


def _strip_symbols(package: Path) -> None:
    """Drop symbol tables the loader does not need (libarrow: 48 -> 39 MB). Only for pyarrow's own
    libraries: stripping auditwheel-patched ones (numpy.libs, pillow.libs) breaks them (measured).
    Skipped without binutils."""
    strip = shutil.which("strip")
    if strip is None or not package.is_dir():
        return
    for dirpath, _, filenames in os.walk(package):
        for filename in filenames:
            lib = Path(dirpath, filename)
            if not (filename.endswith(".so") or ".so." in filename) or lib.is_symlink():
                continue
            with open(lib, "rb") as handle:
                if handle.read(4) != b"\x7fELF":
                    continue
            stripped = lib.with_name(lib.name + ".stripped")
            result = subprocess.run(
                [strip, "--strip-unneeded", "-o", str(stripped), str(lib)], capture_output=True
            )
            if result.returncode == 0 and stripped.stat().st_size < lib.stat().st_size:
                stripped.replace(lib)
            else:
                stripped.unlink(missing_ok=True)


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    """Serialise builds across processes (make layers and a test worker may race)."""
    BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    with open(BUILD_ROOT / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def pip_command(name: str, target: Path) -> list[str]:
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    return [
        sys.executable, "-m", "pip", "install", "--quiet",
        *platforms,
        "--only-binary=:all:", "--python-version", LAMBDA_PYTHON, "--implementation", "cp",
        # The requirements list the whole pinned closure; --no-deps keeps boto3/botocore (in the
        # runtime already, and pulled by aws-xray-sdk) out of the layer.
        "--no-deps", "--no-compile",
        "--target", str(target),
        "-r", str(requirements_file(name)),
    ]  # fmt: skip


class LayerBuildError(RuntimeError):
    """The built layer failed its import check under the Lambda's Python version."""


def build_layer(name: str, *, force: bool = False, python: str | None = None) -> LayerBuild:
    """Build layer `name` into .build/layers/<name>/python unless an identical build is cached.

    With `python` (a CPython 3.13), the fresh build is import-checked before it is cached, so a strip
    rule that removes something needed fails the build instead of the Lambda."""
    with _build_lock():
        out = build_dir(name)
        if not force and is_built(name):
            return LayerBuild(name, out, dir_size(out / "python", exclude_dirs=frozenset()), cached=True)
        staging = BUILD_ROOT / f"{name}.staging"
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "python").mkdir(parents=True)
        subprocess.run(pip_command(name, staging / "python"), check=True)
        strip_layer(staging / "python")
        if python is not None and name in BYTECODE_LAYERS:
            compile_bytecode(python, staging / "python", invalidation="unchecked-hash")
        if python is not None:
            result = check_imports(name, python, staging / "python")
            if result.returncode != 0:
                raise LayerBuildError(f"layer {name} fails to import under {python}:\n{result.stderr}")
        (staging / ".recipe-sha256").write_text(recipe_hash(name) + "\n")
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)
        return LayerBuild(name, out, dir_size(out / "python", exclude_dirs=frozenset()), cached=False)


def compile_bytecode(python: str, path: Path, *, invalidation: str) -> None:
    """Write __pycache__/*.cpython-313.pyc beside the sources with the runtime's own CPython."""
    subprocess.run(
        [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", invalidation, str(path)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


_CODE_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "*.egg-info")


def code_asset_dir(source: Path, name: str, *, skip_build: bool) -> Path:
    """Directory the stack packages for our own code (the shared layer, a function's folder).

    For a deploy: a fresh copy under .build/code/<name> with bytecode for the runtime when a CPython
    3.13 is here. The bytecode is hash-checked, so a source that differs from it is never run stale.
    For local and test synths (skip_build) the source folder itself; nothing is copied."""
    if skip_build:
        return source
    python = find_lambda_python()
    target = CODE_BUILD_ROOT / name
    with _build_lock():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target, ignore=_CODE_IGNORE)
        if name == "shared":
            # Table Schemas travel with the domain package: /opt/schemas beside /opt/python in Lambda,
            # where witan.validation.schema looks for them (it walks up from its own folder).
            shutil.copytree(ROOT / "schemas", target / "schemas", ignore=_CODE_IGNORE)
        if python is not None:
            compile_bytecode(python, target, invalidation="checked-hash")
    return target


def find_lambda_python() -> str | None:
    """A CPython matching the Lambda runtime, to import-check the built layers (pyenv on these machines)."""
    found = shutil.which(f"python{LAMBDA_PYTHON}")
    candidates = [found] if found else []
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += [str(p) for p in sorted(pyenv.glob(f"{LAMBDA_PYTHON}*/bin/python{LAMBDA_PYTHON}"))]
    for candidate in candidates:
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version)"], capture_output=True)
        if probe.returncode == 0:
            return candidate
    return None


def check_imports(name: str, python: str, python_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Import the layer's packages with CPython 3.13 and only the layer on the path. Bytecode goes to a
    cache beside the layers (not into them), so repeated checks are quick."""
    path = python_dir if python_dir is not None else build_dir(name) / "python"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(path),
        "PYTHONPYCACHEPREFIX": str(BUILD_ROOT / ".pycache"),
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(BUILD_ROOT / ".mplconfig"),
    }
    return subprocess.run(
        [python, "-s", "-c", IMPORT_CHECKS[name]],
        capture_output=True, text=True, env=env, cwd=BUILD_ROOT,
    )  # fmt: skip


def function_sizes(layer_sizes: dict[str, int]) -> dict[str, tuple[int, int]]:
    """(code bytes, code + layers bytes) per function."""
    result = {}
    for function, layers in FUNCTION_LAYERS.items():
        code = dir_size(FUNCTIONS_DIR / function)
        result[function] = (code, code + sum(layer_sizes[layer] for layer in layers))
    return result


def shared_layer_size() -> int:
    return dir_size(LAYERS_SRC / "shared")


def size_table(layer_sizes: dict[str, int]) -> str:
    mb = 1024 * 1024
    lines = [f"{'asset':<34}{'unzipped MB':>12}{'limit MB':>10}"]
    for name, size in layer_sizes.items():
        lines.append(f"{'layer ' + name:<34}{size / mb:>12.1f}")
    for function, (code, total) in function_sizes(layer_sizes).items():
        layers = "+".join(FUNCTION_LAYERS[function])
        lines.append(f"{'function ' + function:<34}{code / mb:>12.1f}")
        verdict = "ok" if total < LAMBDA_UNZIPPED_LIMIT else "OVER"
        lines.append(
            f"{'  + ' + layers:<34}{total / mb:>12.1f}{LAMBDA_UNZIPPED_LIMIT / mb:>10.0f}  {verdict}"
        )
    return "\n".join(lines)


def build_all(*, force: bool = False, python: str | None = None) -> dict[str, LayerBuild]:
    return {name: build_layer(name, force=force, python=python) for name in THIRD_PARTY_LAYERS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if the requirements are unchanged")
    args = parser.parse_args(argv)
    python = find_lambda_python()
    if python is None:
        print(f"warning: no python{LAMBDA_PYTHON} found; layer imports are not checked", file=sys.stderr)
    try:
        builds = build_all(force=args.force, python=python)
    except (LayerBuildError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for build in builds.values():
        checked = f", imports checked with {python}" if python and not build.cached else ""
        print(f"layer {build.name}: {'cached' if build.cached else 'built'} at {build.path}{checked}")
    sizes = {"shared": shared_layer_size(), **{n: b.size_bytes for n, b in builds.items()}}
    print(size_table(sizes))
    over = [f for f, (_, total) in function_sizes(sizes).items() if total >= LAMBDA_UNZIPPED_LIMIT]
    if over:
        print(f"error: over Lambda's 250 MB unzipped limit: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
