"""corpus.yamlio: the one YAML reader (safe tags, bounded aliases, duplicate keys refused) and name slugs."""

from __future__ import annotations

import pytest

from corpus.errors import InputError
from corpus.schema import name_slug, slugify
from corpus.yamlio import MAX_ALIASES, load_yaml


def test_plain_yaml_and_merge_keys_load() -> None:
    assert load_yaml("a: 1\nb: [x, y]\n", "f.yaml") == {"a": 1, "b": ["x", "y"]}
    assert load_yaml("base: &b {k: 1, j: 2}\nuse:\n  <<: *b\n  k: 3\n", "f.yaml")["use"] == {"k": 3, "j": 2}
    assert load_yaml("", "f.yaml") is None


@pytest.mark.parametrize(("text", "where", "what"), [
    ("a:\n  b: 1\n  c: 2\n  b: 3\n", "f.yaml:4", "duplicate key 'b' (first on line 2)"),
    ("a: !!python/object:os.system x\n", "f.yaml:1", "not valid YAML"),
    ("a: 1\n---\nb: 2\n", "f.yaml", "not valid YAML"),
    ("a: &x [*x]\n", "f.yaml:1", "recursive structure"),  # a list that contains itself
    ("l: &l [1]\n" + "".join(f"k{i}: *l\n" for i in range(MAX_ALIASES + 1)), "f.yaml:", f"more than {MAX_ALIASES}"),
    ("[" * 5000 + "]" * 5000, "f.yaml", "not valid YAML"),
])
def test_refused_documents_name_the_file_and_line(text: str, where: str, what: str) -> None:
    with pytest.raises(InputError) as err:
        load_yaml(text, "f.yaml")
    assert str(err.value).startswith(where) and what in str(err.value), str(err.value)


def test_name_slugs_are_unique_and_stable() -> None:
    names = ["C++ Foundation", "C Foundation", "c foundation", "Клаудия Шейнбаум", "محمد", "a-b", "a b", "a_b",
             "???", "!!!", "x" * 200, "x" * 199]
    slugs = [name_slug(n) for n in names]
    assert slugs[1] == slugs[2] == "c-foundation"  # case and spacing alone do not make another name
    assert len(set(slugs)) == len(names) - 1
    assert slugs[3] == "клаудия-шейнбаум" and slugs[4] == "محمد"
    assert all(len(s) <= 90 for s in slugs) and slugs == [name_slug(n) for n in names]
    assert slugify("Клаудия") != slugify("Шейнбаум") and slugify("Café Müller") == "cafe-muller"
