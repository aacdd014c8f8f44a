"""The evaluation report: Markdown, and one self-contained HTML page (plots inlined as base64 PNG)."""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from evaluation import plots
from evaluation.data import ANNOTATOR_MACRO, SPECIFIC

METRIC_NAMES = {"macro_f1": "Macro-F1 (gold-present labels)", "f_avg": "F_avg (support, oppose; SemEval-2016)",
                "accuracy": "Accuracy", "ece": "Expected calibration error"}
CAPTIONS = {"confusion_matrix.png": "Confusion matrix", "per_class.png": "Per-class precision, recall and F1",
            "reliability.png": "Reliability diagram"}


def shown_labels(r: dict[str, Any]) -> list[str]:
    """Labels in gold or predictions (a scheme label neither uses, like neutral on SEESAW, is left out)."""
    return [n for n in r["labels"] if r["per_class"][n]["support"] or r["per_class"][n]["predicted"]]


def shown_confusion(r: dict[str, Any]) -> tuple[list[str], list[list[int]]]:
    keep = [r["labels"].index(n) for n in shown_labels(r)]
    return shown_labels(r), [[r["confusion"][i][j] for j in keep] for i in keep]


def images(result: dict[str, Any]) -> dict[str, bytes]:
    """The report's PNG plots by file name (no reliability diagram without probabilities)."""
    names, matrix = shown_confusion(result)
    out = {"confusion_matrix.png": plots.confusion_png(matrix, names),
           "per_class.png": plots.per_class_png(result["per_class"], result["labels"])}
    if result.get("calibration"):
        out["reliability.png"] = plots.reliability_png(result["calibration"], result["metrics"]["ece"])
    return out


def _iv(d: dict[str, float]) -> str:
    return f"{d['point']:.3f} [{d['low']:.3f}, {d['high']:.3f}]"


def _title(r: dict[str, Any]) -> str:
    """'Stance evaluation: tfidf_logreg (tfidf_logreg), run 19dc1234… — newsstance-stance@champion, on SEESAW
    [test]': the model's config and kind, its training run, then the URI or folder it was read from."""
    name = r.get("model_name") or "predictions"
    config, kind, run = r.get("model_config"), r.get("model_kind"), r.get("source_run_id")
    if config:
        who = config + (f" ({kind})" if kind and kind != config else "")
        who += (f", run {run[:8]}…" if run else "") + f" from {name}"
    else:
        who = name + (f", run {run[:8]}…" if run else "")
    return f"Stance evaluation: {who} on {_dataset_name(r)} [{r['split']}]"


def _dataset_name(r: dict[str, Any]) -> str:
    """The evaluated dataset by its lineage name (sources), with the folder it was read from."""
    lineage = r.get("dataset_lineage") or {}
    slug = lineage.get("slug") if isinstance(lineage, dict) else None
    return f"{slug} ({r['dataset']})" if slug else str(r["dataset"])


def _about(r: dict[str, Any]) -> str:
    b = r["bootstrap"]
    unit = {"group": "groups (clustered by the dataset's group column)", "article": "articles (clustered)"}.get(
        b["unit"], "statements (not clustered)")
    trained = r.get("training_dataset")
    lineage = r.get("dataset_lineage")
    data = (f" Evaluated dataset: {lineage['slug']} ({', '.join(lineage['sources']) or 'sources unknown'})."
            if lineage else "")
    if r.get("model"):
        data += (f" Model trained on: {trained['slug']} ({', '.join(trained['sources']) or 'sources unknown'}; "
                 f"codebook {trained['codebook_version'] or '?'})"
                 + (" (the same lineage)." if r.get("lineage_match") else " (ANOTHER DATASET).")
                 if trained else " Model trained on: not recorded.")
    return (f"{r['n']} statements, {r['n_errors']} errors. {int(b['confidence'] * 100)}% intervals: percentile "
            f"bootstrap over {b['units']} {unit}, {b['n_resamples']} resamples, seed {b['seed']}. "
            f"Codebook {r.get('codebook_version', '?')}; created {r.get('created', '?')}"
            + (f"; training run {r['source_run_id']}" if r.get("source_run_id") else "") + "." + data)


