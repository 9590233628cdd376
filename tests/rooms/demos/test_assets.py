"""Course assets: types by extension and content, SVG without script, limits, references."""

from __future__ import annotations

import pytest

from rooms.demos.assets import MAX_ASSET_BYTES, check_asset, check_references
from rooms.demos.exceptions import DefinitionError
from tests.support.media import png


def test_a_png_is_accepted_with_its_type() -> None:
    asset = check_asset("assets/img/tree.png", png())
    assert (asset.path, asset.content_type) == ("assets/img/tree.png", "image/png")


@pytest.mark.parametrize(
    ("path", "data", "reason"),
    [
        ("assets/x.png", b"GIF89a....", "assets/x.png:1: the content is not image/png"),
        ("assets/x.exe", b"MZ", "assets/x.exe:1: unsupported asset type 'exe'"),
        ("assets/../x.png", png(), "assets/../x.png:1: an asset path is"),
        ("assets/big.png", b"\x89PNG\r\n\x1a\n" + b"0" * MAX_ASSET_BYTES, "at most 5 MiB"),
        (
            "assets/s.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "assets/s.svg:1: an SVG asset may not contain <script>",
        ),
        (
            "assets/s.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><rect onclick="x()"/></svg>',
            "may not use onclick=",
        ),
        ("assets/s.svg", b"<svg>\n<rect>\n</svg>", "assets/s.svg:3: not a well-formed SVG"),
        ("assets/s.svg", b'<!DOCTYPE svg [<!ENTITY x "y">]><svg/>', "DOCTYPE"),
    ],
)
def test_refusals_name_the_file_and_line(path: str, data: bytes, reason: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        check_asset(path, data)
    assert reason in str(caught.value)


def test_a_clean_svg_is_accepted() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/><use href="#a"/></svg>'
    with pytest.raises(DefinitionError, match="<use>"):
        check_asset("assets/a.svg", svg)
    ok = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><circle r="4"/></svg>'
    assert check_asset("assets/a.svg", ok).content_type == "image/svg+xml"


def test_a_reference_to_a_missing_asset_names_its_line() -> None:
    text = 'id = "x"\ntext = "![tree](assets/tree.png) and ![gone](assets/gone.png)"\n'
    check_references(
        "demos/x.toml", text.replace("assets/gone.png", "assets/tree.png"), {"assets/tree.png"}
    )
    with pytest.raises(DefinitionError) as caught:
        check_references("demos/x.toml", text, {"assets/tree.png"})
    assert str(caught.value) == "demos/x.toml:2: assets/gone.png is not in the course's assets/"
