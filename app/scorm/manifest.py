"""The `imsmanifest.xml` of a SCORM 1.2 package (IMS Content Packaging 1.1.2 + ADL SCORM 1.2).

Pure: given the items and the files of each, it writes the manifest; `check_manifest` reads
one back and names every rule of the SCORM 1.2 structure it breaks (the test suite and the
exporter both use it, so a package that breaks a rule is never written).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from xml.etree import ElementTree as ET

IMSCP = "http://www.imsproject.org/xsd/imscp_rootv1p1p2"
ADLCP = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = (
    f"{IMSCP} imscp_rootv1p1p2.xsd "
    "http://www.imsglobal.org/xsd/imsmd_rootv1p2p1 imsmd_rootv1p2p1.xsd "
    f"{ADLCP} adlcp_rootv1p2.xsd"
)
#: XML ids (NCName): a letter or underscore first, then letters, digits, `.`, `-`, `_`.
_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Sco:
    """One sharable content object: an item of the organisation and its resource."""

    identifier: str  # the item's id; its resource is `<identifier>-res`
    title: str
    href: str  # the launch page, relative to the package root
    files: tuple[str, ...]  # every file it uses (its launch page included)
    mastery_score: int | None = None  # the pass mark in percent, when it has a quiz


def xml_id(text: str) -> str:
    """An NCName built from our ids (which may start with a digit)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", text)
    return cleaned if _NCNAME.match(cleaned) else f"_{cleaned}"