def _headline_rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [(METRIC_NAMES[m], _iv(r["metrics"][m])) for m in ("macro_f1", "f_avg", "accuracy")]
    if r["metrics"].get("ece") is not None:
        rows.append((METRIC_NAMES["ece"], f"{r['metrics']['ece']:.3f}"))
    return rows


def ceiling_rows(r: dict[str, Any]) -> list[list[str]]:
    """(measure, model score, annotators' figure): comparable pairs first (macro-F1, per-class F1), then the
    annotators' other measures (alpha, kappa, ...) on their own."""
    figures = {a["name"]: a["value"] for a in r.get("agreement") or []}
    rows, used = [], set()
    if ANNOTATOR_MACRO in figures:
        rows.append(["macro-F1", _iv(r["metrics"]["macro_f1"]), f"{figures[ANNOTATOR_MACRO]:.3f}"])
        used.add(ANNOTATOR_MACRO)
    observed = next((n for n in figures if n.startswith("stance: observed agreement")), None)
    if observed:
        rows.append(["accuracy (annotators: observed agreement)", _iv(r["metrics"]["accuracy"]),
                     f"{figures[observed]:.3f}"])
        used.add(observed)
    for label in r["labels"]:
        name = SPECIFIC.format(label=label)
        if name in figures:
            pc = r["per_class"][label]
            rows.append([f"F1 {label}", f"{pc['f1']:.3f} [{pc['f1_low']:.3f}, {pc['f1_high']:.3f}]",
                         f"{figures[name]:.3f}"])
            used.add(name)
    rows += [[name, "–", f"{value:.3f}"] for name, value in figures.items() if name not in used]
    return rows


def _per_class_rows(r: dict[str, Any]) -> list[list[str]]:
    out = []
    for n in shown_labels(r):
        pc = r["per_class"][n]
        out.append([n, f"{pc['precision']:.3f}", f"{pc['recall']:.3f}",
                    f"{pc['f1']:.3f} [{pc['f1_low']:.3f}, {pc['f1_high']:.3f}]", str(pc["support"]),
                    str(pc["predicted"])])
    return out


MAX_GROUPS = 15  # rows per breakdown table in the report; all of them are in breakdowns.csv


def _breakdown_rows(items: list[dict[str, Any]]) -> list[list[str]]:
    rows = [[b["label"], str(b["n"]), _iv(b["macro_f1"]), f"{b['accuracy']:.3f}", f"{b['f_avg']:.3f}",
             ", ".join(f"{k} {v}" for k, v in b["labels"].items())] for b in items[:MAX_GROUPS]]
    rest = items[MAX_GROUPS:]
    if rest:
        rows.append([f"… {len(rest)} more groups (see breakdowns.csv)", str(sum(b["n"] for b in rest)), "", "", "",
                     ""])
    return rows


