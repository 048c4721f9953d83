"""access_api: cold import time and the handler's own overhead per request (AWS calls excluded).

1. Cold import: `python -X importtime -c 'import handler'` in a fresh process, from the function's
   folder, several runs (min, median, CPU time); prints the heaviest imports and checks that no data
   library (pandas, pyarrow, numpy) is imported. Target: under 300 ms (checked on the minimum).
   Then, when a CPython 3.13 and the built base layer are here, the same import as Lambda does it:
   python3.13, only the function's folder and its layers on the path, read-only (no .pyc written),
   once from the shipped bytecode and once from source only (what the layers shipped before).
2. Handler overhead: the real `witan.api.app.handle` with in-memory stores behind the same ports
   (for this benchmark only, so no AWS time is counted), p50 and p95 per route. Target: p50 under 5 ms.
   The first request is timed separately: it builds Powertools' validation models once per process.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = ROOT / "functions" / "access_api"
IMPORT_TARGET_MS = 300.0
OVERHEAD_TARGET_MS = 5.0
FORBIDDEN = ("pandas", "pyarrow", "numpy")
IMPORT_RUNS = 7
REQUESTS_PER_ROUTE = 300


def lambda_like_imports(runs: int = 5) -> dict[str, list[float]] | None:
    """Wall ms of `import handler` as in Lambda, per variant; None when python3.13 or the layer is missing."""
    import shutil
    import tempfile

    from layers import build

    python = build.find_lambda_python()
    if python is None or not build.is_built("base"):
        return None
    base = build.build_dir("base") / "python"
    shared = build.code_asset_dir(ROOT / "layers" / "shared", "shared", skip_build=False) / "python"
    function = build.code_asset_dir(FUNCTION_DIR, "function-access_api", skip_build=False)
    variants = {"shipped bytecode": [function, shared, base]}
    with tempfile.TemporaryDirectory() as scratch:
        source_only = []
        for path in (function, shared, base):
            copy = Path(scratch) / f"{len(source_only)}"
            shutil.copytree(path, copy, ignore=shutil.ignore_patterns("__pycache__"))
            source_only.append(copy)
        variants["source only"] = source_only
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"}
        timings: dict[str, list[float]] = {}
        for name, paths in variants.items():
            env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
            for _ in range(runs):
                started = time.perf_counter()
                subprocess.run([python, "-s", "-c", "import handler"], env=env, cwd=paths[0], check=True)
                timings.setdefault(name, []).append((time.perf_counter() - started) * 1000)
    return timings


def import_profile() -> tuple[float, float, list[tuple[str, int, float, float]], set[str]]:
    """One cold import: (wall ms, CPU ms, [(module, depth, self ms, cumulative ms)], top-level packages).

    CPU time (user + sys of the child) is reported too: on a busy machine wall time mostly measures
    waiting for a core.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import handler"],
        cwd=FUNCTION_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_ms = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000
    rows: list[tuple[str, int, float, float]] = []
    total = 0.0
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, raw_name = line.removeprefix("import time:").split("|")
        name = raw_name.strip()
        depth = (len(raw_name) - len(raw_name.lstrip()) - 1) // 2
        rows.append((name, depth, int(self_us) / 1000, int(cumulative_us) / 1000))
        if name == "handler":
            total = int(cumulative_us) / 1000
    packages = {name.split(".")[0] for name, _, _, _ in rows}
    return total, cpu_ms, rows, packages


def subtree(rows: list[tuple[str, int, float, float]], root: str) -> list[tuple[str, int, float, float]]:
    """The rows imported (directly or not) while importing `root`: importtime prints children first."""
    index = next(i for i, r in enumerate(rows) if r[0] == root)
    depth = rows[index][1]
    out = []
    for row in reversed(rows[:index]):
        if row[1] <= depth:
            break
        out.append(row)
    return out


def direct_children(rows: list[tuple[str, int, float, float]], root: str) -> list[tuple[str, float]]:
    depth = next(r[1] for r in rows if r[0] == root)
    return [(name, cumulative) for name, d, _, cumulative in subtree(rows, root) if d == depth + 1]


# -- in-memory ports, for timing the handler without AWS ------------------------------------------------


