"""layers/build.py: strip rules on a small fake tree, the not-built error, and the real (cached) build
measured against Lambda's 250 MB unzipped limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from layers import build


def _touch(path: Path, size: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


def test_strip_removes_what_lambda_never_imports(tmp_path: Path) -> None:
    python = tmp_path / "python"
    keep = [
        _touch(python / "pyarrow" / "libarrow.so.2600"),
        _touch(python / "pyarrow" / "parquet" / "core.py"),
        _touch(python / "pyarrow" / "_parquet.cpython-313-x86_64-linux-gnu.so"),
        _touch(python / "numpy" / "_core" / "multiarray.py"),
        _touch(python / "testing_utils" / "mod.py"),  # only folders named exactly "tests" go
    ]
    gone = [
        _touch(python / "pyarrow" / "libarrow_python.so"),  # link-time copies of libarrow_python.so.2600
        _touch(python / "pyarrow" / "libarrow_python.so.2600.1.0"),
        _touch(python / "pyarrow" / "_flight.cpython-313-x86_64-linux-gnu.so"),
        _touch(python / "pyarrow" / "libarrow_flight.so.2600"),
        _touch(python / "pyarrow" / "libarrow_s3.so.2600"),
        _touch(python / "pyarrow" / "include" / "arrow" / "api.h"),
        _touch(python / "pyarrow" / "tests" / "test_io.py"),
        _touch(python / "pyarrow" / "lib.pyx"),
        _touch(python / "numpy" / "_core" / "include" / "numpy" / "ndarrayobject.h"),
        _touch(python / "numpy" / "_core" / "tests" / "test_api.py"),
        _touch(python / "six" / "__pycache__" / "six.cpython-313.pyc"),
        _touch(python / "bin" / "f2py"),
    ]
    keep.append(_touch(python / "pyarrow" / "libarrow_python.so.2600"))

    removed = build.strip_layer(python)

    assert [p for p in keep if not p.exists()] == []
    assert [p for p in gone if p.exists()] == []
    assert removed == 10 * len(gone)


def test_layer_asset_dir_requires_a_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "BUILD_ROOT", tmp_path / "layers")
    with pytest.raises(build.LayerNotBuiltError, match="run make layers"):
        build.layer_asset_dir("data", skip_build=False)
    placeholder = build.layer_asset_dir("data", skip_build=True)
    assert (placeholder / "python" / "WITAN_PLACEHOLDER.txt").is_file()


def test_stale_build_is_not_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "BUILD_ROOT", tmp_path / "layers")
    stamp = tmp_path / "layers" / "base" / ".recipe-sha256"
    stamp.parent.mkdir(parents=True)
    stamp.write_text("an older recipe\n")
    assert not build.is_built("base")
    stamp.write_text(build.recipe_hash("base") + "\n")
    assert build.is_built("base")
    assert build.layer_asset_dir("base", skip_build=False) == tmp_path / "layers" / "base"


def test_pip_command_targets_the_lambda_platform() -> None:
    command = build.pip_command("data", Path("/tmp/t/python"))
    joined = " ".join(command)
    assert "--platform manylinux2014_x86_64" in joined
    assert "--only-binary=:all:" in command
    assert "--python-version 3.13" in joined
    assert "--implementation cp" in joined
    assert "--no-deps" in command
    assert command[command.index("-r") + 1].endswith("layers/data/requirements.txt")


def test_layer_requirements_are_pinned_as_in_the_lockfile() -> None:
    lock = {}
    for line in (build.ROOT / "requirements.lock").read_text().splitlines():
        name, _, version = line.partition("==")
        lock[name.lower().replace("_", "-")] = version
    for layer in build.THIRD_PARTY_LAYERS:
        for line in build.requirements_file(layer).read_text().splitlines():
            if not line or line.startswith("#"):
                continue
            name, _, version = line.partition("==")
            assert version, f"{layer}: {line} is not pinned"
            assert lock.get(name.lower().replace("_", "-"), version) == version, (
                f"{layer}: {line} differs from lock"
            )
    base = [
        line for line in build.requirements_file("base").read_text().splitlines() if not line.startswith("#")
    ]
    assert not any(line.startswith(("boto3", "botocore")) for line in base)  # in the Lambda runtime


@pytest.mark.slow
@pytest.mark.xdist_group("layers")
def test_built_layers_import_on_python_313_and_fit_lambda() -> None:
    """Builds the real layers (cached under .build/layers; about 85 MB of wheels on first run)."""
    python = build.find_lambda_python()
    builds = build.build_all(python=python)
    assert python is not None, "python3.13 is needed to check the layers import under the Lambda runtime"
    for name in build.THIRD_PARTY_LAYERS:
        result = build.check_imports(name, python)
        assert result.returncode == 0, result.stderr
    sizes = {"shared": build.shared_layer_size(), **{n: b.size_bytes for n, b in builds.items()}}
    print("\n" + build.size_table(sizes))
    for function, (_, total) in build.function_sizes(sizes).items():
        assert total < build.LAMBDA_UNZIPPED_LIMIT, f"{function}: {total / 2**20:.1f} MB unzipped"
    # The light access_api cold start: no Arrow/numpy in its layers.
    assert "data" not in build.FUNCTION_LAYERS["access_api"]
    assert not (builds["base"].path / "python" / "pyarrow").exists()
    assert not (builds["base"].path / "python" / "botocore").exists()
    assert not list((builds["data"].path / "python" / "pyarrow").glob("libarrow_flight*"))
    # Read-only /opt: the base layer (on the access_api's cold path) ships bytecode for python3.13.
    powertools = builds["base"].path / "python" / "aws_lambda_powertools"
    assert list(powertools.glob("__pycache__/*.cpython-313.pyc"))


def test_code_asset_is_the_source_for_local_synths(tmp_path: Path) -> None:
    assert build.code_asset_dir(tmp_path, "shared", skip_build=True) == tmp_path


@pytest.mark.xdist_group("layers")
def test_code_asset_ships_checked_bytecode_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = build.find_lambda_python()
    if python is None:
        pytest.fail("python3.13 is needed to compile the bytecode Lambda imports")
    source = tmp_path / "src"
    _touch(source / "handler.py").write_text("VALUE = 1\n")
    _touch(source / "__pycache__" / "handler.cpython-311.pyc")  # the developer's own, not shipped
    _touch(source / "tests" / "test_x.py")
    monkeypatch.setattr(build, "CODE_BUILD_ROOT", tmp_path / "code")
    monkeypatch.setattr(build, "BUILD_ROOT", tmp_path / "layers")

    target = build.code_asset_dir(source, "function-x", skip_build=False)

    assert target == tmp_path / "code" / "function-x"
    shipped = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert shipped == ["__pycache__/handler.cpython-313.pyc", "handler.py"]
    # Hash-checked bytecode (PEP 552 flags = 0b11): an edited source is never run from a stale .pyc.
    flags = int.from_bytes((target / "__pycache__" / "handler.cpython-313.pyc").read_bytes()[4:8], "little")
    assert flags == 0b11


def test_the_shared_layer_carries_the_table_schemas_where_the_checker_finds_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In Lambda the domain package is /opt/python/witan and the schemas /opt/schemas: without them
    built-in schema names (collection requests, model inputs) resolve to nothing."""
    import runpy

    monkeypatch.setattr(build, "CODE_BUILD_ROOT", tmp_path / "code")
    monkeypatch.setattr(build, "find_lambda_python", lambda: None)  # no bytecode needed here
    target = build.code_asset_dir(build.LAYERS_SRC / "shared", "shared", skip_build=False)
    assert (target / "schemas" / "tables" / "send-transitions.json").is_file()
    assert (target / "schemas" / "models").is_dir() or not (build.ROOT / "schemas" / "models").is_dir()
    module = runpy.run_path(str(target / "python" / "witan" / "validation" / "schema.py"))
    assert module["builtin_schema_dir"]() == target / "schemas" / "tables"