def breakdowns_csv(r: dict[str, Any]) -> str:
    """Every group of every breakdown as CSV (the report shows the largest groups only)."""
    import csv
    import io

    from corpus.csvsafe import safe_row

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["breakdown", "value", "label", "n", "macro_f1", "macro_f1_low", "macro_f1_high", "accuracy",
                "f_avg", *(f"gold_{n}" for n in r["labels"])])
    for title, items in r.get("breakdowns", {}).items():
        for b in items:
            m = b["macro_f1"]
            w.writerow(safe_row([title, b["value"], b["label"], b["n"], f"{m['point']:.4f}", f"{m['low']:.4f}",
                        f"{m['high']:.4f}", f"{b['accuracy']:.4f}", f"{b['f_avg']:.4f}",
                        *(b["labels"].get(n, 0) for n in r["labels"])]))
    return buf.getvalue()


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(x: str) -> str:  # text from the data is escaped: a renderer shows <script>, never runs it
        return escape(str(x), quote=False).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(r: dict[str, Any], image_files: list[str]) -> str:
    """The report as Markdown; plots are referenced as the PNG files written beside it."""
    parts = [f"# {escape(_title(r), quote=False)}", "", escape(_about(r), quote=False), ""]
    parts += [f"> note: {escape(str(n), quote=False)}" for n in r.get("notes", [])]
    parts += ["", "## Scores", "", _md_table(["metric", "score [95% CI]"], [list(x) for x in _headline_rows(r)])]
    parts += ["", "## Human ceiling", ""]
    if r.get("agreement"):
        parts += ["Model scores beside the annotators' agreement on the same scheme.", "",
                  _md_table(["measure", "model [95% CI]", "annotators"], ceiling_rows(r))]
    else:
        parts.append("No agreement figures in the dataset card (pass `--agreement FILE`).")
    parts += ["", "## Per class", "", _md_table(["label", "precision", "recall", "F1 [95% CI]", "gold", "predicted"],
                                                _per_class_rows(r))]
    parts += ["", "## Confusion matrix (rows gold, columns predicted)", "",
              _md_table(["gold \\ predicted", *shown_confusion(r)[0]],
                        [[n, *map(str, row)] for n, row in zip(*shown_confusion(r), strict=True)])]
    for title, items in r.get("breakdowns", {}).items():
        parts += ["", f"## By {title.lower()}", "",
                  _md_table([title, "n", "macro-F1 [95% CI]", "accuracy", "F_avg", "gold labels"],
                            _breakdown_rows(items))]
    parts += ["", f"## Most confident errors ({len(r['errors'])} of {r['n_errors']})", ""]
    rows = []
    for e in r["errors"]:
        conf = f"{e['confidence']:.3f}" if e["confidence"] is not None else "–"
        task = f"[task {e['task_id']}]({e['link']})" if e.get("link") else (str(e.get("task_id") or ""))
        rows.append([conf, e["gold"], e["predicted"], e["actor"] or "", e["policy"] or "", e.get("article_id") or "",
                     e["context"], task])
    parts.append(_md_table(["confidence", "gold", "predicted", "actor", "policy", "article", "sentence", "task"],
                           rows))
    parts += ["", "## Plots", ""] + [f"![{CAPTIONS.get(f, f)}]({f})" for f in image_files]
    return "\n".join(parts) + "\n"


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;
color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d0d0;padding:4px 8px;text-align:left;
vertical-align:top;white-space:nowrap}th{background:#f3f3f3}
td:first-child{white-space:normal;max-width:460px}table.errors td{white-space:normal}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.about{color:#555}.note{background:#fff7e0;border-left:4px solid #e0a800;padding:6px 10px;margin:6px 0}
.row{display:flex;gap:28px;flex-wrap:wrap;align-items:flex-start}figure{margin:8px 0}
figure img{max-width:100%;border:1px solid #eee}figcaption{color:#666;font-size:12px}
mark.actor{background:#d6e6ff}mark.policy{background:#ffe3c2}.ctx{max-width:520px}
.big{font-size:20px;font-weight:600}
"""


def _table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _figure(name: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img alt="{escape(CAPTIONS.get(name, name))}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(CAPTIONS.get(name, name))}</figcaption></figure>")


def _marked(e: dict[str, Any]) -> str:
    """The context with the actor and policy mentions highlighted (escaped text)."""
    text = e.get("context") or ""
    spans = sorted((s, t, k) for k in ("actor", "policy") if (sp := e.get(f"{k}_span")) for s, t in [sp])
    out, pos = [], 0
    for s, t, k in spans:
        if s < pos:
            continue  # overlapping mentions: highlight the first only
        out += [escape(text[pos:s]), f'<mark class="{k}">{escape(text[s:t])}</mark>']
        pos = t
    out.append(escape(text[pos:]))
    return "".join(out)


def html(r: dict[str, Any], pngs: dict[str, bytes]) -> str:
    """One self-contained page: no external file, script or font; it opens offline."""
    e = escape
    parts = [f"<h1>{e(_title(r))}</h1>", f'<p class="about">{e(_about(r))}</p>']
    parts += [f'<div class="note">{e(n)}</div>' for n in r.get("notes", [])]
    scores = _table(["metric", "score [95% CI]"], [[e(a), f'<span class="num">{e(b)}</span>'] for a, b in
                                                   _headline_rows(r)], "scores")
    if r.get("agreement"):
        ceiling = ("<h3>Human ceiling</h3><p>The annotators' agreement on the same scheme, beside the model.</p>"
                   + _table(["measure", "model [95% CI]", "annotators"],
                            [[e(c) for c in row] for row in ceiling_rows(r)], "ceiling"))
    else:
        ceiling = "<h3>Human ceiling</h3><p>No agreement figures in the dataset card (pass --agreement FILE).</p>"
    macro = r["metrics"]["macro_f1"]
    parts += ['<h2>Scores</h2><div class="row"><div>',
              f'<p class="big">macro-F1 {macro["point"]:.3f} '
              f'<small>[{macro["low"]:.3f}, {macro["high"]:.3f}]</small></p>', scores,
              f"</div><div>{ceiling}</div></div>"]
    parts += ["<h2>Per class</h2>", '<div class="row"><div>',
              _table(["label", "precision", "recall", "F1 [95% CI]", "gold", "predicted"],
                     [[e(c) for c in row] for row in _per_class_rows(r)], "per-class"), "</div>",
              _figure("per_class.png", pngs["per_class.png"]), "</div>"]
    parts += ["<h2>Confusion matrix</h2>", '<div class="row"><div>',
              _table(["gold \\ predicted", *shown_confusion(r)[0]],
                     [[e(n), *map(str, row)] for n, row in zip(*shown_confusion(r), strict=True)],
                     "confusion"), "</div>", _figure("confusion_matrix.png", pngs["confusion_matrix.png"]), "</div>"]
    parts.append("<h2>Calibration</h2>")
    parts.append(_figure("reliability.png", pngs["reliability.png"]) if "reliability.png" in pngs
                 else "<p>The predictions carry no probabilities.</p>")
    for title, items in r.get("breakdowns", {}).items():
        parts += [f"<h2>By {e(title.lower())}</h2>",
                  _table([title, "n", "macro-F1 [95% CI]", "accuracy", "F_avg", "gold labels"],
                         [[e(c) for c in row] for row in _breakdown_rows(items)], "breakdown")]
    parts.append(f"<h2>Most confident errors ({len(r['errors'])} of {r['n_errors']})</h2>")
    rows = []
    tasks = any(x.get("task_id") is not None or x.get("link") for x in r["errors"])
    for x in r["errors"]:
        conf = f"{x['confidence']:.3f}" if x["confidence"] is not None else "–"
        task = (f'<a href="{e(x["link"])}">task {e(str(x["task_id"]))}</a>' if x.get("link")
                else e(str(x.get("task_id") if x.get("task_id") is not None else "")))
        rows.append([conf, e(x["gold"]), e(x["predicted"]), e(x["actor"] or ""), e(x["policy"] or ""),
                     e(str(x.get("article_id") or "")), f'<div class="ctx">{_marked(x)}</div>',
                     *([task] if tasks else [])])
    header = ["confidence", "gold", "predicted", "actor", "policy", "article", "sentence"]
    header += ["Label Studio task"] if tasks else []
    parts.append(_table(header, rows, "errors") if rows else "<p>No errors.</p>")
    body = "\n".join(parts)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(_title(r))}</title>'
            f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n")
