"""Agreement between annotators on tasks that two or more of them coded.

* spans, per span label: exact-match F1 and overlap F1 (one-to-one matching of overlapping spans of the
  same label, largest overlap first); tasks coded only as offset-less statements have no spans to compare;
* stance on matched (actor, policy option) pairs: Krippendorff's alpha (nominal, all annotators, the
  `krippendorff` package), Cohen's kappa per pair of annotators (scikit-learn), observed agreement, and
  per stance label the specific agreement 2·n_kk / (n_k,a + n_k,b);
* whole statements: F1 of (actor, policy option, stance) sets, and of the (actor, policy option) pairs alone.

An annotator's stance on a pair they coded more than once in a task is their most frequent one (ties go to
the codebook's first label and are counted). Annotations flagged ground truth and adjudicated ones are not
annotators and are left out unless asked for. F1 is symmetric, so no annotator is the reference.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from annotation.export import TaskSource, coded_annotations, task_ref
from annotation.validate import CodedAnnotation, Issue, Names
from corpus.codebook import Codebook

ADJUDICATED = "adjudicated"


def _f1(matches: int, total: int) -> float | None:
    """2·matches / (n_a + n_b), None when neither coded anything."""
    return 2 * matches / total if total else None


def _r(x: float | None, digits: int = 4) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(x, digits)


@dataclass
class _Counts:
    matches: int = 0
    total: int = 0  # n_a + n_b

    def add(self, matches: int, n_a: int, n_b: int) -> None:
        self.matches += matches
        self.total += n_a + n_b

    @property
    def f1(self) -> float | None:
        return _f1(self.matches, self.total)


@dataclass
class _Coder:
    """One annotator's coding of one task, in the shapes the measures need."""

    spans: dict[str, set[tuple[int, int]]]
    stances: dict[tuple[str, str], str]
    triples: set[tuple[str, str, str]]
    ties: int = 0


def stance_by_pair(c: CodedAnnotation, stance_order: list[str]) -> dict[tuple[str, str], str]:
    """An annotator's stance per (actor, policy) pair: their most frequent, ties to the codebook's first."""
    return _stances(c, stance_order)[0]


def _stances(c: CodedAnnotation, stance_order: list[str]) -> tuple[dict[tuple[str, str], str], int]:
    votes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for st in c.statements:
        votes[st.pair][st.stance] += 1
    stances, ties = {}, 0
    for pair, counter in votes.items():
        ranked = sorted(counter.items(), key=lambda kv: (-kv[1], stance_order.index(kv[0])))
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            ties += 1
        stances[pair] = ranked[0][0]
    return stances, ties


def _coder(c: CodedAnnotation, stance_order: list[str]) -> _Coder:
    spans: dict[str, set[tuple[int, int]]] = defaultdict(set)
    for s in c.spans.values():
        spans[s.label].add((s.start, s.end))
    stances, ties = _stances(c, stance_order)
    return _Coder(dict(spans), stances, {st.triple for st in c.statements}, ties)


def _overlap_matches(a: set[tuple[int, int]], b: set[tuple[int, int]]) -> int:
    """One-to-one matches between overlapping spans, largest overlap first."""
    candidates = sorted(((min(ae, be) - max(as_, bs), (as_, ae), (bs, be)) for as_, ae in a for bs, be in b
                         if min(ae, be) > max(as_, bs)), reverse=True)
    used_a: set[tuple[int, int]] = set()
    used_b: set[tuple[int, int]] = set()
    for _, sa, sb in candidates:
        if sa not in used_a and sb not in used_b:
            used_a.add(sa)
            used_b.add(sb)
    return len(used_a)


@dataclass
class _Pair:
    tasks: int = 0
    span_exact: dict[str, _Counts] = field(default_factory=lambda: defaultdict(_Counts))
    span_overlap: dict[str, _Counts] = field(default_factory=lambda: defaultdict(_Counts))
    statements: _Counts = field(default_factory=_Counts)
    pairs: _Counts = field(default_factory=_Counts)
    stance_a: list[str] = field(default_factory=list)
    stance_b: list[str] = field(default_factory=list)


