"""Grouped, stratified, deterministic splits and the manifest that makes them reproducible."""

from __future__ import annotations

from collections import Counter

import pytest

from corpus.errors import InputError
from corpus.splits import Group, Manifest, assign_splits, check_no_straddle, load_manifest, manifest_text, parse_ratios


def groups(n: int, stances: tuple[int, int] = (3, 5)) -> list[Group]:
    out = []
    for i in range(n):
        support, oppose = (stances[0] + i % 3, stances[1] - i % 2)
        out.append(Group(f"g{i:03d}", [f"g{i:03d}-a", f"g{i:03d}-b"],
                         stances=Counter(support=support, oppose=oppose)))
    return out


def split_counts(manifest: Manifest, gs: list[Group]) -> dict[str, Counter]:
    out: dict[str, Counter] = {s: Counter() for s in ("train", "validation", "test")}
    for g in gs:
        out[manifest.groups[g.name]] += g.stances
    return out


def test_deterministic_grouped_and_close_to_the_ratios() -> None:
    gs = groups(60)
    m1 = assign_splits(gs, seed=7)
    assert m1.to_json() == assign_splits(groups(60), seed=7).to_json()
    assert set(m1.articles) == {a for g in gs for a in g.articles}
    check_no_straddle({a: g.name for g in gs for a in g.articles}, m1)
    counts = split_counts(m1, gs)
    total = sum((c for c in counts.values()), Counter())
    for split, share in (("train", 0.8), ("validation", 0.1), ("test", 0.1)):
        for label in ("support", "oppose"):  # stratified: every split near its share of each label
            assert abs(counts[split][label] / total[label] - share) < 0.05, (split, label, counts)


def test_seed_changes_the_assignment() -> None:
    assert assign_splits(groups(60), seed=1).groups != assign_splits(groups(60), seed=2).groups


def test_one_group_goes_to_train_and_leaves_the_rest_empty() -> None:
    m = assign_splits(groups(1), seed=0)
    assert set(m.groups.values()) == {"train"}
    m3 = assign_splits(groups(3), seed=0)
    assert sorted(m3.groups.values()) == ["test", "train", "validation"]


def test_source_split_is_kept() -> None:
    gs = groups(10)
    for g in gs[:4]:
        g.given = dict.fromkeys(g.articles, "test")
    m = assign_splits(gs, seed=0)
    assert all(m.groups[g.name] == "test" for g in gs[:4])


def test_a_group_given_two_splits_straddles() -> None:
    g = Group("story", ["a", "b"], given={"a": "train", "b": "test"})
    with pytest.raises(InputError, match="straddles"):
        assign_splits([g], seed=0)


def test_new_groups_never_move_old_ones() -> None:
    old = assign_splits(groups(20), seed=3)
    new = assign_splits(groups(30), seed=99, previous=old)
    assert all(new.groups[name] == split for name, split in old.groups.items())
    assert new.seed == old.seed and len(new.groups) == 30


def test_an_article_moving_to_a_group_in_another_split_fails() -> None:
    gs = groups(10)
    old = assign_splits(gs, seed=0)
    train = next(g for g in gs if old.groups[g.name] == "train")
    test = next(g for g in gs if old.groups[g.name] == "test")
    test.articles.append(train.articles.pop())
    with pytest.raises(InputError, match="would change split"):
        assign_splits(gs, seed=0, previous=old)


def test_source_split_contradicting_the_manifest_fails() -> None:
    gs = groups(10)
    old = assign_splits(gs, seed=0)
    g = next(g for g in gs if old.groups[g.name] == "train")
    g.given = dict.fromkeys(g.articles, "test")
    with pytest.raises(InputError, match="in train in the manifest"):
        assign_splits(gs, seed=0, previous=old)


def test_check_no_straddle_catches_a_split_group() -> None:
    m = Manifest(seed=0, groups={"g1": "train", "g2": "test"}, articles={"a": "g1", "b": "g2"})
    with pytest.raises(InputError, match="straddles"):
        check_no_straddle({"a": "story", "b": "story"}, m)


def test_manifest_round_trip_and_bad_manifests(tmp_path) -> None:
    m = assign_splits(groups(5), seed=4, ratios=(0.6, 0.2, 0.2))
    path = tmp_path / "splits.json"
    path.write_text(manifest_text(m))
    assert load_manifest(path).to_json() == m.to_json()
    assert load_manifest(tmp_path / "none.json") is None
    path.write_text('{"version": 1, "groups": {"g": "holdout"}, "articles": {}}')
    with pytest.raises(InputError, match="holdout"):
        load_manifest(path)
    path.write_text('{"version": 1, "groups": {}, "articles": {"a": "g"}}')
    with pytest.raises(InputError, match="no split"):
        load_manifest(path)
    path.write_text("[]")
    with pytest.raises(InputError, match="JSON object"):
        load_manifest(path)


