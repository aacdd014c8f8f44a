"""The bundled corpus: the seed article and its gold annotation."""

from corpus.codebook import load_codebook
from corpus.schema import checksum, normalise_text
from corpus.store import CorpusStore
from corpus.validate import validate_store


def _gold():
    store = CorpusStore()
    task = store.read_task(store.task_path("article-001"))
    [gold] = [a for a in task["annotations"] if a["ground_truth"]]
    return store.read_article("article-001"), task, gold


def test_bundled_corpus_validates():
    report = validate_store(CorpusStore(), load_codebook())
    assert report.ok, report.problems
    assert report.articles >= 1 and report.relations >= 10


def test_seed_article_matches_the_shared_seed(seed_file):
    article = CorpusStore().read_article("article-001")
    raw = normalise_text(seed_file.read_text(encoding="utf-8"))
    title, standfirst, *body = raw.split("\n")
    assert (article.title, article.standfirst, article.body) == (title, standfirst, "\n".join(body))
    assert article.checksum == checksum(article.text)
    # the seed came with no metadata: recorded as unknown, never invented
    assert (article.source, article.url, article.published) == ("unknown", "unknown", "unknown")


def test_every_span_text_matches_the_stored_article():
    article, task, gold = _gold()
    assert task["data"]["text"] == article.text
    spans = [r for r in gold["result"] if r["type"] == "labels"]
    assert len(spans) >= 20
    for span in spans:
        v = span["value"]
        assert article.text[v["start"]:v["end"]] == v["text"], span["id"]


def test_seed_statements_cover_the_named_actors():
    _, _, gold = _gold()
    norm = {r["id"]: r["value"]["choices"][0] for r in gold["result"] if r["type"] == "choices" and "start" in r["value"]}
    statements = {(norm[r["from_id"]], norm[r["to_id"]], r["labels"][0])
                  for r in gold["result"] if r["type"] == "relation"}
    assert len([r for r in gold["result"] if r["type"] == "relation"]) >= 10
    assert ("claudia_sheinbaum", "us_troops_in_mexico", "oppose") in statements
    assert ("donald_trump", "us_troops_in_mexico", "support") in statements
    assert ("anna_kelly", "extradition", "support") in statements
    assert {"heritage_foundation", "trump_administration"} <= {a for a, _, _ in statements}
    conditional = [r for r in gold["result"] if r["type"] == "relation" and "conditional" in r["labels"]]
    assert conditional, "the Heritage Foundation's 'last resort' position is coded conditional"