def compute_agreement(source: TaskSource, codebook: Codebook, include_ground_truth: bool = False,
                      ) -> dict[str, Any]:
    """The agreement report (JSON-able) for the tasks of `source`."""
    import krippendorff
    import numpy as np
    from sklearn.metrics import cohen_kappa_score

    names = Names(codebook)
    stance_order = codebook.stance_names
    span_labels = [s.value for s in codebook.span_labels]
    pairs: dict[tuple[str, str], _Pair] = defaultdict(_Pair)
    units: dict[tuple[str, str, str], dict[str, str]] = {}
    issues: list[Issue] = []
    compared, single, ties = 0, 0, 0
    annotators: set[str] = set()

    for task in source.tasks:
        coded, found = coded_annotations(task, codebook, source.users, names)
        issues += found
        coded = [c for c in coded if c.annotator != ADJUDICATED and (include_ground_truth or not c.ground_truth)]
        if len(coded) < 2:
            single += bool(coded)
            continue
        compared += 1
        ref = task_ref(task)
        coders = {c.annotator: _coder(c, stance_order) for c in coded}
        ties += sum(c.ties for c in coders.values())
        annotators |= set(coders)
        for who, coder in coders.items():
            for pair, stance in coder.stances.items():
                units.setdefault((ref, *pair), {})[who] = stance
        for a, b in itertools.combinations(sorted(coders), 2):
            ca, cb_, p = coders[a], coders[b], pairs[(a, b)]
            p.tasks += 1
            for label in span_labels:
                sa, sb = ca.spans.get(label, set()), cb_.spans.get(label, set())
                p.span_exact[label].add(len(sa & sb), len(sa), len(sb))
                p.span_overlap[label].add(_overlap_matches(sa, sb), len(sa), len(sb))
            p.statements.add(len(ca.triples & cb_.triples), len(ca.triples), len(cb_.triples))
            both = sorted(set(ca.stances) & set(cb_.stances))
            p.pairs.add(len(both), len(ca.stances), len(cb_.stances))
            p.stance_a += [ca.stances[k] for k in both]
            p.stance_b += [cb_.stances[k] for k in both]

    # Krippendorff's alpha over every unit that two or more annotators coded.
    coders_sorted = sorted(annotators)
    shared = [(k, v) for k, v in units.items() if len(v) >= 2]
    alpha: float | None = None
    alpha_note = ""
    observed_values = {s for _, v in shared for s in v.values()}
    if not shared:
        alpha_note = "no (actor, policy) pair was coded by two annotators"
    elif len(observed_values) < 2:
        alpha_note = f"every matched pair has the same stance ({next(iter(observed_values))}): alpha is undefined"
    else:
        matrix = np.full((len(coders_sorted), len(shared)), np.nan)
        for j, (_, votes) in enumerate(shared):
            for who, stance in votes.items():
                matrix[coders_sorted.index(who), j] = stance_order.index(stance)
        alpha = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal",
                                         value_domain=list(range(len(stance_order)))))

    # Tables: per span label, per stance label, per annotator pair.
    span_table = {}
    for label in span_labels:
        exact, overlap = _Counts(), _Counts()
        for p in pairs.values():
            exact.add(p.span_exact[label].matches, p.span_exact[label].total, 0)
            overlap.add(p.span_overlap[label].matches, p.span_overlap[label].total, 0)
        span_table[label] = {"exact_f1": _r(exact.f1), "overlap_f1": _r(overlap.f1),
                             "exact_matches": exact.matches, "overlap_matches": overlap.matches,
                             "spans": exact.total}
    stance_table = {}
    for label in stance_order:
        both = sum(1 for p in pairs.values() for x, y in zip(p.stance_a, p.stance_b, strict=True)
                   if x == y == label)
        marg = sum(p.stance_a.count(label) + p.stance_b.count(label) for p in pairs.values())
        stance_table[label] = {"specific_agreement": _r(_f1(both, marg)), "agreed": both, "codings": marg}
    by_pair = []
    statements_all, pairs_all = _Counts(), _Counts()
    matched_all = agreed_all = 0
    for (a, b), p in sorted(pairs.items()):
        kappa: float | None = None
        labels_seen = set(p.stance_a) | set(p.stance_b)
        if p.stance_a and len(labels_seen) > 1:
            kappa = float(cohen_kappa_score(p.stance_a, p.stance_b, labels=stance_order))
        agreed = sum(x == y for x, y in zip(p.stance_a, p.stance_b, strict=True))
        statements_all.add(p.statements.matches, p.statements.total, 0)
        pairs_all.add(p.pairs.matches, p.pairs.total, 0)
        matched_all += len(p.stance_a)
        agreed_all += agreed
        ex = _Counts()
        ov = _Counts()
        for label in span_labels:
            ex.add(p.span_exact[label].matches, p.span_exact[label].total, 0)
            ov.add(p.span_overlap[label].matches, p.span_overlap[label].total, 0)
        by_pair.append({
            "annotators": [a, b], "tasks": p.tasks,
            "span_exact_f1": _r(ex.f1), "span_overlap_f1": _r(ov.f1),
            "pair_f1": _r(p.pairs.f1), "matched_pairs": len(p.stance_a),
            "stance_observed_agreement": _r(agreed / len(p.stance_a)) if p.stance_a else None,
            "cohen_kappa": _r(kappa), "statement_f1": _r(p.statements.f1),
        })
    kappas = [x["cohen_kappa"] for x in by_pair if x["cohen_kappa"] is not None]
    return {
        "source": str(source.path),
        "sha256": source.sha256,
        "codebook_version": codebook.version,
        "tasks": len(source.tasks),
        "tasks_compared": compared,
        "tasks_single_annotator": single,
        "annotators": coders_sorted,
        "include_ground_truth": include_ground_truth,
        # Headline figures as flat scalars (the dataset card lists these).
        "stance_krippendorff_alpha": _r(alpha),
        "stance_mean_cohen_kappa": _r(sum(kappas) / len(kappas)) if kappas else None,
        "stance_observed_agreement": _r(agreed_all / matched_all) if matched_all else None,
        "statement_f1": _r(statements_all.f1),
        "pair_f1": _r(pairs_all.f1),
        "spans": span_table,
        "stance": {
            "units": len(shared),
            "krippendorff_alpha": _r(alpha),
            "alpha_note": alpha_note,
            "observed_agreement": _r(agreed_all / matched_all) if matched_all else None,
            "mean_cohen_kappa": _r(sum(kappas) / len(kappas)) if kappas else None,
            "tied_stances": ties,
            "per_label": stance_table,
        },
        "statements": {"f1": _r(statements_all.f1), "matches": statements_all.matches,
                       "codings": statements_all.total},
        "pairs": {"f1": _r(pairs_all.f1), "matches": pairs_all.matches, "codings": pairs_all.total},
        "by_pair": by_pair,
        "issues": {"errors": sum(i.severity == "error" for i in issues),
                   "warnings": sum(i.severity == "warning" for i in issues),
                   "lines": [i.line() for i in issues]},
    }