@pytest.mark.parametrize("text", ["0.8,0.2", "0.5,0.5,0.5", "a,b,c", "0,0.5,0.5", "-0.1,0.6,0.5"])
def test_bad_ratios(text: str) -> None:
    with pytest.raises(InputError, match="--ratios"):
        parse_ratios(text)
    assert parse_ratios("0.7,0.15,0.15") == (0.7, 0.15, 0.15)


# --- split-by target (issue 14): whole targets held out ------------------------------------------------------

def _targets(n: int) -> tuple[dict[str, Counter], dict[str, list[str]]]:
    """n targets spread over articles that each mention three of them (so articles hold several targets)."""
    targets = {f"t{i:03d}": Counter(support=1 + i % 4, oppose=2 + i % 3, none=i % 5) for i in range(n)}
    articles = {f"a{j:03d}": [f"t{(j + k) % n:03d}" for k in range(3)] for j in range(n)}
    return targets, articles


def test_target_split_never_puts_one_target_in_two_splits() -> None:
    from corpus.splits import assign_target_splits, check_targets_disjoint

    targets, articles = _targets(40)
    m = assign_target_splits(targets, articles, seed=3)
    assert m.split_by == "target" and m.to_json()["split_by"] == "target"
    rows = {s: [] for s in ("train", "validation", "test")}
    for article, ts in articles.items():  # every row of every article goes where its target went
        for t in ts:
            rows[m.split_of_target(t)].append({"id": f"{article}/{t}", "policy_label": t})
    check_targets_disjoint(rows)
    by_target: dict[str, set[str]] = {}
    for split, rs in rows.items():
        for r in rs:
            by_target.setdefault(r["policy_label"], set()).add(split)
    assert all(len(s) == 1 for s in by_target.values()) and len(by_target) == 40
    assert all(rows[s] for s in rows)  # every split filled
    assert set(m.articles) == set(articles) and all(m.split_of(a) in rows for a in articles)
    assert assign_target_splits(*_targets(40), seed=3).to_json() == m.to_json()  # deterministic
    again = Manifest.from_json(m.to_json(), "m")
    assert again.split_by == "target"
    targets[("t999")] = Counter(support=9)
    kept = assign_target_splits(targets, articles, seed=99, previous=again)
    assert all(kept.split_of_target(t) == m.split_of_target(t) for t in _targets(40)[0])


def test_the_leak_check_names_a_target_in_two_splits() -> None:
    from corpus.splits import check_targets_disjoint

    with pytest.raises(InputError, match="'wall' is in train and test"):
        check_targets_disjoint({"train": [{"id": "r1", "policy_label": "wall"}],
                                "test": [{"id": "r2", "policy_label": "wall"}]})


def test_too_few_targets_is_refused_not_faked() -> None:
    from corpus.splits import assign_target_splits

    with pytest.raises(InputError, match="2 target\\(s\\) with statements, too few to fill train, validation, test"):
        assign_target_splits({"a": Counter(support=3), "b": Counter(oppose=1), "c": Counter(none=5)},
                             {"x": ["a", "b", "c"]}, seed=0)
    with pytest.raises(InputError, match="split_by group"):
        assign_target_splits(*_targets(10), seed=0, previous=assign_splits(groups(5), seed=0))


def test_build_split_by_target_on_seesaw_mini(tmp_path) -> None:
    from datasets import load_from_disk

    from corpus.build import BuildOptions, build_dataset
    from corpus.importers.seesaw import import_seesaw
    from tests.fixtures.seesaw_mini import mini_dir

    src = tmp_path / "imp"
    import_seesaw(mini_dir(), src)
    out = tmp_path / "ds"
    result = build_dataset(BuildOptions(out=out, sources=[src], split_by="target", ratios=(0.5, 0.25, 0.25)))
    assert all(result.sizes["statements"].values())
    seen: dict[str, str] = {}
    for config in ("statements", "candidates"):
        for split, ds in load_from_disk(str(out / config)).items():
            for t in ds["policy_label"]:
                assert seen.setdefault(t, split) == split, t
    assert "split_by: target" in (out / "README.md").read_text(encoding="utf-8")
