"""Gathering members' bytes at seal time through the PackSources port: a run's inputs found from its
plan in every form the platform records (keys, several keys, a folder, SEND's prefix, another run's
output), dataset files by pinned version, the pack's own uploads; what is missing is named."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from witan.api.errors import status_of
from witan.datapacks import records as dm
from witan.datapacks.gather import member_files, run_inputs, run_sources
from witan.errors import WitanError

NOW = datetime(2026, 12, 7, tzinfo=UTC)
D1, D2 = "1" * 32, "2" * 32


class Sources:
    """Objects in memory: data bucket (key -> {version: bytes}) and packs bucket."""

    def __init__(self, data: dict[str, bytes], packs: dict[str, bytes] | None = None) -> None:
        self.data, self.packs = data, packs or {}
        self.versions: dict[tuple[str, str], bytes] = {}

    def data_object(self, key: str, version_id: str | None = None) -> bytes | None:
        if version_id and (key, version_id) in self.versions:
            return self.versions[(key, version_id)]
        return self.data.get(key)

    def list_data(self, prefix: str) -> list[str]:
        return sorted(k for k in self.data if k.startswith(prefix))

    def pack_object(self, key: str) -> bytes | None:
        return self.packs.get(key)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_every_input_form() -> None:
    costs, trans, other = b"need,setting,cost\n", b"calendar-year\n", b"unrelated\n"
    cld = [b"q1\n", b"q2\n"]
    sources = Sources(
        {
            f"datasets/{D1}/3/costs.csv": costs,
            f"datasets/{D2}/1/transitions.csv": trans,
            f"datasets/{D2}/1/readme.txt": other,
            f"datasets/{D1}/1/cld_1.csv": cld[0],
            f"datasets/{D1}/2/cld_2.csv": cld[1],
            "models/src/population.parquet": b"PAR1",
        }
    )
    plan = {
        "inputs": {
            "costs": f"datasets/{D1}/3/costs.csv",
            "transitions": {"folder": f"datasets/{D2}/1/"},
            "cld": [f"datasets/{D1}/1/cld_1.csv", f"datasets/{D1}/2/cld_2.csv"],
            "population": {"model_run": "src", "output": "population", "gss_code": "E09000001"},
        },
        "input_hashes": {"costs": _sha(costs), "transitions": _sha(trans)},
    }
    found = run_inputs("r1", plan, sources, personal=[D1])
    by_role: dict[str, list] = {}
    for given in found:
        by_role.setdefault(given.role, []).append(given)
    assert by_role["costs"][0].data == costs and by_role["costs"][0].personal
    assert by_role["costs"][0].source == {
        "model_run": "r1",
        "key": f"datasets/{D1}/3/costs.csv",
        "dataset_id": D1,
        "version": 3,
    }
    assert by_role["transitions"][0].name == "transitions.csv"  # matched by hash, not the readme
    assert [g.data for g in by_role["cld"]] == cld
    (population,) = by_role["population"]
    assert population.convert == plan["inputs"]["population"] and population.name == "population.parquet"
    sources_of = run_sources(plan["inputs"])
    assert sources_of.datasets == ((D1, 3), (D2, 1), (D1, 1), (D1, 2)) and sources_of.runs == ("src",)


def test_send_prefix_is_matched_by_hash() -> None:
    tables = {"transitions": b"t\n", "population": b"p\n", "costs": b"c\n", "valid_states": b"v\n"}
    sources = Sources(
        {f"datasets/{D1}/1/{role.replace('_', '-')}.csv": data for role, data in tables.items()}
    )
    plan = {
        "inputs": {"prefix": f"datasets/{D1}/1/"},
        "input_hashes": {r: _sha(d) for r, d in tables.items()},
    }
    found = {g.role: g.name for g in run_inputs("r1", plan, sources, personal=[])}
    assert found["valid_states"] == "valid-states.csv" and len(found) == 4


def test_missing_things_are_named() -> None:
    with pytest.raises(WitanError) as unknown:
        run_inputs("r1", {"inputs": {}}, Sources({}), personal=[])
    assert unknown.value.code == "run-inputs-unknown"
    with pytest.raises(WitanError) as missing:
        run_inputs("r1", {"inputs": {"costs": f"datasets/{D1}/1/costs.csv"}}, Sources({}), personal=[])
    assert missing.value.code == "member-file-missing" and "costs.csv" in missing.value.message
    pack = dm.create("a" * 32, "org-camden", "u", NOW, title="t")
    upload = dm.Member("", dm.MemberKind.PACK_FILE, dm.Role.SCRIPT, "s", "u", NOW, file_name="a.py")
    pack = dm.add_member(pack, upload, NOW)
    with pytest.raises(WitanError) as never:
        member_files(pack, Sources({}), [])
    assert never.value.code == "member-file-missing" and "never uploaded" in never.value.message


def test_dataset_file_read_by_its_pinned_version_with_its_schema() -> None:
    key = f"datasets/{D1}/1/data.csv"
    sources = Sources({key: b"a,b\n9,9\n"})
    sources.versions[(key, "v1")] = b"a,b\n1,2\n"
    pack = dm.create("a" * 32, "org-camden", "u", NOW, title="t")
    member = dm.Member(
        "",
        dm.MemberKind.DATASET_FILE,
        dm.Role.INPUT,
        "d",
        "u",
        NOW,
        dataset_id=D1,
        version=1,
        s3_version_id="v1",
        key=key,
        file_name="data.csv",
    )
    pack = dm.add_member(pack, member, NOW)
    schema = {"fields": [{"name": "a", "type": "integer"}, {"name": "b", "type": "integer"}]}
    (file,), runs = member_files(pack, sources, [D1], {D1: schema})
    assert file.data == b"a,b\n1,2\n" and file.personal and runs == []
    entry = file.entry()
    assert entry["schema"] == schema and entry["source"]["s3_version_id"] == "v1"
    assert json.dumps(entry)


def test_a_pack_too_large_for_one_call_is_refused() -> None:
    sources = Sources({}, {f"drafts/{'a' * 32}/m{i}/f{i}.bin": b"x" * 600 for i in (1, 2)})
    pack = dm.create("a" * 32, "org-camden", "u", NOW, title="t")
    for i in (1, 2):
        upload = dm.Member("", dm.MemberKind.PACK_FILE, dm.Role.OTHER, "s", "u", NOW, file_name=f"f{i}.bin")
        pack = dm.add_member(pack, upload, NOW)
    assert len(member_files(pack, sources, [], max_bytes=1200)[0]) == 2
    with pytest.raises(WitanError) as refused:
        member_files(pack, sources, [], max_bytes=1000)
    assert refused.value.code == "pack-too-large" and status_of(refused.value) == 422
