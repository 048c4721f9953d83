"""Validation speed: witan check_file vs frictionless 5, CSV and XLSX, side by side.

Generated data (fixed seed, ~0.1% deliberate errors), one 12-column schema. witan checks the full sizes
(CSV 1M rows, XLSX 100k rows); frictionless (limit_errors=0) checks a slice of the same file, because
it runs at ~12k rows/s on CSV and ~3k rows/s on XLSX here: its rows/s and MB/s are measured on the slice
and so are per-row figures. Each run is its own subprocess; peak RSS is that subprocess's ru_maxrss.
"Same errors" compares the (row, field, code) sets of both tools on the slice.

Run: python -m benchmarks validation
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SEED = 20261125
CSV_ROWS = 1_000_000
XLSX_ROWS = 100_000
FL_CSV_ROWS = 30_000
FL_XLSX_ROWS = 6_000
TARGET_CSV_ROWS_S = 400_000
TARGET_XLSX_ROWS_S = 50_000
TARGET_CSV_RSS_MB = 400

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True, "unique": True}},
        {
            "name": "child_id",
            "type": "string",
            "constraints": {"required": True, "pattern": "[A-Z]{2}[0-9]{6}"},
        },
        {"name": "name", "type": "string", "constraints": {"maxLength": 20}},
        {"name": "age", "type": "integer", "constraints": {"minimum": 0, "maximum": 25}},
        {"name": "score", "type": "number", "constraints": {"minimum": 0}},
        {"name": "flag", "type": "boolean"},
        {"name": "dob", "type": "date", "format": "%d/%m/%Y", "constraints": {"required": True}},
        {"name": "start", "type": "date"},
        {
            "name": "setting",
            "type": "string",
            "constraints": {"enum": ["MSSIP", "MSSOP", "MMSIB", "NMSS", "EO"]},
        },
        {"name": "year", "type": "year"},
        {"name": "updated", "type": "datetime"},
        {"name": "note", "type": "string"},
    ]
}


def _columns(n: int) -> dict[str, pa.Array]:
    rng = np.random.default_rng(SEED)
    ids = np.arange(1, n + 1)
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    child = np.char.add(
        np.char.add(letters[rng.integers(0, 26, n)], letters[rng.integers(0, 26, n)]),
        np.char.zfill(rng.integers(0, 999_999, n).astype(str), 6),
    )
    names = np.array(["Alex", "Sam", "Jo", "Chris", "Pat", "Robin", "Kim", "Lee"])[rng.integers(0, 8, n)]
    dob = np.datetime64("2005-01-01") + rng.integers(0, 6000, n).astype("timedelta64[D]")
    dob_s = pa.array(dob.astype("datetime64[D]")).cast(pa.timestamp("s"))
    start = np.datetime64("2018-01-01") + rng.integers(0, 2000, n).astype("timedelta64[D]")
    upd = np.datetime64("2024-01-01T00:00:00") + rng.integers(0, 10**7, n).astype("timedelta64[s]")
    cols: dict[str, pa.Array] = {
        "id": pa.array(ids.astype(str)),
        "child_id": pa.array(child),
        "name": pa.array(names),
        "age": pa.array(rng.integers(0, 26, n).astype(str)),
        "score": pa.array(np.round(rng.random(n) * 100, 2).astype(str)),
        "flag": pa.array(np.where(rng.random(n) < 0.5, "true", "false")),
        "dob": pc.strftime(dob_s, format="%d/%m/%Y"),
        "start": pa.array(start.astype("datetime64[D]").astype(str)),
        "setting": pa.array(np.array(["MSSIP", "MSSOP", "MMSIB", "NMSS", "EO"])[rng.integers(0, 5, n)]),
        "year": pa.array(rng.integers(2015, 2030, n).astype(str)),
        "updated": pa.array(upd.astype("datetime64[s]").astype(str)),
        "note": pa.array(np.array(["", "ok", "see file", "needs review, urgent"])[rng.integers(0, 4, n)]),
    }
    # Deliberate errors, ~0.1% of rows, each a different kind.
    py = random.Random(SEED)
    bad = {
        "id": "12x",
        "child_id": "A1234567",
        "name": "A name far longer than twenty",
        "age": "31",
        "score": "-2",
        "flag": "maybe",
        "dob": "31/02/2012",
        "start": "2020-13-01",
        "setting": "XYZ",
        "year": "20",
        "updated": "2024-01-01 10:00",
        "note": "",
    }
    for name, value in bad.items():
        values = cols[name].to_pylist()
        for k in py.sample(range(1, n), max(1, n // 12_000)):
            values[k] = value
        cols[name] = pa.array(values, pa.string())
    ids_list = cols["id"].to_pylist()
    for k in py.sample(range(10, n), max(1, n // 20_000)):
        ids_list[k] = ids_list[k - 5]  # duplicates for unique-error
    cols["id"] = pa.array(ids_list, pa.string())
    return cols


def write_csv(path: Path, n: int) -> None:
    import pyarrow.csv as pacsv

    table = pa.table(_columns(n))
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))


def write_xlsx(path: Path, n: int) -> None:
    """A minimal valid workbook written directly (openpyxl takes minutes for 1.2M cells); text cells are
    inline strings, as openpyxl writes them, and the age/score columns are numeric cells."""
    import zipfile
    from xml.sax.saxutils import escape

    cols = _columns(n)
    names = list(cols)
    data = [cols[c].to_pylist() for c in names]
    letters = [chr(65 + j) for j in range(len(names))]
    numeric = {3, 4}

    def cell(ref: str, value: str, j: int) -> str:
        if j in numeric:
            try:
                float(value)
                return f'<c r="{ref}"><v>{value}</v></c>'
            except ValueError:
                pass
        if value == "":
            return ""
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'

    parts = []
    head = "".join(
        f'<c r="{letters[j]}1" t="inlineStr"><is><t>{escape(v)}</t></is></c>' for j, v in enumerate(names)
    )
    parts.append(f'<row r="1">{head}</row>')
    for i, row in enumerate(zip(*data, strict=True), start=2):
        parts.append(
            f'<row r="{i}">' + "".join(cell(f"{letters[j]}{i}", v, j) for j, v in enumerate(row)) + "</row>"
        )
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel_ns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg_ns = "http://schemas.openxmlformats.org/package/2006/relationships"
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    rels_ct = "application/vnd.openxmlformats-package.relationships+xml"
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Default Extension="rels" ContentType="{rels_ct}"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{ct}.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{pkg_ns}">'
            f'<Relationship Id="rId1" Type="{rel_ns}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook {ns} xmlns:r="{rel_ns}">'
            '<sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{pkg_ns}">'
            f'<Relationship Id="rId1" Type="{rel_ns}/worksheet" Target="worksheets/sheet1.xml"/>'
            "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet {ns}>'
            f'<dimension ref="A1:{letters[-1]}{n + 1}"/><sheetData>'
            + "".join(parts)
            + "</sheetData></worksheet>"
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, text in files.items():
            zf.writestr(name, text)


def head_csv(src: Path, dst: Path, rows: int) -> None:
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(
        src,
        convert_options=pacsv.ConvertOptions(
            column_types={c["name"]: pa.string() for c in SCHEMA["fields"]}, strings_can_be_null=False
        ),
    )
    pacsv.write_csv(table.slice(0, rows), dst, write_options=pacsv.WriteOptions(quoting_style="needed"))


# ------------------------------------------------------------------------------------------ workers


def worker(tool: str, file: str, schema_path: str) -> None:
    """Runs in a subprocess: check one file, print timing, RSS and the error cells as JSON."""
    cells: list[tuple[int, str, str]] = []
    # Imports happen before the clock starts (pyarrow, frictionless: ~0.5-1.5 s each, paid once per process).
    if tool == "witan":
        from witan.validation import check_file, load_schema
    else:
        from frictionless import Resource, Schema, validate
    cpu_start = _cpu()
    start = time.perf_counter()
    if tool == "witan":
        report = check_file(Path(file), load_schema(schema_path), file_name=Path(file).name, error_limit=None)
        rows, errors, counts = report.rows, report.error_count, report.counts
        cells = [(e.row or 0, e.field or "", e.code) for e in report.errors]
    else:
        schema = Schema.from_descriptor(json.loads(Path(schema_path).read_text()))
        res = Resource(path=Path(file).name, basepath=str(Path(file).parent), schema=schema)
        result = validate(res, limit_errors=0)
        task = result.tasks[0]
        rows = task.stats.get("rows") or 0
        flat = result.flatten(["rowNumber", "fieldName", "type"])
        cells = [(r or 0, f or "", t) for r, f, t in flat]
        errors = len(cells)
        counts = {}
        for _, _, t in cells:
            counts[t] = counts.get(t, 0) + 1
    seconds = time.perf_counter() - start
    cpu_seconds = _cpu() - cpu_start
    rss_mb = _peak_rss_mb()
    variant = ""
    if tool == "witan" and file.endswith(".xlsx"):  # which XLSX reader path was taken (after the clock)
        from witan.validation.readers import XlsxReader

        reader = XlsxReader(Path(file))
        reader.open()
        variant = reader.variant
    print(
        json.dumps(
            {
                "variant": variant,
                "rows": rows,
                "errors": errors,
                "counts": counts,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "rss_mb": rss_mb,
                "cells": sorted(cells),
            }
        )
    )


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss would include the forking parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_worker(tool: str, file: Path, schema_path: Path) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from benchmarks.bench_validation import worker; worker({tool!r}, {str(file)!r}, "
            f"{str(schema_path)!r})",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="witan-bench-") as tmp:
        d = Path(tmp)
        schema_path = d / "schema.json"
        schema_path.write_text(json.dumps(SCHEMA))
        t = time.perf_counter()
        csv_full, csv_small = d / "full.csv", d / "small.csv"
        write_csv(csv_full, CSV_ROWS)
        head_csv(csv_full, csv_small, FL_CSV_ROWS)
        xlsx_full, xlsx_small = d / "full.xlsx", d / "small.xlsx"
        write_xlsx(xlsx_full, XLSX_ROWS)
        write_xlsx(xlsx_small, FL_XLSX_ROWS)
        print(f"generated data in {time.perf_counter() - t:.0f}s (seed {SEED})", flush=True)

        lines = []
        met = True
        header = (
            f"{'run':<26}{'rows':>9}{'errors':>8}{'wall s':>8}{'CPU s':>7}{'rows/s':>10}{'MB/s':>7}"
            f"{'peak RSS MB':>12}"
        )
        results: dict[str, dict] = {}
        for label, tool, path in [
            ("witan CSV 1M x 12", "witan", csv_full),
            ("witan CSV slice", "witan", csv_small),
            ("frictionless CSV slice", "frictionless", csv_small),
            ("witan XLSX 100k x 12", "witan", xlsx_full),
            ("witan XLSX slice", "witan", xlsx_small),
            ("frictionless XLSX slice", "frictionless", xlsx_small),
        ]:
            r = run_worker(tool, path, schema_path)
            results[label] = r
            size_mb = path.stat().st_size / 1e6
            lines.append(
                f"{label:<26}{r['rows']:>9}{r['errors']:>8}{r['seconds']:>8.2f}{r['cpu_seconds']:>7.2f}"
                f"{r['rows'] / r['seconds']:>10,.0f}{size_mb / r['seconds']:>7.1f}{r['rss_mb']:>12.0f}"
            )
            if r.get("variant"):
                lines[-1] += f"  (reader: {r['variant']})"
            print(lines[-1] if len(lines) > 1 else header + "\n" + lines[-1], flush=True)

        print()
        for kind in ("CSV", "XLSX"):
            w, f = (
                set(map(tuple, results[f"witan {kind} slice"]["cells"])),
                set(map(tuple, results[f"frictionless {kind} slice"]["cells"])),
            )
            same = w == f
            print(
                f"{kind}: same error cells as frictionless on the slice: {same} "
                f"(witan {len(w)}, frictionless {len(f)}, only witan {len(w - f)}, "
                f"only frictionless {len(f - w)})"
            )
            for cell in sorted(w ^ f)[:5]:
                print(f"   differs: {cell}")
            met &= same
            fr = results[f"frictionless {kind} slice"]
            full = results[f"witan {kind} {'1M x 12' if kind == 'CSV' else '100k x 12'}"]
            if fr["rows"]:
                speedup = (full["rows"] / full["seconds"]) / (fr["rows"] / fr["seconds"])
                print(
                    f"{kind}: witan full-size rows/s vs frictionless slice rows/s (per row): {speedup:.0f}x"
                )
        csv_r = results["witan CSV 1M x 12"]
        xlsx_r = results["witan XLSX 100k x 12"]
        checks = [
            (f"CSV >= {TARGET_CSV_ROWS_S:,} rows/s", csv_r["rows"] / csv_r["seconds"] >= TARGET_CSV_ROWS_S),
            (
                f"XLSX >= {TARGET_XLSX_ROWS_S:,} rows/s",
                xlsx_r["rows"] / xlsx_r["seconds"] >= TARGET_XLSX_ROWS_S,
            ),
            (f"CSV 1M rows peak RSS < {TARGET_CSV_RSS_MB} MB", csv_r["rss_mb"] < TARGET_CSV_RSS_MB),
        ]
        print()
        for name, ok in checks:
            print(f"target {name}: {'MET' if ok else 'NOT MET'}")
            met &= ok
        print(
            f"(machine: {os.cpu_count()} CPUs, load average now {os.getloadavg()[0]:.1f}: wall-clock figures "
            "are only meaningful on an otherwise idle machine; CPU s is the process's own user+system time)"
        )
        return 0 if met else 1


if __name__ == "__main__":
    if len(sys.argv) == 4:
        worker(sys.argv[1], sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
