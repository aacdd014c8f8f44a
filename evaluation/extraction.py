"""End-to-end extraction scored against gold: whole statements, pairs, polarity, networks (issue 13).

`python -m evaluation extraction --pred STATEMENTS.json --dataset DATASET --split test --out DIR` reads what
`python -m training extract` writes (one file per setting, `"setting": "gold-entities" | "found-entities"`) and the
split's gold statements. A statement is (article, actor id, policy id, stance) at sentence level: a prediction
matches a gold statement of the same article, canonical actor and target (and stance) whose sentences overlap the
prediction's evidence sentences (a side without an id, as found entities may give, is resolved from its mention
text as the build resolves a name: a codebook label or alias, else `x:<slug>`). Matching is one to one, the most
confident prediction first; duplicate predictions of one statement count once (the rest are reported as
duplicates), duplicate gold statements once too. Scores: precision, recall and F1 on statements and on pairs
(stance ignored), polarity accuracy on the pairs found, each with an article-clustered bootstrap interval
(`evaluation.metrics`), and the network scores of `evaluation network --gold`
(`evaluation.network.score_networks`). Predicted articles that are not in the split are named and counted, never
scored silently; gold articles the predictions do not cover are left out of the gold (named and counted) so a
partial extraction is scored on what it read.

`human_figure` scores annotator against annotator with the same matching, on every task two or more
annotators coded (the pairing of `annotation.agreement`: ground-truth and adjudicated annotations are not
annotators; every pair of annotators of a task is compared, each annotation converted as the build converts
gold), so the benchmark puts the human figure beside the model.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from corpus.codebook import Codebook
from corpus.errors import InputError

SETTINGS = ("gold-entities", "found-entities")
YES, NO = "statement", "absent"
SHOWN = 20  # false statements and misses listed in the report


@dataclass(frozen=True)
class Unit:
    """One statement to match: where (article, sentence numbers), who, on what, which stance, how sure."""

    article_id: str
    actor_id: str
    policy_id: str
    stance: str
    sentences: frozenset[int]
    confidence: float = 1.0
    actor_label: str = ""
    policy_label: str = ""
    evidence: str = ""

    def key(self, with_stance: bool) -> tuple[str, ...]:
        return (self.article_id, self.actor_id, self.policy_id) + ((self.stance,) if with_stance else ())


@dataclass
class Gold:
    """A split's gold statements and sentences, by article."""

    units: list[Unit]
    articles: set[str]
    sentences: dict[str, list[tuple[int, int]]] = field(default_factory=dict)


def sentences_of(spans: list[tuple[int, int]], start: int, end: int) -> frozenset[int]:
    """Numbers of the sentences overlapping text[start:end] (the nearest one for an empty range)."""
    hit = frozenset(k for k, (s, e) in enumerate(spans) if s < max(end, start + 1) and start < e)
    if hit or not spans:
        return hit
    return frozenset([min(range(len(spans)), key=lambda k: abs(spans[k][0] - start))])


def load_gold(dataset: str | Path, split: str, codebook: Codebook) -> Gold:
    """Gold statements of DATASET's `split` with their sentence numbers; InputError naming what is missing."""
    from datasets import load_from_disk

    from corpus.sentences import split_sentences
    from evaluation.data import dataset_root

    root = dataset_root(Path(dataset))
    for config in ("statements", "articles"):
        if not (root / config / "dataset_dict.json").is_file():
            raise InputError(root, f"not a built dataset (no {config}/): build it with `python -m corpus build`")
    if not (root / "candidates" / "dataset_dict.json").is_file():
        raise InputError(root, "built before candidates existed (no candidates/): rebuild it with "
                               "`python -m corpus build SOURCE... --out DATASET` and extract again")
    loaded = {c: load_from_disk(str(root / c)) for c in ("statements", "articles")}
    for name, dd in loaded.items():
        if split not in dd:
            raise InputError(root / name, f"missing split {split!r} (has {', '.join(dd) or 'none'})")
    texts = {str(r["id"]): str(r["text"]) for r in loaded["articles"][split].select_columns(["id", "text"]).to_list()}
    spans: dict[str, list[tuple[int, int]]] = {}
    if (root / "mentions" / "dataset_dict.json").is_file():
        mentions = load_from_disk(str(root / "mentions"))
        if split in mentions:
            for r in mentions[split].select_columns(["article_id", "start", "end"]).to_list():
                spans.setdefault(str(r["article_id"]), []).append((int(r["start"]), int(r["end"])))
    for article, text in texts.items():
        spans[article] = sorted(spans.get(article) or split_sentences(text) or [(0, len(text))])
    names = loaded["statements"][split].features["stance"].names
    units = []
    for r in loaded["statements"][split].to_list():
        start = int(r["context_start"])
        units.append(Unit(str(r["article_id"]), str(r["actor_id"]), str(r["policy_id"]), names[r["stance"]],
                          sentences_of(spans.get(str(r["article_id"]), []), start, start + len(r["context"])),
                          1.0, str(r["actor_label"]), str(r["policy_label"]), str(r["context"])))
    return Gold(units, set(texts), spans)


