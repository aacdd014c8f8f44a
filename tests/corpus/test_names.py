"""`corpus.names`: proper names from raw text, linked to their longest form in the article."""

from __future__ import annotations

from corpus.gazetteer import Mention
from corpus.names import add_names, find_names, link_names

TEXT = ("WASHINGTON — President Barack Obama said Tuesday that Senate Majority Leader Mitch McConnell was wrong. "
        "Obama added that the Department of Justice would act. Mr. McConnell's office declined. "
        "Democratic Sen. Chris Coons agreed with Obama’s plan, as did Sen. Lindsey Graham of South Carolina. "
        "Secretary of State Mike Pompeo and Justice Sonia Sotomayor did not. The Justice Department and Iran's "
        "Islamic Revolutionary Guard Corps were named. Michelle Obama spoke. But the Democratic Party and the "
        "Vice President said no.")


def test_names_leave_out_titles_roles_possessives_and_sentence_openers() -> None:
    names = [m.text for m in find_names(TEXT)]
    assert names == ["Barack Obama", "Mitch McConnell", "Obama", "Department of Justice", "McConnell",
                     "Chris Coons", "Obama", "Lindsey Graham", "Mike Pompeo", "Sonia Sotomayor",
                     "Justice Department", "Iran", "Islamic Revolutionary Guard Corps", "Michelle Obama",
                     "Democratic Party", "Vice President"]
    first = find_names(TEXT)[0]
    assert TEXT[first.start:first.end] == "Barack Obama" and first.canonical is None and first.source == "names"


def test_a_capitalised_word_that_only_opens_sentences_is_no_name() -> None:
    assert [m.text for m in find_names("Critics said no. Critics were loud. Biden spoke. Then Biden left.")] == \
        ["Biden", "Biden"]


def test_linking_names_each_mention_by_its_single_longest_form() -> None:
    linked = {(m.text, m.name) for m in link_names(find_names(TEXT))}
    assert ("McConnell", "Mitch McConnell") in linked
    # two longest forms end with "Obama" (Barack, Michelle): "Obama" is left as it is
    assert ("Obama", None) in linked
    only_barack = link_names(find_names("Barack Obama spoke. Obama left. Mr. Obama returned."))
    assert [(m.text, m.name) for m in only_barack] == [("Barack Obama", None), ("Obama", "Barack Obama"),
                                                       ("Obama", "Barack Obama")]


def test_resolved_mentions_are_kept_and_names_fill_the_gaps() -> None:
    text = "Claudia Sheinbaum rejected it. Marcelo Ebrard agreed with Sheinbaum."
    codebook_mention = Mention(0, 17, "Claudia Sheinbaum", "Actor", "claudia_sheinbaum")
    merged = link_names(add_names([codebook_mention], find_names(text)))
    assert [(m.text, m.canonical, m.name) for m in merged] == [
        ("Claudia Sheinbaum", "claudia_sheinbaum", None), ("Marcelo Ebrard", None, None),
        ("Sheinbaum", None, None)]  # only unresolved forms are linked, to unresolved forms