class MemoryCatalog:
    def __init__(self) -> None:
        self.items: dict[str, Any] = {}
        self.versions: dict[str, list[Any]] = {}

    def create(self, dataset: Any, meta: Any) -> None:
        self.items[dataset.id] = dataset
        self.versions[dataset.id] = [meta]

    def get(self, dataset_id: str) -> Any:
        return self.items.get(dataset_id)

    def list_all(self) -> list[Any]:
        return list(self.items.values())

    def save_metadata(self, dataset: Any, meta: Any) -> None:
        self.items[dataset.id] = dataset
        self.versions[dataset.id].append(meta)

    def save_file_version(self, dataset: Any, file: Any) -> None:
        self.items[dataset.id] = dataset

    def save_deleted(self, dataset: Any) -> None:
        self.items[dataset.id] = dataset

    def history(self, dataset_id: str) -> list[Any]:
        return list(self.versions.get(dataset_id, []))


class MemoryGrants:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], Any] = {}

    def grants_for(self, dataset_id: str) -> list[Any]:
        return [g for (d, _, _), g in self.items.items() if d == dataset_id]

    def put(self, grant: Any) -> None:
        self.items[(grant.dataset_id, grant.grantee_type.value, grant.grantee)] = grant

    def delete(self, dataset_id: str, grantee_type: Any, grantee: str) -> bool:
        return self.items.pop((dataset_id, grantee_type.value, grantee), None) is not None

    def datasets_granted_to(self, grantees: Iterable[tuple[Any, str]]) -> dict[str, list[Any]]:
        wanted = {(t.value, g) for t, g in grantees}
        out: dict[str, list[Any]] = {}
        for (d, t, g), grant in self.items.items():
            if (t, g) in wanted:
                out.setdefault(d, []).append(grant)
        return out


