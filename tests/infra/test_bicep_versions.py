"""Every resource apiVersion and Azure Verified Module version in infra/ is one that is pinned and known."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from tests.infra.bicep import INFRA, bicep_files, declarations

PINS = json.loads((Path(__file__).with_name("azure_versions.json")).read_text())
AVM = re.compile(r"^br/public:(avm/(?:res|ptn)/[a-z0-9/-]+):(\d+\.\d+\.\d+)$")


def problems(files: list[Path]) -> list[str]:
    """Each resource type@apiVersion or AVM reference in ``files`` that the pins do not list."""
    out = []
    for path in files:
        for kind in ("resource", "module"):
            for decl in declarations(path, kind).values():
                where = f"{path.name}:{decl.node.start_point[0] + 1} {decl.name}"
                target = decl.target
                if kind == "resource":
                    kind_name, _, version = target.partition("@")
                    known = PINS["resourceTypes"].get(kind_name)
                    if known is None:
                        out.append(f"{where}: resource type {kind_name} is not in azure_versions.json")
                    elif version not in known:
                        out.append(f"{where}: {kind_name}@{version} is not a pinned apiVersion ({', '.join(known)})")
                elif target.startswith("br"):
                    m = AVM.match(target)
                    if m is None:
                        out.append(f"{where}: {target} is not an AVM reference with an exact version")
                    elif PINS["avm"].get(m.group(1)) != m.group(2):
                        out.append(f"{where}: {m.group(1)}:{m.group(2)} is not the pinned version "
                                   f"({PINS['avm'].get(m.group(1), 'not pinned')})")
    return out


def test_every_resource_and_module_version_is_pinned() -> None:
    """infra/ uses exactly the apiVersions and AVM versions azure_versions.json lists."""
    assert problems(bicep_files()) == []


def test_the_pins_have_no_stale_entries() -> None:
    """Every pin is used somewhere in infra/ (a pin left behind after an upgrade would hide nothing)."""
    text = "\n".join(p.read_text() for p in bicep_files())
    for kind_name, versions in PINS["resourceTypes"].items():
        for version in versions:
            assert f"'{kind_name}@{version}'" in text, (kind_name, version)
    for module, version in PINS["avm"].items():
        assert f"br/public:{module}:{version}" in text, (module, version)


def test_avm_versions_shared_with_the_official_quickstart_match_it() -> None:
    """Modules the azd Flex Consumption Python quickstart also uses are at its versions, or listed as differences."""
    quickstart = PINS["quickstart"]
    for module, version in quickstart["avm"].items():
        if module in quickstart["differences"]:
            assert module not in PINS["avm"], module
            continue
        assert PINS["avm"].get(module) == version, (module, version, PINS["avm"].get(module))


def test_a_copy_with_a_wrong_api_version_or_module_version_fails(tmp_path: Path) -> None:
    """main.bicep copied with a mistyped apiVersion and a bumped AVM version fails, naming both."""
    broken = tmp_path / "main.bicep"
    shutil.copy(INFRA / "abbreviations.json", tmp_path)
    source = (INFRA / "main.bicep").read_text()
    source = source.replace("'Microsoft.Resources/resourceGroups@2024-03-01'",
                            "'Microsoft.Resources/resourceGroups@2024-03-31'", 1)
    source = source.replace("br/public:avm/res/storage/storage-account:0.8.3",
                            "br/public:avm/res/storage/storage-account:0.8.4", 1)
    broken.write_text(source)
    found = problems([broken])
    assert len(found) == 2, found
    assert "Microsoft.Resources/resourceGroups@2024-03-31 is not a pinned apiVersion (2024-03-01)" in found[0]
    assert "avm/res/storage/storage-account:0.8.4 is not the pinned version (0.8.3)" in found[1]