def read_predictions(path: str | Path, codebook: Codebook, setting: str | None = None) -> dict[str, Any]:
    """A `training extract` file: its setting, the articles it read, its statements (checked against the codebook)."""
    from corpus.store import read_json

    path = Path(path)
    doc = read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("statements"), list):
        raise InputError(path, "not a `python -m training extract` file (a JSON object with a 'statements' list)")
    chosen = setting or doc.get("setting")
    if chosen not in SETTINGS:
        raise InputError(path, f"setting {chosen!r} is not one of {', '.join(SETTINGS)} (pass --setting)")
    stances = set(codebook.stance_names)
    statements = []
    for n, s in enumerate(doc["statements"]):
        where = f"{path}: statement #{n}"
        if not isinstance(s, dict) or not s.get("article_id"):
            raise InputError(where, "needs an object with an article_id")
        for side, known in (("actor_id", codebook.actor), ("policy_id", codebook.policy)):
            value = s.get(side)
            if value is not None and not str(value).startswith("x:") and known(str(value)) is None:
                raise InputError(where, f"{side} {value!r} is not in codebook {codebook.version} (nor an x: id)")
        if s.get("stance") not in stances:
            raise InputError(where, f"stance {s.get('stance')!r} is not one of the codebook's {sorted(stances)}")
        ev = s.get("evidence")
        if not (isinstance(ev, dict) and isinstance(ev.get("start"), int) and isinstance(ev.get("end"), int)):
            raise InputError(where, "needs evidence {start, end} offsets into the article")
        statements.append(s)
    read = [str(a["article_id"]) for a in doc.get("articles") or [] if isinstance(a, dict) and a.get("article_id")]
    return {"path": str(path), "setting": chosen, "model_version": doc.get("model_version"),
            "articles": read or sorted({str(s["article_id"]) for s in statements}), "statements": statements}


def _side(s: dict[str, Any], name: str, scheme: Any) -> str:
    """A side's canonical id: the file's, else its mention's text resolved as the build resolves a name."""
    from corpus.convert import resolve_name

    value = s.get(f"{name}_id")
    if value:
        return str(value)
    mention = s.get(f"{name}_mention") or {}
    text = str((mention.get("text") if isinstance(mention, dict) else mention) or s.get(f"{name}_label") or "")
    return resolve_name(text.strip(), name == "actor", scheme)[0] if text.strip() else f"{name}:unknown"


def prediction_units(statements: Sequence[dict[str, Any]], gold: Gold, codebook: Codebook) -> list[Unit]:
    """Predicted statements as units (sentence numbers from the gold article's sentences)."""
    from corpus.convert import Scheme

    scheme = Scheme.from_codebook(codebook)
    out = []
    for s in statements:
        a = str(s["article_id"])
        ev = s["evidence"]
        out.append(Unit(a, _side(s, "actor", scheme), _side(s, "policy", scheme), str(s["stance"]),
                        sentences_of(gold.sentences.get(a, []), ev["start"], ev["end"]),
                        float(s.get("confidence") or 0.0), str(s.get("actor_label") or ""),
                        str(s.get("policy_label") or ""), str(ev.get("text") or "")))
    return out


