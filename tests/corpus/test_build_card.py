"""The dataset card names its data from its sources: a SEESAW build says SEESAW, one licence per row."""

from __future__ import annotations

from pathlib import Path

import yaml

from corpus.build import BuildOptions, build_dataset
from corpus.card import licence_outlets
from tests.fixtures.seesaw_mini import mini_dir


def _licence_rows(card: str) -> list[list[str]]:
    section = card.split("## Sources and licences", 1)[1].split("\n## ", 1)[0]
    table = section.split("| source | rights |", 1)[1]
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in table.splitlines()[2:] if ln.startswith("|")]


def test_a_seesaw_build_is_named_seesaw_and_lists_one_row_per_licence(tmp_path: Path) -> None:
    from corpus.importers.seesaw import import_seesaw

    import_seesaw(mini_dir(), tmp_path / "seesaw")
    build_dataset(BuildOptions(sources=[tmp_path / "seesaw"], out=tmp_path / "ds"))
    card = (tmp_path / "ds" / "README.md").read_text()
    assert yaml.safe_load(card.split("---\n")[1])["pretty_name"] == "newsstance: SEESAW"
    assert "\n# newsstance: SEESAW\n" in card
    assert "US–Mexico" not in card.split("## Layout")[0]  # not our codebook's debate
    assert "stances toward targets in news text (SEESAW" in card
    rows = _licence_rows(card)
    assert len(rows) == 1, rows  # one licence (CC BY-NC-SA 4.0), the two outlets listed in it
    source, rights, outlets, articles = rows[0]
    assert "CC BY-NC-SA 4.0" in rights and "<outlet>" in rights
    assert outlets == "Centre Courier (1), Left Gazette (3)" and articles == "4"


def test_the_bundled_corpus_keeps_the_codebook_name(tmp_path: Path) -> None:
    from corpus.codebook import load_codebook

    build_dataset(BuildOptions(out=tmp_path / "ds"))
    card = (tmp_path / "ds" / "README.md").read_text()
    name = load_codebook().name
    assert f"\n# newsstance: {name}\n" in card and "toward policy options" in card
    assert len(_licence_rows(card)) >= 1


def test_licence_notes_differing_only_by_outlet_merge_and_others_stay_apart() -> None:
    from corpus.card import _by_licence

    rows = [{"_source": "s", "source": o, "rights": r} for o, r in
            [("A Post", "CC BY (A Post)"), ("B Times", "CC BY (B Times)"), ("B Times", "CC BY (B Times)"),
             ("C Daily", "all rights reserved")]]
    merged = _by_licence(licence_outlets(rows)["s"])
    assert merged == {"CC BY (<outlet>)": {"A Post": 1, "B Times": 2}, "all rights reserved": {"C Daily": 1}}