def _fmt(x: Any) -> str:
    if x is None:
        return "n/a"
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [header, *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    out.insert(1, "  ".join("-" * w for w in widths))
    return out


def format_report(report: dict[str, Any], max_issues: int = 20) -> str:
    """The agreement report as plain text tables."""
    st = report["stance"]
    lines = [
        f"Agreement on {report['source']} (codebook {report['codebook_version']})",
        f"tasks: {report['tasks']}, coded by two or more annotators: {report['tasks_compared']}, "
        f"by one: {report['tasks_single_annotator']}; annotators: {', '.join(report['annotators']) or 'none'}",
        "",
        f"Stance on matched (actor, policy) pairs: {st['units']} units, Krippendorff's alpha (nominal) "
        f"{_fmt(st['krippendorff_alpha'])}, observed agreement {_fmt(st['observed_agreement'])}, "
        f"mean Cohen's kappa {_fmt(st['mean_cohen_kappa'])}" + (f" ({st['alpha_note']})" if st["alpha_note"] else ""),
        f"Whole statements (actor, policy, stance): F1 {_fmt(report['statements']['f1'])}; "
        f"(actor, policy) pairs: F1 {_fmt(report['pairs']['f1'])}",
        "",
        "Spans per label",
        *_table(["label", "exact F1", "overlap F1", "exact matches", "overlap matches", "spans"],
                [[k, v["exact_f1"], v["overlap_f1"], v["exact_matches"], v["overlap_matches"], v["spans"]]
                 for k, v in report["spans"].items()]),
        "",
        "Stance per label (specific agreement on matched pairs)",
        *_table(["stance", "agreement", "agreed", "codings"],
                [[k, v["specific_agreement"], v["agreed"], v["codings"]] for k, v in st["per_label"].items()]),
        "",
        "Per annotator pair",
        *_table(["annotators", "tasks", "span exact F1", "span overlap F1", "pair F1", "matched", "observed",
                 "kappa", "statement F1"],
                [[" / ".join(p["annotators"]), p["tasks"], p["span_exact_f1"], p["span_overlap_f1"], p["pair_f1"],
                  p["matched_pairs"], p["stance_observed_agreement"], p["cohen_kappa"], p["statement_f1"]]
                 for p in report["by_pair"]]),
    ]
    iss = report["issues"]
    if iss["lines"]:
        lines += ["", f"Validation: {iss['errors']} errors, {iss['warnings']} warnings"]
        lines += [f"  {line}" for line in iss["lines"][:max_issues]]
        if len(iss["lines"]) > max_issues:
            lines.append(f"  ... {len(iss['lines']) - max_issues} more in the JSON report")
    return "\n".join(lines) + "\n"