def dedupe(units: Sequence[Unit], with_stance: bool) -> tuple[list[Unit], int]:
    """One unit per key and overlapping sentences (the most confident); returns (kept, duplicates dropped)."""
    kept: list[Unit] = []
    seen: dict[tuple[str, ...], list[Unit]] = {}
    for u in sorted(units, key=lambda u: -u.confidence):
        same = seen.setdefault(u.key(with_stance), [])
        if any(u.sentences & v.sentences for v in same):
            continue
        same.append(u)
        kept.append(u)
    return kept, len(units) - len(kept)


def match(pred: Sequence[Unit], gold: Sequence[Unit], with_stance: bool
          ) -> tuple[list[tuple[Unit, Unit]], list[Unit], list[Unit]]:
    """One-to-one matching, most confident prediction first: (matched pairs, false positives, misses)."""
    free: dict[tuple[str, ...], list[Unit]] = {}
    for g in gold:
        free.setdefault(g.key(with_stance), []).append(g)
    pairs, wrong = [], []
    for p in sorted(pred, key=lambda u: -u.confidence):
        options = free.get(p.key(with_stance), [])
        hit = next((g for g in options if g.sentences & p.sentences), None)
        if hit is None:
            wrong.append(p)
        else:
            options.remove(hit)
            pairs.append((p, hit))
    matched = {id(g) for _, g in pairs}
    return pairs, wrong, [g for g in gold if id(g) not in matched]


def _intervals(pairs: list[tuple[Unit, Unit]], wrong: list[Unit], missed: list[Unit], n: int, seed: int
               ) -> dict[str, dict[str, float] | None]:
    """Precision, recall and F1 with article-clustered bootstrap intervals (`evaluation.metrics`)."""
    from evaluation.metrics import bootstrap_intervals

    tp = [(YES, YES, p.article_id) for p, _ in pairs]
    fp = [(NO, YES, p.article_id) for p in wrong]
    fn = [(YES, NO, g.article_id) for g in missed]

    def iv(items: list[tuple[str, str, str]], metric: str) -> dict[str, float] | None:
        if not items:
            return None
        gold, pred, groups = zip(*items, strict=True)
        return bootstrap_intervals(gold, pred, [YES, NO], groups, n_resamples=n, seed=seed,
                                   metrics=[metric])[metric].to_dict()

    return {"precision": iv(tp + fp, "accuracy"), "recall": iv(tp + fn, "accuracy"),
            "f1": iv(tp + fp + fn, f"f1_{YES}")}