class MemoryFiles:
    def presign_post(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> Any:
        from witan.catalog.ports import PresignedPost

        return PresignedPost("https://bucket.example/", {"key": key}, datetime.now(UTC), key)

    def presign_get(self, key: str, download_name: str, expires_in: int) -> Any:
        from witan.catalog.ports import PresignedGet

        return PresignedGet(f"https://bucket.example/{key}", datetime.now(UTC), key)


class MemoryAudit:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def record(self, event: Any) -> str:
        self.events.append(event)
        return str(len(self.events))


def _event(method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "httpMethod": method,
        "path": path,
        "resource": path,
        "headers": {"Content-Type": "application/json"},
        "queryStringParameters": query,
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
        "requestContext": {
            "requestId": "bench",
            "identity": {"sourceIp": "192.0.2.1", "userAgent": "bench"},
            "authorizer": {
                "claims": {"sub": "owner-1", "email": "o@example.org", "cognito:groups": "[org-camden]"}
            },
        },
    }


def overhead() -> tuple[float, dict[str, tuple[float, float]], float]:
    """(first request ms, {route: (p50 ms, p95 ms)}, events per request) with in-memory ports."""
    from witan.access.model import Activity, Grant, GranteeType
    from witan.api.app import handle
    from witan.api.deps import Services
    from witan.catalog import model as catalog

    audit = MemoryAudit()
    services = Services(
        catalog=MemoryCatalog(),
        grants=MemoryGrants(),
        files=MemoryFiles(),
        audit=audit,
        audit_reader=None,  # type: ignore[arg-type]  # audit routes are not timed here
        verify_audit=dict,
        max_upload_bytes=10_000_000,
    )
    now = datetime.now(UTC)
    for i in range(200):  # a catalogue of a realistic size for listings
        ds, meta, _ = catalog.create(
            f"{i:032x}",
            "org-camden" if i % 3 else "org-barnet",
            "owner-1",
            {"title": f"Dataset {i}", "tags": ["send"]},
            "d.csv",
            "text/csv",
            100,
            now,
        )
        services.catalog.create(ds, meta)
        services.grants.put(
            Grant(
                ds.id,
                GranteeType.USER,
                f"user-{i}",
                frozenset({Activity.META_READ}),
                "owner-1",
                now,
                expires_at=now + timedelta(days=1),
            )
        )
    target = f"{1:032x}"
    routes = {
        "GET /datasets/{id}": _event("GET", f"/datasets/{target}"),
        "GET /datasets/{id}/download": _event(
            "GET", f"/datasets/{target}/download", query={"purpose": "bench"}
        ),
        "PATCH /datasets/{id}": None,
        "GET /datasets?limit=50": _event("GET", "/datasets", query={"limit": "50"}),
        "POST /datasets": _event(
            "POST", "/datasets", {"title": "New", "file_name": "n.csv", "tags": ["send"]}
        ),
        "PUT /datasets/{id}/grants": _event(
            "PUT",
            f"/datasets/{target}/grants",
            {"grantee_type": "user", "grantee": "u2", "activities": ["meta-read"]},
        ),
        "422 unknown field": _event("POST", "/datasets", {"title": "t", "file_name": "a.csv", "bad": 1}),
        "404 unknown route": _event("GET", "/nowhere"),
    }
    t0 = time.perf_counter()
    first = handle(routes["GET /datasets/{id}"], None, services)
    first_ms = (time.perf_counter() - t0) * 1000
    assert first["statusCode"] == 200, first
    results: dict[str, tuple[float, float]] = {}
    before = len(audit.events)
    requests = 0
    for name, event in routes.items():
        samples = []
        for n in range(REQUESTS_PER_ROUTE):
            ev = event or _event("PATCH", f"/datasets/{target}", {"description": f"edit {n}"})
            t = time.perf_counter()
            response = handle(ev, None, services)
            samples.append((time.perf_counter() - t) * 1000)
            requests += 1
            assert response["statusCode"] < 500, response
        samples.sort()
        results[name] = (statistics.median(samples), samples[int(len(samples) * 0.95)])
    return first_ms, results, (len(audit.events) - before) / requests


def main() -> int:
    runs = [import_profile() for _ in range(IMPORT_RUNS)]
    walls = sorted(r[0] for r in runs)
    cpus = sorted(r[1] for r in runs)
    median_import = statistics.median(walls)
    _, _, rows, packages = min(runs, key=lambda r: abs(r[0] - median_import))
    print(
        f"access_api cold import (`python -X importtime -c 'import handler'`, {IMPORT_RUNS} fresh processes)"
    )
    print(f"  wall: median {median_import:.0f} ms, min {walls[0]:.0f} ms, max {walls[-1]:.0f} ms")
    cpu_median = statistics.median(cpus)
    print(f"  CPU (user+sys, with interpreter start): median {cpu_median:.0f} ms, min {cpus[0]:.0f} ms")
    # As timeit advises, the minimum is the figure least distorted by other processes: it is what the
    # target is checked against; the median shows how much this machine's load inflates it.
    print(f"  target: min < {IMPORT_TARGET_MS:.0f} ms;  load average now: {os.getloadavg()[0]:.1f}")
    children = direct_children(rows, "handler")
    print("  imported by handler directly (cumulative ms):")
    for name, cumulative_ms in sorted(children, key=lambda c: -c[1])[:6]:
        print(f"    {name:<48} {cumulative_ms:8.1f}")
    print("  heaviest modules under handler (self ms):")
    for name, _, self_ms, _ in sorted(subtree(rows, "handler"), key=lambda r: -r[2])[:8]:
        print(f"    {name:<48} {self_ms:8.1f}")
    heavy = sorted(p for p in FORBIDDEN if p in packages)
    print(f"  data libraries imported: {', '.join(heavy) if heavy else 'none'}")

    lambda_like = lambda_like_imports()
    if lambda_like is None:
        print("  as in Lambda: skipped (needs python3.13 and `make layers`)")
    else:
        print("  as in Lambda (python3.13, layers only, read-only; wall ms incl. interpreter start):")
        for name, walls_ms in lambda_like.items():
            print(f"    {name:<20} min {min(walls_ms):6.0f}  median {statistics.median(walls_ms):6.0f}")

    first_ms, results, per_request = overhead()
    print("\nhandler overhead, in-memory ports (no AWS time), ms per request")
    print(f"  first request in the process (builds validation models): {first_ms:.1f} ms")
    print(f"  {'route':<32} {'p50':>7} {'p95':>7}")
    for name, (p50, p95) in results.items():
        print(f"  {name:<32} {p50:7.2f} {p95:7.2f}")
    worst_p50 = max(p50 for p50, _ in results.values())
    print(f"  worst p50 {worst_p50:.2f} ms (target < {OVERHEAD_TARGET_MS:.0f} ms)")
    print(f"  audit events per request: {per_request:.2f}")

    ok = walls[0] < IMPORT_TARGET_MS and not heavy and worst_p50 < OVERHEAD_TARGET_MS and per_request == 1.0
    print(f"\nresult: {'within targets' if ok else 'TARGET MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