def build_manifest(
    identifier: str, title: str, scos: Sequence[Sco], shared: Sequence[str] = ()
) -> bytes:
    """The manifest: one organisation with an item per SCO, one resource per SCO.

    :param shared: files every SCO uses, if any; listed in a shared `asset` resource that
        each SCO's resource depends on, so every file is listed.
    """
    ET.register_namespace("", IMSCP)
    ET.register_namespace("adlcp", ADLCP)
    ET.register_namespace("xsi", XSI)
    root = ET.Element(
        f"{{{IMSCP}}}manifest",
        {
            "identifier": xml_id(identifier),
            "version": "1.0",
            f"{{{XSI}}}schemaLocation": SCHEMA_LOCATION,
        },
    )
    metadata = ET.SubElement(root, f"{{{IMSCP}}}metadata")
    ET.SubElement(metadata, f"{{{IMSCP}}}schema").text = "ADL SCORM"
    ET.SubElement(metadata, f"{{{IMSCP}}}schemaversion").text = "1.2"
    organisations = ET.SubElement(root, f"{{{IMSCP}}}organizations", {"default": "org"})
    organisation = ET.SubElement(organisations, f"{{{IMSCP}}}organization", {"identifier": "org"})
    ET.SubElement(organisation, f"{{{IMSCP}}}title").text = title
    resources = ET.SubElement(root, f"{{{IMSCP}}}resources")
    for sco in scos:
        item = ET.SubElement(
            organisation,
            f"{{{IMSCP}}}item",
            {
                "identifier": sco.identifier,
                "identifierref": f"{sco.identifier}-res",
                "isvisible": "true",
            },
        )
        ET.SubElement(item, f"{{{IMSCP}}}title").text = sco.title
        if sco.mastery_score is not None:
            ET.SubElement(item, f"{{{ADLCP}}}masteryscore").text = str(sco.mastery_score)
        resource = ET.SubElement(
            resources,
            f"{{{IMSCP}}}resource",
            {
                "identifier": f"{sco.identifier}-res",
                "type": "webcontent",
                f"{{{ADLCP}}}scormtype": "sco",
                "href": sco.href,
            },
        )
        for name in sco.files:
            ET.SubElement(resource, f"{{{IMSCP}}}file", {"href": name})
        if shared:
            ET.SubElement(resource, f"{{{IMSCP}}}dependency", {"identifierref": "shared"})
    if shared:
        asset = ET.SubElement(
            resources,
            f"{{{IMSCP}}}resource",
            {"identifier": "shared", "type": "webcontent", f"{{{ADLCP}}}scormtype": "asset"},
        )
        for name in shared:
            ET.SubElement(asset, f"{{{IMSCP}}}file", {"href": name})
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def check_manifest(data: bytes, names: Iterable[str]) -> list[str]:
    """Every way the manifest breaks the SCORM 1.2 structure, given the package's file names.

    Checks: the root and its namespaces, schema "ADL SCORM" version 1.2, a default
    organisation that exists, unique NCName identifiers, items that point at SCO resources,
    an `adlcp:scormtype` of sco or asset on every resource, an href on each SCO, resource
    dependencies that exist, every file listed present in the zip, and every file in the zip
    (but the manifest) listed by some resource.
    """
    problems: list[str] = []
    try:
        root = ET.fromstring(data)
    except ET.ParseError as error:
        return [f"imsmanifest.xml is not well-formed XML: {error}"]
    ns = {"cp": IMSCP, "adlcp": ADLCP}
    if root.tag != f"{{{IMSCP}}}manifest":
        problems.append(f"the root element is {root.tag}, not the IMS CP 1.1.2 manifest")
    schema = root.findtext("cp:metadata/cp:schema", namespaces=ns)
    version = root.findtext("cp:metadata/cp:schemaversion", namespaces=ns)
    if (schema, version) != ("ADL SCORM", "1.2"):
        problems.append(f"metadata says schema {schema!r} version {version!r}, not ADL SCORM 1.2")
    identifiers: list[str] = [
        element.get("identifier", "")
        for element in root.iter()
        if element.get("identifier") is not None
    ]
    for identifier in identifiers:
        if not _NCNAME.match(identifier):
            problems.append(f"identifier {identifier!r} is not an XML NCName")
    duplicates = sorted({i for i in identifiers if identifiers.count(i) > 1})
    if duplicates:
        problems.append(f"identifiers used twice: {', '.join(duplicates)}")
    organisations = root.find("cp:organizations", ns)
    resources = {r.get("identifier", ""): r for r in root.findall("cp:resources/cp:resource", ns)}
    if organisations is None:
        problems.append("no <organizations> element")
    else:
        default = organisations.get("default")
        found = [
            o
            for o in organisations.findall("cp:organization", ns)
            if o.get("identifier") == default
        ]
        if not found:
            problems.append(f"the default organization {default!r} does not exist")
        items = [i for o in found for i in o.iter(f"{{{IMSCP}}}item")]
        if found and not items:
            problems.append("the default organization has no item")
        for item in items:
            if item.findtext("cp:title", namespaces=ns) in (None, ""):
                problems.append(f"item {item.get('identifier')!r} has no title")
            ref = item.get("identifierref")
            if ref is None:
                continue
            resource = resources.get(ref)
            if resource is None:
                problems.append(
                    f"item {item.get('identifier')!r} points at missing resource {ref!r}"
                )
            elif resource.get(f"{{{ADLCP}}}scormtype") != "sco":
                problems.append(
                    f"item {item.get('identifier')!r} launches {ref!r}, which is no sco"
                )
            mastery = item.findtext("adlcp:masteryscore", namespaces=ns)
            if mastery is not None and not (mastery.isdigit() and 0 <= int(mastery) <= 100):
                problems.append(
                    f"item {item.get('identifier')!r}: masteryscore {mastery!r} not 0..100"
                )
    present = set(names)
    listed: set[str] = set()
    for identifier, resource in resources.items():
        kind = resource.get(f"{{{ADLCP}}}scormtype")
        if kind not in ("sco", "asset"):
            problems.append(
                f"resource {identifier!r}: adlcp:scormtype is {kind!r}, not sco or asset"
            )
        if resource.get("type") != "webcontent":
            problems.append(f"resource {identifier!r}: type is not webcontent")
        href = resource.get("href")
        if kind == "sco" and not href:
            problems.append(f"sco resource {identifier!r} has no href")
        if href and href not in present:
            problems.append(f"resource {identifier!r}: launch file {href!r} is not in the package")
        files = [f.get("href", "") for f in resource.findall("cp:file", ns)]
        if href and href not in files:
            problems.append(
                f"resource {identifier!r}: launch file {href!r} is not listed as a file"
            )
        for name in files:
            listed.add(name)
            if name not in present:
                problems.append(
                    f"resource {identifier!r} lists {name!r}, which is not in the package"
                )
        for dependency in resource.findall("cp:dependency", ns):
            needed = dependency.get("identifierref")
            if needed not in resources:
                problems.append(f"resource {identifier!r} depends on missing {needed!r}")
    for name in sorted(present - listed - {"imsmanifest.xml"}):
        if not name.endswith("/"):
            problems.append(f"{name!r} is in the package but no resource lists it")
    return problems