def _point(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def score_setting(pred: dict[str, Any], gold: Gold, codebook: Codebook, n_resamples: int = 1000,
                  seed: int = 0) -> dict[str, Any]:
    """Every score of one predictions file against the gold of the articles it read."""
    from evaluation.metrics import bootstrap_intervals
    from evaluation.network import score_networks
    from evaluation.statements import Statement

    read = set(pred["articles"]) | {str(s["article_id"]) for s in pred["statements"]}
    outside = sorted(read - gold.articles)
    scored = read & gold.articles
    not_read = sorted(gold.articles - scored)
    inside = [s for s in pred["statements"] if str(s["article_id"]) in scored]
    units = prediction_units(inside, gold, codebook)
    gold_units = [g for g in gold.units if g.article_id in scored]
    notes = []
    if outside:
        notes.append(f"{len(outside)} predicted article(s) are not in the split and are not scored: "
                     f"{', '.join(outside[:5])}{' ...' if len(outside) > 5 else ''} "
                     f"({len(pred['statements']) - len(inside)} statement(s))")
    if not_read:
        notes.append(f"{len(not_read)} article(s) of the split are not in the predictions; their gold is left out: "
                     f"{', '.join(not_read[:5])}{' ...' if len(not_read) > 5 else ''}")
    if not pred["statements"]:
        notes.append("empty extraction: no statement predicted (precision 0 by convention)")
    out: dict[str, Any] = {"setting": pred["setting"], "path": pred["path"], "model_version": pred["model_version"],
                           "articles_scored": len(scored), "articles_outside_split": outside,
                           "articles_not_predicted": len(not_read), "notes": notes}
    levels: dict[str, Any] = {}
    for level, with_stance in (("statements", True), ("pairs", False)):
        p_units, dup = dedupe(units, with_stance)
        g_units, gold_dup = dedupe(gold_units, with_stance)
        pairs, wrong, missed = match(p_units, g_units, with_stance)
        levels[level] = {**_point(len(pairs), len(wrong), len(missed)), "matched": len(pairs),
                         "false": len(wrong), "missed": len(missed), "predicted": len(p_units), "gold": len(g_units),
                         "duplicates": dup, "gold_duplicates": gold_dup,
                         "intervals": _intervals(pairs, wrong, missed, n_resamples, seed)}
        if with_stance:
            out["false_statements"] = [_show(u) for u in wrong[:SHOWN]]
            out["misses"] = [_show(u) for u in sorted(missed, key=lambda u: (u.article_id, min(u.sentences,
                                                                                              default=0)))[:SHOWN]]
        else:
            right = [p.stance == g.stance for p, g in pairs]
            polarity: dict[str, Any] = {"point": sum(right) / len(right) if right else 0.0, "pairs": len(right)}
            if pairs:
                polarity["interval"] = bootstrap_intervals(
                    [g.stance for _, g in pairs], [p.stance for p, _ in pairs], codebook.stance_names,
                    [g.article_id for _, g in pairs], n_resamples=n_resamples, seed=seed,
                    metrics=["accuracy"])["accuracy"].to_dict()
            out["polarity"] = polarity
    out.update(levels)

    def statement(u: Unit) -> Statement:
        return Statement(u.actor_id, u.policy_id, u.stance, u.actor_label, u.policy_label, article_id=u.article_id)

    out["network"] = score_networks([statement(u) for u in units], [statement(u) for u in gold_units],
                                    same_articles=False) if units and gold_units else None
    return out


def _annotator_units(task: dict[str, Any], ann: dict[str, Any], doc: Any, scheme: Any,
                     spans: list[tuple[int, int]]) -> list[Unit]:
    """One annotator's statements on a task, converted as the build converts gold (canonical names alike)."""
    from corpus.convert import convert_task

    one = {**task, "annotations": [{**ann, "ground_truth": False}]}
    units = []
    for r in convert_task(one, doc, scheme).statements:
        start = int(r["context_start"])
        units.append(Unit(doc.article_id, str(r["actor_id"]), str(r["policy_id"]), str(r["stance"]),
                          sentences_of(spans, start, start + len(r["context"])), 1.0, str(r["actor_label"]),
                          str(r["policy_label"]), str(r["context"])))
    return units


def human_figure(source: str | Path, codebook: Codebook | None = None, articles: set[str] | None = None,
                 n_resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Annotator vs annotator with this scorer on the tasks of SOURCE (a corpus folder or importer OUT, such as
    the SEESAW import) that two or more annotators coded; `articles` restricts them (e.g. to a test split)."""
    import itertools

    from annotation.agreement import ADJUDICATED
    from annotation.export import coded_annotations
    from corpus.codebook import load_codebook
    from corpus.convert import Scheme
    from corpus.sentences import segment
    from corpus.sources import read_corpus

    codebook = codebook or load_codebook()
    scheme = Scheme.from_codebook(codebook)
    _, items = read_corpus(Path(source))
    found: dict[bool, list[tuple[Unit, Unit]]] = {True: [], False: []}  # with stance -> matched
    wrong: dict[bool, list[Unit]] = {True: [], False: []}
    missed: dict[bool, list[Unit]] = {True: [], False: []}
    tasks = comparisons = 0
    annotators: set[str] = set()
    for item in items:
        if item.task is None or item.reason is not None or (articles is not None and
                                                            item.doc.article_id not in articles):
            continue
        coded, _ = coded_annotations(item.task, codebook)
        coded = [c for c in coded if c.annotator != ADJUDICATED and not c.ground_truth]
        if len(coded) < 2:
            continue
        tasks += 1
        spans = segment(item.doc.text, item.doc.meta.get("sentence_spans")) or [(0, len(item.doc.text))]
        units = {c.annotator: _annotator_units(item.task, c.raw, item.doc, scheme, spans) for c in coded}
        annotators |= set(units)
        for a, b in itertools.combinations(sorted(units), 2):  # b plays gold; F1 is symmetric
            comparisons += 1
            for with_stance in (True, False):
                pairs, false, misses = match(dedupe(units[a], with_stance)[0], dedupe(units[b], with_stance)[0],
                                             with_stance)
                found[with_stance] += pairs
                wrong[with_stance] += false
                missed[with_stance] += misses
    out: dict[str, Any] = {"source": str(source), "tasks": tasks, "annotator_pairs": comparisons,
                           "annotators": sorted(annotators)}
    for level, with_stance in (("statements", True), ("pairs", False)):
        m, w, x = found[with_stance], wrong[with_stance], missed[with_stance]
        out[level] = {**_point(len(m), len(w), len(x)), "matched": len(m), "false": len(w), "missed": len(x),
                      "intervals": _intervals(m, w, x, n_resamples, seed)}
    both = found[False]
    out["polarity"] = {"point": sum(p.stance == g.stance for p, g in both) / len(both) if both else 0.0,
                       "pairs": len(both)}
    return out


def _show(u: Unit) -> dict[str, Any]:
    return {"article_id": u.article_id, "actor": u.actor_label or u.actor_id, "policy": u.policy_label or u.policy_id,
            "stance": u.stance, "confidence": round(u.confidence, 4), "evidence": u.evidence[:300]}


def score_extraction(preds: Sequence[str | Path], dataset: str | Path, split: str = "test",
                     settings: Sequence[str | None] | None = None, codebook: Codebook | None = None,
                     n_resamples: int = 1000, seed: int = 0, human: str | Path | None = None) -> dict[str, Any]:
    """Score each predictions file (one per setting) against DATASET's `split`, with the human figure of `human`
    (annotators' tasks, e.g. the SEESAW import) on the split's articles and on all of them; returns the
    report's data."""
    from corpus.codebook import load_codebook

    codebook = codebook or load_codebook()
    if not preds:
        raise InputError("--pred", "give at least one predictions file")
    settings = list(settings or [None] * len(preds))
    if len(settings) != len(preds):
        raise InputError("--setting", f"{len(settings)} setting(s) for {len(preds)} predictions file(s)")
    gold = load_gold(dataset, split, codebook)
    results = [score_setting(read_predictions(p, codebook, s), gold, codebook, n_resamples, seed)
               for p, s in zip(preds, settings, strict=True)]
    seen = Counter(r["setting"] for r in results)
    twice = [s for s, n in seen.items() if n > 1]
    if twice:
        raise InputError("--pred", f"two predictions files for the setting {twice[0]!r}")
    out = {"dataset": str(dataset), "split": split, "codebook_version": codebook.version,
           "gold_statements": len(gold.units), "gold_articles": len(gold.articles), "settings": results}
    if human is not None:
        out["human"] = {split: human_figure(human, codebook, gold.articles, n_resamples, seed),
                        "all": human_figure(human, codebook, None, n_resamples, seed)}
    return out


# --- the report ------------------------------------------------------------------------------------------------

def _cell(level: dict[str, Any], metric: str) -> str:
    iv = (level.get("intervals") or {}).get(metric)
    value = f"{level[metric]:.3f}"
    return f"{value} [{iv['low']:.3f}, {iv['high']:.3f}]" if iv else value


def _score_rows(r: dict[str, Any]) -> list[list[str]]:
    rows = []
    for scope, h in (r.get("human") or {}).items():
        if not h["tasks"]:
            continue
        st, pa, pol = h["statements"], h["pairs"], h["polarity"]
        rows.append([f"annotators vs annotators ({scope} articles)", _cell(st, "precision"), _cell(st, "recall"),
                     _cell(st, "f1"), _cell(pa, "f1"), f"{pol['point']:.3f}", "-", "-",
                     f"{st['matched']} matched, {h['annotator_pairs']} annotator pairs", str(h["tasks"])])
    for s in r["settings"]:
        st, pa, pol = s["statements"], s["pairs"], s["polarity"]
        iv = pol.get("interval")
        net = (s.get("network") or {}).get("network") or {}
        rows.append([s["setting"], _cell(st, "precision"), _cell(st, "recall"), _cell(st, "f1"),
                     _cell(pa, "f1"), f"{pol['point']:.3f}" + (f" [{iv['low']:.3f}, {iv['high']:.3f}]" if iv else ""),
                     f"{net['edge_f1']:.3f}" if net else "-", f"{net['signed_edge_f1']:.3f}" if net else "-",
                     f"{st['matched']}/{st['predicted']}/{st['gold']}", str(s["articles_scored"])])
    return rows


SCORE_HEADER = ["setting", "statement P", "statement R", "statement F1", "pair F1", "polarity accuracy",
                "network edge F1", "signed edge F1", "matched/predicted/gold", "articles"]
LIST_HEADER = ["article", "actor", "target", "stance", "confidence", "evidence"]


def _list_rows(items: list[dict[str, Any]]) -> list[list[str]]:
    return [[i["article_id"], i["actor"], i["policy"], i["stance"], f"{i['confidence']:.3f}", i["evidence"]]
            for i in items]


def markdown(r: dict[str, Any]) -> str:
    """The report in Markdown (tables through `evaluation.report`'s helper)."""
    from evaluation.report import _md_table

    parts = [f"# Extraction against gold: {r['dataset']} ({r['split']})", "",
             f"{r['gold_statements']} gold statements in {r['gold_articles']} articles; codebook "
             f"{r['codebook_version']}. Statements match on article, canonical actor, target and stance with "
             "overlapping sentences, one to one; intervals: 95% article-clustered bootstrap.", "",
             _md_table(SCORE_HEADER, _score_rows(r)), ""]
    for s in r["settings"]:
        parts += [f"## {s['setting']} (`{s['path']}`)", ""]
        parts += [f"- note: {n}" for n in s["notes"]]
        parts += [f"- duplicates among the predictions: {s['statements']['duplicates']} (counted once)", ""]
        parts += [f"### Most confident false statements ({len(s['false_statements'])} of {s['statements']['false']})",
                  "", _md_table(LIST_HEADER, _list_rows(s["false_statements"])), ""]
        parts += [f"### Misses ({len(s['misses'])} of {s['statements']['missed']})", "",
                  _md_table(LIST_HEADER, _list_rows(s["misses"])), ""]
    return "\n".join(parts) + "\n"


def html(r: dict[str, Any]) -> str:
    """The report as one self-contained page (tables and style from `evaluation.report`)."""
    from evaluation.report import CSS, _table

    e = escape
    title = f"Extraction against gold: {r['dataset']} ({r['split']})"
    parts = [f"<h1>{e(title)}</h1>",
             f"<p class=\"about\">{r['gold_statements']} gold statements in {r['gold_articles']} articles; codebook "
             f"{e(str(r['codebook_version']))}. Intervals: 95% article-clustered bootstrap.</p>",
             _table(SCORE_HEADER, [[e(c) for c in row] for row in _score_rows(r)], "scores")]
    for s in r["settings"]:
        parts.append(f"<h2>{e(s['setting'])}</h2>")
        parts += [f'<div class="note">{e(n)}</div>' for n in s["notes"]]
        parts += [f"<h3>Most confident false statements ({len(s['false_statements'])} of "
                  f"{s['statements']['false']})</h3>",
                  _table(LIST_HEADER, [[e(c) for c in row] for row in _list_rows(s["false_statements"])], "errors"),
                  f"<h3>Misses ({len(s['misses'])} of {s['statements']['missed']})</h3>",
                  _table(LIST_HEADER, [[e(c) for c in row] for row in _list_rows(s["misses"])], "errors")]
    body = "\n".join(parts)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n")


def write_report(result: dict[str, Any], out: str | Path) -> list[Path]:
    """extraction.json, report.md and report.html into OUT, written atomically."""
    from corpus.errors import atomic_path

    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "extraction.json").is_file())):
        raise InputError(out, "exists and is not an earlier extraction report; choose a new --out folder")
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        (tmp / "extraction.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", "utf-8")
        (tmp / "report.md").write_text(markdown(result), "utf-8")
        (tmp / "report.html").write_text(html(result), "utf-8")
    return [out / "extraction.json", out / "report.md", out / "report.html"]
