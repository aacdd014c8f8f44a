"""`corpus add`: every supported format, and one clear error (and nothing written) for each bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from corpus.errors import InputError
from corpus.ingest import Metadata, add_files
from corpus.store import CorpusStore

ARTICLE = "Headline about troops\nA standfirst line.\nFirst paragraph of the body.\nSecond paragraph.\n"


@pytest.fixture
def store(tmp_path) -> CorpusStore:
    return CorpusStore(tmp_path / "corpus")


def _file(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else lambda c: path.write_text(c, encoding="utf-8"))(content)
    return path


def test_add_txt_with_metadata(tmp_path, store):
    path = _file(tmp_path, "My Story.txt", ARTICLE)
    result = add_files([path], store, Metadata(source="Example Times", url="https://example.org/a", published="2025-03-01"))
    assert result.added == ["my-story"]
    art = store.read_article("my-story")
    assert art.title == "Headline about troops" and art.standfirst == "A standfirst line."
    assert art.body == "First paragraph of the body.\nSecond paragraph."
    assert (art.source, art.published, art.rights) == ("Example Times", "2025-03-01", "unknown")
    assert art.checksum.startswith("sha256:")


def test_add_html_markdown_json_jsonl(tmp_path, store):
    html = _file(tmp_path, "h.html", "<html><head><title>T</title><meta property='og:site_name' content='Outlet'>"
                 "</head><body><article><h1>Big news</h1><p>One.</p><p>Two.</p></article></body></html>")
    md = _file(tmp_path, "m.md", "# Markdown headline\n\nBody text here.\n")
    js = _file(tmp_path, "j.json", json.dumps({"title": "J", "body": "Json body.", "source": "Wire"}))
    jl = _file(tmp_path, "l.jsonl", json.dumps({"title": "L1", "text": "one"}) + "\n\n" +
               json.dumps({"title": "L2", "body": "two", "id": "custom-id"}) + "\n")
    result = add_files([html, md, js, jl], store, Metadata())
    assert result.added == ["h", "m", "j", "l-1", "custom-id"]
    h = store.read_article("h")
    assert (h.title, h.body, h.source) == ("Big news", "One.\nTwo.", "Outlet")
    assert store.read_article("m").title == "Markdown headline"
    assert store.read_article("j").source == "Wire"


BAD = [
    ("missing.txt", None, "file not found"),
    ("empty.txt", "   \n\n", "file is empty"),
    ("one-line.txt", "Only a headline\n", "needs a headline line and a body"),
    ("latin1.txt", b"Titre\nCaf\xe9 au lait\n", "not UTF-8 text (invalid byte at offset"),
    ("nobody.html", "<html><head><title>x</title></head></html>", "HTML has no <body>"),
    ("emptybody.html", "<html><body><script>x()</script></body></html>", "HTML body holds no text"),
    ("row.jsonl", json.dumps({"title": "a", "body": "b"}) + "\n" + json.dumps({"title": "no body"}) + "\n",
     "row.jsonl:2: missing required field 'body'"),
    ("broken.jsonl", '{"title": "a", "body": "b"}\n{"title": \n', "broken.jsonl:2: not valid JSON"),
    ("notobj.json", "[1, 2]", "each article must be a JSON object"),
    ("extra.json", json.dumps({"title": "a", "body": "b", "colour": "red"}), "colour: unknown field"),
    ("date.json", json.dumps({"title": "a", "body": "b", "published": "yesterday"}), "is not an ISO date"),
    ("file.pdf", "%PDF", "unsupported file type '.pdf'"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_clear_error_and_nothing_written(tmp_path, store, name, content, message):
    good = _file(tmp_path, "good.txt", ARTICLE)
    path = tmp_path / name if content is None else _file(tmp_path, name, content)
    with pytest.raises(InputError) as err:
        add_files([good, path], store, Metadata())
    assert name in str(err.value) and message in str(err.value)
    assert store.article_ids() == [], "nothing is written when any file is bad"


def test_duplicate_article_is_refused(tmp_path, store):
    add_files([_file(tmp_path, "a.txt", ARTICLE)], store, Metadata())
    with pytest.raises(InputError, match="duplicate article: same text as stored article 'a'"):
        add_files([_file(tmp_path, "b.txt", ARTICLE)], store, Metadata())
    with pytest.raises(InputError, match="duplicate article id 'a'"):
        add_files([_file(tmp_path, "a.md", ARTICLE.replace("Second", "Third"))], store, Metadata(), article_id="a")
    with pytest.raises(InputError, match="duplicate article: same text"):
        add_files([_file(tmp_path, "c.txt", ARTICLE), _file(tmp_path, "d.txt", ARTICLE)], CorpusStore(tmp_path / "x"),
                  Metadata())


def test_cli_error_is_one_line_without_traceback(tmp_path):
    bad = _file(tmp_path, "latin1.txt", b"Titre\nCaf\xe9\n")
    proc = subprocess.run([sys.executable, "-m", "corpus", "add", str(bad), "--root", str(tmp_path / "c")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and "latin1.txt" in proc.stderr


def test_cli_add_then_validate_and_stats(tmp_path):
    root = tmp_path / "c"
    ok = subprocess.run([sys.executable, "-m", "corpus", "add", str(_file(tmp_path, "n.txt", ARTICLE)),
                         "--root", str(root), "--source", "Wire", "--date", "2025-01-02"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "added n" in ok.stdout
    val = subprocess.run([sys.executable, "-m", "corpus", "validate", "--root", str(root)], capture_output=True, text=True)
    assert val.returncode == 0 and "1 articles" in val.stdout and "OK" in val.stdout
    st = subprocess.run([sys.executable, "-m", "corpus", "stats", "--root", str(root)], capture_output=True, text=True)
    assert st.returncode == 0 and "articles        1" in st.stdout
